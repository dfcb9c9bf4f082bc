"""Tests for stages.prepare, stages.model and stages.train on tiny synthetic images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stages import train
from stages.common import PipelineError
from stages.model import Tagger, build_backbone, load_model, save_model
from stages.prepare import build_cache, load_image, load_labelled_split
from tests.train_fixtures import CLASSES, HEIGHT, TINY_PARAMS, WIDTH, write_inputs


def train_params(**changes) -> train.TrainParams:
    return train.TrainParams.model_validate(TINY_PARAMS["train"] | changes)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """(classes, splits) of 48 tiny labelled images, read back through the prepare cache."""
    root = tmp_path_factory.mktemp("tiny")
    write_inputs(root)
    return load_labelled_split(("train", "val", "test"), directory=root)


def fit(tiny_data, checkpoint, **changes):
    classes, data = tiny_data
    return train.fit(train_params(**changes), classes, data, checkpoint, "same-data")


def test_load_image_resizes_to_height_by_width(tmp_path):
    Image.new("RGB", (100, 50), (255, 0, 0)).save(tmp_path / "a.jpg")
    pixels = load_image(tmp_path / "a.jpg", height=12, width=8)
    assert pixels.shape == (12, 8, 3) and pixels.dtype == np.uint8
    assert pixels[..., 0].mean() > 200 and pixels[..., 2].mean() < 50


def test_build_cache_reports_the_broken_image(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(PipelineError, match="bad.jpg"):
        build_cache([tmp_path / "bad.jpg"], 8, 8)


def test_labelled_split_aligns_images_and_labels(tiny_data):
    classes, data = tiny_data
    assert classes == CLASSES
    train_split = data["train"]
    assert train_split.images.shape == (24, HEIGHT, WIDTH, 3)
    red_column = CLASSES.index("red")
    for row in range(4):  # red items are drawn red: the red channel dominates the centre
        centre = train_split.images[row, HEIGHT // 2, WIDTH // 2].astype(int)
        assert (centre[0] > centre[2]) == bool(train_split.labels[row, red_column])


def test_head_replaces_the_last_linear_layer():
    resnet = build_backbone("resnet18", 7, dropout=0.3)
    assert isinstance(resnet.fc[0], torch.nn.Dropout) and resnet.fc[0].p == 0.3
    assert resnet.fc[1].out_features == 7
    mobilenet = build_backbone("mobilenet_v3_small", 5, dropout=0.2)
    assert mobilenet.classifier[-1][1].out_features == 5


def test_unknown_backbone_is_a_param_error():
    with pytest.raises(PipelineError, match="train.backbone"):
        build_backbone("no_such_net", 3, 0.2)


def test_saved_model_round_trips(tmp_path):
    torch.manual_seed(0)
    tagger = Tagger("resnet18", 4).eval()
    save_model(tmp_path / "model.pt", tagger, CLASSES, HEIGHT, WIDTH)
    loaded, record = load_model(tmp_path / "model.pt")
    images = torch.randint(0, 256, (2, 3, HEIGHT, WIDTH), dtype=torch.uint8)
    assert torch.equal(loaded(images), tagger(images))
    assert record["classes"] == CLASSES and (record["height"], record["width"]) == (HEIGHT, WIDTH)


@pytest.mark.parametrize(
    ("choice", "cuda", "expected"),
    [("auto", True, "cuda"), ("auto", False, "cpu"), ("cpu", True, "cpu"), ("cuda", True, "cuda")],
)
def test_select_device(monkeypatch, choice, cuda, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert train.select_device(choice).type == expected


def test_cuda_without_a_gpu_is_a_param_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(PipelineError, match="train.device"):
        train.select_device("cuda")


def test_autocast_dtype(monkeypatch):
    assert train.autocast_dtype(torch.device("cpu"), amp=True) is None
    assert train.autocast_dtype(torch.device("cuda"), amp=False) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert train.autocast_dtype(torch.device("cuda"), amp=True) == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert train.autocast_dtype(torch.device("cuda"), amp=True) == torch.bfloat16


def test_augmentation_switches():
    off = train.AugmentParams(hflip=False, grayscale=0, color_jitter=0)
    assert train.build_augmentation(off) is None
    gray = train.build_augmentation(train.AugmentParams(hflip=False, grayscale=1, color_jitter=0))
    image = torch.randint(0, 256, (3, 8, 6), dtype=torch.uint8)
    out = gray(image)
    assert out.dtype == torch.uint8 and out.shape == image.shape
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])


def test_batch_size_above_the_training_set_is_a_param_error(tiny_data, tmp_path):
    with pytest.raises(PipelineError, match="train.batch_size"):
        fit(tiny_data, tmp_path / "last.pt", batch_size=100)


def test_training_lowers_the_loss(tiny_data, tmp_path):
    _, history = fit(tiny_data, tmp_path / "last.pt", epochs=4)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert set(history[0]) == set(train.CURVE_COLUMNS)


def test_same_params_give_the_same_model(tiny_data, tmp_path):
    first, first_history = fit(tiny_data, tmp_path / "a.pt")
    second, second_history = fit(tiny_data, tmp_path / "b.pt")
    assert first_history == second_history
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_resuming_equals_training_straight_through(tiny_data, tmp_path):
    straight, straight_history = fit(tiny_data, tmp_path / "straight.pt", epochs=4)
    fit(tiny_data, tmp_path / "resumed.pt", epochs=2)
    resumed, resumed_history = fit(tiny_data, tmp_path / "resumed.pt", epochs=4, resume=True)
    assert resumed_history == straight_history
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    state = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert state["epoch"] == 4 and {"model", "optimizer", "scaler", "rng"} <= set(state)


def test_a_checkpoint_of_other_params_is_not_resumed(tiny_data, tmp_path, capsys):
    classes, data = tiny_data
    params = train_params(epochs=1)
    train.fit(params, classes, data, tmp_path / "last.pt", "old-data")
    _, history = train.fit(
        train_params(epochs=2, resume=True), classes, data, tmp_path / "last.pt", "new-data"
    )
    assert len(history) == 2
    assert "starting afresh" in capsys.readouterr().out


def test_fingerprint_ignores_epochs_but_not_lr(tmp_path):
    (tmp_path / "labels.csv").write_text("id,a\nx,1\n")
    files, shape = [tmp_path / "labels.csv"], (32, 24, 3)
    base = train.fingerprint(train_params(), files, shape)
    assert train.fingerprint(train_params(epochs=9, resume=True), files, shape) == base
    assert train.fingerprint(train_params(lr=0.1), files, shape) != base


@pytest.mark.gpu
@pytest.mark.parametrize("bf16", [True, False], ids=["bf16", "fp16-grad-scaler"])
def test_cuda_step_with_mixed_precision_and_channels_last(tiny_data, tmp_path, monkeypatch, bf16):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    tagger, history = fit(tiny_data, tmp_path / "last.pt", epochs=1, device="cuda")
    assert np.isfinite(history[0]["train_loss"])
    conv = tagger.backbone.conv1.weight
    assert conv.is_cuda and conv.is_contiguous(memory_format=torch.channels_last)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["rng"]["cuda"]
    assert bool(state["scaler"]) != bf16  # the grad scaler only runs (and saves state) for fp16
