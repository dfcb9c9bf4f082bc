"""Training targets beyond 0/1 text labels: annotator agreement and weights for unmentioned tags.

- `train.targets: agreement`: a tag's target is the share of the item's texts that state it
  (FEIDEGGER's five descriptions; given tags have one text, so they stay 0/1), from the counts
  encode writes (`labels.mentions`).
- `train.label_groups` (`labels.groups`): a stated tag also states the tags of its group that
  name all its values ("dark blue" is "blue"), and a grouped tag's uncertain 0s weigh
  `train.unmentioned_weight` in the loss (1.0: every label alike); false: the text labels as
  they are, all weighing 1 (the behaviour before).
Validation and evaluation always score against the 0/1 text labels.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from fashion_tagger.data.dataset import SplitData
from fashion_tagger.labels.groups import (
    GROUPS_FILE,
    complete_labels,
    label_weights,
    read_groups,
)
from fashion_tagger.labels.mentions import agreement


def training_split(
    split: SplitData,
    classes: list[str],
    targets: str,
    unmentioned_weight: float,
    implied: bool,
    mentions_file: Path,
    groups_file: Path = GROUPS_FILE,
) -> SplitData:
    """The train split with its targets (0/1 or agreement shares where the text labels have
    positives; with `implied`, plus the tags they imply) and, when `unmentioned_weight` < 1,
    per-label loss weights."""
    groups = read_groups(groups_file) if implied or unmentioned_weight < 1.0 else {}
    stated = complete_labels(split.labels, classes, groups) if implied else split.labels
    labels = stated
    if targets == "agreement":
        shares = agreement(mentions_file, split.ids, classes)
        shares = np.where(split.labels > 0, shares, 0.0).astype(np.float32)
        labels = complete_labels(shares, classes, groups) if implied else shares
    weights = None
    if unmentioned_weight < 1.0:
        weights = label_weights(stated, classes, groups, unmentioned_weight)
    return dataclasses.replace(split, labels=labels, weights=weights)
