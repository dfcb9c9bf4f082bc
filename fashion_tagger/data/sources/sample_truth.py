"""What a sample dress really shows, in tags: the truth its text labels are measured against.

The sample generator draws hidden attributes per item and paints them (`sample.Attributes`).
`resources/sample_tag_attributes.tsv` says which attribute value each tag claims ("blue":
colour blau, dunkelblau or hellblau). The download stage writes, for the sample source,
`data/raw/true_tags.json`: {"tags": [every claiming tag], "items": {id: [its true tags]}}, so
evaluate can score the model against the image without knowing which source ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from fashion_tagger.errors import PipelineError
from fashion_tagger.io import write_json

CLAIMS_FILE = Path(__file__).parent / "resources" / "sample_tag_attributes.tsv"
Claims = dict[str, tuple[str, frozenset[str]]]  # tag -> (attribute, values that make it right)


class DrawnAttributes(Protocol):
    """The fields of `sample.Attributes` that tags can claim."""

    silhouette: str
    colour: str
    pattern: str
    sleeves: str
    neckline: str
    hem: str
    details: tuple[str, ...]
    trims: dict[str, str]


def read_claims(path: Path = CLAIMS_FILE) -> Claims:
    """Tag -> (attribute, values that make it right), from the tab-separated table."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    if not rows or rows[0] != ["tag", "attribute", "values"]:
        raise PipelineError(f"{path}: expected a header 'tag<TAB>attribute<TAB>values'")
    claims: Claims = {}
    for row in rows[1:]:
        if len(row) != 3 or not all(row):
            raise PipelineError(f"{path}: bad row {row}: expected 3 tab-separated fields")
        claims[row[0]] = (row[1], frozenset(row[2].split("|")))
    return claims


def facts(attributes: DrawnAttributes) -> set[tuple[str, str]]:
    """(attribute, value) pairs that an item's tags could claim; a detail's colour is the
    attribute "trim" with the value "detail:colour" (belt:weiß)."""
    single = {
        ("colour", attributes.colour),
        ("pattern", attributes.pattern),
        ("sleeves", attributes.sleeves),
        ("neckline", attributes.neckline),
        ("hem", attributes.hem),
        ("silhouette", attributes.silhouette),
    }
    trims = {("trim", f"{name}:{colour}") for name, colour in attributes.trims.items()}
    return single | {("detail", name) for name in attributes.details} | trims


def true_tags(attributes: DrawnAttributes, claims: Claims) -> list[str]:
    """The tags whose claim holds for a dress, sorted."""
    known = facts(attributes)
    return sorted(
        tag
        for tag, (attribute, values) in claims.items()
        if any((attribute, value) in known for value in values)
    )


def write_true_tags(path: Path, drawn: dict[str, DrawnAttributes], claims: Claims) -> None:
    """data/raw/true_tags.json: every claiming tag, and each item's true tags (by id)."""
    items = {item_id: true_tags(attributes, claims) for item_id, attributes in drawn.items()}
    write_json(path, {"tags": sorted(claims), "items": items})
