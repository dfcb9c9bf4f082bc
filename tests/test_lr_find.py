"""The learning-rate finder: the exponential sweep, the steepest-descent rule, the command."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from PIL import Image

from fashion_tagger import cli
from fashion_tagger.errors import PipelineError
from fashion_tagger.model.lr_find import lr_figure, smooth, suggest_lr, sweep_lrs, sweep_summary
from tests.train_fixtures import write_inputs


def test_sweep_is_exponential():
    lrs = sweep_lrs(1e-6, 1.0, 7)
    assert lrs[0] == pytest.approx(1e-6) and lrs[-1] == pytest.approx(1.0)
    assert np.allclose(lrs[1:] / lrs[:-1], 10.0)
    with pytest.raises(PipelineError, match="start < end"):
        sweep_lrs(1.0, 1e-3, 10)


def test_smoothing_is_debiased():
    assert smooth([2.0, 2.0, 2.0]).tolist() == pytest.approx([2.0, 2.0, 2.0])


def test_steepest_descent_is_found_before_the_minimum():
    lrs = np.logspace(-5, 0, 11)
    # flat, then a fall steepest between 1e-3 and 1e-2.5, a minimum, then divergence
    losses = [1.0, 1.0, 1.0, 1.0, 0.99, 0.6, 0.5, 0.45, 0.44, 0.9, 3.0]
    rows = [{"lr": lr, "smoothed_loss": loss} for lr, loss in zip(lrs, losses, strict=True)]
    assert suggest_lr(rows) == pytest.approx(lrs[5])
    with pytest.raises(PipelineError, match="diverged"):
        suggest_lr(rows[:2])


def test_command_writes_the_curve_and_prints_a_suggestion(tmp_path, monkeypatch, capsys):
    write_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    cli.main(["lr-find", "--start", "1e-5", "--end", "10", "--steps", "30"])
    out = capsys.readouterr().out
    assert "suggested train.lr" in out and "steepest descent" in out
    with (tmp_path / "data/lr_find/lr_find.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert 3 <= len(rows) <= 30
    lrs = [float(row["lr"]) for row in rows]
    assert lrs[0] == pytest.approx(1e-5) and lrs == sorted(lrs)
    suggestion = float(out.split("suggested train.lr ")[1].split()[0])
    assert lrs[0] <= suggestion <= lrs[-1]
    assert all(math.isfinite(float(row["loss"])) for row in rows[:3])
    with Image.open(tmp_path / "data/lr_find/lr_find.png") as picture:
        assert picture.format == "PNG"


def test_chart_holds_both_curves_and_the_summary_names_them():
    """The raw loss dips far below the smoothed one (as on the real sample): both stay on the
    chart, and the printed minima say which curve they belong to."""
    lrs = np.logspace(-6, 0, 13)
    raw = [0.7, 0.69, 0.68, 0.5, 0.3, 0.1, 0.02, 0.05, 0.2, 0.6, 1.0, 2.0, 3.0]
    rows = [
        {"lr": lr, "loss": loss, "smoothed_loss": smoothed}
        for lr, loss, smoothed in zip(lrs, raw, smooth(raw, 0.9), strict=True)
    ]
    axis = lr_figure(rows, suggestion=1e-3).axes[0]
    assert axis.get_xscale() == "log" and axis.get_yscale() == "log"  # 0.02 to 3: a wide span
    low, high = axis.get_ylim()
    every = [value for row in rows for value in (row["loss"], row["smoothed_loss"])]
    assert low <= min(every) and high >= max(every)
    assert [line.get_label() for line in axis.get_legend().get_lines()][:2] == [
        "raw loss (per batch)",
        "smoothed loss",
    ]
    summary = sweep_summary(rows, 1e-3)
    assert f"raw loss lowest (0.02) at {lrs[6]:.1e}" in summary
    lowest = min(rows, key=lambda row: row["smoothed_loss"])
    assert f"smoothed loss lowest ({lowest['smoothed_loss']:.3g}) at {lowest['lr']:.1e}" in summary
