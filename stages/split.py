"""Stage `split`: a seeded train/val/test split by multi-label iterative stratification.

Writes `data/split/split.json` (sorted ids per split), `metrics/split.json` (sizes) and
`metrics/split_tags.csv` (items per tag in each split).
"""

from __future__ import annotations

from fashion_tagger.errors import run_stage
from fashion_tagger.io import write_json, write_text
from fashion_tagger.labels.encode import read_label_matrix
from fashion_tagger.labels.split import SPLITS, SplitParams, split_items, tag_counts
from fashion_tagger.params import read_params
from fashion_tagger.paths import LABELS_FILE, SPLIT_FILE, SPLIT_SUMMARY_FILE, SPLIT_TAGS_FILE


def main() -> None:
    params = read_params("split", SplitParams)
    ids, matrix, classes = read_label_matrix(LABELS_FILE)
    splits = split_items(ids, matrix, params.fractions, params.seed)
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
