"""MLflow runs and moved repos: a copied repo writes no file into the original, and an
interrupted evaluate gives the train run back the status train left it with."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from fashion_tagger import tracking
from fashion_tagger.paths import MODEL_FILE
from stages import evaluate, train
from tests.train_fixtures import write_inputs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def own_tracking_env(monkeypatch):
    """No outside store or root; later tests keep their MLflow client where it was."""
    for name in ("MLFLOW_TRACKING_URI", "DVC_ROOT", "DVC_EXP_NAME"):
        monkeypatch.delenv(name, raising=False)
    uri = mlflow.get_tracking_uri()
    yield
    mlflow.set_tracking_uri(uri)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A repo folder after a tiny train, with its mlflow.db and mlartifacts/."""
    root = tmp_path_factory.mktemp("original") / "repo"
    root.mkdir()
    write_inputs(root)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MLFLOW_TRACKING_URI", "DVC_ROOT", "DVC_EXP_NAME"):
            patch.delenv(name, raising=False)
        patch.chdir(root)
        train.main()
    return root


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        path.relative_to(folder).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file()
    }


def copy_of(root: Path, target: Path) -> Path:
    shutil.copytree(root, target)
    return target


def test_a_copied_repo_writes_nothing_into_the_original(trained, tmp_path, monkeypatch, capfd):
    before = snapshot(trained)
    copy = copy_of(trained, tmp_path / "copy")
    monkeypatch.chdir(copy)
    train.main()
    evaluate.main()
    assert snapshot(trained) == before
    notes = [line for line in capfd.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and str(copy / "mlflow.db") in notes[0]

    run = mlflow.get_run(tracking.find_model_run(copy / MODEL_FILE, tracking.tracking_uri()))
    assert run.info.artifact_uri.startswith((copy / "mlartifacts").as_uri() + "/")
    logged = mlflow.artifacts.list_artifacts(run_id=run.info.run_id, artifact_path="plots")
    assert {Path(entry.path).name for entry in logged} >= {"train_curves.csv", "per_tag.csv"}
    experiment = mlflow.get_experiment(run.info.experiment_id)
    assert experiment.artifact_location == (copy / "mlartifacts").as_uri()


KILLED_EVALUATE = """
import os, signal
from fashion_tagger import tracking
from stages import evaluate

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

tracking.Tracker.log_artifact = killed
evaluate.main()
"""


def run_status(root: Path) -> str:
    run_id = tracking.find_model_run(root / MODEL_FILE, f"sqlite:///{root / 'mlflow.db'}")
    return mlflow.get_run(run_id).info.status


def test_an_interrupted_evaluate_leaves_the_train_run_as_train_left_it(
    trained, tmp_path, monkeypatch
):
    root = copy_of(trained, tmp_path / "repo")
    monkeypatch.chdir(root)
    assert run_status(root) == "FINISHED"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(tracking.Tracker, "log_artifact", interrupt)
        with pytest.raises(KeyboardInterrupt):
            evaluate.main()
    assert run_status(root) == "FINISHED"

    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_EVALUATE], env=environment, capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    assert run_status(root) == "RUNNING"
    tracking.Tracker().start(params={"next": 1}).end()  # the next stage opening a run
    assert run_status(root) == "FINISHED"
