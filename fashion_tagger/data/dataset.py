"""The data of one split: rows into the memory-mapped image cache, aligned with 0/1 labels.

A split never copies its images: it keeps the whole cache (memory-mapped) and the row of each
of its items, and batches are gathered from the map with one index operation each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion_tagger.data.mapped import load_cache
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import read_json
from fashion_tagger.labels.tables import indices_for, load_attributes, read_label_matrix
from fashion_tagger.paths import (
    ATTRIBUTE_CLASSES_FILE,
    ATTRIBUTES_FILE,
    CACHE_IMAGES_FILE,
    CLASSES_FILE,
    LABELS_FILE,
    PREPARE_DIR,
    SPLIT_FILE,
)


@dataclass(frozen=True)
class SplitData:
    """One split: item ids, the whole uint8 NHWC cache (memory-mapped, shared by all splits),
    each item's row in it, the items' labels (items x tags, float32: 0/1, or agreement shares
    for training), attribute class indices (int64, items x attributes; None for a model of tags
    only) and the labels' loss weights (items x tags; None: all 1, see `labels.targets`)."""

    ids: list[str]
    cache: np.ndarray
    rows: np.ndarray
    labels: np.ndarray
    attributes: np.ndarray | None = None
    weights: np.ndarray | None = None

    def targets(self) -> np.ndarray:
        """Training targets: the tag labels, their loss weights if any, then the attribute class
        indices, as float32."""
        columns = [self.labels]
        columns += [self.weights] if self.weights is not None else []
        columns += [self.attributes] if self.attributes is not None else []
        return np.hstack(columns).astype(np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, 3) of every image."""
        return tuple(self.cache.shape[1:])

    def images(self, positions: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The images of the items at `positions` (uint8 NHWC), gathered from the cache in one
        copy (into `out` when given: pinned memory for a GPU)."""
        # mode="clip": the rows are the cache's own; numpy's default would buffer `out` again
        return np.take(self.cache, self.rows[positions], axis=0, out=out, mode="clip")


def load_labelled_split(
    names: tuple[str, ...] = ("train", "val", "test"), directory: Path = Path(".")
) -> tuple[list[str], dict[str, SplitData]]:
    """The class names and, per split name, its cache rows and labels (ids in split order)."""
    classes = read_json(directory / CLASSES_FILE)
    ids, matrix, columns = read_label_matrix(directory / LABELS_FILE)
    if columns != classes:
        raise PipelineError(f"{directory / LABELS_FILE}: columns differ from {CLASSES_FILE}")
    label_row = {item_id: row for row, item_id in enumerate(ids)}
    attribute_classes, attribute_of = load_attributes(
        directory / ATTRIBUTE_CLASSES_FILE, directory / ATTRIBUTES_FILE
    )
    split = read_json(directory / SPLIT_FILE)
    cache_ids, images = load_cache(directory / PREPARE_DIR)
    row_of = {item_id: row for row, item_id in enumerate(cache_ids)}
    result = {}
    for name in names:
        split_ids = split.get(name)
        if not split_ids:
            raise PipelineError(f"{directory / SPLIT_FILE}: split '{name}' is missing or empty")
        for item_id in split_ids:
            if item_id not in row_of:
                raise PipelineError(
                    f"{directory / CACHE_IMAGES_FILE}: no image for item {item_id!r}"
                )
            if item_id not in label_row:
                raise PipelineError(f"{directory / LABELS_FILE}: no labels for item {item_id!r}")
        result[name] = SplitData(
            ids=list(split_ids),
            cache=images,
            rows=np.array([row_of[item_id] for item_id in split_ids], dtype=np.int64),
            labels=matrix[[label_row[item_id] for item_id in split_ids]].astype(np.float32),
            attributes=indices_for(split_ids, attribute_of, directory / ATTRIBUTES_FILE)
            if attribute_classes
            else None,
        )
    return classes, result


def load_attribute_classes(directory: Path = Path(".")) -> dict[str, list[str]]:
    """{attribute: [class names]} as encode wrote them; {} for a model of tags only. Only the
    names: `load_labelled_split`, which every caller runs first, reads and checks the table."""
    path = directory / ATTRIBUTE_CLASSES_FILE
    return read_json(path) if path.exists() else {}
