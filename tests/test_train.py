"""Tests for the image cache, the network and training on tiny synthetic images."""

from __future__ import annotations

import dataclasses
import re
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from fashion_tagger import torch_utils
from fashion_tagger.data.cache import write_cache
from fashion_tagger.data.dataset import load_labelled_split
from fashion_tagger.data.images import load_image
from fashion_tagger.errors import PipelineError
from fashion_tagger.model import network as model
from fashion_tagger.model import training as train
from fashion_tagger.model.network import Tagger, build_features, load_model, save_model
from fashion_tagger.torch_utils import save_torch
from tests.train_fixtures import CLASSES, HEIGHT, TINY_PARAMS, WIDTH, write_inputs


def train_params(**changes) -> train.TrainParams:
    return train.TrainParams.model_validate(TINY_PARAMS["train"] | changes)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """(classes, splits) of 48 tiny labelled images, read back through the prepare cache."""
    root = tmp_path_factory.mktemp("tiny")
    write_inputs(root)
    return load_labelled_split(("train", "val", "test"), directory=root)


RUNTIME_KEYS = {"device", "workers", "resume", "processes", "compile"}


def runtime(**changes) -> train.TrainRuntime:
    return train.TrainRuntime.model_validate(TINY_PARAMS["runtime"]["train"] | changes)


def fit(tiny_data, checkpoint, **changes):
    classes, data = tiny_data
    params = train_params(**{k: v for k, v in changes.items() if k not in RUNTIME_KEYS})
    placement = runtime(**{k: v for k, v in changes.items() if k in RUNTIME_KEYS})
    device = train.training_device(placement)
    return train.fit(params, placement, device, classes, data, checkpoint, "same-data")


def test_load_image_resizes_to_height_by_width(tmp_path):
    Image.new("RGB", (100, 50), (255, 0, 0)).save(tmp_path / "a.jpg")
    pixels = load_image(tmp_path / "a.jpg", height=12, width=8)
    assert pixels.shape == (12, 8, 3) and pixels.dtype == np.uint8
    assert pixels[..., 0].mean() > 200 and pixels[..., 2].mean() < 50


def test_build_cache_reports_the_broken_image(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(PipelineError, match="bad.jpg"):
        write_cache([tmp_path / "bad.jpg"], ["bad"], 8, 8, tmp_path / "prepare")
    assert not (tmp_path / "prepare/images.npy").exists()


def test_labelled_split_aligns_images_and_labels(tiny_data):
    classes, data = tiny_data
    assert classes == CLASSES
    train_split = data["train"]
    assert len(train_split) == 24 and train_split.image_shape == (HEIGHT, WIDTH, 3)
    assert isinstance(train_split.cache, np.memmap)  # a view into the map, never a copy
    assert all(split.cache is train_split.cache for split in data.values())
    red_column = CLASSES.index("red")
    images = train_split.images(np.arange(4))
    for row in range(4):  # red items are drawn red: the red channel dominates the centre
        centre = images[row, HEIGHT // 2, WIDTH // 2].astype(int)
        assert (centre[0] > centre[2]) == bool(train_split.labels[row, red_column])


def test_classifier_is_stripped_and_a_head_added():
    tagger = Tagger("resnet18", 7, dropout=0.3)
    assert isinstance(tagger.backbone.fc, torch.nn.Identity)
    assert isinstance(tagger.head[0], torch.nn.Dropout) and tagger.head[0].p == 0.3
    assert tagger.head[1].in_features == 512 and tagger.head[1].out_features == 7
    mobilenet, features = build_features("mobilenet_v3_small", pretrained=False)
    # Sequential(Linear, Hardswish, Dropout, Linear): the last linear and its dropout go.
    kinds = [type(layer).__name__ for layer in mobilenet.classifier]
    assert kinds == ["Linear", "Hardswish", "Identity", "Identity"] and features == 1024
    images = torch.randint(0, 256, (2, 3, 32, 24), dtype=torch.uint8)
    assert Tagger("mobilenet_v3_small", 5).eval().embed(images).shape == (2, 1024)


def test_mlp_head_has_batch_norm_and_dropout():
    head = model.build_head("mlp", 64, 5, dropout=0.3)
    kinds = [type(layer).__name__ for layer in head]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert head[0].out_features == 32 and head[-1].out_features == 5


def test_unknown_backbone_is_a_param_error():
    with pytest.raises(PipelineError, match="train.backbone"):
        build_features("no_such_net", pretrained=False)


def test_lite0_loads_the_packaged_imagenet_weights():
    tagger = Tagger("efficientnet_lite0", 3, pretrained=True)
    source = torch.load(model.lite0_weights_file(), weights_only=True)
    assert torch.equal(tagger.backbone.conv_stem.weight, source["_conv_stem.weight"])
    assert torch.equal(tagger.backbone.bn2.running_var, source["_bn1.running_var"])
    assert torch.allclose(tagger.mean.flatten(), torch.tensor(model.IMAGENET_MEAN))
    assert tagger.head[1].in_features == 1280


def test_lite0_mapping_checks_count_and_shapes():
    target = {"a.weight": torch.zeros(2, 3), "a.bias": torch.zeros(2)}
    mapped = model.map_lite0_weights({"x": torch.ones(2, 3), "y": torch.ones(2)}, target)
    assert list(mapped) == ["a.weight", "a.bias"] and mapped["a.bias"].sum() == 2
    with pytest.raises(PipelineError, match=r"tensor y \(3,\) does not fit timm's a.bias"):
        model.map_lite0_weights({"x": torch.ones(2, 3), "y": torch.ones(3)}, target)
    with pytest.raises(PipelineError, match="1 tensors"):
        model.map_lite0_weights({"x": torch.ones(2, 3)}, target)


def test_torchvision_weights_offline_say_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def unreachable(url, destination, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", unreachable)
    with pytest.raises(PipelineError) as error:
        Tagger("mobilenet_v3_small", 3, pretrained=True)
    message = str(error.value)
    assert "\n" not in message and "train.pretrained" in message
    assert f"{tmp_path}/hub/checkpoints" in message and "mobilenet_v3_small-" in message


def test_torchvision_weights_come_from_the_torch_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    url = torchvision.models.get_model_weights("mobilenet_v3_small").DEFAULT.url
    cached = torchvision.models.mobilenet_v3_small()
    (tmp_path / "hub/checkpoints").mkdir(parents=True)
    torch.save(cached.state_dict(), tmp_path / "hub/checkpoints" / Path(url).name)
    tagger = Tagger("mobilenet_v3_small", 3, pretrained=True)
    assert torch.equal(tagger.backbone.features[0][0].weight, cached.features[0][0].weight)


def test_frozen_backbone_stays_in_eval_mode_without_gradients():
    tagger = Tagger("resnet18", 3)
    tagger.freeze_backbone(True)
    tagger.train()
    assert not tagger.backbone.training and tagger.head.training
    assert not any(p.requires_grad for p in tagger.backbone.parameters())
    tagger.freeze_backbone(False)
    assert tagger.backbone.training and all(p.requires_grad for p in tagger.parameters())


def test_saved_model_round_trips(tmp_path):
    torch.manual_seed(0)
    tagger = Tagger("efficientnet_lite0", 4, head="mlp", pretrained=True).eval()
    thresholds = {"fixed": 0.5, "global": 0.3, "per_tag": [0.1, 0.2, 0.3, 0.4]}
    save_model(tmp_path / "model.pt", tagger, CLASSES, HEIGHT, WIDTH, thresholds)
    loaded, record = load_model(tmp_path / "model.pt")
    images = torch.randint(0, 256, (2, 3, HEIGHT, WIDTH), dtype=torch.uint8)
    assert torch.equal(loaded(images), tagger(images))
    assert record.classes == CLASSES and (record.height, record.width) == (HEIGHT, WIDTH)
    assert record.thresholds == thresholds and loaded.pretrained
    assert record.tag_thresholds("global").tolist() == [0.3] * 4


def test_a_file_that_is_not_a_model_gets_one_line(tmp_path):
    tagger = Tagger("efficientnet_lite0", 4, head="linear", pretrained=False).eval()
    save_model(tmp_path / "model.pt", tagger, CLASSES, HEIGHT, WIDTH)
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    del saved["thresholds"]
    torch.save(saved, tmp_path / "other.pt")
    with pytest.raises(PipelineError, match=r"other\.pt: not a model written by this version"):
        load_model(tmp_path / "other.pt")


@pytest.mark.parametrize(
    ("choice", "cuda", "expected"),
    [("auto", True, "cuda"), ("auto", False, "cpu"), ("cpu", True, "cpu"), ("cuda", True, "cuda")],
)
def test_select_device(monkeypatch, choice, cuda, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert torch_utils.select_device(choice, "runtime.train.device").type == expected


def test_cuda_without_a_gpu_is_a_param_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(PipelineError, match=r"param runtime\.train\.device"):
        torch_utils.select_device("cuda", "runtime.train.device")


def test_autocast_dtype(monkeypatch):
    assert torch_utils.autocast_dtype(torch.device("cpu"), amp=True) is None
    assert torch_utils.autocast_dtype(torch.device("cuda"), amp=False) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert torch_utils.autocast_dtype(torch.device("cuda"), amp=True) == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert torch_utils.autocast_dtype(torch.device("cuda"), amp=True) == torch.bfloat16


def test_batch_size_above_the_training_set_is_a_param_error(tiny_data, tmp_path):
    with pytest.raises(PipelineError, match="train.batch_size"):
        fit(tiny_data, tmp_path / "last.pt", batch_size=100)


def test_training_lowers_the_loss(tiny_data, tmp_path, capsys):
    _, history = fit(tiny_data, tmp_path / "last.pt", epochs=4)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    # each epoch's bar knows its total, so it shows a percentage, the rate and time left (which
    # steps are drawn depends on the machine's speed: tqdm redraws at most every 0.1 s)
    steps = len(tiny_data[1]["train"].ids) // TINY_PARAMS["train"]["batch_size"]  # full ones
    bars = capsys.readouterr().err
    drawn = re.findall(rf"epoch 4/4: +\d+%\|[^|]*\| \d+/{steps} \[", bars)
    assert drawn, bars[-500:]
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert set(history[0]) == set(train.CURVE_COLUMNS)


def test_same_params_give_the_same_model(tiny_data, tmp_path):
    first, first_history = fit(tiny_data, tmp_path / "a.pt")
    second, second_history = fit(tiny_data, tmp_path / "b.pt")
    assert first_history == second_history
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_the_model_does_not_depend_on_the_number_of_loader_workers(tiny_data, tmp_path):
    inline, inline_history = fit(tiny_data, tmp_path / "a.pt", workers=0)
    threaded, threaded_history = fit(tiny_data, tmp_path / "b.pt", workers=3)
    assert inline_history == threaded_history
    for (name, a), b in zip(
        inline.state_dict().items(), threaded.state_dict().values(), strict=True
    ):
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
    cpu = torch.device("cpu")
    train.fit(params, runtime(), cpu, classes, data, tmp_path / "last.pt", "old-data")
    _, history = train.fit(
        train_params(epochs=2),
        runtime(resume=True),
        cpu,
        classes,
        data,
        tmp_path / "last.pt",
        "new-data",
    )
    assert len(history) == 2
    assert "starting afresh" in capsys.readouterr().out


def test_a_checkpoint_of_the_older_single_state_format_is_not_resumed(tiny_data, tmp_path, capsys):
    fit(tiny_data, tmp_path / "last.pt", epochs=1)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert len(state["rng"]["ranks"]) == 1  # one process: its (CPU, CUDA) states
    state["rng"]["torch"] = state["rng"].pop("ranks")[0][0]
    save_torch(tmp_path / "last.pt", state)
    _, history = fit(tiny_data, tmp_path / "last.pt", epochs=2, resume=True)
    assert len(history) == 2
    assert "older format); starting afresh" in capsys.readouterr().out


def test_fingerprint_ignores_epochs_only_with_a_constant_schedule(tmp_path):
    (tmp_path / "labels.csv").write_text("id,a\nx,1\n")
    files, shape = [tmp_path / "labels.csv"], (32, 24, 3)
    base = train.fingerprint(train_params(), files, shape)
    assert train.fingerprint(train_params(epochs=9, patience=2), files, shape) == base
    assert train.fingerprint(train_params(lr=0.1), files, shape) != base
    cosine = train.fingerprint(train_params(schedule="cosine"), files, shape)
    assert train.fingerprint(train_params(schedule="cosine", epochs=9), files, shape) != cosine


def lr_sequence(schedule: str, steps: int) -> list[float]:
    """The LR (as a share of the base LR 1.0) at each of `steps` optimizer steps."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = train.make_scheduler(optimizer, schedule, steps)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_lr_schedules():
    assert lr_sequence("constant", 10) == [1.0] * 10
    cosine = lr_sequence("cosine", 100)
    assert cosine[0] == 1.0 and cosine == sorted(cosine, reverse=True) and cosine[-1] < 0.01
    assert cosine[50] == pytest.approx(0.5)
    onecycle = lr_sequence("onecycle", 100)
    assert onecycle[0] == pytest.approx(1 / 25) and max(onecycle) == pytest.approx(1, abs=0.01)
    assert onecycle.index(max(onecycle)) in (29, 30) and onecycle[-1] < 0.001


def test_weight_decay_spares_biases_and_norms_and_backbone_lr_is_scaled():
    tagger = Tagger("resnet18", 3)
    groups = train.parameter_groups(tagger, lr=0.01, backbone_lr_mult=0.1, weight_decay=0.05)
    by_id = {id(p): group for group in groups for p in group["params"]}
    assert by_id[id(tagger.backbone.conv1.weight)]["weight_decay"] == 0.05
    assert by_id[id(tagger.backbone.bn1.weight)]["weight_decay"] == 0.0
    assert by_id[id(tagger.head[1].bias)]["weight_decay"] == 0.0
    assert by_id[id(tagger.backbone.conv1.weight)]["lr"] == pytest.approx(0.001)
    assert by_id[id(tagger.head[1].weight)]["lr"] == 0.01
    assert len(by_id) == len(list(tagger.parameters()))


def test_frozen_epochs_leave_the_backbone_untouched(tiny_data, tmp_path):
    tagger, _ = fit(tiny_data, tmp_path / "last.pt", epochs=1, freeze_epochs=1)
    torch.manual_seed(TINY_PARAMS["train"]["seed"])
    initial = Tagger(TINY_PARAMS["train"]["backbone"], len(CLASSES))
    for name, value in initial.backbone.state_dict().items():
        assert torch.equal(value, tagger.backbone.state_dict()[name]), name
    assert not torch.equal(initial.head[1].weight, tagger.head[1].weight)


def test_the_model_is_the_best_epoch_by_val_map(tiny_data, tmp_path):
    classes, data = tiny_data
    tagger, history = fit(tiny_data, tmp_path / "last.pt", epochs=3, lr=0.03)
    best = train.best_epoch(history)
    assert history[best - 1]["val_map"] == max(row["val_map"] for row in history)
    again = train.validate(tagger, data["val"], torch.device("cpu"), 8, 0.5)
    assert again["val_map"] == pytest.approx(history[best - 1]["val_map"])


def test_early_stopping_rule():
    history = [{"epoch": e, "val_map": m} for e, m in enumerate([0.2, 0.5, 0.4, 0.5], start=1)]
    assert train.best_epoch(history) == 2
    assert train.should_stop(history, patience=2) and not train.should_stop(history, patience=3)
    assert not train.should_stop(history, patience=None) and not train.should_stop([], 1)


def test_early_stopping_ends_training(tiny_data, tmp_path, capsys):
    _, history = fit(tiny_data, tmp_path / "last.pt", epochs=6, patience=1, lr=0.05)
    assert len(history) < 6 and "stopping early" in capsys.readouterr().out


def test_resuming_a_cosine_ema_run_equals_training_straight_through(tiny_data, tmp_path, capsys):
    classes, data = tiny_data
    changes = {"epochs": 3, "schedule": "cosine", "ema_decay": 0.9, "weight_decay": 0.01}
    straight, straight_history = fit(tiny_data, tmp_path / "straight.pt", **changes)

    def interrupt(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train.fit(
            train_params(**changes),
            runtime(),
            torch.device("cpu"),
            classes,
            data,
            tmp_path / "cut.pt",
            "same-data",
            interrupt,
        )
    assert torch.load(tmp_path / "cut.pt", weights_only=True)["epoch"] == 1
    resumed, resumed_history = fit(tiny_data, tmp_path / "cut.pt", **changes, resume=True)
    assert "resuming from" in capsys.readouterr().out
    assert resumed_history == straight_history
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


@pytest.mark.gpu
@pytest.mark.parametrize("bf16", [True, False], ids=["bf16", "fp16-grad-scaler"])
def test_cuda_step_with_mixed_precision_and_channels_last(tiny_data, tmp_path, monkeypatch, bf16):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    tagger, history = fit(tiny_data, tmp_path / "last.pt", epochs=1, device="cuda")
    assert np.isfinite(history[0]["train_loss"])
    assert np.isfinite(history[0]["val_map"])
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["rng"]["ranks"][0][1] is not None  # the CUDA random state is kept
    assert bool(state["scaler"]) != bf16  # the grad scaler only runs (and saves state) for fp16


def test_saved_files_are_byte_identical_for_equal_objects(tmp_path):
    record = {"weights": torch.arange(6.0).reshape(2, 3), "classes": ["red", "sleeve"]}
    save_torch(tmp_path / "a.pt", record)
    save_torch(tmp_path / "b.pt", record)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    assert torch.equal(torch.load(tmp_path / "a.pt")["weights"], record["weights"])


def test_fastai_head_pools_average_and_max():
    tagger = Tagger("resnet18", 5, dropout=0.4, head="fastai").eval()
    assert isinstance(tagger.backbone.avgpool, model.ConcatPool)
    layers = [type(layer).__name__ for layer in tagger.head]
    assert layers == [
        "BatchNorm1d",
        "Dropout",
        "Linear",
        "ReLU",
        "BatchNorm1d",
        "Dropout",
        "Linear",
    ]
    assert tagger.head[0].num_features == 1024  # 512 channels, average and max side by side
    assert tagger.head[1].p == 0.2 and tagger.head[5].p == 0.4
    assert tagger.head[2].out_features == 512 and tagger.head[6].out_features == 5
    images = torch.zeros(2, 3, HEIGHT, WIDTH, dtype=torch.uint8)
    assert tagger.embed(images).shape == (2, 1024) and tagger(images).shape == (2, 5)
    with pytest.raises(PipelineError, match="fastai needs a backbone with an `avgpool`"):
        Tagger("mobilenet_v2", 5, head="fastai")


def test_attribute_heads_follow_the_tag_logits():
    torch.manual_seed(0)
    tagger = Tagger("resnet18", 4, attributes={"colour": 3, "size": 2}).eval()
    outputs = tagger(torch.zeros(2, 3, HEIGHT, WIDTH, dtype=torch.uint8))
    tags, attributes = model.split_outputs(outputs, 4, [3, 2])
    assert outputs.shape == (2, 9) and [block.shape[1] for block in attributes] == [3, 2]
    assert torch.equal(tags, tagger.head(tagger.embed(torch.zeros(2, 3, HEIGHT, WIDTH))))


def test_compiled_training_gives_a_plain_model_close_to_eager(tiny_data, tmp_path):
    """`runtime.train.compile` (inductor on CPU here): same loop, checkpoint and returned model
    as eager; fused kernels round differently, so the figures are close, not equal."""
    changes = {"epochs": 1, "dropout": 0.0}
    eager, eager_history = fit(tiny_data, tmp_path / "eager.pt", **changes)
    compiled, compiled_history = fit(tiny_data, tmp_path / "compiled.pt", compile=True, **changes)
    assert type(compiled) is type(eager)
    assert compiled.state_dict().keys() == eager.state_dict().keys()  # no compile wrapper
    saved = torch.load(tmp_path / "compiled.pt", weights_only=True)["model"]
    assert saved.keys() == eager.state_dict().keys()
    # measured: train loss 2 % apart after one epoch (Adam turns rounding into lr-sized steps)
    for name in ("train_loss", "val_loss"):
        assert compiled_history[0][name] == pytest.approx(eager_history[0][name], rel=0.1), name


def test_label_weights_reach_the_training_loss(tiny_data, tmp_path):
    """Weights travel with the batches into the loss: labels that all weigh 0 cost nothing."""
    classes, data = tiny_data
    zero = np.zeros_like(data["train"].labels)
    weighted = {**data, "train": dataclasses.replace(data["train"], weights=zero)}
    _, history = fit((classes, weighted), tmp_path / "last.pt", epochs=1)
    assert history[0]["train_loss"] == 0.0
    assert history[0]["val_loss"] > 0  # validation scores the 0/1 labels, unweighted
