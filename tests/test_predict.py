"""Tests for the tagging command (`fashion-tagger predict`) and the MLflow pyfunc model."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from fashion_tagger import cli
from fashion_tagger.data.images import list_images, load_pixels
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import sha256_files
from fashion_tagger.labels.exclusive import read_exclusive_groups, resolve
from fashion_tagger.model.inference import (
    predict,
    split_probabilities,
)
from fashion_tagger.model.network import Tagger, load_model, save_model
from fashion_tagger.serving.predict import score_pixels
from fashion_tagger.serving.pyfunc import log_tagger
from fashion_tagger.tracking import EXPERIMENT_NAME, MODEL_TAG
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
    pixels, _ = load_pixels(list_images([folder]), HEIGHT, WIDTH)
    scores = torch.sigmoid(
        torch.from_numpy(predict(tagger, pixels, torch.device("cpu"), output="logits"))
    )
    medians = scores.median(dim=0).values.tolist()
    thresholds = {"fixed": 0.5, "global": float(np.median(medians)), "per_tag": medians}
    save_model(root / "model.pt", tagger, CLASSES, HEIGHT, WIDTH, thresholds)
    return root


def run_predict(capsys, *args: str) -> str:
    cli.main(["predict", *args])
    return capsys.readouterr().out


def predict_json(capsys, *args: str) -> list[dict]:
    """The per-image records of `predict --json`."""
    return json.loads(run_predict(capsys, *args, "--json"))["images"]


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
    records = predict_json(capsys, images, "--model", model_file, "--threshold", mode)
    assert len(records) == 7 and records[-1]["image"].endswith("more/d6.png")
    record = torch.load(model_file, weights_only=True)
    thresholds = np.broadcast_to(record["thresholds"][mode], len(CLASSES))
    given = 0
    for record in records:
        scores = [tag["score"] for tag in record["tags"]]
        assert scores == sorted(scores, reverse=True)
        for tag in record["tags"]:
            assert tag["threshold"] == round(thresholds[CLASSES.index(tag["tag"])], 4)
            assert tag["score"] >= tag["threshold"] - 1e-4
        given += len(record["tags"])
    assert 0 < given < 7 * len(CLASSES)  # median thresholds: some tags given, others not


def table_blocks(output: str) -> tuple[str, dict[str, list[str]]]:
    """predict's table output: its first line, and per image path the lines under it."""
    first, *lines = output.splitlines()
    blocks: dict[str, list[str]] = {}
    image = None
    for line in lines:
        if line.startswith(" "):
            blocks[image].append(line.strip())
        else:
            image = line
            blocks[image] = []
    return first, blocks


def test_table_output_and_threshold_modes(tiny_model, capsys):
    model_file = str(tiny_model / "model.pt")
    images = str(tiny_model / "images")
    first, blocks = table_blocks(run_predict(capsys, images, "--model", model_file))
    assert first.startswith(f"model {model_file}: resnet18, 4 tags, {WIDTH}x{HEIGHT} px; ")
    assert "no MLflow run recorded" in first and first.endswith("thresholds: global")
    assert list(blocks) == [str(path) for path in list_images([images])]
    records = predict_json(capsys, images, "--model", model_file)
    for record, block in zip(records, blocks.values(), strict=True):
        tags = record["tags"]
        if not tags:
            assert block == ["no tag reaches its threshold"]
            continue
        assert block[0].split() == ["tag", "score", "threshold"]
        for line, tag in zip(block[1:], tags, strict=True):
            assert line.split() == [tag["tag"], f"{tag['score']:.2f}", f"{tag['threshold']:.2f}"]
    tagger, record = load_model(model_file)
    pixels, _ = load_pixels(list_images([images]), HEIGHT, WIDTH)
    fixed, attributes = score_pixels(tagger, record, pixels, "fixed")
    assert attributes == [{}] * 7  # a model of tags only
    fixed_json = predict_json(capsys, images, "--model", model_file, "--threshold", "fixed")
    assert [[t["tag"] for t in r["tags"]] for r in fixed_json] == [
        [tag for tag, _ in tags] for tags in fixed
    ]
    assert all(score >= 0.5 for tags in fixed for _, score in tags)


def test_a_landscape_photo_is_padded_not_squeezed(tiny_model, tmp_path, capsys):
    """A model trained at 32x24 (portrait): a 2:3 portrait is resized as prepare resized the
    training images; a landscape photo is centred on white first, and predict says so."""
    Image.new("RGB", (60, 40), "navy").save(tmp_path / "landscape.png")
    Image.new("RGB", (40, 60), "navy").save(tmp_path / "portrait.png")
    files = [tmp_path / "landscape.png", tmp_path / "portrait.png"]
    pixels, padded = load_pixels(files, HEIGHT, WIDTH)
    assert padded == [True, False]
    landscape, portrait = pixels.astype(int)
    # 60x40 at width 24: content 24x16, white bands of 8 rows above and below
    assert (landscape[:7] == 255).all() and (landscape[-7:] == 255).all()
    assert (landscape[9:-9] == [0, 0, 128]).all()
    assert (portrait == [0, 0, 128]).all()  # filled: squeezed from 2:3 to 3:4 like the training

    _, blocks = table_blocks(
        run_predict(capsys, *map(str, files), "--model", str(tiny_model / "model.pt"))
    )
    assert blocks[str(files[0])][0].startswith("padded with white to the model's 24:32 aspect")
    assert not blocks[str(files[1])][0].startswith("padded")
    records = predict_json(capsys, *map(str, files), "--model", str(tiny_model / "model.pt"))
    assert [record["padded"] for record in records] == [True, False]


def test_exclusive_tags_keep_the_best_of_their_group(tmp_path, capsys):
    classes = ["calf-length", "floor-length", "red", "v neckline"]
    torch.manual_seed(0)
    tagger = Tagger("resnet18", len(classes)).eval()
    thresholds = {"fixed": 0.5, "global": 0.0, "per_tag": [0.0] * 4}  # every tag reaches it
    save_model(tmp_path / "model.pt", tagger, classes, HEIGHT, WIDTH, thresholds)
    draw_item(red=True, striped=False).save(tmp_path / "dress.jpg")
    args = [str(tmp_path / "dress.jpg"), "--model", str(tmp_path / "model.pt")]
    record = predict_json(capsys, *args)[0]
    lengths = {tag["tag"]: tag["score"] for tag in record["tags"] if "length" in tag["tag"]}
    (excluded,) = record["excluded"]
    assert len(lengths) == 1 and excluded["group"] == "length" and excluded["kept"] in lengths
    assert excluded["score"] <= lengths[excluded["kept"]]
    assert {tag["tag"] for tag in record["tags"]} == set(classes) - {excluded["tag"]}
    _, blocks = table_blocks(run_predict(capsys, *args))
    (line,) = [line for line in blocks[args[0]] if "excluded" in line]
    assert line.startswith(excluded["tag"]) and line.endswith(
        f"excluded: one length only, {excluded['kept']} scores higher"
    )


def test_first_line_names_the_mlflow_run_and_when_it_trained(
    tiny_model, tmp_path, capsys, monkeypatch
):
    folder = tmp_path / "train"
    folder.mkdir()
    shutil.copy(tiny_model / "model.pt", folder / "model.pt")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    experiment_id = mlflow.create_experiment(EXPERIMENT_NAME)
    with mlflow.start_run(experiment_id=experiment_id):  # another model's run: not this one
        mlflow.set_tag(MODEL_TAG, "0" * 64)
    with mlflow.start_run(experiment_id=experiment_id) as run:  # found by the file's sha256
        mlflow.set_tag(MODEL_TAG, sha256_files([folder / "model.pt"]))
    started = datetime.datetime.fromtimestamp(run.info.start_time / 1000).astimezone()
    image = str(tiny_model / "images/d0.jpg")
    first, _ = table_blocks(run_predict(capsys, image, "--model", str(folder / "model.pt")))
    assert f"MLflow run {run.info.run_id} ({uri}), trained {started:%Y-%m-%d %H:%M}" in first
    model = json.loads(run_predict(capsys, image, "--model", str(folder / "model.pt"), "--json"))[
        "model"
    ]
    assert model["mlflow_run_id"] == run.info.run_id
    assert model["trained"] == started.isoformat()
    (tmp_path / "mlflow.db").unlink()  # the store gone: the file's time, said to be that
    first, _ = table_blocks(run_predict(capsys, image, "--model", str(folder / "model.pt")))
    assert "file written " in first and "(run time unknown)" in first


def test_mlflow_model_predicts_the_same_tags_as_predict(tiny_model, capsys, monkeypatch):
    monkeypatch.chdir(tiny_model)
    mlflow.set_tracking_uri(f"sqlite:///{tiny_model / 'mlflow.db'}")
    with mlflow.start_run() as run:
        log_tagger(tiny_model / "model.pt")
    served = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")

    images = str(tiny_model / "images")
    expected = predict_json(capsys, images, "--model", "model.pt")
    from_folder = served.predict(pd.DataFrame({"image": [images]}))
    assert list(from_folder["image"]) == [record["image"] for record in expected]
    assert [list(tags) for tags in from_folder["tags"]] == [
        [tag["tag"] for tag in record["tags"]] for record in expected
    ]

    pixels, _ = load_pixels(list_images([images]), HEIGHT, WIDTH)
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
    expected = predict_json(capsys, images, "--model", "model.pt")
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
    plain = predict(tagger, pixels, cpu)
    tta = predict(tagger, pixels, cpu, tta="average")
    assert np.allclose(tta, predict(tagger, mirrored, cpu, tta="average"), atol=1e-6)
    assert np.allclose(tta, (plain + predict(tagger, mirrored, cpu)) / 2)
    both = predict(tagger, pixels, cpu, tta="both")
    assert both.shape == (2, *plain.shape)
    assert np.allclose(both[0], plain, atol=1e-6) and np.allclose(both[1], tta, atol=1e-6)
    tags, attributes = split_probabilities(tagger, tta)
    assert tags.shape == (2, len(CLASSES)) and np.allclose(attributes["colour"].sum(axis=1), 1)


def test_resolve_keeps_one_value_per_group_but_overlapping_names_together():
    """Two colours exclude each other; "blue" and "dark blue" name the same thing and stay."""
    groups = read_exclusive_groups()
    tags = [("red", 0.9), ("black", 0.7), ("blue", 0.6), ("belt", 0.55)]
    kept, excluded = resolve(tags, groups)
    assert kept == [("red", 0.9), ("belt", 0.55)]  # belt: a detail, any number of them
    assert [(item.tag, item.group, item.kept) for item in excluded] == [
        ("black", "colour", "red"),
        ("blue", "colour", "red"),
    ]
    kept, excluded = resolve([("dark blue", 0.8), ("blue", 0.7)], groups)
    assert kept == [("dark blue", 0.8), ("blue", 0.7)] and not excluded
