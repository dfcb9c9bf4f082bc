"""The sample source's hidden attributes: what each synthetic dress looks like.

Drawn once per item from its own random stream (silhouette, colour, pattern, sleeves, neckline,
hem length, details and their colours); `sample_painting` shows them, `sample_text` tells them.
The colours, with their German names, are in `resources/sample_colours.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RESOURCES = Path(__file__).resolve().with_name("resources")


@dataclass(frozen=True)
class Colour:
    """A colour: its RGB value, its German adjectives (first = most used) and nouns."""

    rgb: tuple[int, int, int]
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]


# Every colour by name: RGB and German words (resources/sample_colours.json). Main colours of a
# dress (weights: how often each is drawn) below; the others colour trims only.
COLOURS: dict[str, Colour] = {
    name: Colour(tuple(entry["rgb"]), tuple(entry["adjectives"]), tuple(entry["nouns"]))
    for name, entry in json.loads((RESOURCES / "sample_colours.json").read_text("utf-8")).items()
}
MAIN_COLOURS = {
    "schwarz": 14, "weiß": 7, "grau": 7, "rot": 10, "weinrot": 6, "rosa": 8,
    "blau": 10, "dunkelblau": 10, "hellblau": 7, "grün": 8, "gelb": 6, "beige": 7,
}  # fmt: skip

SILHOUETTES = {"a_line": 35, "sheath": 25, "flared": 25, "shirt": 15}
PATTERNS = {"plain": 45, "stripes": 15, "dots": 13, "floral": 15, "checks": 12}
SLEEVES = {"sleeveless": 30, "short": 30, "three_quarter": 15, "long": 25}
NECKLINES = {"round": 35, "v": 30, "square": 15, "boat": 20}
HEMS = {"mini": 25, "knee": 35, "midi": 20, "maxi": 20}
# Probability of each detail; a shirt dress usually has buttons and a collar.
DETAILS = {
    "belt": 0.25,
    "buttons": 0.25,
    "bow": 0.15,
    "lace": 0.15,
    "pockets": 0.15,
    "collar": 0.15,
}
SHIRT_DETAILS = {"buttons": 0.8, "collar": 0.7, "belt": 0.4}
# Details that have a colour of their own (drawn and named), chosen from these.
TRIM_COLOURS = {
    "belt": ("schwarz", "braun", "weiß", "gold", "rot"),
    "bow": ("schwarz", "weiß", "rot", "rosa", "dunkelblau"),
    "buttons": ("weiß", "schwarz", "gold"),
    "collar": ("weiß", "schwarz", "hellblau"),
}


@dataclass(frozen=True)
class Attributes:
    """What a dress looks like; drawn once per item, shown in the image and told in the text."""

    silhouette: str
    colour: str
    pattern: str
    accent: str  # colour of the pattern (stripes, dots, flowers, checks)
    sleeves: str
    neckline: str
    hem: str
    details: tuple[str, ...]
    trims: dict[str, str] = field(default_factory=dict)  # detail -> its colour


def weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    probabilities = np.array([weights[name] for name in names], dtype=float)
    return names[int(rng.choice(len(names), p=probabilities / probabilities.sum()))]


def pick(rng: np.random.Generator, options: tuple | list):
    return options[int(rng.integers(len(options)))]


def luminance(rgb: tuple[int, int, int]) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _contrast_colour(rng: np.random.Generator, options: tuple[str, ...], colour: str) -> str:
    """A colour from `options` that stands out against the dress colour."""
    base = np.array(COLOURS[colour].rgb, dtype=float)
    distinct = [c for c in options if np.abs(np.array(COLOURS[c].rgb) - base).sum() > 150]
    return pick(rng, distinct or ["weiß" if luminance(COLOURS[colour].rgb) < 128 else "schwarz"])


def draw_attributes(rng: np.random.Generator) -> Attributes:
    """Draw the hidden attributes of one dress."""
    silhouette = weighted(rng, SILHOUETTES)
    colour = weighted(rng, MAIN_COLOURS)
    pattern = weighted(rng, PATTERNS)
    accent_options = ("weiß", "schwarz", "dunkelblau", "rot", "gelb", "rosa")
    accent = _contrast_colour(rng, accent_options, colour)
    sleeves = weighted(rng, SLEEVES)
    neckline = weighted(rng, NECKLINES)
    hem = weighted(rng, HEMS)
    chances = {**DETAILS, **SHIRT_DETAILS} if silhouette == "shirt" else DETAILS
    details = tuple(name for name in DETAILS if rng.random() < chances[name])
    trims = {
        name: _contrast_colour(rng, TRIM_COLOURS[name], colour)
        for name in details
        if name in TRIM_COLOURS
    }
    return Attributes(silhouette, colour, pattern, accent, sleeves, neckline, hem, details, trims)
