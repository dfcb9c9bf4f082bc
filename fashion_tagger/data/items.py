"""The normalised items file: what every download source writes and every later stage reads.

`data/raw/items.json` is a JSON list sorted by id. Each item is
    {"id": str, "image": str, "url": str, "descriptions": [str, ...]}
plus, for sources whose labels are given rather than extracted, "tags": [str, ...] and
optionally "attributes": {column: value} (single-choice labels, one softmax head each), and for
FEIDEGGER-format sources "fold": the dataset's own "0".."9" split (kept, not used for ours).
`image` is relative to the folder holding the items file, so later stages never need to
know which source ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fashion_tagger.errors import PipelineError
from fashion_tagger.io import read_json, write_json
from fashion_tagger.paths import ITEMS_FILE


def validate_items(items: Any, path: Path | str) -> list[dict]:
    """Check the schema of a normalised items list; the first problem is a one-line error."""
    if not isinstance(items, list):
        raise PipelineError(f"{path}: expected a JSON list of items")
    if not items:
        raise PipelineError(f"{path}: no items")
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"{path}: item {index}"
        if not isinstance(item, dict):
            raise PipelineError(f"{where}: expected an object")
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise PipelineError(f"{where}: missing or non-string 'id'")
        where = f"{path}: item {item_id!r}"
        if item_id in seen:
            raise PipelineError(f"{where}: duplicate id")
        seen.add(item_id)
        if not isinstance(item.get("image"), str) or not item["image"]:
            raise PipelineError(f"{where}: missing or non-string 'image'")
        descriptions = item.get("descriptions")
        if not isinstance(descriptions, list):
            raise PipelineError(f"{where}: 'descriptions' must be a list")
        for number, text in enumerate(descriptions):
            if not isinstance(text, str):
                raise PipelineError(f"{where}: description {number} is not a string")
        if "tags" in item:
            tags = item["tags"]
            if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
                raise PipelineError(f"{where}: 'tags' must be a list of non-empty strings")
        elif not any(text.strip() for text in descriptions):
            raise PipelineError(f"{where}: no descriptions")
        if "attributes" in item:
            check_attributes(item["attributes"], where)
    return items


def check_attributes(attributes: Any, where: str) -> None:
    """An item's "attributes": a mapping of column name to a non-empty string value."""
    if not isinstance(attributes, dict) or not all(
        isinstance(name, str) and isinstance(value, str) and value
        for name, value in attributes.items()
    ):
        raise PipelineError(f"{where}: 'attributes' must map names to non-empty strings")


def load_items(path: Path | str = ITEMS_FILE) -> list[dict]:
    """Read and validate a normalised items file."""
    return validate_items(read_json(path), path)


def item_images(path: Path = ITEMS_FILE) -> dict[str, Path]:
    """Item id -> its image file, in the items file's order."""
    return {item["id"]: Path(path).parent / item["image"] for item in load_items(path)}


def write_items(path: Path | str, items: list[dict]) -> None:
    """Validate, sort by id and write a normalised items file atomically."""
    items = sorted(items, key=lambda item: item["id"])
    validate_items(items, path)
    write_json(path, items)


def evenly_spaced(count: int, available: int) -> list[int]:
    """`count` indices spread evenly over range(available) (all when there are fewer); picks the
    gallery's test rows and the similar stage's queries."""
    return sorted({int(i) for i in np.linspace(0, available - 1, min(count, available))})
