"""Tests for DDP training: ranks, the self-relaunch under torchrun, and a 2-process gloo run."""

from __future__ import annotations

import copy
import csv
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import torch
import yaml

from fashion_tagger.model import distributed
from fashion_tagger.model.distributed import Ranks
from fashion_tagger.tracking import find_model_run
from tests.train_fixtures import TINY_PARAMS, write_inputs

REPO = Path(__file__).resolve().parents[1]
# Tolerance of the 2-process run against 1 process with the same global batch: the batches and
# their augmentations are identical, but batch-norm statistics are per rank (4 images instead
# of 8) and dropout masks differ, so the curves are close, not equal.
LOSS_TOLERANCE = 0.15  # relative, first epoch's train loss
MAP_TOLERANCE = 0.15  # absolute, last epoch's val mAP (12 val items, 4 tags)


def test_shards_cover_the_items_once():
    shards = [Ranks(rank, 3, rank).shard(10) for rank in range(3)]
    assert [list(range(10))[shard] for shard in shards] == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    assert Ranks().main and not Ranks(1, 2, 1).main


def test_ranks_come_from_the_launcher_environment(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.launched_ranks() == Ranks()
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.launched_ranks() == Ranks(3, 4, 1)


def test_relaunch_only_above_one_process_and_not_twice(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, check: calls.append(command))
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not distributed.relaunch(1, "stages.train") and not calls
    monkeypatch.setenv("WORLD_SIZE", "2")  # already under torchrun
    assert not distributed.relaunch(2, "stages.train") and not calls
    command = distributed.launcher_command(2, "stages.train")
    assert command[1:] == [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        "-m",
        "stages.train",
    ]


def test_a_failed_relaunch_is_a_param_error(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(
        subprocess, "run", lambda command, check: subprocess.CompletedProcess(command, 3)
    )
    with pytest.raises(Exception, match=r"runtime\.train\.processes: 2 processes"):
        distributed.relaunch(2, "stages.train")


def run_train_stage(root: Path, processes: int, epochs: int = 3) -> list[dict]:
    """`python -m stages.train` on fresh inputs in `root` with `processes` processes; its
    curve rows."""
    params = copy.deepcopy(TINY_PARAMS)
    params["train"]["epochs"] = epochs
    params["runtime"]["train"]["processes"] = processes
    write_inputs(root, params=params)
    return train_again(root)[0]


def train_again(root: Path, **changes) -> tuple[list[dict], str]:
    """`python -m stages.train` in `root` after `changes` to its params' `train` and
    `runtime.train` sections; its curve rows and output."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    runtime = params["runtime"]["train"]
    for key, value in changes.items():
        (runtime if key in runtime else params["train"])[key] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "OMP_NUM_THREADS": "1",
    }
    environment.pop("DVC_ROOT", None)
    environment.pop("WORLD_SIZE", None)
    result = subprocess.run(
        [sys.executable, "-m", "stages.train"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with (root / "metrics/train_curves.csv").open() as handle:
        rows = [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]
    return rows, result.stdout


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> tuple[Path, list[dict]]:
    """A 3-epoch run of the stage with 2 processes: its root and curve rows."""
    root = tmp_path_factory.mktemp("ddp") / "two"
    return root, run_train_stage(root, 2)


@pytest.mark.slow
def test_two_gloo_processes_train_like_one(tmp_path, two_processes):
    single = run_train_stage(tmp_path / "one", 1)
    root, double = two_processes
    assert (root / "data/train/model.pt").exists()
    assert sorted(path.name for path in (root / "data/train").iterdir()) == ["model.pt"]
    run_id = find_model_run(root / "data/train/model.pt", f"sqlite:///{root / 'mlflow.db'}")
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert len(runs) == 1  # rank 0 alone logs
    assert runs[0].info.run_id == run_id and runs[0].info.status == "FINISHED"
    assert len(double) == len(single) == 3
    first_single, first_double = single[0]["train_loss"], double[0]["train_loss"]
    assert abs(first_double - first_single) <= LOSS_TOLERANCE * first_single
    assert abs(double[-1]["val_map"] - single[-1]["val_map"]) <= MAP_TOLERANCE
    print("1 process:", single[-1], "\n2 processes:", double[-1])
    saved = torch.load(root / "data/train/model.pt", weights_only=True)
    assert yaml.safe_load((root / "params.yaml").read_text())["runtime"]["train"]["processes"] == 2
    assert saved["classes"]


@pytest.mark.slow
def test_two_processes_resume_where_they_stopped(tmp_path, two_processes):
    """Stop after epoch 2, then ask for 3 epochs with resume: rank 0's checkpoint brings every
    rank back, and the curves are those of the straight 3-epoch run."""
    root = tmp_path / "cut"
    stopped = run_train_stage(root, 2, epochs=2)
    resumed, output = train_again(root, epochs=3, resume=True)
    assert "resuming from" in output and "after epoch 2" in output
    assert resumed[:2] == stopped
    straight = two_processes[1]
    assert len(resumed) == len(straight) == 3
    for got, expected in zip(resumed, straight, strict=True):
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_sync_batchnorm_converts_on_cuda_ranks_only(capsys):
    from fashion_tagger.model.network import Tagger
    from fashion_tagger.model.training import sync_batchnorm

    def norms(module):
        return [
            type(layer).__name__
            for layer in module.modules()
            if "BatchNorm" in type(layer).__name__
        ]

    on_cpu = sync_batchnorm(Tagger("resnet18", 3), torch.device("cpu"), Ranks(0, 2, 0))
    assert set(norms(on_cpu)) == {"BatchNorm2d"}
    assert "needs CUDA" in capsys.readouterr().out
    tagger = Tagger("resnet18", 3)
    keys = tagger.state_dict().keys()
    synced = sync_batchnorm(tagger, torch.device("cuda"), Ranks(1, 2, 1))  # converting needs no GPU
    assert set(norms(synced)) == {"SyncBatchNorm"} and synced.state_dict().keys() == keys
