"""Encode's outputs read back: the 0/1 label matrix and the attribute class table.

Kept apart from the encoding code so that the stages that only read labels (split, train,
evaluate) do not depend on how encode builds them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fashion_tagger.errors import PipelineError
from fashion_tagger.io import read_json


def read_label_matrix(path: Path | str) -> tuple[list[str], np.ndarray, list[str]]:
    """labels.csv back: item ids, the 0/1 matrix (int8, items x classes) and the class names."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or header[0] != "id" or len(header) < 2:
            raise PipelineError(f"{path}: expected a header 'id,<tag>,...'")
        ids, rows = [], []
        for line, row in enumerate(reader, start=2):
            if len(row) != len(header) or any(value not in ("0", "1") for value in row[1:]):
                raise PipelineError(
                    f"{path}: line {line}: expected an id and {len(header) - 1} 0/1"
                )
            ids.append(row[0])
            rows.append(row[1:])
    if not ids:
        raise PipelineError(f"{path}: no items")
    return ids, np.array(rows, dtype=np.int8), header[1:]


def read_attribute_table(
    path: Path | str, classes: dict[str, list[str]]
) -> tuple[list[str], np.ndarray]:
    """attributes.csv back: item ids and class indices (int64, items x attributes)."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    names = list(classes)
    index_of = {name: {value: i for i, value in enumerate(classes[name])} for name in names}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != ["id", *names]:
            raise PipelineError(f"{path}: expected a header {['id', *names]}, got {header}")
        ids, rows = [], []
        for line, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise PipelineError(f"{path}: line {line}: expected {len(header)} fields")
            try:
                rows.append(
                    [index_of[name][value] for name, value in zip(names, row[1:], strict=True)]
                )
            except KeyError as error:
                raise PipelineError(f"{path}: line {line}: unknown class {error}") from None
            ids.append(row[0])
    return ids, np.array(rows, dtype=np.int64).reshape(len(ids), len(names))


def load_attributes(
    classes_file: Path, table_file: Path
) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    """Classes per attribute and each item's class indices by id; ({}, {}) when encode wrote no
    attribute files (data encoded before attributes existed)."""
    if not Path(classes_file).exists():
        return {}, {}
    classes = read_json(classes_file)
    ids, indices = read_attribute_table(table_file, classes)
    return classes, dict(zip(ids, indices, strict=True))


def indices_for(ids: list[str], attribute_of: dict[str, np.ndarray], source: Path) -> np.ndarray:
    """The class indices (items x attributes) of `ids`, in order; a missing id is an error."""
    missing = [item_id for item_id in ids if item_id not in attribute_of]
    if missing:
        raise PipelineError(f"{source}: no attributes for item {missing[0]!r}")
    return np.array([attribute_of[item_id] for item_id in ids], dtype=np.int64)
