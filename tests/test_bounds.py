"""Params that would silently give a useless or oversized result: refused, or warned about."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from fashion_tagger.errors import PipelineError
from fashion_tagger.evaluation.report import EvaluateParams
from fashion_tagger.labels.split import split_items
from fashion_tagger.model.training import TrainParams
from fashion_tagger.params import read_params
from fashion_tagger.serving.similar import SimilarParams
from tests.train_fixtures import TINY_PARAMS


def test_split_refuses_an_empty_split_naming_the_params_and_counts():
    ids = [f"i{n}" for n in range(5)]
    matrix = np.eye(5, 3, dtype=np.int8)
    with pytest.raises(PipelineError) as error:
        split_items(ids, matrix, np.array([0.8, 0.1, 0.1]), seed=0)
    message = str(error.value)
    assert message.startswith("split: 5 items give an empty ")
    assert "split.val: 0.1" in message and "split.test: 0.1" in message
    assert "train 4" in message or "train 5" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("section", "model", "values", "param"),
    [
        ("similar", SimilarParams, {"queries": 6, "neighbours": 5000}, "neighbours"),
        ("similar", SimilarParams, {"queries": 500, "neighbours": 5}, "queries"),
        (
            "evaluate",
            EvaluateParams,
            {"threshold": 0.5, "pr_points": 200, "gallery_size": 5000, "label_issue_items": 8},
            "gallery_size",
        ),
        (
            "evaluate",
            EvaluateParams,
            {
                "threshold": 0.5,
                "pr_points": 200,
                "gallery_size": 12,
                "label_issue_items": 5000,
            },
            "label_issue_items",
        ),
    ],
)
def test_picture_sizes_are_bounded(tmp_path, section, model, values, param):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({section: values}))
    with pytest.raises(PipelineError, match=rf"{section}\.{param}.*less than or equal"):
        read_params(section, model, tmp_path / "params.yaml")


def test_freeze_epochs_beyond_epochs_warns(capsys):
    params = copy.deepcopy(TINY_PARAMS["train"])
    TrainParams.model_validate(params | {"freeze_epochs": params["epochs"]})
    assert "warning" not in capsys.readouterr().err
    TrainParams.model_validate(params | {"freeze_epochs": params["epochs"] + 1})
    assert "warning: param train.freeze_epochs (3) > train.epochs (2)" in capsys.readouterr().err
