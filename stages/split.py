"""Stage `split`: a seeded train/val/test split by multi-label iterative stratification.

Iterative stratification (Sechidis et al., 2011) places the rarest tags first, so every tag
lands in every split in proportion wherever it has enough items.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import IterativeStratification
from pydantic import Field, model_validator

from stages.common import PipelineError, StrictModel, read_params, run_stage, write_json, write_text

LABELS_FILE = Path("data/encode/labels.csv")
SPLIT_FILE = Path("data/split/split.json")
SUMMARY_FILE = Path("metrics/split.json")
TAG_COUNTS_FILE = Path("metrics/split_tags.csv")
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


def read_labels(path: Path | str) -> tuple[list[str], np.ndarray, list[str]]:
    """Item ids, the 0/1 label matrix and the class names from an encoded labels CSV."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    labels = pd.read_csv(path, dtype={"id": str})
    if labels.empty or "id" not in labels.columns:
        raise PipelineError(f"{path}: expected an 'id' column and at least one item")
    return (
        labels["id"].tolist(),
        labels.drop(columns="id").to_numpy(dtype=np.int8),
        list(labels.columns[1:]),
    )


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
    return {name: sorted(ids[folds == fold].tolist()) for fold, name in enumerate(SPLITS)}


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


def main() -> None:
    params = read_params("split", SplitParams)
    ids, matrix, classes = read_labels(LABELS_FILE)
    splits = split_items(ids, matrix, params.fractions, params.seed)
    counts = tag_counts(ids, matrix, classes, splits)
    missing = int((counts[list(SPLITS)] == 0).any(axis=1).sum())
    write_json(SPLIT_FILE, splits)
    write_text(TAG_COUNTS_FILE, counts.to_csv(index=False))
    write_json(
        SUMMARY_FILE,
        {**{name: len(splits[name]) for name in SPLITS}, "tags_missing_from_a_split": missing},
    )
    sizes = ", ".join(f"{name} {len(splits[name])}" for name in SPLITS)
    print(f"split: {sizes}; tags missing from some split: {missing}")


if __name__ == "__main__":
    run_stage(main)
