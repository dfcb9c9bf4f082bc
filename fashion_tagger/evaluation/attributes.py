"""Single-choice attributes on the test split: scores per attribute and confusion matrices.

Per attribute: accuracy, balanced accuracy (mean recall over the classes present in the test
split) and macro-F1 (over the attribute's classes), for the model and for a majority-class
baseline (every item gets the attribute's most frequent class in the training split), whose gap
is what the images teach. Confusion matrices (rows: real class, columns: predicted class) are
drawn per attribute for both, as in the multi-output seed, into one picture (a row each).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
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


def attribute_predictions(
    test_indices: np.ndarray,
    probabilities: dict[str, np.ndarray],
    train_indices: np.ndarray,
    classes: dict[str, list[str]],
) -> Iterator[tuple[str, list[str], np.ndarray, np.ndarray, int, np.ndarray]]:
    """Per attribute: its name, class names, the real class indices, the model's predicted ones
    (argmax), the training split's majority class, and the baseline's predictions (that class
    for every item)."""
    for position, (name, values) in enumerate(classes.items()):
        truth = test_indices[:, position]
        majority = majority_class(train_indices[:, position], len(values))
        predicted = probabilities[name].argmax(axis=1)
        yield name, values, truth, predicted, majority, np.full_like(truth, majority)


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
    return {
        name: {
            "classes": len(values),
            "model": attribute_scores(truth, predicted, len(values)),
            "baseline": attribute_scores(truth, baseline, len(values))
            | {"class": values[majority]},
        }
        for name, values, truth, predicted, majority, baseline in attribute_predictions(
            test_indices, probabilities, train_indices, classes
        )
    }


def model_attribute_scores(
    test_indices: np.ndarray, probabilities: dict[str, np.ndarray], classes: dict[str, list[str]]
) -> dict[str, dict[str, float]]:
    """Per attribute, the model's scores only (`attribute_report`'s "model", no baseline)."""
    return {
        name: attribute_scores(
            test_indices[:, position], probabilities[name].argmax(axis=1), len(values)
        )
        for position, (name, values) in enumerate(classes.items())
    }


def draw_confusion(
    axis, y_true: np.ndarray, y_pred: np.ndarray, classes: list[str], title: str
) -> None:
    """One confusion matrix on `axis`: counts per real (row) and predicted (column) class."""
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
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


def draw_confusions(
    path: Path,
    test_indices: np.ndarray | None,
    probabilities: dict[str, np.ndarray],
    train_indices: np.ndarray | None,
    classes: dict[str, list[str]],
) -> None:
    """metrics/confusion.png: a row per attribute, the model's confusion matrix beside the
    majority-class baseline's; a one-line note for a model of tags only (DVC needs the file)."""
    side = max([4.0, *(CELL_INCHES * len(values) + 2 for values in classes.values())])
    figure = Figure(figsize=(2 * side, side * max(1, len(classes))))
    axes = figure.subplots(max(1, len(classes)), 2, squeeze=False)
    if not classes:
        for axis in axes.ravel():
            axis.axis("off")
        axes[0, 0].text(0, 0.5, "no attribute heads: this model tags only", fontsize=12)
    predictions = attribute_predictions(test_indices, probabilities, train_indices, classes)
    for row, (name, values, truth, predicted, majority, baseline) in enumerate(predictions):
        model_axis, baseline_axis = axes[row]
        draw_confusion(model_axis, truth, predicted, values, f"{name}: model, test split")
        title = f"{name}: baseline (always {values[majority]})"
        draw_confusion(baseline_axis, truth, baseline, values, title)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=90)
