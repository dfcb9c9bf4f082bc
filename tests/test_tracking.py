"""Tests for stages.tracking: where runs go, what a pipeline run logs, and failing softly."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
import pytest
import yaml

from fashion_tagger import tracking
from fashion_tagger.errors import PipelineError
from fashion_tagger.params import flatten
from fashion_tagger.paths import MODEL_FILE, PACKAGE_MODEL_DIR
from fashion_tagger.serving import pyfunc
from stages import evaluate, package, train
from tests.train_fixtures import CLASSES, TINY_BACKBONE, TINY_PARAMS, write_inputs

REPO = Path(__file__).resolve().parents[1]
# Every picture and chart the run holds, all under plots/ (similar.png: test_similar.py).
PLOT_NAMES = (
    "confusion.png",
    "label_issues.csv",
    "label_issues.png",
    "per_tag.csv",
    "per_tag_f1.png",
    "pr_curve.csv",
    "pr_curve.png",
    "test_gallery.png",
    "train_curves.csv",
    "train_curves.png",
)


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
    assert tracking.artifact_location() is None  # a server decides where artifacts go
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/mlflow.db")
    assert tracking.artifact_location() == "file:///real/repo/mlartifacts"


def test_flatten_and_git_revision(tmp_path):
    assert flatten({"train": {"lr": 0.1, "augment": {"hflip": True}}, "seed": 1}) == {
        "train.lr": 0.1,
        "train.augment.hflip": True,
        "seed": 1,
    }
    assert tracking.git_revision(tmp_path) is None  # not a git repo: no tag, no error


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """A tiny train + evaluate + package run logging to a temporary SQLite store; returns
    (root, run)."""
    root = tmp_path_factory.mktemp("tracked")
    write_inputs(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.setenv("DVC_ROOT", str(root))
        patch.setenv("DVC_EXP_NAME", "tiny-exp")
        train.main()
        evaluate.main()
        package.main()
    run_id = tracking.find_model_run(
        root / "data/train/model.pt", f"sqlite:///{root / 'mlflow.db'}"
    )
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


def test_experiment_opens_as_model_training_with_plots_in_one_folder(tracked):
    root, run = tracked
    experiment = mlflow.get_experiment(run.info.experiment_id)
    assert experiment.tags[tracking.EXPERIMENT_KIND_TAG] == "custom_model_development"
    plots = mlflow.MlflowClient().list_artifacts(run.info.run_id, "plots")
    assert sorted(Path(item.path).name for item in plots) == sorted(PLOT_NAMES)
    model_file = root / "data/train/model.pt"
    assert run.data.tags[tracking.MODEL_TAG] == tracking.sha256_files([model_file])


def test_run_name_is_the_experiment_or_repro_and_commit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    assert tracking.run_name() == "repro"  # no git
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    commit = tracking.git_revision(tmp_path)
    assert tracking.run_name() == f"repro-{commit[:7]}"
    monkeypatch.setenv("DVC_EXP_NAME", "lr-high")
    assert tracking.run_name() == "lr-high"


def test_evaluate_finds_the_run_of_the_model_in_the_workspace(tmp_path, monkeypatch, capsys):
    """Two trainings, the first model restored (as `dvc exp apply` or `dvc checkout` would):
    evaluate logs to the first model's run; a model no run knows gets a new run, said so."""
    params = write_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    model_file = tmp_path / "data/train/model.pt"
    train.main()
    first, first_model = tracking.find_model_run(model_file), model_file.read_bytes()
    params["train"]["lr"] = 0.01
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    train.main()
    second = tracking.find_model_run(model_file)
    assert second not in (None, first)
    model_file.write_bytes(first_model)
    evaluate.main()
    assert "test/micro_f1" in mlflow.get_run(first).data.metrics
    assert "test/micro_f1" not in mlflow.get_run(second).data.metrics

    other_store = f"sqlite:///{tmp_path / 'other.db'}"  # a model trained elsewhere
    monkeypatch.setenv("MLFLOW_TRACKING_URI", other_store)
    evaluate.main()
    assert "no run holds data/train/model.pt" in capsys.readouterr().err
    assert tracking.find_model_run(model_file) is not None  # the new run, found next time


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
    assert {"test/micro_f1", "test/map", "test/tuned_micro_f1"} <= names
    assert {"baseline/micro_f1", "baseline/map"} <= names
    assert len(client.get_metric_history(run.info.run_id, "Train/loss")) == 2  # epochs
    [dataset_input] = run.inputs.dataset_inputs
    dataset = dataset_input.dataset
    assert dataset.name == "fashion-tagger-sample" and len(dataset.digest) == 32  # source
    assert run.data.tags["data.sha256"].startswith(dataset.digest)
    assert json.loads(dataset.source)["uri"].endswith("/data/encode")
    assert [tag.value for tag in dataset_input.tags if tag.key == "mlflow.data.context"] == [
        "training"
    ]
    description = run.data.tags["mlflow.note.content"]
    assert "\n" not in description and description.startswith(f"tiny-exp: {TINY_BACKBONE}")
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


def test_package_saves_logs_and_registers_the_model(tmp_path, monkeypatch):
    params = write_inputs(tmp_path)
    params["package"] = {"register_as": "tiny-tagger", "alias": "candidate"}
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    train.main()
    package.main()
    saved = mlflow.pyfunc.load_model(str(tmp_path / "data/package/model"))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = tracking.find_model_run(
        tmp_path / "data/train/model.pt", f"sqlite:///{tmp_path / 'mlflow.db'}"
    )
    version = mlflow.MlflowClient().get_model_version_by_alias("tiny-tagger", "candidate")
    assert version.run_id == run_id and int(version.version) == 1
    model = mlflow.pyfunc.load_model("models:/tiny-tagger@candidate")
    images = np.load(tmp_path / "data/prepare/images.npy")[:2].transpose(0, 3, 1, 2).copy()
    assert len(model.predict(images)) == 2
    assert saved.predict(images).equals(model.predict(images))
    # packaging the same model.pt again, from another checkout, writes the same bytes
    before = {p.relative_to(tmp_path): p.read_bytes() for p in package_files(tmp_path)}
    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    shutil.copytree(tmp_path, moved)
    monkeypatch.chdir(moved)
    pyfunc.save_tagger(MODEL_FILE, PACKAGE_MODEL_DIR)
    assert {p.relative_to(moved): p.read_bytes() for p in package_files(moved)} == before


def package_files(root: Path) -> list[Path]:
    return sorted(path for path in (root / "data/package").rglob("*") if path.is_file())


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
    evaluate.main()
    assert (tmp_path / "metrics/eval.json").exists()
    assert "Traceback" not in capsys.readouterr().err


def warnings_in(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("warning")]


def timed_train_and_evaluate() -> float:
    started = time.monotonic()
    train.main()
    evaluate.main()
    return time.monotonic() - started


def test_an_unreachable_server_costs_seconds_and_one_warning(tmp_path, monkeypatch, capsys):
    """The issue's case: a dead server used to stall each stage about 4 minutes."""
    write_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracked_seconds = timed_train_and_evaluate()
    capsys.readouterr()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9/")
    unreachable_seconds = timed_train_and_evaluate()
    errors = capsys.readouterr().err
    assert unreachable_seconds < tracked_seconds + 30, (unreachable_seconds, tracked_seconds)
    warnings = warnings_in(errors)
    assert len(warnings) == 2, warnings  # one per stage
    assert all("server unreachable (connection failed" in line for line in warnings)
    assert "Traceback" not in errors and "Retrying" not in errors


def test_a_silent_server_is_given_up_after_a_short_timeout(tmp_path, monkeypatch, capsys):
    """A server that accepts connections but never answers: one health check, then off."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # connections complete in the kernel; nothing ever answers
        uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        started = time.monotonic()
        tracker = tracking.Tracker().start(params={"a": 1})
        tracker.log_metrics({"m": 1.0})
        tracker.end()
        elapsed = time.monotonic() - started
    assert not tracker.enabled and tracker.run_id is None
    assert elapsed < tracking.HEALTH_TIMEOUT + 5
    [warning] = warnings_in(capsys.readouterr().err)
    assert f"timed out within {tracking.HEALTH_TIMEOUT:g} s" in warning


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_runs_left_running_by_dead_processes_are_marked_killed(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    mlflow.set_tracking_uri(tracking.tracking_uri())
    experiment_id = mlflow.create_experiment(tracking.EXPERIMENT_NAME)
    client = mlflow.MlflowClient()
    host = socket.gethostname()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owners = {
            "dead": {tracking.HOST_TAG: host, tracking.PID_TAG: str(dead_pid())},
            "alive": {tracking.HOST_TAG: host, tracking.PID_TAG: str(alive.pid)},
            "elsewhere": {tracking.HOST_TAG: "another-host", tracking.PID_TAG: str(dead_pid())},
        }
        runs = {name: client.create_run(experiment_id, tags=tags) for name, tags in owners.items()}
        tracker = tracking.Tracker().start(params={"a": 1})
        tracker.end()
    finally:
        alive.kill()
        alive.wait()
    statuses = {name: client.get_run(run.info.run_id).info.status for name, run in runs.items()}
    assert statuses == {"dead": "KILLED", "alive": "RUNNING", "elsewhere": "RUNNING"}
    assert client.get_run(tracker.run_id).data.tags[tracking.PID_TAG] == str(os.getpid())


KILLED_CHECKPOINT_WRITE = """
import os, signal
from fashion_tagger import io, torch_utils
from fashion_tagger.errors import run_stage
from stages import train

def killed_while_writing(path, data):
    if os.path.basename(path) != "last.pt":
        return io.write_bytes(path, data)
    with io.atomic_path(path) as temporary:
        temporary.write_bytes(data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)

torch_utils.write_bytes = killed_while_writing
run_stage(train.main)
"""


@pytest.mark.slow
def test_a_killed_checkpoint_write_is_cleaned_up_and_its_run_marked_killed(tmp_path, monkeypatch):
    write_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_CHECKPOINT_WRITE], env=environment, capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    checkpoints = tmp_path / "data/cache/train"
    [temporary] = [path for path in checkpoints.rglob("*") if path.is_file()]
    assert temporary.name.startswith(".last.pt.") and temporary.name.endswith(".tmp")
    mlflow.set_tracking_uri(tracking.tracking_uri())
    [left_running] = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert left_running.info.status == "RUNNING"

    train.main()
    files = [path.name for path in checkpoints.rglob("*") if path.is_file()]
    assert files == ["last.pt"]
    assert mlflow.get_run(left_running.info.run_id).info.status == "KILLED"


def test_bad_input_leaves_no_failed_run(tmp_path, monkeypatch):
    params = copy.deepcopy(TINY_PARAMS)
    params["train"]["backbone"] = "no_such_network"
    write_inputs(tmp_path, params=params)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    with pytest.raises(PipelineError, match="no_such_network"):
        train.main()
    mlflow.set_tracking_uri(tracking.tracking_uri())
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert runs == []  # deleted runs are not listed
    assert not (tmp_path / "data/train/model.pt").exists()


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 with its own store and artifact destination."""
    home = tmp_path_factory.mktemp("server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{home / 'server.db'}",
        "--artifacts-destination",
        str(home / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                tracking.check_server(uri)
                break
            except ConnectionError:
                assert server.poll() is None, (home / "server.log").read_text()[-2000:]
                time.sleep(0.5)
        else:
            pytest.fail(f"mlflow server did not start: {(home / 'server.log').read_text()[-2000:]}")
        yield uri, home / "artifacts"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_with_a_server_every_artifact_and_the_model_go_to_its_store(
    tracking_server, tmp_path, monkeypatch
):
    uri, artifacts = tracking_server
    write_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    train.main()
    evaluate.main()
    package.main()

    run_id = tracking.find_model_run(tmp_path / "data/train/model.pt")
    stored = {path.relative_to(artifacts).as_posix() for path in artifacts.rglob("*")}
    for name in ("classes.json", "eval.json", *(f"plots/{n}" for n in PLOT_NAMES)):
        assert any(path.endswith(f"{run_id}/artifacts/{name}") for path in stored), name
    assert any(path.endswith("/artifacts/MLmodel") for path in stored)
    assert any(path.endswith("/artifacts/artifacts/model.pt") for path in stored)
    assert not (tmp_path / "mlartifacts").exists() and not (tmp_path / "mlruns").exists()

    mlflow.set_tracking_uri(uri)
    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED" and "test/micro_f1" in run.data.metrics
    [logged] = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    model = mlflow.pyfunc.load_model(logged.model_uri)
    images = np.load(tmp_path / "data/prepare/images.npy")[:2].transpose(0, 3, 1, 2).copy()
    assert len(model.predict(images)) == 2
