"""The test report: the model against a constant-prior baseline, at each of its thresholds.

The baseline gives every test item the same score per tag: the tag's frequency in the training
split. At threshold 0.5 it predicts exactly the tags that most training items carry, so the gap
between the two is what the images teach the model. Two files:
- `metrics/eval.json` (`headline`, the DVC metric, at most 20 numbers, with short flat names so
  that `dvc exp show --only-changed` fits a 200-character terminal): the model's `micro_f1`,
  `macro_f1`, `samples_f1`, `map`, `auc` (ROC AUC, macro over tags), `auc_micro`, `f2` and
  `acc_multi` (fastai's accuracy_multi) at `evaluate.threshold`; `tuned_micro_f1` (at the
  val-chosen global threshold) and `tuned_macro_f1` (at the val-chosen per-tag thresholds);
  "baseline": its micro/macro F1, mAP, auc, f2 and acc_multi; and, with `evaluate.tta`,
  "tta": micro-F1 and mAP of the flip-averaged scores;
- `metrics/eval_details.json` (`details`, a plain output): every number (precision, recall,
  hamming loss, ...) of model and baseline, the model at each val-chosen threshold, and
  `map_tags_excluded` (tags without test positives, left out of mAP).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fashion_tagger.evaluation.metrics import (
    mean_average_precision,
    per_tag_prf,
    per_tag_table,
    summary,
    threshold_metrics,
)
from fashion_tagger.model.network import ModelRecord
from fashion_tagger.params import StrictModel

# eval.json's names for the numbers at evaluate.threshold (all others: eval_details.json)
HEADLINE_MODEL = {
    "micro_f1": "micro_f1",
    "macro_f1": "macro_f1",
    "samples_f1": "samples_f1",
    "map": "map",
    "auc": "roc_auc_macro",
    "auc_micro": "roc_auc_micro",
    "f2": "f2",
    "acc_multi": "accuracy_multi",
}
HEADLINE_BASELINE = {
    name: HEADLINE_MODEL[name] for name in ("micro_f1", "macro_f1", "map", "auc", "f2", "acc_multi")
}


class EvaluateParams(StrictModel):
    threshold: float = Field(gt=0, lt=1)  # a tag is predicted when its probability >= threshold
    pr_points: int = Field(ge=2)  # rows kept in the precision-recall curve file
    gallery_size: int = Field(gt=0, le=48)  # test images in the gallery picture (kept in git)
    tta: bool = False  # also score the average of each image and its horizontal flip
    label_issue_items: int = Field(ge=0, le=48)  # test items in the label-issue picture


def prior_scores(train_labels: np.ndarray, items: int) -> np.ndarray:
    """The baseline: every item scores each tag at the tag's training frequency."""
    return np.tile(train_labels.mean(axis=0), (items, 1))


def details(
    y_true: np.ndarray,
    scores: np.ndarray,
    baseline: np.ndarray,
    threshold: float,
    record: ModelRecord,
) -> dict:
    """The eval_details.json content: every number of model and baseline at `threshold`, and of
    the model at the val-chosen global and per-tag thresholds (`record`: the model's record)."""
    model_scores = summary(y_true, scores, threshold)
    baseline_scores = summary(y_true, baseline, threshold)
    excluded = model_scores.pop("map_tags_excluded")
    baseline_scores.pop("map_tags_excluded")
    by_threshold = {}
    for mode in ("global", "per_tag"):
        thresholds = record.tag_thresholds(mode)
        figures = {
            key: round(value, 4)
            for key, value in threshold_metrics(y_true, scores, thresholds).items()
        }
        if mode == "global":
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


def headline(detail: dict) -> dict:
    """The eval.json content: the few numbers users compare across experiments (`dvc exp
    show`), picked from `details`; under 20 so the table stays narrow."""
    return {
        "test_items": detail["test_items"],
        **{name: detail["model"][key] for name, key in HEADLINE_MODEL.items()},
        "tuned_micro_f1": detail["by_threshold"]["global"]["micro_f1"],
        "tuned_macro_f1": detail["by_threshold"]["per_tag"]["macro_f1"],
        "baseline": {name: detail["baseline"][key] for name, key in HEADLINE_BASELINE.items()},
    }


def model_numbers(summary: dict) -> dict:
    """The model's own numbers of an eval.json (no item count, baseline or tta block)."""
    return {
        key: value
        for key, value in summary.items()
        if key != "test_items" and not isinstance(value, dict)
    }


def per_tag_rows(
    y_true: np.ndarray, scores: np.ndarray, threshold: float, record: ModelRecord
) -> list[dict]:
    """per_tag.csv: the per-tag table at `threshold`, plus each tag's val-chosen threshold and
    its test F1 there."""
    classes = record.classes
    rows = per_tag_table(y_true, scores, threshold, classes)
    thresholds = record.tag_thresholds("per_tag")
    tuned = per_tag_prf(y_true, scores, thresholds)[2]
    for row, tag_threshold, tuned_f1 in zip(rows, thresholds, tuned, strict=True):
        row["threshold"] = round(float(tag_threshold), 4)
        row["f1_tuned"] = round(float(tuned_f1), 4)
    return rows


def tta_block(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """eval.json's "tta": micro-F1 at `threshold` and mAP of the flip-averaged scores."""
    micro_f1 = threshold_metrics(y_true, scores, threshold)["micro_f1"]
    return {
        "micro_f1": round(micro_f1, 4),
        "map": round(mean_average_precision(y_true, scores)[0], 4),
    }
