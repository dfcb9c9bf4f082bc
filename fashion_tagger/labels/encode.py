"""Stage `encode`: turn each item's tags into a 0/1 label matrix over the vocabulary.

The stage writes `data/encode/labels.csv` (column `id`, then one column per class) and
`data/encode/classes.json` (the class names in column order, sorted); `labels.tables` reads
them back.
"""

from __future__ import annotations

from pathlib import Path

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
