"""Tests for stages.tracking: where runs go, what a pipeline run logs, and failing softly."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
import pytest
import yaml

from fashion_tagger import tracking
from fashion_tagger.params import flatten
from stages import evaluate, train
from tests.train_fixtures import CLASSES, write_inputs


@pytest.fixture(autouse=True)
def no_outside_tracking_env(monkeypatch):
    for name in ("MLFLOW_TRACKING_URI", "DVC_ROOT", "DVC_EXP_NAME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def keep_tracking_uri():
    """A test that runs train elsewhere must not move later tests' MLflow client away."""
    uri = mlflow.get_tracking_uri()
    yield
    mlflow.set_tracking_uri(uri)


def test_store_is_in_the_dvc_root_when_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("DVC_ROOT", "/real/repo")
    assert tracking.tracking_uri() == "sqlite:////real/repo/mlflow.db"
    assert tracking.artifact_location() == "file:///real/repo/mlartifacts"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri() == "http://127.0.0.1:5000"


def test_flatten_and_git_revision(tmp_path):
    assert flatten({"train": {"lr": 0.1, "augment": {"hflip": True}}, "seed": 1}) == {
        "train.lr": 0.1,
        "train.augment.hflip": True,
        "seed": 1,
    }
    assert tracking.git_revision(tmp_path) is None  # not a git repo: no tag, no error


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """A tiny train + evaluate run logging to a temporary SQLite store; returns (root, run)."""
    root = tmp_path_factory.mktemp("tracked")
    write_inputs(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.setenv("DVC_ROOT", str(root))
        patch.setenv("DVC_EXP_NAME", "tiny-exp")
        train.main()
        evaluate.main()
    run_id = json.loads((root / "data/train/mlflow_run.json").read_text())["run_id"]
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    return root, mlflow.get_run(run_id)


def test_one_run_holds_params_metrics_and_tags(tracked):
    root, run = tracked
    assert run.info.run_name == "tiny-exp" and run.info.status == "FINISHED"
    assert run.data.params["train.lr"] == "0.003"
    assert run.data.params["evaluate.threshold"] == "0.5"
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "Val/loss")
    assert [point.step for point in history] == [1, 2]
    assert run.data.tags["dvc.exp_name"] == "tiny-exp"
    assert len(run.data.tags["data.sha256"]) == 64
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(root / "mlartifacts")


def test_run_read_back_has_sections_dataset_and_description(tracked):
    _, run = tracked
    client = mlflow.MlflowClient()
    run = client.get_run(run.info.run_id)
    names = set(run.data.metrics)
    # Every metric sits in a UI section: curves per epoch (capitalised: the UI sorts sections
    # by name, capitals first, so they come first), single numbers once.
    sections = sorted({name.split("/")[0] for name in names})
    assert sections == ["Train", "Val", "baseline", "model", "test"]
    assert {"Train/loss", "Train/lr", "Val/loss", "Val/map", "Val/f2"} <= names
    assert {"model/best_epoch", "model/global_threshold"} <= names
    assert {"test/micro_f1", "test/map", "test/tuned_global_micro_f1"} <= names
    assert {"baseline/micro_f1", "baseline/map"} <= names
    assert len(client.get_metric_history(run.info.run_id, "Train/loss")) == 2  # epochs
    [dataset_input] = run.inputs.dataset_inputs
    dataset = dataset_input.dataset
    assert dataset.name == "fashion-tagger-data" and len(dataset.digest) == 32
    assert run.data.tags["data.sha256"].startswith(dataset.digest)
    assert json.loads(dataset.source)["uri"].endswith("/data/encode")
    assert [tag.value for tag in dataset_input.tags if tag.key == "mlflow.data.context"] == [
        "training"
    ]
    description = run.data.tags["mlflow.note.content"]
    assert "\n" not in description and description.startswith("tiny-exp: resnet18")
    assert "2 epochs" in description and "test micro-F1" in description


def test_train_prints_no_mlflow_warning(tmp_path, monkeypatch, capfd):
    write_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # show every Python warning, as a first run would
        train.main()
    output = capfd.readouterr()
    text = output.out + output.err
    assert "WARNING" not in text and "Warning" not in text, text[-2000:]
    assert "Downloading artifacts" not in text and "type hints" not in text


def test_model_registry_alias(tmp_path, monkeypatch):
    params = write_inputs(tmp_path)
    params["runtime"]["tracking"] = {"register_model": "tiny-tagger", "model_alias": "candidate"}
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    train.main()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = json.loads((tmp_path / "data/train/mlflow_run.json").read_text())["run_id"]
    version = mlflow.MlflowClient().get_model_version_by_alias("tiny-tagger", "candidate")
    assert version.run_id == run_id and int(version.version) == 1
    model = mlflow.pyfunc.load_model("models:/tiny-tagger@candidate")
    images = np.load(tmp_path / "data/prepare/images.npy")[:2].transpose(0, 3, 1, 2).copy()
    assert len(model.predict(images)) == 2


def test_artifacts_are_logged(tracked):
    _, run = tracked
    client = mlflow.MlflowClient()
    names = {item.path for item in client.list_artifacts(run.info.run_id)}
    names |= {item.path for item in client.list_artifacts(run.info.run_id, "plots")}
    assert {
        "classes.json",
        "eval.json",
        "eval_details.json",
        "plots/per_tag.csv",
        "plots/test_gallery.png",
    } <= names


def test_logged_model_tags_images(tracked):
    root, run = tracked
    [logged] = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    model = mlflow.pyfunc.load_model(logged.model_uri)
    images = np.load(root / "data/prepare/images.npy")[:3].transpose(0, 3, 1, 2).copy()
    tagged = model.predict(images)
    assert list(tagged.columns) == ["image", "tags", "scores"] and len(tagged) == 3
    assert all(set(tags) <= set(CLASSES) for tags in tagged["tags"])
    assert all(0 <= score <= 1 for scores in tagged["scores"] for score in scores)


def test_reevaluating_with_other_params_opens_a_nested_run(tracked, monkeypatch):
    root, run = tracked
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["evaluate"]["threshold"] = 0.3
    (root / "params.yaml").write_text(json.dumps(params))
    monkeypatch.chdir(root)
    monkeypatch.setenv("DVC_ROOT", str(root))
    evaluate.main()
    children = mlflow.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'",
        output_format="list",
    )
    assert len(children) == 1 and children[0].data.params["evaluate.threshold"] == "0.3"


def test_an_unusable_store_warns_once_and_the_stages_finish(tmp_path, monkeypatch, capsys):
    write_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("")  # the store's folder cannot be created inside a file
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'a-file/mlflow.db'}")
    train.main()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "MLflow tracking off" in warnings[0]
    assert json.loads((tmp_path / "data/train/mlflow_run.json").read_text())["run_id"] is None
    evaluate.main()
    assert (tmp_path / "metrics/eval.json").exists()
    assert "Traceback" not in capsys.readouterr().err
