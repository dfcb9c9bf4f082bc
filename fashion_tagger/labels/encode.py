"""Stage `encode`: turn each item's tags into a 0/1 label matrix over the vocabulary.

The stage writes `data/encode/labels.csv` (column `id`, then one column per class) and
`data/encode/classes.json` (the class names in column order, sorted).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import MultiLabelBinarizer

from fashion_tagger.errors import PipelineError


def vocabulary_classes(vocabulary: dict[str, list[str]]) -> list[str]:
    """All tags of the vocabulary (every kind), sorted: the column order of the label matrix."""
    classes = sorted({tag for tags in vocabulary.values() for tag in tags})
    if not classes:
        raise PipelineError("vocabulary is empty: no tag to encode")
    return classes


def encode_labels(item_tags: list[dict], classes: list[str], source: Path | str) -> pd.DataFrame:
    """One row per item: its id and a 0/1 column per class; a tag outside `classes` is an error."""
    known = set(classes)
    for item in item_tags:
        unknown = sorted(set(item["tags"]) - known)
        if unknown:
            raise PipelineError(
                f"{source}: item {item['id']!r} has tags outside the vocabulary: {unknown}"
            )
    binarizer = MultiLabelBinarizer(classes=classes)
    matrix = binarizer.fit_transform([item["tags"] for item in item_tags])
    labels = pd.DataFrame(matrix, columns=classes)
    labels.insert(0, "id", [item["id"] for item in item_tags])
    return labels


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
