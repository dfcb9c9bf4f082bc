"""Single-choice attributes (gender, articleType, ...): classes per attribute and class indices.

Items may carry "attributes": {name: value} (the labelled source's `attributes` columns). Per
attribute, the classes are its values seen on at least `min_count` items, sorted, plus "other"
for the rarer ones when there are any; each item's value becomes a class name. Encode writes
`data/encode/attributes.csv` (column `id`, then one column per attribute holding the class name)
and `data/encode/attribute_classes.json` ({attribute: [class names in index order]}), which
`labels.tables` reads back.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_tagger.errors import PipelineError

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


def one_hot(indices: np.ndarray, classes: dict[str, list[str]]) -> np.ndarray:
    """Class indices (items x attributes) as 0/1 columns, attribute after attribute (for the
    split's stratification)."""
    columns = [
        np.eye(len(values), dtype=np.int8)[indices[:, position]]
        for position, values in enumerate(classes.values())
    ]
    return np.hstack(columns) if columns else np.zeros((len(indices), 0), dtype=np.int8)
