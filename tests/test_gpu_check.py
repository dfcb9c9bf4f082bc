"""The GPU check's CPU mode: the command a GPU machine runs, at toy size here, end to end."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_runs_every_part_on_the_cpu_and_says_the_gpu_figures_are_missing(tmp_path):
    out = tmp_path / "gpu_check.json"
    environment = os.environ | {"CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1"}
    environment.pop("OUT", None)
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_check", "--out", str(out)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "no GPU figures" in result.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["gpu_figures"] is False and report["failures"] == []
    assert report["size"]["backbone"] == "resnet18"  # toy size
    tests = report["gpu_tests"]
    assert tests["exit_status"] == 0 and tests["skipped"] == tests["tests"] >= 5
    assert "tests/test_train.py" in tests["files"]
    speed = report["throughput_eager"]
    for part in ("data_path", "ready", "real", "ratio"):
        assert speed[part]["runs"] == 2 and speed[part]["median"] > 0, part
    assert "peak_memory_gib" not in speed  # a GPU figure
    fit = report["fit"]
    assert fit["epochs"] == 2 and len(fit["epoch_s"]) == 2
    assert all(math.isfinite(row["train_loss"]) for row in fit["history"])
    assert fit["evaluate_tta"]["images"] == fit["similar_embeddings"]["images"] > 0
    assert fit["predict"]["tagged_images"] == fit["predict"]["images"] > 0
    assert report["ddp"]["processes"] == 2 and math.isfinite(report["ddp"]["train_loss"])
    marian = report["marian"]
    assert marian["device"] == "cpu" and marian["translated"] == marian["texts"]
