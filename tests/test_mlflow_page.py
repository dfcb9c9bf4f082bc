"""Browser test of the MLflow UI: the link evaluate prints opens the experiment's training runs
with the headline metric and param columns, runs named after their DVC experiment.

Runs `mlflow ui` on 127.0.0.1 against a temporary SQLite store filled through the pipeline's own
`Tracker`, and headless Chromium (Debian package; `make browser` installs it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from fashion_tagger import tracking
from tests.test_plots_page import browser_args

RUNS = {"lr-low": 0.001, "lr-high": 0.004}


@pytest.fixture(scope="module")
def mlflow_ui(tmp_path_factory):
    """Two runs logged as train and evaluate log them, and `mlflow ui` serving their store;
    yields (the UI's address, the headline link evaluate printed for the last run)."""
    home = tmp_path_factory.mktemp("mlflow-ui")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.setenv("DVC_ROOT", str(home))
        for name, lr in RUNS.items():
            patch.setenv("DVC_EXP_NAME", name)
            tracker = tracking.Tracker().start(params={"train.lr": lr, "train.epochs": 2})
            for epoch in (1, 2):
                tracker.log_metrics({"Train/loss": 1 / epoch, "Val/map": 0.3 * epoch}, epoch)
            tracker.log_metrics({"test/micro_f1": 0.5 + lr, "test/macro_f1": 0.4, "test/map": 0.6})
            tracker.log_metrics({"baseline/micro_f1": 0.2})
            link = tracker.headline_url("http://127.0.0.1:0")
            tracker.end()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).parent / "mlflow"), "ui", "--backend-store-uri", uri]
    log = (home / "ui.log").open("wb")
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                requests.get(address, timeout=5)
                break
            except requests.RequestException:
                assert server.poll() is None, (home / "ui.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "mlflow ui did not start"
                time.sleep(1)
        yield address, link.replace("http://127.0.0.1:0", address)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


@pytest.mark.browser
def test_headline_link_opens_training_runs_with_metric_columns(mlflow_ui, tmp_path):
    address, link = mlflow_ui
    assert link.startswith(f"{address}/#/experiments/") and "viewStateShareKey=headline" in link
    args = [*browser_args(tmp_path / "profile"), "--window-size=1600,1000"]
    args = [arg.replace("20000", "40000") if "virtual-time" in arg else arg for arg in args]
    dom = subprocess.run(
        [*args, "--dump-dom", link], check=True, capture_output=True, text=True, timeout=180
    ).stdout
    assert "Training runs" in dom, dom[-2000:]
    for name in RUNS:
        assert name in dom  # the runs carry their DVC experiment's name
    for column in ("test/micro_f1", "test/macro_f1", "test/map", "baseline/micro_f1", "train.lr"):
        assert column in dom, column
    assert "0.504" in dom  # lr-high's test/micro_f1, shown without picking columns

    screenshot = tmp_path / "mlflow-runs.png"
    subprocess.run(
        [*args, f"--screenshot={screenshot}", link], check=True, capture_output=True, timeout=180
    )
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")
