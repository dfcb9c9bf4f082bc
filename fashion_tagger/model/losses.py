"""Multi-label training losses on logits: BCE, BCE with per-tag `pos_weight`, asymmetric loss.

- `bce`: binary cross-entropy per tag (the recipe).
- `bce` with `pos_weight`: each tag's positives weigh (negatives / positives) on the train split,
  clipped to `pos_weight_max`, as in the MIML seed; rare tags then count as much as common ones.
- `asl`: asymmetric loss (Ridnik et al., 2021): the many easy negatives are down-weighted by
  p ** gamma_neg, and negatives with p < clip are ignored (probability shifting); positives keep
  the plain log loss when gamma_pos is 0.
All return the mean over items and tags, so their scale is comparable to BCE; each label's term
may carry a weight (`labels.targets`: uncertain negatives weigh less). Models with
single-choice attributes add each attribute head's cross-entropy (`multi_head_loss`), weighted
by `train.attribute_weights` (1 for attributes it does not name).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from fashion_tagger.model.network import split_outputs
from fashion_tagger.params import StrictModel

EPSILON = 1e-8  # keeps log() finite


class LossParams(StrictModel):
    name: Literal["bce", "asl"]
    pos_weight: bool  # bce: weigh positives per tag by negatives / positives on the train split
    pos_weight_max: float = Field(ge=1)  # clip for those weights (a tag with 2 positives...)
    gamma_neg: float = Field(ge=0)  # asl: focusing on hard negatives (the authors use 4)
    gamma_pos: float = Field(ge=0)  # asl: focusing on hard positives (the authors use 0)
    clip: float = Field(ge=0, lt=1)  # asl: negatives below this probability cost nothing (0.05)


def positive_weights(train_labels: np.ndarray, maximum: float) -> torch.Tensor:
    """Per tag, negatives / positives on the train split, clipped to [.., maximum]; a tag
    without positives gets `maximum`."""
    positives = train_labels.sum(axis=0)
    negatives = len(train_labels) - positives
    ratio = np.divide(
        negatives, positives, out=np.full(positives.shape, maximum), where=positives > 0
    )
    return torch.tensor(np.minimum(ratio, maximum), dtype=torch.float32)


def asymmetric_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma_neg: float,
    gamma_pos: float,
    clip: float,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Asymmetric loss, averaged over items and tags (each term times its weight, if given)."""
    probabilities = torch.sigmoid(logits)
    shifted = (probabilities - clip).clamp(min=0) if clip > 0 else probabilities
    positive = F.logsigmoid(logits) * (1 - probabilities) ** gamma_pos
    negative = torch.log((1 - shifted).clamp(min=EPSILON)) * shifted**gamma_neg
    terms = targets * positive + (1 - targets) * negative
    return -(terms if weights is None else terms * weights).mean()


def make_loss(
    params: LossParams, train_labels: np.ndarray, device: torch.device, weighted: bool = False
):
    """The training loss as a function (logits, targets) -> scalar. `weighted`: the targets
    are the tag labels followed by one loss weight per label (`labels.targets`)."""
    tags = train_labels.shape[1]
    positive = positive_weights(train_labels, params.pos_weight_max) if params.pos_weight else None
    positive = positive.to(device) if positive is not None else None

    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        labels = targets[:, :tags]
        weights = targets[:, tags : 2 * tags] if weighted else None
        if params.name == "asl":
            return asymmetric_loss(
                logits, labels, params.gamma_neg, params.gamma_pos, params.clip, weights
            )
        return F.binary_cross_entropy_with_logits(
            logits, labels, weight=weights, pos_weight=positive
        )

    return loss


def multi_head_loss(
    tag_loss, num_tags: int, attribute_sizes: list[int], weights: list[float], tag_columns: int
):
    """The tags' loss plus each attribute head's weighted cross-entropy, as a function (outputs,
    targets) -> scalar. Outputs: tag logits, then each attribute's class logits; targets: the
    `tag_columns` the tags' loss reads (labels, and their weights if any), then one class index
    per attribute (as floats)."""

    def loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        tags, blocks = split_outputs(outputs, num_tags, attribute_sizes)
        total = tag_loss(tags, targets[:, :tag_columns])
        for position, (block, weight) in enumerate(zip(blocks, weights, strict=True)):
            classes = targets[:, tag_columns + position].long()
            total = total + weight * F.cross_entropy(block, classes)
        return total

    return loss
