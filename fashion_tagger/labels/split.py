"""Stage `split`: a seeded train/val/test split by multi-label iterative stratification.

Iterative stratification (Sechidis et al., 2011) places the rarest tags first, so every tag
lands in every split in proportion wherever it has enough items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import IterativeStratification
from pydantic import Field, model_validator

from fashion_tagger.errors import PipelineError
from fashion_tagger.params import StrictModel

SPLITS = ("train", "val", "test")


class SplitParams(StrictModel):
    seed: int
    train: float = Field(gt=0, lt=1)
    val: float = Field(gt=0, lt=1)
    test: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def fractions_sum_to_one(self) -> SplitParams:
        total = self.train + self.val + self.test
        if abs(total - 1) > 1e-6:
            raise ValueError(f"train + val + test must sum to 1, got {total:g}")
        return self

    @property
    def fractions(self) -> np.ndarray:
        return np.array([self.train, self.val, self.test])


def split_items(ids: list[str], matrix: np.ndarray, fractions: np.ndarray, seed: int) -> dict:
    """Assign each item to exactly one of train/val/test; returns sorted id lists per split."""
    if len(ids) < len(SPLITS):
        raise PipelineError(f"split: need at least {len(SPLITS)} items, got {len(ids)}")
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(ids))  # random tie-breaking order, reproducible from the seed
    folds = np.empty(len(ids), dtype=int)
    # the algorithm needs a boolean matrix: with 0/1 integers it silently mis-assigns items
    labels = matrix[order].astype(bool)
    folds[order] = IterativeStratification(labels=labels, r=fractions, random_state=rng)
    ids = np.asarray(ids)
    splits = {name: sorted(ids[folds == fold].tolist()) for fold, name in enumerate(SPLITS)}
    check_not_empty(splits, fractions)
    return splits


def check_not_empty(splits: dict, fractions: np.ndarray) -> None:
    """Refuse a split that leaves train, val or test empty (train or evaluate would fail later)."""
    empty = [name for name in SPLITS if not splits[name]]
    if empty:
        sizes = ", ".join(
            f"{name} {len(splits[name])} (split.{name}: {fraction:g})"
            for name, fraction in zip(SPLITS, fractions, strict=True)
        )
        raise PipelineError(
            f"split: {sum(len(ids) for ids in splits.values())} items give an empty "
            f"{'/'.join(empty)} split: {sizes}; add items or raise split.{empty[0]}"
        )


def tag_counts(
    ids: list[str], matrix: np.ndarray, classes: list[str], splits: dict
) -> pd.DataFrame:
    """Items per tag in each split, plus the total: the report that shows the stratification."""
    row_of = {item_id: row for row, item_id in enumerate(ids)}
    counts = pd.DataFrame({"tag": classes})
    for name in SPLITS:
        rows = [row_of[item_id] for item_id in splits[name]]
        counts[name] = matrix[rows].sum(axis=0)
    counts["total"] = matrix.sum(axis=0)
    return counts
