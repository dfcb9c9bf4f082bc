"""Tag thresholds chosen on the validation split to maximise F1.

Besides the fixed threshold (0.5), train stores in the model
- `global`: the one threshold that maximises micro-F1 over all val (item, tag) pairs;
- `per_tag`: per tag, the threshold that maximises that tag's val F1; tags with fewer than
  `min_val_positives` val positives keep the global one (a threshold fitted to one or two
  examples would not carry over to new images).
They are frozen in the model before the test split is ever scored.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve


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
