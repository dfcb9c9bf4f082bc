"""Tests for attribute groups, agreement targets, weighted losses, label issues and the truth
report (fashion_tagger.labels.groups/targets/mentions, evaluation.label_issues/truth)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fashion_tagger.data.dataset import SplitData
from fashion_tagger.errors import PipelineError
from fashion_tagger.evaluation.label_issues import (
    issue_precision,
    items_by_issues,
    rank_label_issues,
)
from fashion_tagger.evaluation.truth import truth_report
from fashion_tagger.labels.groups import (
    label_weights,
    read_groups,
    single_choice_groups,
)
from fashion_tagger.labels.mentions import mention_table
from fashion_tagger.labels.targets import training_split
from fashion_tagger.model.losses import LossParams, make_loss

GROUPS_TABLE = """# test groups
group\tchoice\ttag\tvalues
colour\tsingle\tblue\tblue|dark blue
colour\tsingle\tdark blue\tdark blue
colour\tsingle\tred\tred
length\tsingle\tshort\tmini
length\tsingle\tlong\tmaxi
details\tmulti\tbelt\tbelt
"""
CLASSES = ["belt", "blue", "dark blue", "elegant", "long", "red", "short"]


@pytest.fixture
def groups(tmp_path):
    path = tmp_path / "groups.tsv"
    path.write_text(GROUPS_TABLE)
    return read_groups(path)


def test_the_shipped_groups_table_reads_and_names_single_choice_groups():
    groups = read_groups()
    assert groups["knee-length"].single and not groups["belt"].single
    single = single_choice_groups(["short", "belt", "long", "red"], groups)
    assert single == {"length": ["short", "long"], "colour": ["red"]}


def test_stated_value_makes_its_group_rivals_confident_and_the_rest_uncertain(groups):
    # item 0 says red and short; item 1 says dark blue only; item 2 says nothing grouped
    labels = np.array(
        [[0, 0, 0, 0, 0, 1, 1], [0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0]], dtype=np.float32
    )
    weights = label_weights(labels, CLASSES, groups, 0.25)
    by_tag = [dict(zip(CLASSES, row, strict=True)) for row in weights]
    # red stated: blue and dark blue are confidently absent; short stated: long is too
    assert by_tag[0] == {
        "belt": 0.25, "blue": 1, "dark blue": 1, "elegant": 1, "long": 1, "red": 1, "short": 1,
    }  # fmt: skip
    # dark blue stated: blue overlaps it (never confident), red is; the length is unmentioned
    assert by_tag[1]["blue"] == 0.25 and by_tag[1]["red"] == 1
    assert by_tag[1]["long"] == by_tag[1]["short"] == 0.25
    # nothing grouped stated: every grouped 0 is uncertain, the ungrouped tag keeps weight 1
    assert by_tag[2]["elegant"] == 1 and by_tag[2]["red"] == 0.25
    assert label_weights(labels, CLASSES, groups, 1.0).min() == 1.0


def test_a_group_both_single_and_multi_is_an_error(tmp_path):
    path = tmp_path / "groups.tsv"
    path.write_text(GROUPS_TABLE + "colour\tmulti\tgreen\tgreen\n")
    with pytest.raises(PipelineError, match="both single and multi"):
        read_groups(path)


def make_split(labels: np.ndarray) -> SplitData:
    ids = [f"i{k}" for k in range(len(labels))]
    cache = np.zeros((len(ids), 4, 4, 3), dtype=np.uint8)
    return SplitData(ids, cache, np.arange(len(ids)), labels.astype(np.float32))


def test_agreement_targets_are_shares_of_texts_and_given_tags_stay_binary(tmp_path, groups):
    labels = np.array([[1, 0, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 0, 0]])
    tagged = [
        {"id": "i0", "tags": ["belt", "red"], "descriptions": 5, "mentions": {"belt": 1, "red": 5}},
        {"id": "i1", "tags": ["blue"], "descriptions": 1, "mentions": {"blue": 1}},
    ]
    mentions = tmp_path / "mentions.csv"
    mention_table(tagged, CLASSES).to_csv(mentions, index=False)
    split = training_split(make_split(labels), CLASSES, "agreement", 1.0, False, mentions)
    assert split.labels[0].tolist() == pytest.approx([0.2, 0, 0, 0, 0, 1.0, 0])
    assert split.labels[1].tolist() == labels[1].tolist()
    assert split.weights is None
    binary = training_split(make_split(labels), CLASSES, "binary", 0.5, False, mentions)
    assert binary.labels.tolist() == labels.tolist()
    assert binary.targets().shape == (2, 2 * len(CLASSES))  # labels, then their weights


def test_weighted_bce_and_asl_scale_each_label_term():
    logits = torch.tensor([[2.0, -1.0], [0.5, 1.5]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    weights = torch.tensor([[1.0, 0.5], [0.0, 1.0]])
    base = {"pos_weight": False, "pos_weight_max": 10.0, "gamma_neg": 0, "gamma_pos": 0}
    for name in ("bce", "asl"):
        params = LossParams.model_validate(base | {"name": name, "clip": 0.0})
        loss = make_loss(params, labels.numpy(), torch.device("cpu"), weighted=True)
        expected = F.binary_cross_entropy_with_logits(logits, labels, weight=weights)
        assert loss(logits, torch.hstack([labels, weights])).item() == pytest.approx(
            expected.item(), rel=1e-5
        )


def test_label_issues_rank_confident_disputes_and_precision_counts_real_errors():
    ids, classes = ["a", "b"], ["red", "belt", "waist"]
    labels = np.array([[1, 0, 0], [0, 1, 1]])
    scores = np.array([[0.95, 0.9, 0.2], [0.3, 0.05, 0.6]])
    issues = rank_label_issues(ids, classes, labels, scores)
    assert [(r["id"], r["tag"], r["kind"]) for r in issues] == [
        ("b", "belt", "wrong"),  # labelled 1, scored 0.05: disputed 0.95
        ("a", "belt", "missing"),  # labelled 0, scored 0.9
    ]
    truth = {"a": {"red", "belt"}, "b": {"belt"}}
    # a's belt is a real omission; b's belt label was right: 1 of 2
    assert issue_precision(issues, truth, {"red", "belt"})["precision"] == 0.5
    assert [item for item, _ in items_by_issues(issues, 1)] == ["b"]


def test_truth_report_scores_the_model_on_the_checkable_tags(tmp_path):
    path = tmp_path / "true_tags.json"
    classes = ["blue", "dress", "red"]
    path.write_text(json.dumps({"tags": ["blue", "red"], "items": {"a": ["red"], "b": ["blue"]}}))
    text = np.array([[0, 1, 1], [0, 1, 0]])  # b's blue was never mentioned
    scores = np.array([[0.1, 0.9, 0.8], [0.7, 0.9, 0.2]])
    report = truth_report(path, ["a", "b"], classes, text, scores, 0.5)
    assert report["tags"] == 2
    assert report["model_vs_truth"]["micro_f1"] == 1.0
    assert report["model_vs_text"]["micro_precision"] == 0.5
    assert report["text_vs_truth"]["micro_recall"] == 0.5
    assert truth_report(tmp_path / "absent.json", ["a"], classes, text, scores, 0.5) == {}
    with pytest.raises(PipelineError, match="no true tags for item 'c'"):
        truth_report(path, ["c"], classes, text[:1], scores[:1], 0.5)


def test_stated_tags_imply_their_broader_group_tags(tmp_path):
    table = tmp_path / "groups.tsv"
    table.write_text(GROUPS_TABLE)
    labels = np.array([[0, 0, 1, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0]], dtype=np.float32)
    split = training_split(make_split(labels), CLASSES, "binary", 1.0, True, None, table)
    completed = split.labels
    # dark blue states blue; blue does not state dark blue
    assert completed[0].tolist() == [0, 1, 1, 0, 0, 0, 0]
    assert completed[1].tolist() == labels[1].tolist()


def test_weighted_targets_keep_attribute_columns_in_place():
    """With weights, the attribute class indices follow labels and weights: the attribute
    head's cross-entropy must read them, not a weight column."""
    from fashion_tagger.model.training import TrainParams, training_loss
    from fashion_tagger.params import load_params_file

    params = TrainParams.model_validate(load_params_file()["train"])
    labels = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    loss = training_loss(params, labels, {"colour": 3}, torch.device("cpu"), weighted=True)
    outputs = torch.tensor([[2.0, -1.0, 5.0, 0.0, 0.0], [-1.0, 2.0, 0.0, 0.0, 5.0]])
    targets = torch.tensor([[1.0, 0.0, 1.0, 0.5, 0.0], [0.0, 1.0, 1.0, 1.0, 2.0]])
    tag_part = F.binary_cross_entropy_with_logits(
        outputs[:, :2], targets[:, :2], weight=targets[:, 2:4]
    )
    head_part = F.cross_entropy(outputs[:, 2:], torch.tensor([0, 2]))
    assert loss(outputs, targets).item() == pytest.approx((tag_part + head_part).item(), rel=1e-5)
