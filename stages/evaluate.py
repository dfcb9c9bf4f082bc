"""Stage `evaluate`: score the trained model on the test split against a constant-prior baseline.

The baseline gives every test item the same score per tag: the tag's frequency in the training
split. At threshold 0.5 it predicts exactly the tags that most training items carry, so the gap
between the two rows is what the images teach the model. Writes
- `metrics/eval.json`: {"test_items", "threshold", "map_tags_excluded",
  "model": {...}, "baseline": {...}, "by_threshold": {"fixed": {...}, "global": {...},
  "per_tag": {...}}} with micro/macro/samples precision, recall and F1, mAP (over tags with test
  positives; `map_tags_excluded` counts the others) and hamming loss; "model" and "baseline" at
  `evaluate.threshold`, "by_threshold" the model at its fixed threshold and at the global and
  per-tag thresholds that train chose on the val split (frozen in the model before test);
- `metrics/per_tag.csv`: tag, support, precision, recall, f1, ap (empty when undefined), and the
  tag's val-chosen threshold with its test F1 (threshold, f1_tuned);
- `metrics/pr_curve.csv`: the model's micro-averaged precision-recall curve (threshold,
  precision, recall), at most `evaluate.pr_points` rows;
- `metrics/test_gallery.png`: test images titled with their top predicted and their real tags.
Everything is also logged to the MLflow run that train opened.
"""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path
from typing import Literal

import numpy as np
from matplotlib.figure import Figure
from PIL import Image
from pydantic import Field

from stages.common import (
    PipelineError,
    StrictModel,
    atomic_path,
    read_json,
    read_params,
    run_stage,
    write_json,
    write_text,
)
from stages.items import item_images
from stages.metrics import (
    micro_pr_curve,
    per_tag_table,
    summary,
    threshold_metrics,
    top_tags,
)
from stages.model import check_image_size, load_model, predict_probabilities, tag_thresholds
from stages.prepare import load_labelled_split
from stages.tracking import RUN_FILE, Tracker, section_params
from stages.train import CURVES_FILE, MODEL_FILE, select_device

EVAL_FILE = Path("metrics/eval.json")
PER_TAG_FILE = Path("metrics/per_tag.csv")
PR_CURVE_FILE = Path("metrics/pr_curve.csv")
GALLERY_FILE = Path("metrics/test_gallery.png")
GALLERY_COLUMNS = 4


class EvaluateParams(StrictModel):
    threshold: float = Field(gt=0, lt=1)  # a tag is predicted when its probability >= threshold
    batch_size: int = Field(gt=0)
    device: Literal["auto", "cpu", "cuda"]
    pr_points: int = Field(ge=2)  # rows kept in the precision-recall curve file
    gallery_size: int = Field(gt=0)  # test images in the gallery picture
    gallery_top_k: int = Field(gt=0)  # predicted tags shown per gallery image


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


def rows_csv(rows: list[dict]) -> str:
    """A list of same-keyed dicts as CSV text (None as an empty cell)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def evenly_spaced(count: int, available: int) -> list[int]:
    """`count` indices spread evenly over range(available) (all when there are fewer); picks the
    gallery's test rows here and the similar stage's queries."""
    return sorted({int(i) for i in np.linspace(0, available - 1, min(count, available))})


def draw_gallery(
    path: Path,
    pictures: list[Image.Image],
    predicted: list[list[tuple[str, float]]],
    real: list[list[str]],
) -> None:
    """A grid of pictures titled with predicted tags (with probabilities) and real tags."""
    rows = -(-len(pictures) // GALLERY_COLUMNS)
    # A bare Figure renders with Agg and needs no pyplot state or display.
    figure = Figure(figsize=(3.2 * GALLERY_COLUMNS, 4.6 * rows))
    axes = figure.subplots(rows, GALLERY_COLUMNS, squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index >= len(pictures):
            continue
        axis.imshow(pictures[index])
        guessed = ", ".join(f"{tag} {score:.2f}" for tag, score in predicted[index])
        title = "predicted: " + guessed + "\nreal: " + (", ".join(real[index]) or "-")
        wrapped = "\n".join(textwrap.fill(line, 38) for line in title.splitlines())
        axis.set_title(wrapped, fontsize=8, loc="left")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=90)


def main() -> None:
    params = read_params("evaluate", EvaluateParams)
    tagger, record = load_model(MODEL_FILE)
    classes, data = load_labelled_split(("train", "test"))
    if record["classes"] != classes:
        raise PipelineError(f"{MODEL_FILE}: trained on other tags than data/encode; re-run train")
    test = data["test"]
    check_image_size(record, test.images, MODEL_FILE)
    device = select_device(params.device, "evaluate.device")
    scores = predict_probabilities(tagger, test.images, device, params.batch_size)
    baseline = prior_scores(data["train"].labels, len(test.ids))

    headline = report(test.labels, scores, baseline, params.threshold, record)
    write_json(EVAL_FILE, headline)
    write_text(PER_TAG_FILE, rows_csv(per_tag_rows(test.labels, scores, params.threshold, record)))
    write_text(PR_CURVE_FILE, rows_csv(micro_pr_curve(test.labels, scores, params.pr_points)))

    image_of = item_images()
    chosen = evenly_spaced(params.gallery_size, len(test.ids))
    pictures = [Image.open(image_of[test.ids[row]]).convert("RGB") for row in chosen]
    predicted = [
        [
            (tag, float(scores[row, classes.index(tag)]))
            for tag in top_tags(scores[row], classes, params.gallery_top_k)
        ]
        for row in chosen
    ]
    real = [
        [tag for tag, on in zip(classes, test.labels[row], strict=True) if on] for row in chosen
    ]
    draw_gallery(GALLERY_FILE, pictures, predicted, real)

    tracker = Tracker().start(
        run_id=read_json(RUN_FILE)["run_id"], params=section_params("evaluate")
    )
    for name in ("model", "baseline"):
        prefix = "test_" if name == "model" else "baseline_test_"
        tracker.log_metrics({prefix + key: value for key, value in headline[name].items()})
    for mode in ("global", "per_tag"):
        figures = headline["by_threshold"][mode]
        tracker.log_metrics({f"test_{mode}_{key}": value for key, value in figures.items()})
    for path in (EVAL_FILE, PER_TAG_FILE, PR_CURVE_FILE, GALLERY_FILE, CURVES_FILE):
        tracker.log_artifact(path, "plots" if path.suffix != ".json" else None)
    tracker.end()
    model, prior, tuned = headline["model"], headline["baseline"], headline["by_threshold"]
    print(
        f"evaluate: {len(test.ids)} test items: micro-F1 {model['micro_f1']:.3f} "
        f"(baseline {prior['micro_f1']:.3f}; val-tuned global {tuned['global']['micro_f1']:.3f}, "
        f"per tag {tuned['per_tag']['micro_f1']:.3f}), mAP {model['map']:.3f} "
        f"(baseline {prior['map']:.3f}) -> {EVAL_FILE}"
    )


if __name__ == "__main__":
    run_stage(main)
