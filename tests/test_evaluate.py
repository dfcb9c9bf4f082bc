"""Tests for the metrics, the test report and the evaluate stage."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image
from tqdm import tqdm

from fashion_tagger.evaluation.metrics import (
    accuracy_multi,
    f2_score,
    mean_average_precision,
    micro_pr_curve,
    per_tag_table,
    roc_auc_averages,
    roc_aucs,
    summary,
    tags_above,
    threshold_metrics,
    validation_scores,
)
from fashion_tagger.evaluation.pictures import MARKS, caption_lines, draw_gallery
from fashion_tagger.evaluation.report import prior_scores
from fashion_tagger.model.inference import score_batches
from fashion_tagger.model.training import CURVE_COLUMNS
from stages import evaluate, train
from tests.train_fixtures import CLASSES, write_inputs

Y_TRUE = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0]])
SCORES = np.array([[0.9, 0.2, 0.6], [0.8, 0.4, 0.1], [0.3, 0.1, 0.4], [0.7, 0.6, 0.2]])


def test_threshold_metrics_by_hand():
    scores = threshold_metrics(Y_TRUE, SCORES, 0.5)
    # Predicted positives: (0,0) (0,2) (1,0) (3,0) (3,1); true positives: 4 of 6 labels.
    assert scores["micro_precision"] == pytest.approx(4 / 5)
    assert scores["micro_recall"] == pytest.approx(4 / 6)
    assert scores["micro_f1"] == pytest.approx(2 * 0.8 * (4 / 6) / (0.8 + 4 / 6))
    # Per tag F1: tag 0 = 1.0, tag 1 = 0 (one wrong prediction), tag 2 = 2/3.
    assert scores["macro_f1"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert scores["hamming_loss"] == pytest.approx(3 / 12)


def test_f2_and_accuracy_multi_by_hand():
    predicted = (SCORES >= 0.5).astype(int)
    # accuracy_multi: 9 of 12 item-tag pairs right (the complement of the hamming loss).
    assert accuracy_multi(Y_TRUE, predicted) == pytest.approx(9 / 12)
    # F2 per item = 5 tp / (5 tp + 4 fn + fp): items 0 to 3 -> 1, 5/9, 0, 5/6.
    assert f2_score(Y_TRUE, predicted) == pytest.approx((1 + 0 + 5 / 9 + 5 / 6) / 4)
    assert threshold_metrics(Y_TRUE, SCORES, 0.5)["f2"] == f2_score(Y_TRUE, predicted)


def test_roc_auc_by_hand_and_undefined_tags():
    # Tag 0: positives 0.9, 0.8, 0.7 all above the negative 0.3 -> 1.0. Tag 1: its positive
    # 0.4 beats negatives 0.2 and 0.1 but not 0.6 -> 2/3. Tag 2: positives 0.6, 0.4 against
    # negatives 0.1, 0.2 -> 1.0.
    assert roc_aucs(Y_TRUE, SCORES).tolist() == pytest.approx([1.0, 2 / 3, 1.0])
    averages = roc_auc_averages(Y_TRUE, SCORES)
    assert averages["roc_auc_macro"] == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert 0.5 < averages["roc_auc_micro"] <= 1
    # A tag every item carries (or none does) has no ROC AUC; the macro mean leaves it out.
    all_positive = np.column_stack([Y_TRUE[:, 0], np.ones(4, dtype=int)])
    assert np.isnan(roc_aucs(all_positive, SCORES[:, :2])[1])
    assert roc_auc_averages(all_positive, SCORES[:, :2])["roc_auc_macro"] == 1.0
    # Constant scores rank nothing: chance.
    assert roc_auc_averages(Y_TRUE, np.full(SCORES.shape, 0.3))["roc_auc_macro"] == 0.5


def test_validation_scores_are_the_curve_columns():
    scores = validation_scores(Y_TRUE, SCORES, 0.5)
    assert set(scores) == {"micro_f1", "macro_f1", "f2", "accuracy_multi", "roc_auc_macro", "map"}
    assert [f"val_{name}" for name in scores] == CURVE_COLUMNS[3:-1]


def test_map_leaves_out_tags_without_positives():
    y_true = np.array([[1, 0], [0, 0], [1, 0]])
    scores = np.array([[0.9, 0.5], [0.1, 0.5], [0.8, 0.5]])
    assert mean_average_precision(y_true, scores) == (1.0, 1)


def test_per_tag_table_and_tags_above():
    rows = per_tag_table(Y_TRUE, SCORES, 0.5, ["a", "b", "c"])
    assert [row["support"] for row in rows] == [3, 1, 2]
    assert rows[0]["f1"] == 1.0 and rows[1]["f1"] == 0.0
    assert tags_above(SCORES[0], ["a", "b", "c"], 0.5) == [("a", 0.9), ("c", 0.6)]
    assert tags_above(SCORES[2], ["a", "b", "c"], 0.5) == []


def test_pr_curve_is_thinned_and_bounded():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, (200, 5))
    points = micro_pr_curve(y_true, rng.random((200, 5)), max_points=50)
    assert 2 <= len(points) <= 50
    assert all(0 <= p["precision"] <= 1 and 0 <= p["recall"] <= 1 for p in points)
    recalls = [p["recall"] for p in points]
    assert recalls == sorted(recalls, reverse=True)  # thresholds rise, recall falls


def test_prior_baseline_predicts_the_majority_tags():
    train_labels = np.array([[1, 0, 1], [1, 0, 0], [1, 1, 0]])
    baseline = prior_scores(train_labels, items=4)
    assert baseline.shape == (4, 3)
    assert (baseline >= 0.5).tolist() == [[True, False, False]] * 4
    # Constant scores rank nothing: each tag's AP is its test frequency.
    assert summary(Y_TRUE, baseline, 0.5)["map"] == pytest.approx((3 / 4 + 1 / 4 + 2 / 4) / 3)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A tiny train + evaluate run in a temporary repo; returns its root."""
    root = tmp_path_factory.mktemp("evaluate")
    params = write_inputs(root)
    # resnet18: the tiny mobilenet's batch norm (momentum 0.01) has barely moved from its start
    # after 9 steps, so in eval mode it scores every image alike and ranks no better than the prior
    params["train"] |= {"epochs": 3, "backbone": "resnet18"}
    (root / "params.yaml").write_text(json.dumps(params))
    # what the images really show, as the sample source writes it: here the text labels
    split = json.loads((root / "data/split/split.json").read_text())
    with (root / "data/encode/labels.csv").open() as handle:
        rows = {row.pop("id"): row for row in csv.DictReader(handle)}
    truth = {item: [t for t in ("blue", "red") if rows[item][t] == "1"] for item in split["test"]}
    (root / "data/raw/true_tags.json").write_text(
        json.dumps({"tags": ["blue", "red"], "items": truth})
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        train.main()
        evaluate.main()
    return root


def numbers(tree: dict) -> list[float]:
    """Every number in a nested dict: what `dvc exp show` makes a column of."""
    found = []
    for value in tree.values():
        found += numbers(value) if isinstance(value, dict) else [value]
    return found


def test_eval_json_holds_the_headline_numbers_only(evaluated):
    report = json.loads((evaluated / "metrics/eval.json").read_text())
    assert report["test_items"] == 12
    model = [
        "micro_f1",
        "macro_f1",
        "samples_f1",
        "map",
        "auc",
        "auc_micro",
        "f2",
        "acc_multi",
        "tuned_micro_f1",
        "tuned_macro_f1",
    ]
    assert [key for key in report if key not in ("test_items", "baseline", "tta")] == model
    assert list(report["baseline"]) == ["micro_f1", "macro_f1", "map", "auc", "f2", "acc_multi"]
    assert len(numbers({k: v for k, v in report.items() if k != "tta"})) <= 20 - 2
    assert len(numbers(report)) <= 20
    # The images carry their tags (colour, stripes): the model ranks them, the prior cannot.
    assert report["map"] > report["baseline"]["map"]
    assert report["auc"] > report["baseline"]["auc"] == 0.5


def test_eval_details_hold_everything_else(evaluated):
    report = json.loads((evaluated / "metrics/eval.json").read_text())
    detail = json.loads((evaluated / "metrics/eval_details.json").read_text())
    assert detail["threshold"] == 0.5 and detail["map_tags_excluded"] == 0
    for side in ("model", "baseline"):
        assert {"micro_precision", "macro_recall", "hamming_loss", "f2"} <= set(detail[side])
    assert report["micro_f1"] == detail["model"]["micro_f1"]
    assert report["auc"] == detail["model"]["roc_auc_macro"]
    assert report["acc_multi"] == detail["model"]["accuracy_multi"]
    assert report["baseline"]["auc"] == detail["baseline"]["roc_auc_macro"]
    by_threshold = detail["by_threshold"]
    assert set(by_threshold) == {"global", "per_tag"}
    assert report["tuned_micro_f1"] == by_threshold["global"]["micro_f1"]
    assert report["tuned_macro_f1"] == by_threshold["per_tag"]["macro_f1"]
    record = torch.load(evaluated / "data/train/model.pt", weights_only=True)
    assert by_threshold["global"]["threshold"] == round(record["thresholds"]["global"], 4)
    assert len(record["thresholds"]["per_tag"]) == len(CLASSES)


def test_per_tag_and_pr_curve_files(evaluated):
    with (evaluated / "metrics/per_tag.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["tag"] for row in rows] == CLASSES
    assert set(rows[0]) == {
        "tag",
        "support",
        "precision",
        "recall",
        "f1",
        "ap",
        "roc_auc",
        "threshold",
        "f1_tuned",
    }
    with (evaluated / "metrics/pr_curve.csv").open() as handle:
        assert 2 <= len(list(csv.DictReader(handle))) <= 20  # evaluate.pr_points


def test_tags_only_model_has_no_attribute_metrics(evaluated):
    assert json.loads((evaluated / "metrics/attributes.json").read_text()) == {}
    assert "tta" not in json.loads((evaluated / "metrics/eval.json").read_text())  # tta: off
    with Image.open(evaluated / "metrics/confusion.png") as picture:
        assert picture.format == "PNG"  # a note: DVC needs the declared file


def test_truth_report_and_label_issues_are_written(evaluated):
    truth = json.loads((evaluated / "metrics/truth.json").read_text())
    assert truth["tags"] == 2  # blue and red: the checkable tags of the vocabulary
    assert truth["text_vs_truth"]["micro_f1"] == 1.0  # this truth is the text labels
    assert truth["model_vs_truth"] == truth["model_vs_text"]
    with (evaluated / "metrics/label_issues.csv").open() as handle:
        issues = list(csv.DictReader(handle))
    assert all((row["kind"] == "missing") == (float(row["probability"]) >= 0.5) for row in issues)
    assert [float(row["score"]) for row in issues] == sorted(
        (float(row["score"]) for row in issues), reverse=True
    )
    with Image.open(evaluated / "metrics/label_issues.png") as picture:
        assert picture.format == "PNG"


def test_gallery_picture_is_written(evaluated):
    with Image.open(evaluated / "metrics/test_gallery.png") as picture:
        assert picture.format == "PNG" and picture.width > 300


def colour_pixels(picture: Image.Image, colour: str) -> int:
    """Pixels of the picture within a small distance of a #rrggbb colour."""
    pixels = np.asarray(picture.convert("RGB")).astype(int)
    target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels - target).sum(axis=2) < 30).sum())


def test_gallery_marks_right_wrong_and_missed_tags(tmp_path):
    """Every tag above the threshold is captioned (right green, wrong red), missed ones grey,
    with a legend; an image with no right tag has no green caption."""
    white = Image.new("RGB", (48, 64), "white")
    path = tmp_path / "gallery.png"
    lines = caption_lines([("red", 0.9), ("maxi", 0.6)], ["red", "floral"])
    assert lines == [("red 0.90", "right"), ("maxi 0.60", "wrong"), ("floral", "missed")]
    draw_gallery(path, [white], [[("maxi", 0.6)]], [["floral"]], 0.5)
    with Image.open(path) as only_wrong:
        legend_only = colour_pixels(only_wrong, MARKS["right"][0])
        assert colour_pixels(only_wrong, MARKS["wrong"][0]) > legend_only
    draw_gallery(
        path,
        [white, white],
        [[("red", 0.9)], [("red", 0.8), ("maxi", 0.6)]],
        [["red", "floral"], ["red"]],
        0.5,
    )
    with Image.open(path) as picture:
        for mark, (colour, _) in MARKS.items():
            assert colour_pixels(picture, colour) > legend_only, mark


def test_training_curves_have_one_row_per_epoch(evaluated):
    with (evaluated / "metrics/train_curves.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert list(rows[0]) == CURVE_COLUMNS


def test_scoring_reports_each_batch_to_the_progress_bar(capsys):
    """evaluate's and similar's bars hear of every image scored, batch by batch, so they reach
    their total (images done of all, rate and time left)."""
    images = np.zeros((10, 8, 6, 3), dtype=np.uint8)
    done: list[int] = []
    scores = score_batches(
        lambda batch: batch.float().mean((1, 2, 3))[:, None],
        images,
        torch.device("cpu"),
        4,
        rows=np.arange(1, 8),
        progress=done.append,
    )
    assert scores.shape == (7, 1) and done == [4, 3]
    with tqdm(total=7, desc="evaluate", unit="img") as bar:
        score_batches(
            torch.nn.Flatten(), images, torch.device("cpu"), 4, np.arange(7), progress=bar.update
        )
    shown = capsys.readouterr().err
    assert "evaluate: 100%" in shown and "7/7 [" in shown, shown
