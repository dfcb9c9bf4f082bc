"""End to end: `dvc repro` in a temporary copy of the repo, on a small embedded sample."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def repo_files() -> list[str]:
    """Tracked files plus new files git does not ignore: what a fresh clone would hold."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    return [name for name in listed if name and (REPO / name).is_file()]


def small_params(params: dict) -> dict:
    """Shrink the default params so the whole pipeline runs in well under a minute."""
    params["download"]["sample"]["items"] = 120
    if "train" in params:
        params["train"]["epochs"] = 1
    return params


def dvc(workdir: Path, *args: str) -> str:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
    }
    result = subprocess.run(
        ["dvc", *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def pipeline_copy(tmp_path_factory) -> Path:
    """A fresh copy of the repo that has run `dvc repro` once."""
    workdir = tmp_path_factory.mktemp("repo")
    for name in repo_files():
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    params_file = workdir / "params.yaml"
    params = small_params(yaml.safe_load(params_file.read_text()))
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=workdir, check=True)
    dvc(workdir, "repro")
    return workdir


def test_repro_builds_every_output(pipeline_copy):
    items = json.loads((pipeline_copy / "data/raw/items.json").read_text())
    assert len(items) == 120
    assert all((pipeline_copy / "data/raw" / item["image"]).is_file() for item in items)
    classes = json.loads((pipeline_copy / "data/encode/classes.json").read_text())
    assert 10 <= len(classes) <= 50
    splits = json.loads((pipeline_copy / "data/split/split.json").read_text())
    together = splits["train"] + splits["val"] + splits["test"]
    assert sorted(together) == sorted(item["id"] for item in items)
    coverage = json.loads((pipeline_copy / "metrics/translate.json").read_text())
    assert coverage["coverage"] > 0.9


def test_second_repro_does_nothing(pipeline_copy):
    output = dvc(pipeline_copy, "repro")
    assert "Running stage" not in output


def test_changing_a_param_reruns_only_the_stages_that_read_it(pipeline_copy):
    before = (pipeline_copy / "data/raw/items.json").read_bytes()
    params_file = pipeline_copy / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["split"]["seed"] += 1
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    output = dvc(pipeline_copy, "repro")
    assert "Running stage 'split'" in output
    for upstream in ("download", "translate", "tags", "encode"):
        assert f"Running stage '{upstream}'" not in output
    assert (pipeline_copy / "data/raw/items.json").read_bytes() == before
