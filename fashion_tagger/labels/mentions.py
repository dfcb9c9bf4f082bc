"""How many of an item's texts state each tag: the counts behind agreement targets.

Encode writes `data/encode/mentions.csv`: id, descriptions (the item's number of texts), then
per class how many of its texts state it (the tags stage's "mentions"; given tags: one text).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fashion_tagger.errors import PipelineError


def mention_table(item_tags: list[dict], classes: list[str]) -> pd.DataFrame:
    """One row per item: id, its number of texts, and how many of them state each class."""
    table = pd.DataFrame(
        [[item.get("mentions", {}).get(tag, 0) for tag in classes] for item in item_tags],
        columns=classes,
        dtype=np.int64,
    )
    table.insert(0, "descriptions", [item.get("descriptions", 1) for item in item_tags])
    table.insert(0, "id", [item["id"] for item in item_tags])
    return table


def agreement(path: Path, ids: list[str], classes: list[str]) -> np.ndarray:
    """Per item of `ids` and class, the share of its texts stating it (float32)."""
    if not Path(path).exists():
        raise PipelineError(f"{path}: file not found (re-run encode)")
    table = pd.read_csv(path, dtype={"id": str}).set_index("id")
    if list(table.columns) != ["descriptions", *classes]:
        raise PipelineError(f"{path}: columns differ from the classes; re-run encode")
    missing = [item_id for item_id in ids if item_id not in table.index]
    if missing:
        raise PipelineError(f"{path}: no mention counts for item {missing[0]!r}")
    rows = table.loc[ids]
    counts = rows[classes].to_numpy(dtype=np.float32)
    return counts / np.maximum(rows["descriptions"].to_numpy(dtype=np.float32), 1)[:, None]
