"""Single-choice attributes (gender, articleType, ...): classes per attribute and class indices.

Items may carry "attributes": {name: value} (the labelled source's `attributes` columns). Per
attribute, the classes are its values seen on at least `min_count` items, sorted, plus "other"
for the rarer ones when there are any; each item's value becomes a class name. Encode writes
`data/encode/attributes.csv` (column `id`, then one column per attribute holding the class name)
and `data/encode/attribute_classes.json` ({attribute: [class names in index order]}).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_tagger.errors import PipelineError
from fashion_tagger.io import read_json

OTHER = "other"  # the class that rare values fold into


def attribute_names(items: list[dict], source: Path | str) -> list[str]:
    """The attribute names all items share (the first item's, in its order); [] when none."""
    names = list(items[0].get("attributes", {})) if items else []
    for item in items:
        if list(item.get("attributes", {})) != names:
            raise PipelineError(
                f"{source}: item {item['id']!r} has attributes "
                f"{list(item.get('attributes', {}))}, expected {names}"
            )
    return names


def fold_classes(values: list[str], min_count: int) -> list[str]:
    """Values seen at least `min_count` times, sorted, then "other" if any value is rarer."""
    counts = Counter(values)
    kept = sorted(value for value, count in counts.items() if count >= min_count)
    if OTHER in kept or len(kept) < len(counts):
        kept = [value for value in kept if value != OTHER] + [OTHER]
    return kept


def encode_attributes(
    items: list[dict], min_count: int, source: Path | str
) -> tuple[dict[str, list[str]], pd.DataFrame]:
    """Classes per attribute and a table of each item's class name (id, one column each)."""
    names = attribute_names(items, source)
    classes: dict[str, list[str]] = {}
    table = pd.DataFrame({"id": [item["id"] for item in items]})
    for name in names:
        values = [item["attributes"][name] for item in items]
        classes[name] = fold_classes(values, min_count)
        if len(classes[name]) < 2:
            raise PipelineError(
                f"{source}: attribute '{name}' has fewer than 2 classes with "
                f"encode.attribute_min_count={min_count}: {classes[name]}"
            )
        known = set(classes[name])
        table[name] = [value if value in known else OTHER for value in values]
    return classes, table


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


def one_hot(indices: np.ndarray, classes: dict[str, list[str]]) -> np.ndarray:
    """Class indices (items x attributes) as 0/1 columns, attribute after attribute (for the
    split's stratification)."""
    columns = [
        np.eye(len(values), dtype=np.int8)[indices[:, position]]
        for position, values in enumerate(classes.values())
    ]
    return np.hstack(columns) if columns else np.zeros((len(indices), 0), dtype=np.int8)


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
