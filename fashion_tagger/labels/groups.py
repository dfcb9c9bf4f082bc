"""Attribute groups of tags: which tags name a colour, a length, a neckline, ... and which of
those groups are single-choice (a dress has one length). The one home of this knowledge is
`resources/attribute_groups.tsv`; training weighs negatives by it and predict can show the
best value of a single-choice group.

Text labels miss what nobody mentioned. A stated tag states the tags of its group that name
all its values too ("dark blue" is "blue", "strap" is "sleeveless"): `train.label_groups` adds
them. A tag's 0 label is a confident negative only when the
item's text states another value of the tag's single-choice group (a dress said to be
knee-length is not floor-length); every other 0 of a grouped tag is an uncertain negative,
weighted by `train.unmentioned_weight` in the loss. Tags of no group keep weight 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion_tagger.errors import PipelineError

GROUPS_FILE = Path(__file__).parent / "resources" / "attribute_groups.tsv"
HEADER = ["group", "choice", "tag", "values"]
CHOICES = ("single", "multi")


@dataclass(frozen=True)
class TagGroup:
    """The group of one tag: its name, whether it is single-choice, and the values the tag
    names (tags with overlapping values are the same thing said differently)."""

    name: str
    single: bool
    values: frozenset[str]


def read_groups(path: Path = GROUPS_FILE) -> dict[str, TagGroup]:
    """Tag -> its group, from the table; a malformed row or mixed choices is a one-line error."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    if not rows or rows[0] != HEADER:
        raise PipelineError(f"{path}: expected a header {'<TAB>'.join(HEADER)}")
    groups: dict[str, TagGroup] = {}
    choice_of: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(HEADER) or not all(row) or row[1] not in CHOICES:
            raise PipelineError(
                f"{path}: row {number} {row}: expected group, single|multi, tag, values"
            )
        group, choice, tag, values = row
        if choice_of.setdefault(group, choice) != choice:
            raise PipelineError(f"{path}: group {group!r} is both single and multi")
        if tag in groups:
            raise PipelineError(f"{path}: tag {tag!r} is listed twice")
        groups[tag] = TagGroup(group, choice == "single", frozenset(values.split("|")))
    return groups


def single_choice_groups(classes: list[str], groups: dict[str, TagGroup]) -> dict[str, list[str]]:
    """Each single-choice group's tags among `classes` (group -> tags in class order)."""
    result: dict[str, list[str]] = {}
    for tag in classes:
        if tag in groups and groups[tag].single:
            result.setdefault(groups[tag].name, []).append(tag)
    return result


def confident_negatives(classes: list[str], groups: dict[str, TagGroup]) -> np.ndarray:
    """(tags x tags) bool: stating tag i (row) makes tag j (column) a confident negative, i.e.
    both are in one single-choice group and name disjoint values."""
    size = len(classes)
    matrix = np.zeros((size, size), dtype=bool)
    for i, stated in enumerate(classes):
        for j, other in enumerate(classes):
            a, b = groups.get(stated), groups.get(other)
            if a and b and a.single and a.name == b.name and not a.values & b.values:
                matrix[i, j] = True
    return matrix


def implied_tags(classes: list[str], groups: dict[str, TagGroup]) -> np.ndarray:
    """(tags x tags) bool: stating tag i (row) states tag j (column) too, i.e. both are in one
    group and j names every value i names ("dark blue" states "blue"; "strap", "sleeveless")."""
    size = len(classes)
    matrix = np.zeros((size, size), dtype=bool)
    for i, stated in enumerate(classes):
        for j, other in enumerate(classes):
            a, b = groups.get(stated), groups.get(other)
            if i != j and a and b and a.name == b.name and a.values <= b.values:
                matrix[i, j] = True
    return matrix


def complete_labels(labels: np.ndarray, classes: list[str], groups: dict[str, TagGroup]):
    """Labels with every implied tag added (`implied_tags`): a 0/1 matrix stays 0/1, shares take
    the largest share of the tags implying them."""
    implied = implied_tags(classes, groups).astype(labels.dtype)
    through = (labels[:, :, None] * implied[None, :, :]).max(axis=1)
    return np.maximum(labels, through).astype(labels.dtype)


def label_weights(
    labels: np.ndarray, classes: list[str], groups: dict[str, TagGroup], unmentioned: float
) -> np.ndarray:
    """Per item and tag, the weight of its label in the loss (float32, items x tags): 1 for
    positives, confident negatives and tags of no group; `unmentioned` for the other 0s."""
    stated = labels > 0
    confident = (stated.astype(np.int32) @ confident_negatives(classes, groups)) > 0
    grouped = np.array([tag in groups for tag in classes])
    uncertain = ~stated & ~confident & grouped[None, :]
    return np.where(uncertain, np.float32(unmentioned), np.float32(1.0)).astype(np.float32)
