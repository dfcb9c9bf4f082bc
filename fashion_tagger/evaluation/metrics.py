"""Multi-label scores shared by train (validation curves) and evaluate (test report).

Inputs are `y_true` (items x tags, 0/1) and `scores` (items x tags, probabilities or any
monotone score such as a train-frequency prior). Undefined ratios (no predictions, no positives)
count as 0 rather than raising, so a model that predicts nothing scores 0, not an error.

Tag thresholds are chosen on the validation split to maximise F1 (`choose_thresholds`). Besides
the fixed threshold (0.5), train stores in the model
- `global`: the one threshold that maximises micro-F1 over all val (item, tag) pairs;
- `per_tag`: per tag, the threshold that maximises that tag's val F1; tags with fewer than
  `min_val_positives` val positives keep the global one (a threshold fitted to one or two
  examples would not carry over to new images).
They are frozen in the model before the test split is ever scored.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    fbeta_score,
    hamming_loss,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
)


def f2_score(y_true: np.ndarray, predicted: np.ndarray) -> float:
    """F-beta with beta 2 (recall weighs 4x precision), averaged over items: the Planet metric."""
    return float(fbeta_score(y_true, predicted, beta=2, average="samples", zero_division=0))


def accuracy_multi(y_true: np.ndarray, predicted: np.ndarray) -> float:
    """Share of item-tag pairs predicted right (fastai's accuracy_multi; 1 - hamming loss)."""
    return float((predicted == y_true).mean())


def per_tag_prf(y_true: np.ndarray, scores: np.ndarray, threshold: float | np.ndarray) -> tuple:
    """Each tag's precision, recall, F1 and support (arrays) at `threshold` (one value, or one
    per tag)."""
    predicted = (scores >= threshold).astype(int)
    return precision_recall_fscore_support(
        y_true, predicted, average=None, zero_division=0, labels=list(range(y_true.shape[1]))
    )


def threshold_metrics(
    y_true: np.ndarray, scores: np.ndarray, threshold: float | np.ndarray
) -> dict[str, float]:
    """Micro, macro and samples precision/recall/F1, F2, accuracy_multi and the hamming loss at
    `threshold` (one value, or one per tag)."""
    predicted = (scores >= threshold).astype(int)
    result: dict[str, float] = {}
    for average in ("micro", "macro", "samples"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, predicted, average=average, zero_division=0
        )
        result[f"{average}_precision"] = float(precision)
        result[f"{average}_recall"] = float(recall)
        result[f"{average}_f1"] = float(f1)
    result["f2"] = f2_score(y_true, predicted)
    result["accuracy_multi"] = accuracy_multi(y_true, predicted)
    result["hamming_loss"] = float(hamming_loss(y_true, predicted))
    return result


def roc_aucs(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of each tag; NaN for a tag whose items are all positive or all negative."""
    result = np.full(y_true.shape[1], np.nan)
    for tag in range(y_true.shape[1]):
        if 0 < y_true[:, tag].sum() < len(y_true):
            result[tag] = roc_auc_score(y_true[:, tag], scores[:, tag])
    return result


def macro_roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Macro ROC AUC: the mean over tags where it is defined; 0.5, chance, where none is."""
    per_tag = roc_aucs(y_true, scores)
    defined = ~np.isnan(per_tag)
    return float(per_tag[defined].mean()) if defined.any() else 0.5


def roc_auc_averages(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Macro ROC AUC (`macro_roc_auc`) and micro (item-tag pairs pooled); 0.5, chance, where
    undefined."""
    pooled = y_true.ravel()
    micro = roc_auc_score(pooled, scores.ravel()) if 0 < pooled.sum() < len(pooled) else 0.5
    return {"roc_auc_macro": macro_roc_auc(y_true, scores), "roc_auc_micro": float(micro)}


def average_precisions(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Average precision of each tag; NaN for a tag with no positives (AP is undefined there)."""
    result = np.full(y_true.shape[1], np.nan)
    for tag in range(y_true.shape[1]):
        if y_true[:, tag].any():
            result[tag] = average_precision_score(y_true[:, tag], scores[:, tag])
    return result


def mean_average_precision(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, int]:
    """mAP over the tags that have positives, and how many tags were left out for having none."""
    per_tag = average_precisions(y_true, scores)
    defined = ~np.isnan(per_tag)
    mean = float(per_tag[defined].mean()) if defined.any() else 0.0
    return mean, int((~defined).sum())


def summary(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """All numbers at one threshold: `threshold_metrics`, ROC AUC, mAP and the count of tags mAP
    excludes."""
    result = threshold_metrics(y_true, scores, threshold)
    result |= roc_auc_averages(y_true, scores)
    result["map"], result["map_tags_excluded"] = mean_average_precision(y_true, scores)
    return result


VALIDATION_SCORES = ("micro_f1", "macro_f1", "f2", "accuracy_multi", "roc_auc_macro", "map")


def validation_scores(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """The per-epoch validation curves' scores (`VALIDATION_SCORES`), all cheap on a val split:
    the same numbers as `summary`'s, without its pooled micro ROC AUC."""
    result = threshold_metrics(y_true, scores, threshold) | {
        "roc_auc_macro": macro_roc_auc(y_true, scores),
        "map": mean_average_precision(y_true, scores)[0],
    }
    return {name: result[name] for name in VALIDATION_SCORES}


def per_tag_table(
    y_true: np.ndarray, scores: np.ndarray, threshold: float | np.ndarray, classes: list[str]
) -> list[dict]:
    """Per tag: support (test positives), precision, recall, F1 at `threshold` (one value, or
    one per tag), AP and ROC AUC (None where undefined)."""
    precision, recall, f1, support = per_tag_prf(y_true, scores, threshold)
    aps = average_precisions(y_true, scores)
    aucs = roc_aucs(y_true, scores)
    return [
        {
            "tag": tag,
            "support": int(support[index]),
            "precision": round(float(precision[index]), 4),
            "recall": round(float(recall[index]), 4),
            "f1": round(float(f1[index]), 4),
            "ap": None if np.isnan(aps[index]) else round(float(aps[index]), 4),
            "roc_auc": None if np.isnan(aucs[index]) else round(float(aucs[index]), 4),
        }
        for index, tag in enumerate(classes)
    ]


def micro_pr_curve(y_true: np.ndarray, scores: np.ndarray, max_points: int = 200) -> list[dict]:
    """Micro-averaged precision-recall curve (item-tag pairs pooled), thinned to `max_points`."""
    precision, recall, thresholds = precision_recall_curve(y_true.ravel(), scores.ravel())
    # precision/recall have one more point than thresholds (recall 0 at the end); drop it.
    precision, recall = precision[:-1], recall[:-1]
    keep = np.unique(np.linspace(0, len(thresholds) - 1, min(max_points, len(thresholds))).round())
    return [
        {
            "threshold": round(float(thresholds[i]), 4),
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
        }
        for i in keep.astype(int)
    ]


def tags_above(scores: np.ndarray, classes: list[str], threshold: float) -> list[tuple[str, float]]:
    """One item's tags scoring at least `threshold`, with their scores, best first."""
    order = [index for index in np.argsort(-scores, kind="stable") if scores[index] >= threshold]
    return [(classes[index], float(scores[index])) for index in order]


def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """The score threshold (predict when score >= it) with the highest F1, and that F1.

    Candidates are the observed scores; ties go to the lowest threshold. Without positives the
    answer is 1.0 (predict nothing) with F1 0.
    """
    y_true, scores = np.ravel(y_true), np.ravel(scores)
    if not y_true.any():
        return 1.0, 0.0
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    best = int(np.argmax(f1))
    return float(thresholds[best]), float(f1[best])


def choose_thresholds(
    y_true: np.ndarray, scores: np.ndarray, min_val_positives: int
) -> tuple[float, list[float]]:
    """The global threshold and the per-tag thresholds (global where positives are too few)."""
    global_threshold, _ = best_f1_threshold(y_true, scores)
    per_tag = []
    for tag in range(y_true.shape[1]):
        if y_true[:, tag].sum() >= min_val_positives:
            per_tag.append(best_f1_threshold(y_true[:, tag], scores[:, tag])[0])
        else:
            per_tag.append(global_threshold)
    return global_threshold, per_tag
