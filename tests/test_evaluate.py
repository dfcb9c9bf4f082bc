"""Tests for the metrics, the test report and the evaluate stage."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashion_tagger.evaluation.metrics import (
    accuracy_multi,
    f2_score,
    mean_average_precision,
    micro_pr_curve,
    per_tag_table,
    roc_auc_averages,
    roc_aucs,
    summary,
    threshold_metrics,
    top_tags,
    validation_scores,
)
from fashion_tagger.evaluation.report import prior_scores
from fashion_tagger.model.training import CURVE_COLUMNS
from stages import evaluate, train
from tests.train_fixtures import CLASSES, write_inputs

REPO = Path(__file__).resolve().parents[1]

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


def test_per_tag_table_and_top_tags():
    rows = per_tag_table(Y_TRUE, SCORES, 0.5, ["a", "b", "c"])
    assert [row["support"] for row in rows] == [3, 1, 2]
    assert rows[0]["f1"] == 1.0 and rows[1]["f1"] == 0.0
    assert top_tags(SCORES[3], ["a", "b", "c"], k=2) == ["a", "b"]


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
    params["train"]["epochs"] = 3
    (root / "params.yaml").write_text(json.dumps(params))
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


def test_gallery_picture_is_written(evaluated):
    with Image.open(evaluated / "metrics/test_gallery.png") as picture:
        assert picture.format == "PNG" and picture.width > 300


def test_training_curves_have_one_row_per_epoch(evaluated):
    with (evaluated / "metrics/train_curves.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert list(rows[0]) == CURVE_COLUMNS


STUB_STAGE = """
import json, random
import yaml
from fashion_tagger.evaluation.report import headline
lr = yaml.safe_load(open("params.yaml"))["train"]["lr"]
random.seed(lr)
names = ["micro_f1", "macro_f1", "samples_f1", "map", "roc_auc_macro", "roc_auc_micro", "f2",
         "accuracy_multi"]
side = lambda: {name: round(random.random(), 4) for name in names}
detail = {"test_items": 155, "model": side(), "baseline": {n: 0.25 for n in names},
          "by_threshold": {"global": side(), "per_tag": side()}}
summary = headline(detail)
summary["tta"] = {"micro_f1": round(random.random(), 4), "map": round(random.random(), 4)}
json.dump(summary, open("eval.json", "w"))
"""


@pytest.mark.slow
def test_exp_show_only_changed_fits_200_columns(tmp_path):
    """Two experiments differing in one param: `dvc exp show --only-changed` on eval.json's
    headline names (and its tta block) fits a 200-character terminal."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "COLUMNS": "400",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }

    def run(*args: str) -> str:
        result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    (tmp_path / "stage.py").write_text(STUB_STAGE)
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.001\n  epochs: 10\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  evaluate:\n    cmd: python stage.py\n    deps: [stage.py]\n"
        "    params: [train]\n    metrics:\n      - eval.json:\n          cache: false\n"
    )
    run("git", "init", "-q")
    run("dvc", "init", "-q")
    run("dvc", "repro", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "stub")
    run("dvc", "exp", "run", "-q", "-S", "train.lr=0.002")
    run("dvc", "exp", "run", "-q", "-S", "train.lr=0.004")
    table = run("dvc", "exp", "show", "--only-changed", "--no-pager")
    assert "tuned_macro_f1" in table and "train.lr" in table and "epochs" not in table
    assert max(len(line.rstrip()) for line in table.splitlines()) <= 200
