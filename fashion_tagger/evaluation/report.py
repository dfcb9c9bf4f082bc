"""The test report: the model against a constant-prior baseline, at each of its thresholds.

The baseline gives every test item the same score per tag: the tag's frequency in the training
split. At threshold 0.5 it predicts exactly the tags that most training items carry, so the gap
between the two rows is what the images teach the model. `report` is the content of
`metrics/eval.json`: {"test_items", "threshold", "map_tags_excluded", "model": {...},
"baseline": {...}, "by_threshold": {"fixed": {...}, "global": {...}, "per_tag": {...}}} with
micro/macro/samples precision, recall and F1, mAP (over tags with test positives;
`map_tags_excluded` counts the others) and hamming loss; "model" and "baseline" at
`evaluate.threshold`, "by_threshold" the model at its fixed threshold and at the global and
per-tag thresholds that train chose on the val split (frozen in the model before test).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fashion_tagger.evaluation.metrics import per_tag_table, summary, threshold_metrics
from fashion_tagger.model.network import tag_thresholds
from fashion_tagger.params import StrictModel


class EvaluateParams(StrictModel):
    threshold: float = Field(gt=0, lt=1)  # a tag is predicted when its probability >= threshold
    pr_points: int = Field(ge=2)  # rows kept in the precision-recall curve file
    gallery_size: int = Field(gt=0, le=48)  # test images in the gallery picture (kept in git)
    gallery_top_k: int = Field(gt=0)  # predicted tags shown per gallery image
    tta: bool = False  # also score the average of each image and its horizontal flip


def prior_scores(train_labels: np.ndarray, items: int) -> np.ndarray:
    """The baseline: every item scores each tag at the tag's training frequency."""
    return np.tile(train_labels.mean(axis=0), (items, 1))


def report(
    y_true: np.ndarray, scores: np.ndarray, baseline: np.ndarray, threshold: float, record: dict
) -> dict:
    """The eval.json content: model and baseline headline numbers side by side, and the model
    at each of its thresholds (`record`: the model file's record)."""
    model_scores = summary(y_true, scores, threshold)
    baseline_scores = summary(y_true, baseline, threshold)
    excluded = model_scores.pop("map_tags_excluded")
    baseline_scores.pop("map_tags_excluded")
    by_threshold = {}
    for mode in ("fixed", "global", "per_tag"):
        thresholds = tag_thresholds(record, mode)
        figures = {
            key: round(value, 4)
            for key, value in threshold_metrics(y_true, scores, thresholds).items()
        }
        if mode != "per_tag":
            figures["threshold"] = round(float(thresholds[0]), 4)
        by_threshold[mode] = figures
    return {
        "test_items": int(len(y_true)),
        "threshold": threshold,
        "map_tags_excluded": excluded,
        "model": {key: round(value, 4) for key, value in model_scores.items()},
        "baseline": {key: round(value, 4) for key, value in baseline_scores.items()},
        "by_threshold": by_threshold,
    }


def per_tag_rows(
    y_true: np.ndarray, scores: np.ndarray, threshold: float, record: dict
) -> list[dict]:
    """per_tag.csv: the per-tag table at `threshold`, plus each tag's val-chosen threshold and
    its test F1 there."""
    classes = record["classes"]
    rows = per_tag_table(y_true, scores, threshold, classes)
    thresholds = tag_thresholds(record, "per_tag")
    tuned = per_tag_table(y_true, scores, thresholds, classes)
    for row, tag_threshold, tuned_row in zip(rows, thresholds, tuned, strict=True):
        row["threshold"] = round(float(tag_threshold), 4)
        row["f1_tuned"] = tuned_row["f1"]
    return rows


def tta_block(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """eval.json's "tta": micro-F1 at `threshold` and mAP of the flip-averaged scores."""
    figures = summary(y_true, scores, threshold)
    return {"micro_f1": round(figures["micro_f1"], 4), "map": round(figures["map"], 4)}
