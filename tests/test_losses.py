"""Tests for stages.losses and stages.thresholds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fashion_tagger.evaluation.metrics import best_f1_threshold, choose_thresholds
from fashion_tagger.model.losses import LossParams, asymmetric_loss, make_loss, positive_weights

LOGITS = torch.tensor([[2.0, -1.0, 0.5], [-3.0, 1.5, -0.2]])
TARGETS = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


def loss_params(**changes) -> LossParams:
    defaults = {"name": "bce", "pos_weight": False, "pos_weight_max": 10.0}
    defaults |= {"gamma_neg": 4.0, "gamma_pos": 0.0, "clip": 0.05}
    return LossParams.model_validate(defaults | changes)


def test_positive_weights_are_negatives_over_positives_clipped():
    labels = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1]])
    weights = positive_weights(labels, maximum=3.0)
    # tag 0: 3 negatives / 2 positives; tag 1: no positives -> the maximum; tag 2: 1/4.
    assert weights.tolist() == pytest.approx([1.5, 3.0, 0.25])


def test_bce_with_pos_weight_matches_torch():
    labels = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]])
    loss = make_loss(loss_params(pos_weight=True), labels, torch.device("cpu"))
    expected = F.binary_cross_entropy_with_logits(
        LOGITS, TARGETS, pos_weight=torch.tensor([3.0, 3.0, 3.0])
    )
    assert loss(LOGITS, TARGETS).item() == pytest.approx(expected.item())
    plain = make_loss(loss_params(), labels, torch.device("cpu"))
    assert plain(LOGITS, TARGETS).item() < expected.item()


def test_asymmetric_loss_without_focusing_or_clip_is_bce():
    loss = asymmetric_loss(LOGITS, TARGETS, gamma_neg=0, gamma_pos=0, clip=0)
    assert loss.item() == pytest.approx(F.binary_cross_entropy_with_logits(LOGITS, TARGETS).item())


def test_asymmetric_loss_ignores_easy_negatives_and_down_weights_the_rest():
    easy_negative = torch.tensor([[-5.0]])  # p = 0.0067 < clip 0.05: costs nothing
    assert asymmetric_loss(easy_negative, torch.zeros(1, 1), 4, 0, 0.05).item() == 0
    hard_negative = torch.tensor([[1.0]])
    focused = asymmetric_loss(hard_negative, torch.zeros(1, 1), 4, 0, 0.05)
    plain = F.binary_cross_entropy_with_logits(hard_negative, torch.zeros(1, 1))
    assert 0 < focused.item() < plain.item()
    asl = make_loss(loss_params(name="asl"), np.zeros((2, 3)), torch.device("cpu"))
    assert asl(LOGITS, TARGETS).item() == pytest.approx(
        asymmetric_loss(LOGITS, TARGETS, 4, 0, 0.05).item()
    )


def test_best_f1_threshold_by_hand():
    y_true = np.array([1, 1, 0, 1, 0, 0])
    scores = np.array([0.9, 0.6, 0.55, 0.4, 0.3, 0.1])
    # >= 0.4 predicts 4 items with 3 positives: F1 = 2*0.75*1/(1.75) = 0.857, the best.
    threshold, f1 = best_f1_threshold(y_true, scores)
    assert threshold == 0.4 and f1 == pytest.approx(6 / 7)
    assert best_f1_threshold(np.zeros(3), np.array([0.1, 0.2, 0.3])) == (1.0, 0.0)


def test_per_tag_thresholds_fall_back_to_the_global_one_for_rare_tags():
    rng = np.random.default_rng(0)
    y_true = np.zeros((40, 2), dtype=int)
    y_true[:20, 0] = 1
    y_true[0, 1] = 1  # one positive only
    scores = np.clip(y_true * 0.3 + rng.random((40, 2)) * 0.6, 0, 1)
    global_threshold, per_tag = choose_thresholds(y_true, scores, min_val_positives=3)
    assert per_tag[1] == global_threshold
    assert per_tag[0] == best_f1_threshold(y_true[:, 0], scores[:, 0])[0]
    assert global_threshold == best_f1_threshold(y_true, scores)[0]
