"""Mutually exclusive tags: of a single-choice attribute group (one length, one sleeve length,
one neckline, ... per dress; `labels/resources/attribute_groups.tsv`, read by `labels.groups`),
at most one value describes a garment.

A model scores every tag on its own, so it may give two lengths to one photo; `resolve` keeps
the best-scoring tag of each group and names the ones it set aside, so nothing is hidden. Tags
that name overlapping values ("blue" and "dark blue") do not exclude each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from fashion_tagger.labels.groups import TagGroup, read_groups


def read_exclusive_groups() -> dict[str, TagGroup]:
    """Tag -> its group, for the tags of single-choice groups only."""
    return {tag: group for tag, group in read_groups().items() if group.single}


@dataclass(frozen=True)
class Excluded:
    """A tag at or above its threshold set aside for a better-scoring tag of its group."""

    tag: str
    score: float
    group: str
    kept: str  # the group's tag that was kept


def resolve(
    tags: list[tuple[str, float]], groups: dict[str, TagGroup]
) -> tuple[list[tuple[str, float]], list[Excluded]]:
    """The (tag, score) pairs with, per single-choice group, its best-scoring tag kept (ties:
    the earlier one) and any other tag of the group whose values overlap the kept one's, in the
    given order; and the tags set aside."""
    best: dict[str, tuple[str, float]] = {}
    for tag, score in tags:
        group = groups.get(tag)
        if group is not None and (group.name not in best or score > best[group.name][1]):
            best[group.name] = (tag, score)
    kept, excluded = [], []
    for tag, score in tags:
        group = groups.get(tag)
        winner = best[group.name][0] if group is not None else tag
        if winner == tag or group.values & groups[winner].values:
            kept.append((tag, score))
        else:
            excluded.append(Excluded(tag, score, group.name, winner))
    return kept, excluded
