"""Stage `split`: a seeded train/val/test split by multi-label iterative stratification.

Attribute classes (data/encode/attributes.csv) are stratified on as well, as 0/1 columns.
Writes `data/split/split.json` (sorted ids per split), `metrics/split.json` (sizes) and
`metrics/split_tags.csv` (items per tag in each split).
"""

from __future__ import annotations

import numpy as np

from fashion_tagger.errors import run_stage
from fashion_tagger.io import write_json, write_text
from fashion_tagger.labels.attributes import one_hot
from fashion_tagger.labels.split import SPLITS, SplitParams, split_items, tag_counts
from fashion_tagger.labels.tables import indices_for, load_attributes, read_label_matrix
from fashion_tagger.params import read_params
from fashion_tagger.paths import (
    ATTRIBUTE_CLASSES_FILE,
    ATTRIBUTES_FILE,
    LABELS_FILE,
    SPLIT_FILE,
    SPLIT_SUMMARY_FILE,
    SPLIT_TAGS_FILE,
)


def main() -> None:
    params = read_params("split", SplitParams)
    ids, matrix, classes = read_label_matrix(LABELS_FILE)
    attribute_classes, attribute_of = load_attributes(ATTRIBUTE_CLASSES_FILE, ATTRIBUTES_FILE)
    strata = matrix
    if attribute_classes:  # stratify on every attribute class too, as one more 0/1 column each
        indices = indices_for(ids, attribute_of, ATTRIBUTES_FILE)
        strata = np.hstack([matrix, one_hot(indices, attribute_classes)])
    splits = split_items(ids, strata, params.fractions, params.seed)
    counts = tag_counts(ids, matrix, classes, splits)
    missing = int((counts[list(SPLITS)] == 0).any(axis=1).sum())
    write_json(SPLIT_FILE, splits)
    write_text(SPLIT_TAGS_FILE, counts.to_csv(index=False))
    write_json(
        SPLIT_SUMMARY_FILE,
        {**{name: len(splits[name]) for name in SPLITS}, "tags_missing_from_a_split": missing},
    )
    sizes = ", ".join(f"{name} {len(splits[name])}" for name in SPLITS)
    print(f"split: {sizes}; tags missing from some split: {missing}")


if __name__ == "__main__":
    run_stage(main)
