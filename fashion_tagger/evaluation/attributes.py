"""Single-choice attributes on the test split: scores per attribute and confusion matrices.

Per attribute: accuracy, balanced accuracy (mean recall over the classes present in the test
split) and macro-F1 (over the attribute's classes), for the model and for a majority-class
baseline (every item gets the attribute's most frequent class in the training split), whose gap
is what the images teach. Confusion matrices (rows: real class, columns: predicted class) are
drawn per attribute for both, as in the multi-output seed.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from fashion_tagger.io import atomic_path

CELL_INCHES = 0.32  # confusion-matrix picture: inches per class, so large attributes stay legible


def attribute_scores(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro-F1 of predicted class indices (rounded to 4)."""
    with warnings.catch_warnings():  # predicted classes absent from the test split are expected
        warnings.simplefilter("ignore", UserWarning)
        balanced = balanced_accuracy_score(y_true, y_pred)
    macro_f1 = f1_score(
        y_true, y_pred, labels=list(range(classes)), average="macro", zero_division=0
    )
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "balanced_accuracy": round(float(balanced), 4),
        "macro_f1": round(float(macro_f1), 4),
    }


def majority_class(train_indices: np.ndarray, classes: int) -> int:
    """The most frequent class in the training split (the lowest index on ties)."""
    return int(np.bincount(train_indices, minlength=classes).argmax())


def attribute_report(
    test_indices: np.ndarray,
    probabilities: dict[str, np.ndarray],
    train_indices: np.ndarray,
    classes: dict[str, list[str]],
) -> dict:
    """metrics/attributes.json: per attribute its classes, and model and baseline scores.

    `test_indices`/`train_indices`: class indices (items x attributes); `probabilities`:
    {attribute: (test items, classes)}.
    """
    report = {}
    for position, (name, values) in enumerate(classes.items()):
        truth = test_indices[:, position]
        majority = majority_class(train_indices[:, position], len(values))
        predicted = probabilities[name].argmax(axis=1)
        report[name] = {
            "classes": len(values),
            "model": attribute_scores(truth, predicted, len(values)),
            "baseline": attribute_scores(truth, np.full_like(truth, majority), len(values))
            | {"class": values[majority]},
        }
    return report


def confusion_file(folder: Path, name: str, baseline: bool = False) -> Path:
    """The picture of one attribute's confusion matrix (a file-system-safe name)."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", name)
    return Path(folder) / f"{'baseline_' if baseline else ''}{safe}.png"


def draw_confusion(
    path: Path, y_true: np.ndarray, y_pred: np.ndarray, classes: list[str], title: str
) -> None:
    """A confusion matrix picture: counts per real (row) and predicted (column) class."""
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
    side = max(4.0, CELL_INCHES * len(classes) + 2)
    figure = Figure(figsize=(side, side))
    axis = figure.subplots()
    axis.imshow(matrix, cmap="Blues")
    ticks = range(len(classes))
    axis.set_xticks(ticks, classes, rotation=90, fontsize=7)
    axis.set_yticks(ticks, classes, fontsize=7)
    axis.set_xlabel("predicted")
    axis.set_ylabel("real")
    axis.set_title(title, fontsize=9)
    if len(classes) <= 30:  # counts stay readable
        for row, column in zip(*np.nonzero(matrix), strict=True):
            colour = "white" if matrix[row, column] > matrix.max() / 2 else "black"
            axis.text(
                column,
                row,
                str(matrix[row, column]),
                ha="center",
                va="center",
                fontsize=7,
                color=colour,
            )
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=90)


def draw_confusions(
    folder: Path,
    test_indices: np.ndarray,
    probabilities: dict[str, np.ndarray],
    train_indices: np.ndarray,
    classes: dict[str, list[str]],
) -> list[Path]:
    """The model's and the baseline's confusion matrix for every attribute; the files written."""
    written = []
    for position, (name, values) in enumerate(classes.items()):
        truth = test_indices[:, position]
        majority = majority_class(train_indices[:, position], len(values))
        for baseline, predicted in (
            (False, probabilities[name].argmax(axis=1)),
            (True, np.full_like(truth, majority)),
        ):
            path = confusion_file(folder, name, baseline)
            who = f"baseline (always {values[majority]})" if baseline else "model"
            draw_confusion(path, truth, predicted, values, f"{name}: {who}, test split")
            written.append(path)
    return written
