"""Single-choice attributes: CSV columns, folding, the split, multi-head training, evaluation,
predict, similar and the MLflow model (seed 001, multi-output classification)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import yaml
from PIL import Image

from fashion_tagger import cli
from fashion_tagger.data.sources import labelled
from fashion_tagger.errors import PipelineError
from fashion_tagger.evaluation.attributes import attribute_report, attribute_scores
from fashion_tagger.labels.attributes import (
    OTHER,
    encode_attributes,
    fold_classes,
    one_hot,
)
from fashion_tagger.labels.tables import read_attribute_table
from fashion_tagger.model.losses import multi_head_loss
from fashion_tagger.tracking import find_model_run
from stages import (
    download,
    encode,
    evaluate,
    package,
    prepare,
    similar,
    split,
    tags,
    train,
    translate,
)
from tests.attribute_fixtures import ATTRIBUTES, RARE_COLOUR_ROWS, write_attribute_csv
from tests.train_fixtures import TINY_FEATURES, TINY_PARAMS

REPO = Path(__file__).resolve().parents[1]


def test_fold_classes_puts_rare_values_into_other():
    values = ["Red"] * 4 + ["Blue"] * 3 + ["Green"]
    assert fold_classes(values, 3) == ["Blue", "Red", OTHER]
    assert fold_classes(values, 1) == ["Blue", "Green", "Red"]
    assert fold_classes(["other", "Red", "Red"], 2) == ["Red", OTHER]  # a real "other" joins it


def test_encode_attributes_and_read_back(tmp_path):
    items = [
        {"id": f"i{n}", "attributes": {"colour": c, "size": s}}
        for n, (c, s) in enumerate([("Red", "S"), ("Red", "M"), ("Blue", "S"), ("Pink", "M")])
    ]
    classes, table = encode_attributes(items, 2, "items.json")
    assert classes == {"colour": ["Red", OTHER], "size": ["M", "S"]}
    assert table["colour"].tolist() == ["Red", "Red", OTHER, OTHER]
    table.to_csv(tmp_path / "attributes.csv", index=False)
    ids, indices = read_attribute_table(tmp_path / "attributes.csv", classes)
    assert ids == ["i0", "i1", "i2", "i3"]
    assert indices.tolist() == [[0, 1], [0, 0], [1, 1], [1, 0]]
    assert one_hot(indices, classes).tolist()[2] == [0, 1, 0, 1]


def test_attribute_errors_name_the_problem(tmp_path):
    items = [{"id": "a", "attributes": {"colour": "Red"}}, {"id": "b", "attributes": {}}]
    with pytest.raises(PipelineError, match="item 'b' has attributes"):
        encode_attributes(items, 1, "items.json")
    single = [{"id": "a", "attributes": {"colour": "Red"}}]
    with pytest.raises(PipelineError, match="'colour' has fewer than 2 classes"):
        encode_attributes(single, 1, "items.json")
    (tmp_path / "attributes.csv").write_text("id,colour\na,Mauve\n")
    with pytest.raises(PipelineError, match="line 2: unknown class 'Mauve'"):
        read_attribute_table(tmp_path / "attributes.csv", {"colour": ["Red", "other"]})


def test_labelled_source_reads_attribute_columns(tmp_path):
    csv_path = write_attribute_csv(tmp_path / "data", items=8)
    params = labelled.Params(csv=str(csv_path), attributes=ATTRIBUTES)
    items = labelled.fetch(params, tmp_path / "raw")
    assert items[1]["attributes"] == {"baseColour": "Red", "pattern": "Striped"}
    assert items[5]["attributes"]["baseColour"] == "Green"
    missing = labelled.Params(csv=str(csv_path), attributes=["gender"])
    with pytest.raises(PipelineError, match="missing column 'gender'"):
        labelled.read_rows(missing)
    text = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join([text[0], text[1].rsplit(",", 1)[0] + ",", *text[2:]]))
    with pytest.raises(PipelineError, match="line 2: images/000.jpg: empty attribute 'pattern'"):
        labelled.read_rows(params)


def test_multi_head_loss_sums_weighted_cross_entropies():
    torch.manual_seed(0)
    outputs = torch.randn(5, 2 + 3 + 2)
    tag_targets = torch.randint(0, 2, (5, 2)).float()
    first, second = torch.randint(0, 3, (5,)), torch.randint(0, 2, (5,))
    targets = torch.cat([tag_targets, first[:, None].float(), second[:, None].float()], 1)
    loss = multi_head_loss(F.binary_cross_entropy_with_logits, 2, [3, 2], [1.0, 0.5], 2)
    expected = (
        F.binary_cross_entropy_with_logits(outputs[:, :2], tag_targets)
        + F.cross_entropy(outputs[:, 2:5], first)
        + 0.5 * F.cross_entropy(outputs[:, 5:], second)
    )
    assert loss(outputs, targets).item() == pytest.approx(expected.item(), rel=1e-6)


def test_attribute_scores_by_hand():
    truth = np.array([0, 0, 0, 1, 2])
    scores = attribute_scores(truth, np.array([0, 0, 1, 1, 1]), 3)
    assert scores["accuracy"] == 0.6
    assert scores["balanced_accuracy"] == pytest.approx(round((2 / 3 + 1 + 0) / 3, 4))
    # F1: class 0 = 0.8, class 1 = 0.5, class 2 = 0
    assert scores["macro_f1"] == pytest.approx(round((0.8 + 0.5) / 3, 4))
    report = attribute_report(
        truth[:, None],
        {"a": np.eye(3)[[0, 0, 1, 1, 1]]},
        np.array([[2], [2], [1]]),
        {"a": list("xyz")},
    )
    assert report["a"]["baseline"] == {
        "accuracy": 0.2,
        "balanced_accuracy": round(1 / 3, 4),
        "macro_f1": round((2 * 0.2 / 1.2) / 3, 4),
        "class": "z",
    }


@pytest.fixture(scope="module")
def attribute_run(tmp_path_factory):
    """The pipeline from a generated CSV with 2 attributes to evaluate, one epoch, in a
    temporary repo; returns its root."""
    root = tmp_path_factory.mktemp("attributes")
    write_attribute_csv(root / "labelled")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    source = params["download"]["labelled"]
    source.update(csv="labelled/styles.csv", attributes=ATTRIBUTES)
    params["download"]["source"] = "labelled"
    params["translate"]["cache_dir"] = None
    params["encode"]["attribute_min_count"] = 3
    params["split"] |= {"train": 0.5, "val": 0.25, "test": 0.25}
    params["prepare"] = TINY_PARAMS["prepare"]
    params["train"] = TINY_PARAMS["train"] | {"epochs": 1, "attribute_weights": {"pattern": 2.0}}
    params["evaluate"] = TINY_PARAMS["evaluate"] | {"tta": True}
    params["similar"] = TINY_PARAMS["similar"]
    params["runtime"] |= TINY_PARAMS["runtime"]
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        for stage in (download, translate, tags, encode, split, prepare, train, evaluate, package):
            stage.main()
        similar.main()
    return root


def test_encode_folds_the_rare_colour(attribute_run):
    classes = json.loads((attribute_run / "data/encode/attribute_classes.json").read_text())
    assert classes == {"baseColour": ["Blue", "Red", OTHER], "pattern": ["Plain", "Striped"]}
    with (attribute_run / "data/encode/attributes.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [rows[n]["baseColour"] for n in RARE_COLOUR_ROWS] == [OTHER, OTHER]


def test_split_stratifies_on_attribute_classes(attribute_run):
    splits = json.loads((attribute_run / "data/split/split.json").read_text())
    table = pd.read_csv(attribute_run / "data/encode/attributes.csv").set_index("id")
    for name in ("train", "val", "test"):
        colours = table.loc[splits[name], "baseColour"].value_counts()
        patterns = table.loc[splits[name], "pattern"].value_counts()
        assert colours.get("Red", 0) >= 4 and colours.get("Blue", 0) >= 4
        assert patterns.get("Striped", 0) >= 4 and patterns.get("Plain", 0) >= 4


def test_attribute_metrics_and_baseline(attribute_run):
    report = json.loads((attribute_run / "metrics/attributes.json").read_text())
    assert list(report) == ATTRIBUTES
    test_ids = json.loads((attribute_run / "data/split/split.json").read_text())["test"]
    table = pd.read_csv(attribute_run / "data/encode/attributes.csv").set_index("id")
    for name in ATTRIBUTES:
        figures = report[name]
        for who in ("model", "baseline", "tta"):
            assert set(figures[who]) >= {"accuracy", "balanced_accuracy", "macro_f1"}
            assert all(0 <= figures[who][key] <= 1 for key in ("accuracy", "macro_f1"))
        # the baseline always answers the training split's majority class
        share = (table.loc[test_ids, name] == figures["baseline"]["class"]).mean()
        assert figures["baseline"]["accuracy"] == pytest.approx(round(share, 4))
        assert figures["baseline"]["balanced_accuracy"] == pytest.approx(
            round(1 / table.loc[test_ids, name].nunique(), 4)
        )
    assert report["baseColour"]["classes"] == 3


def test_confusion_matrix_picture(attribute_run):
    with Image.open(attribute_run / "metrics/confusion.png") as picture:
        # a row per attribute, the model's matrix beside the baseline's
        assert picture.format == "PNG" and picture.height >= 2 * 360 and picture.width >= 720


def test_eval_json_reports_tta_separately(attribute_run):
    report = json.loads((attribute_run / "metrics/eval.json").read_text())
    assert set(report["tta"]) == {"micro_f1", "map"}
    assert 0 <= report["tta"]["map"] <= 1


def test_predict_prints_attribute_values(attribute_run, capsys, monkeypatch):
    monkeypatch.chdir(attribute_run)
    image = "labelled/images/001.jpg"
    cli.main(["predict", image, "--tta"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == image
    rows = [line.split() for line in lines[2:] if line.split()[:1] in (["baseColour"], ["pattern"])]
    assert [row[0] for row in rows] == ["baseColour", "pattern"]
    assert rows[0][1] in {"Blue", "Red", OTHER} and rows[1][1] in {"Plain", "Striped"}
    cli.main(["predict", image, "--json"])
    record = json.loads(capsys.readouterr().out)["images"][0]
    assert record["attributes"]["baseColour"]["value"] in {"Blue", "Red", OTHER}
    assert record["attributes"]["pattern"]["value"] in {"Plain", "Striped"}


def test_similar_and_mlflow_model_handle_attribute_models(attribute_run, capsys, monkeypatch):
    monkeypatch.chdir(attribute_run)
    embeddings = np.load(attribute_run / "data/similar/embeddings.npy")
    assert embeddings.shape == (48, TINY_FEATURES)
    image = "labelled/images/002.jpg"
    cli.main(["similar", image, "--k", "2", "--json"])
    assert len(json.loads(capsys.readouterr().out)[0]["similar"]) == 2
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{attribute_run / 'mlflow.db'}")
    run_id = find_model_run(attribute_run / "data/train/model.pt")
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    table = model.predict(pd.DataFrame({"image": [image]}))
    cli.main(["predict", image, "--json"])
    expected = json.loads(capsys.readouterr().out)["images"][0]["attributes"]
    assert table["attributes"][0] == {name: value["value"] for name, value in expected.items()}
