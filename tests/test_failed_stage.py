"""After a failed stage under DVC, the error line says how to get the removed outputs back."""

from pathlib import Path

import pytest

from fashion_tagger.errors import PipelineError, run_stage, uncached_outputs

REPO = Path(__file__).resolve().parents[1]


def test_uncached_outputs_are_read_from_dvc_yaml():
    assert uncached_outputs("train", REPO / "dvc.yaml") == []  # model cached, curves persist
    evaluated = uncached_outputs("evaluate", REPO / "dvc.yaml")
    assert {"metrics/eval.json", "metrics/per_tag.csv"} <= set(evaluated)
    assert uncached_outputs("no_such_stage", REPO / "dvc.yaml") == []


def failing():
    raise PipelineError("param train.backbone: no_such_network")


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (None, "error: param train.backbone: no_such_network\n"),
        ("train", "or restore the last good ones with `dvc checkout`)\n"),
        ("evaluate", "`dvc checkout` and `git checkout -- metrics/eval_details.json "),
    ],
)
def test_the_error_line_says_how_to_get_back(stage, expected, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    if stage is None:
        monkeypatch.delenv("DVC_STAGE", raising=False)
    else:
        monkeypatch.setenv("DVC_STAGE", stage)
    with pytest.raises(SystemExit):
        run_stage(failing)
    error = capsys.readouterr().err
    assert expected in error and error.count("\n") == 1
