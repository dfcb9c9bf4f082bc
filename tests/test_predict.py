"""Tests for stages.predict (the tagging command) and stages.serving (the MLflow pyfunc model)."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch

from stages import predict
from fashion_tagger.errors import PipelineError
from fashion_tagger.model.network import Tagger, predict_logits, save_model
from fashion_tagger.serving.pyfunc import log_tagger
from tests.train_fixtures import CLASSES, HEIGHT, WIDTH, draw_item


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A folder of 7 images (one in a subfolder, plus a non-image file) and a small model whose
    per-tag thresholds are the median scores of those images, so tags are given to some only."""
    root = tmp_path_factory.mktemp("predict")
    folder = root / "images"
    (folder / "more").mkdir(parents=True)
    for index in range(6):
        draw_item(red=bool(index % 2), striped=index > 2).save(folder / f"d{index}.jpg")
    draw_item(red=True, striped=True).save(folder / "more/d6.png")
    (folder / "notes.txt").write_text("not an image")
    torch.manual_seed(0)
    tagger = Tagger("resnet18", len(CLASSES)).eval()
    pixels = predict.load_pixels(predict.list_images([folder]), HEIGHT, WIDTH)
    scores = torch.sigmoid(torch.from_numpy(predict_logits(tagger, pixels, torch.device("cpu"))))
    medians = scores.median(dim=0).values.tolist()
    thresholds = {"fixed": 0.5, "global": float(np.median(medians)), "per_tag": medians}
    save_model(root / "model.pt", tagger, CLASSES, HEIGHT, WIDTH, thresholds)
    return root


def run_predict(capsys, *args: str) -> str:
    predict.main([*args])
    return capsys.readouterr().out


def test_list_images_walks_folders_in_order(tiny_model):
    folder = tiny_model / "images"
    found = predict.list_images([folder / "d5.jpg", folder])
    assert found[0] == folder / "d5.jpg" and len(found) == 8
    assert found[1:] == sorted(found[1:]) and all(path.suffix != ".txt" for path in found)
    with pytest.raises(PipelineError, match="no such file"):
        predict.list_images([folder / "missing.jpg"])
    (tiny_model / "empty").mkdir()
    with pytest.raises(PipelineError, match="no images"):
        predict.list_images([tiny_model / "empty"])


@pytest.mark.parametrize("mode", ["global", "per_tag"])
def test_json_output_gives_tags_above_their_thresholds(tiny_model, capsys, mode):
    model_file = str(tiny_model / "model.pt")
    images = str(tiny_model / "images")
    output = run_predict(capsys, images, "--model", model_file, "--json", "--threshold", mode)
    records = json.loads(output)
    assert len(records) == 7 and records[-1]["image"].endswith("more/d6.png")
    record = torch.load(model_file, weights_only=True)
    thresholds = np.broadcast_to(record["thresholds"][mode], len(CLASSES))
    given = 0
    for record in records:
        scores = [tag["score"] for tag in record["tags"]]
        assert scores == sorted(scores, reverse=True)
        for tag in record["tags"]:
            assert tag["score"] >= round(thresholds[CLASSES.index(tag["tag"])], 4) - 1e-4
        given += len(record["tags"])
    assert 0 < given < 7 * len(CLASSES)  # median thresholds: some tags given, others not


def test_table_output_and_threshold_modes(tiny_model, capsys):
    model_file = str(tiny_model / "model.pt")
    images = str(tiny_model / "images")
    table = run_predict(capsys, images, "--model", model_file).splitlines()
    assert len(table) == 7 and table[0].startswith(f"{images}/d0.jpg: ")
    tagger, record = predict.load_model(model_file)
    pixels = predict.load_pixels(predict.list_images([images]), HEIGHT, WIDTH)
    fixed = predict.tag_pixels(tagger, record, pixels, "fixed")
    fixed_json = json.loads(
        run_predict(capsys, images, "--model", model_file, "--json", "--threshold", "fixed")
    )
    assert [[t["tag"] for t in r["tags"]] for r in fixed_json] == [
        [tag for tag, _ in tags] for tags in fixed
    ]
    assert all(score >= 0.5 for tags in fixed for _, score in tags)


def test_mlflow_model_predicts_the_same_tags_as_predict(tiny_model, capsys, monkeypatch):
    monkeypatch.chdir(tiny_model)
    mlflow.set_tracking_uri(f"sqlite:///{tiny_model / 'mlflow.db'}")
    with mlflow.start_run() as run:
        log_tagger(tiny_model / "model.pt")
    served = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")

    images = str(tiny_model / "images")
    expected = json.loads(run_predict(capsys, images, "--model", "model.pt", "--json"))
    from_folder = served.predict(pd.DataFrame({"image": [images]}))
    assert list(from_folder["image"]) == [record["image"] for record in expected]
    assert [list(tags) for tags in from_folder["tags"]] == [
        [tag["tag"] for tag in record["tags"]] for record in expected
    ]

    pixels = predict.load_pixels(predict.list_images([images]), HEIGHT, WIDTH)
    from_tensors = served.predict(pixels.transpose(0, 3, 1, 2).copy())
    assert [list(tags) for tags in from_tensors["tags"]] == [list(t) for t in from_folder["tags"]]
