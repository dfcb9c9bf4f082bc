"""The model against what the images really show, beside the model against its text labels.

Text labels name only what annotators mentioned, so scoring against them rewards learning their
omissions. Where the download source knows each image's true tags (the sample source writes
`data/raw/true_tags.json`: {"tags": [checkable tags], "items": {id: [true tags]}}), evaluate
scores the test split on the vocabulary tags that file can check, three ways: the model against
the truth, the model against the text labels, and the text labels themselves against the truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashion_tagger.errors import PipelineError
from fashion_tagger.evaluation.metrics import mean_average_precision, threshold_metrics
from fashion_tagger.io import read_json


def read_true_tags(path: Path, ids: list[str], classes: list[str]) -> tuple[list[int], np.ndarray]:
    """The class columns the truth file can check and the items' 0/1 truth on them (items x
    those columns); an item the file lacks is an error."""
    truth = _load(path)
    checkable = set(truth["tags"])
    columns = [index for index, tag in enumerate(classes) if tag in checkable]
    matrix = np.zeros((len(ids), len(columns)), dtype=np.int8)
    for row, item_id in enumerate(ids):
        if item_id not in truth["items"]:
            raise PipelineError(f"{path}: no true tags for item {item_id!r}")
        true = set(truth["items"][item_id])
        matrix[row] = [classes[column] in true for column in columns]
    return columns, matrix


def _load(path: Path) -> dict:
    truth = read_json(path)
    if not isinstance(truth, dict) or not {"tags", "items"} <= set(truth):
        raise PipelineError(f"{path}: expected an object with 'tags' and 'items'")
    return truth


def scores_against(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Micro/macro precision, recall, F1 at `threshold` and mAP, rounded to 4 decimals."""
    figures = threshold_metrics(y_true, scores, threshold)
    kept = {
        f"{average}_{name}": figures[f"{average}_{name}"]
        for average in ("micro", "macro")
        for name in ("precision", "recall", "f1")
    }
    kept["map"] = mean_average_precision(y_true, scores)[0]
    return {name: round(value, 4) for name, value in kept.items()}


def truth_report(
    path: Path,
    ids: list[str],
    classes: list[str],
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
) -> dict:
    """metrics/truth.json: {} without a truth file; else the checked tags and items, and
    "model_vs_truth", "model_vs_text" and "text_vs_truth" (`scores_against`)."""
    if not Path(path).exists():
        return {}
    columns, truth = read_true_tags(path, ids, classes)
    if not columns:
        return {}
    text, model = labels[:, columns], scores[:, columns]
    return {
        "tags": len(columns),
        "items": len(ids),
        "model_vs_truth": scores_against(truth, model, threshold),
        "model_vs_text": scores_against(text, model, threshold),
        "text_vs_truth": scores_against(truth, text, 0.5),
    }
