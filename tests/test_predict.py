"""Tests for the tagging command (stages.predict) and the MLflow pyfunc model (serving.pyfunc)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch

from fashion_tagger.errors import PipelineError
from fashion_tagger.model.inference import (
    predict_all_probabilities,
    predict_logits,
    split_probabilities,
)
from fashion_tagger.model.network import Tagger, load_model, save_model
from fashion_tagger.serving.predict import list_images, load_pixels, score_pixels
from fashion_tagger.serving.pyfunc import log_tagger
from stages import predict
from tests.restricted_env import build_site, requirement_names
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
    pixels = load_pixels(list_images([folder]), HEIGHT, WIDTH)
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
    found = list_images([folder / "d5.jpg", folder])
    assert found[0] == folder / "d5.jpg" and len(found) == 8
    assert found[1:] == sorted(found[1:]) and all(path.suffix != ".txt" for path in found)
    with pytest.raises(PipelineError, match="no such file"):
        list_images([folder / "missing.jpg"])
    (tiny_model / "empty").mkdir()
    with pytest.raises(PipelineError, match="no images"):
        list_images([tiny_model / "empty"])


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
    tagger, record = load_model(model_file)
    pixels = load_pixels(list_images([images]), HEIGHT, WIDTH)
    fixed, attributes = score_pixels(tagger, record, pixels, "fixed")
    assert attributes == [{}] * 7  # a model of tags only
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

    pixels = load_pixels(list_images([images]), HEIGHT, WIDTH)
    from_tensors = served.predict(pixels.transpose(0, 3, 1, 2).copy())
    assert [list(tags) for tags in from_tensors["tags"]] == [list(t) for t in from_folder["tags"]]


def test_mlflow_model_loads_with_only_its_requirements(tiny_model, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tiny_model)
    mlflow.set_tracking_uri(f"sqlite:///{tiny_model / 'mlflow.db'}")
    with mlflow.start_run() as run:
        log_tagger(tiny_model / "model.pt")
    model_dir = Path(mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/model"))
    requirements = (model_dir / "requirements.txt").read_text().split()
    names = {line.split("==")[0] for line in requirements}
    assert {"torch", "torchvision", "numpy", "pandas", "pillow", "mlflow"} <= names
    assert "scikit-learn" not in names and "tqdm" not in names  # training-only packages
    carried = sorted(
        p.relative_to(model_dir / "code").as_posix() for p in (model_dir / "code").rglob("*.py")
    )
    assert "fashion_tagger/serving/pyfunc.py" in carried
    assert "fashion_tagger/model/training.py" not in carried and not any(
        path.startswith("fashion_tagger/text/") for path in carried
    )

    site = tmp_path / "site"
    # mlflow-skinny: what loading a pyfunc model needs of MLflow, without the full server stack
    linked = build_site(requirement_names(requirements) - {"mlflow"} | {"mlflow-skinny"}, site)
    assert "scikit-learn" not in linked  # (tqdm comes in with timm -> huggingface-hub)
    images = str(tiny_model / "images")
    expected = json.loads(run_predict(capsys, images, "--model", "model.pt", "--json"))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            str(Path(__file__).with_name("restricted_load.py")),
            model_dir,
            images,
        ],
        cwd=outside,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site), "MLFLOW_TRACKING_URI": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["tags"] == [[tag["tag"] for tag in record["tags"]] for record in expected]
    assert loaded["package"].startswith(str(model_dir.resolve()))  # the model's copy of the code
    assert "sklearn" not in loaded["imported"]


def test_tta_scores_an_image_and_its_mirror_alike():
    torch.manual_seed(0)
    tagger = Tagger("resnet18", len(CLASSES), attributes={"colour": 3}).eval()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (2, HEIGHT, WIDTH, 3), dtype=np.uint8)
    mirrored = np.ascontiguousarray(pixels[:, :, ::-1])
    cpu = torch.device("cpu")
    plain = predict_all_probabilities(tagger, pixels, cpu)
    tta = predict_all_probabilities(tagger, pixels, cpu, tta=True)
    assert np.allclose(tta, predict_all_probabilities(tagger, mirrored, cpu, tta=True), atol=1e-6)
    assert np.allclose(tta, (plain + predict_all_probabilities(tagger, mirrored, cpu)) / 2)
    tags, attributes = split_probabilities(tagger, tta)
    assert tags.shape == (2, len(CLASSES)) and np.allclose(attributes["colour"].sum(axis=1), 1)
