"""Source `sample`: an embedded, synthetic, deterministic stand-in for FEIDEGGER.

FEIDEGGER holds dress photos on a white background, each described in German by five crowd
workers. This source makes the same thing offline: for every item it draws hidden visual
attributes (silhouette, colour, pattern, sleeves, neckline, hem length, details) with a seeded
random generator, paints a dress that SHOWS them (PIL, white background, portrait), and lets
five simulated annotators describe it in German, each mentioning a random subset, with
synonyms, subjective words and occasional sloppy spelling. The attributes themselves are never
written out: as with the real data, labels can only come from the text.

Output under `raw_dir`: `feidegger.json` in FEIDEGGER's exact format (a list of
{"url", "descriptions": [5 German str], "split": "0".."9"}) and the JPEGs under `images/`.
`fetch` returns the normalised items (see `data.items`) with an extra "fold" (the split).

Every random draw comes from a generator seeded with (seed, item index, purpose), so the same
params give byte-identical files, and item k is the same whatever the number of items.

All German word material is in the tables `COLOURS` and `PHRASES` and in `TEMPLATES` below.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from pydantic import Field, model_validator
from tqdm import tqdm

from fashion_tagger.io import atomic_path, write_json
from fashion_tagger.params import StrictModel

DATASET_FILE = "feidegger.json"
IMAGES_FOLDER = "images"
URL_PREFIX = "https://sample.invalid/images/"
ANNOTATORS = 5
JPEG_QUALITY = 90
SUPERSAMPLING = 2  # images are drawn at twice the size and reduced, for smooth edges

# Purposes of the per-item random streams: changing how text is written never changes images.
STREAM_ATTRIBUTES, STREAM_DRAWING, STREAM_TEXT = 0, 1, 2


class Params(StrictModel):
    """`download.sample` in params.yaml."""

    items: int = Field(1000, gt=0)
    seed: int = Field(ge=0)
    width: int = Field(128, ge=128, le=2048)
    height: int = Field(192, ge=192, le=3072)

    @model_validator(mode="after")
    def _portrait(self) -> Params:
        if self.height <= self.width:
            raise ValueError("height must be greater than width (dress photos are portrait)")
        return self


# --------------------------------------------------------------------------------------------
# Hidden attributes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Colour:
    """A colour: its RGB value, its German adjectives (first = most used) and nouns."""

    rgb: tuple[int, int, int]
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]


# Main colours of a dress (weights: how often each is drawn), then colours of trims only.
COLOURS: dict[str, Colour] = {
    "schwarz": Colour((25, 25, 28), ("schwarz",), ("Schwarz",)),
    "weiß": Colour((246, 246, 240), ("weiß", "cremeweiß"), ("Weiß",)),
    "grau": Colour((135, 135, 140), ("grau", "steingrau"), ("Grau",)),
    "rot": Colour((205, 30, 40), ("rot", "knallrot"), ("Rot",)),
    "weinrot": Colour(
        (115, 20, 45), ("weinrot", "bordeauxrot", "dunkelrot", "bordeaux"), ("Weinrot", "Bordeaux")
    ),
    "rosa": Colour((240, 160, 185), ("rosa", "rosafarben", "altrosa"), ("Rosa",)),
    "blau": Colour((40, 90, 205), ("blau", "royalblau"), ("Blau",)),
    "dunkelblau": Colour(
        (25, 35, 90), ("dunkelblau", "marineblau", "navyblau"), ("Dunkelblau", "Marineblau")
    ),
    "hellblau": Colour((140, 190, 235), ("hellblau", "himmelblau"), ("Hellblau",)),
    "grün": Colour((40, 140, 70), ("grün", "smaragdgrün"), ("Grün",)),
    "gelb": Colour((240, 205, 40), ("gelb", "sonnengelb"), ("Gelb",)),
    "beige": Colour((215, 195, 160), ("beige", "beigefarben", "sandfarben"), ("Beige",)),
    "braun": Colour((110, 70, 40), ("braun",), ("Braun",)),
    "gold": Colour((205, 165, 60), ("goldfarben", "golden"), ("Gold",)),
}
MAIN_COLOURS = {
    "schwarz": 14, "weiß": 7, "grau": 7, "rot": 10, "weinrot": 6, "rosa": 8,
    "blau": 10, "dunkelblau": 10, "hellblau": 7, "grün": 8, "gelb": 6, "beige": 7,
}  # fmt: skip
# German adjectives that take no ending ("ein rosa Kleid", "ein beige Kleid").
INVARIABLE_ADJECTIVES = {"rosa", "altrosa", "beige", "bordeaux", "uni"}

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


def _weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    probabilities = np.array([weights[name] for name in names], dtype=float)
    return names[int(rng.choice(len(names), p=probabilities / probabilities.sum()))]


def _pick(rng: np.random.Generator, options: tuple | list):
    return options[int(rng.integers(len(options)))]


def _luminance(rgb: tuple[int, int, int]) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _contrast_colour(rng: np.random.Generator, options: tuple[str, ...], colour: str) -> str:
    """A colour from `options` that stands out against the dress colour."""
    base = np.array(COLOURS[colour].rgb, dtype=float)
    distinct = [c for c in options if np.abs(np.array(COLOURS[c].rgb) - base).sum() > 150]
    return _pick(rng, distinct or ["weiß" if _luminance(COLOURS[colour].rgb) < 128 else "schwarz"])


def draw_attributes(rng: np.random.Generator) -> Attributes:
    """Draw the hidden attributes of one dress."""
    silhouette = _weighted(rng, SILHOUETTES)
    colour = _weighted(rng, MAIN_COLOURS)
    pattern = _weighted(rng, PATTERNS)
    accent_options = ("weiß", "schwarz", "dunkelblau", "rot", "gelb", "rosa")
    accent = _contrast_colour(rng, accent_options, colour)
    sleeves = _weighted(rng, SLEEVES)
    neckline = _weighted(rng, NECKLINES)
    hem = _weighted(rng, HEMS)
    chances = {**DETAILS, **SHIRT_DETAILS} if silhouette == "shirt" else DETAILS
    details = tuple(name for name in DETAILS if rng.random() < chances[name])
    trims = {
        name: _contrast_colour(rng, TRIM_COLOURS[name], colour)
        for name in details
        if name in TRIM_COLOURS
    }
    return Attributes(silhouette, colour, pattern, accent, sleeves, neckline, hem, details, trims)


# --------------------------------------------------------------------------------------------
# Image: the dress is laid out in figure units (x 0..1, y 0..1.5, centre x 0.5), then placed
# on the canvas with a small random zoom and shift.
# --------------------------------------------------------------------------------------------

NECK_Y, ARMPIT_Y, WAIST_Y, HIP_Y = 0.16, 0.34, 0.56, 0.72
SHOULDER_HALF, BUST_HALF = 0.17, 0.15
STRAP_OUTER, STRAP_INNER = 0.125, 0.085  # sleeveless dresses hang on straps
HEM_Y = {"mini": 0.88, "knee": 1.04, "midi": 1.20, "maxi": 1.40}
WAIST_HALF = {"a_line": 0.115, "sheath": 0.11, "flared": 0.11, "shirt": 0.145}
# Neckline cut: (half width, depth below the neck line).
NECK_CUT = {
    "round": (0.075, 0.07),
    "v": (0.08, 0.15),
    "square": (0.075, 0.09),
    "boat": (0.13, 0.035),
}
SLEEVE_LENGTH = {"sleeveless": 0.0, "short": 0.17, "three_quarter": 0.38, "long": 0.60}
SLEEVE_WIDTH = 0.10
ARM_DIRECTION = (-0.27 / math.hypot(0.27, 0.96), 0.96 / math.hypot(0.27, 0.96))  # left arm, down
ARM_NORMAL = (ARM_DIRECTION[1], -ARM_DIRECTION[0])  # across the left sleeve, towards the body
SHOULDER_POINT = (0.5 - SHOULDER_HALF, NECK_Y + 0.02)
ARMPIT_POINT = (0.5 - BUST_HALF, ARMPIT_Y)
BODICE_PROBE = (0.565, 0.45)  # beside the button line, below any neckline, above any bow
LACE_COLOUR = (250, 248, 238)

Point = tuple[float, float]


@dataclass(frozen=True)
class Placement:
    """Maps figure units to pixels of a (width x height) canvas."""

    scale: float  # pixels per figure unit
    left: float
    top: float

    @staticmethod
    def make(width: int, height: int, zoom: float, shift: Point) -> Placement:
        base = min(width, height / 1.5)
        scale = base * zoom
        left = (width - base) / 2 + base * (0.5 + shift[0]) - scale * 0.5
        top = (height - 1.5 * base) / 2 + base * (0.75 + shift[1]) - scale * 0.75
        return Placement(scale, left, top)

    def px(self, point: Point) -> Point:
        return (self.left + self.scale * point[0], self.top + self.scale * point[1])

    def polygon(self, points: list[Point]) -> list[Point]:
        return [self.px(point) for point in points]

    def box(self, corner: Point, other: Point) -> list[Point]:
        return [self.px(corner), self.px(other)]


def mirror(points: list[Point]) -> list[Point]:
    """The right-hand side of a left-hand outline, in reverse order so polygons close."""
    return [(1.0 - x, y) for x, y in reversed(points)]


def sleeve_probe(along: float) -> Point:
    """Centre of the left sleeve `along` figure units down the arm (a long sleeve covers it)."""
    return (
        SHOULDER_POINT[0] + ARM_DIRECTION[0] * along + ARM_NORMAL[0] * SLEEVE_WIDTH / 2,
        SHOULDER_POINT[1] + ARM_DIRECTION[1] * along + ARM_NORMAL[1] * SLEEVE_WIDTH / 2,
    )


def hem_half_width(silhouette: str, hem_y: float) -> float:
    """Half the hem width: A-line and flared skirts widen with length, the others do not."""
    spread = (hem_y - WAIST_Y) / (HEM_Y["maxi"] - WAIST_Y)
    waist = WAIST_HALF[silhouette]
    return {
        "a_line": waist + 0.26 * spread,
        "flared": min(0.44, waist + 0.45 * spread),
        "sheath": 0.14,
        "shirt": 0.165,
    }[silhouette]


def bodice_outline(attributes: Attributes) -> list[Point]:
    """Closed outline of the bodice (shoulders to waist); the neckline is cut out later."""
    waist = (0.5 - WAIST_HALF[attributes.silhouette], WAIST_Y)
    if attributes.sleeves == "sleeveless":
        left = [
            (0.5 - STRAP_INNER, NECK_Y),
            (0.5 - STRAP_OUTER, NECK_Y),
            (0.5 - STRAP_OUTER + 0.005, NECK_Y + 0.06),
            (0.5 - BUST_HALF + 0.005, NECK_Y + 0.13),
            ARMPIT_POINT,
            waist,
        ]
    else:
        left = [(0.5 - 0.08, NECK_Y), SHOULDER_POINT, ARMPIT_POINT, waist]
    return left + mirror(left)


def skirt_outline(attributes: Attributes, waves: float) -> list[Point]:
    """Closed outline of the skirt: sides follow the silhouette, the hem its length."""
    silhouette = attributes.silhouette
    hem_y = HEM_Y[attributes.hem]
    waist_half = WAIST_HALF[silhouette]
    hem_half = hem_half_width(silhouette, hem_y)
    if silhouette == "a_line":
        side = [(0.5 - waist_half, WAIST_Y), (0.5 - hem_half, hem_y)]
    elif silhouette == "flared":  # a bell: widens fast below the waist
        side = [
            (
                0.5 - waist_half - (hem_half - waist_half) * math.sqrt(t),
                WAIST_Y + t * (hem_y - WAIST_Y),
            )
            for t in (0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1)
        ]
    elif silhouette == "sheath":  # hugs the hips, narrows a little at the hem
        side = [(0.5 - waist_half, WAIST_Y), (0.5 - 0.152, HIP_Y), (0.5 - hem_half, hem_y)]
    else:  # shirt dress: straight
        side = [(0.5 - waist_half, WAIST_Y), (0.5 - 0.16, HIP_Y), (0.5 - hem_half, hem_y)]
    hem = []
    for step in range(1, 16):
        u = step / 16
        sag = 0.015 * (1 - (2 * u - 1) ** 2)
        wave = waves * math.sin(u * math.pi * 8) if silhouette == "flared" else 0.0
        hem.append((0.5 - hem_half + 2 * hem_half * u, hem_y + sag + wave))
    return side + hem + mirror(side)


def sleeve_outline(attributes: Attributes) -> list[Point]:
    """The left sleeve: from shoulder and armpit down the arm; empty when sleeveless."""
    length = SLEEVE_LENGTH[attributes.sleeves]
    if length == 0:
        return []
    end_outer = (
        SHOULDER_POINT[0] + ARM_DIRECTION[0] * length,
        SHOULDER_POINT[1] + ARM_DIRECTION[1] * length,
    )
    end_inner = (
        end_outer[0] + ARM_NORMAL[0] * SLEEVE_WIDTH,
        end_outer[1] + ARM_NORMAL[1] * SLEEVE_WIDTH,
    )
    return [SHOULDER_POINT, end_outer, end_inner, ARMPIT_POINT]


def _cut_neckline(draw: ImageDraw.ImageDraw, place: Placement, attributes: Attributes) -> None:
    """Cut the neckline out of the dress mask."""
    half, depth = NECK_CUT[attributes.neckline]
    if attributes.sleeves == "sleeveless":
        half = STRAP_INNER  # keep the straps
    top = NECK_Y - 0.03
    if attributes.neckline == "v":
        draw.polygon(
            place.polygon([(0.5 - half, top), (0.5 + half, top), (0.5, NECK_Y + depth)]), 0
        )
    elif attributes.neckline == "square":
        draw.rectangle(place.box((0.5 - half, top), (0.5 + half, NECK_Y + depth)), 0)
    else:  # round and boat: the lower half of an ellipse
        draw.ellipse(place.box((0.5 - half, NECK_Y - depth), (0.5 + half, NECK_Y + depth)), 0)


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    """Darker (factor < 1) version of a colour; very dark colours get lighter instead."""
    if _luminance(rgb) < 50:
        return tuple(min(255, int(c + 70 * (1 - factor) / 0.35)) for c in rgb)
    return tuple(int(c * factor) for c in rgb)


def _draw_pattern(
    draw: ImageDraw.ImageDraw, place: Placement, pattern: str, accent: tuple, rng
) -> None:
    """Cover the whole canvas with the pattern; the dress mask clips it later."""
    phase_x, phase_y = rng.uniform(0, 0.06), rng.uniform(0, 0.06)
    if pattern == "stripes":
        period = rng.uniform(0.065, 0.085)
        for row in range(-1, int(1.6 / period) + 2):
            y = row * period + phase_y
            draw.rectangle(place.box((-0.2, y), (1.2, y + period * 0.42)), accent)
    elif pattern == "dots":
        period, radius = 0.07, 0.017
        for row in range(-1, int(1.6 / period) + 2):
            for column in range(-1, int(1.2 / period) + 2):
                x = column * period + phase_x + (period / 2 if row % 2 else 0)
                y = row * period + phase_y
                draw.ellipse(place.box((x - radius, y - radius), (x + radius, y + radius)), accent)
    elif pattern == "floral":
        period = 0.12
        for row in range(-1, int(1.6 / period) + 2):
            for column in range(-1, int(1.2 / period) + 2):
                x = column * period + phase_x + rng.uniform(-0.025, 0.025)
                y = row * period + phase_y + rng.uniform(-0.025, 0.025)
                for petal in range(5):
                    angle = petal * 2 * math.pi / 5
                    px, py = x + 0.022 * math.cos(angle), y + 0.022 * math.sin(angle)
                    draw.ellipse(
                        place.box((px - 0.016, py - 0.016), (px + 0.016, py + 0.016)), accent
                    )
                draw.ellipse(place.box((x - 0.01, y - 0.01), (x + 0.01, y + 0.01)), (235, 190, 40))
    elif pattern == "checks":
        size = 0.06
        for row in range(-1, int(1.6 / size) + 2):
            for column in range(-1, int(1.2 / size) + 2):
                if (row + column) % 2 == 0:
                    x, y = column * size + phase_x, row * size + phase_y
                    draw.rectangle(place.box((x, y), (x + size, y + size)), accent)


def _draw_details(
    draw: ImageDraw.ImageDraw, place: Placement, attributes: Attributes, main: tuple
) -> None:
    """Belt, buttons, bow, lace, pockets and collar, painted over the dress."""
    scale = place.scale
    waist_half = WAIST_HALF[attributes.silhouette]
    hem_y = HEM_Y[attributes.hem]
    outline = _shade(main, 0.6)
    trim = {name: COLOURS[colour].rgb for name, colour in attributes.trims.items()}
    if "lace" in attributes.details:  # a light band with a scalloped lower edge and holes
        hem_half = hem_half_width(attributes.silhouette, hem_y)
        count = 9
        radius = hem_half / count
        draw.rectangle(
            place.box((0.5 - hem_half, hem_y - 0.035), (0.5 + hem_half, hem_y)), LACE_COLOUR
        )
        for number in range(count):
            x = 0.5 - hem_half + radius * (2 * number + 1)
            draw.ellipse(
                place.box((x - radius, hem_y - radius), (x + radius, hem_y + radius)),
                LACE_COLOUR,
                outline=(170, 170, 165),
                width=max(1, int(scale * 0.006)),
            )
            hole = 0.007
            draw.ellipse(
                place.box((x - hole, hem_y - 0.02 - hole), (x + hole, hem_y - 0.02 + hole)), outline
            )
    if "pockets" in attributes.details:
        for x in (0.5 - 0.13, 0.5 + 0.06):
            draw.rectangle(
                place.box((x, HIP_Y), (x + 0.07, HIP_Y + 0.075)),
                _shade(main, 0.75),
                outline=outline,
                width=max(1, int(scale * 0.008)),
            )
    if "buttons" in attributes.details:
        bottom = hem_y - 0.06 if attributes.silhouette == "shirt" else WAIST_Y - 0.02
        top = NECK_Y + NECK_CUT[attributes.neckline][1] + 0.03
        count = max(3, int((bottom - top) / 0.07) + 1)
        for number in range(count):
            y = top + (bottom - top) * number / (count - 1)
            draw.ellipse(
                place.box((0.5 - 0.018, y - 0.018), (0.5 + 0.018, y + 0.018)), trim["buttons"]
            )
    if "belt" in attributes.details:
        draw.rectangle(
            place.box((0.5 - waist_half, WAIST_Y - 0.028), (0.5 + waist_half, WAIST_Y + 0.028)),
            trim["belt"],
        )
        draw.rectangle(
            place.box((0.5 - 0.03, WAIST_Y - 0.035), (0.5 + 0.03, WAIST_Y + 0.035)),
            outline=COLOURS["gold"].rgb,
            width=max(1, int(scale * 0.012)),
        )
    if "bow" in attributes.details:
        y = WAIST_Y
        for side in (-1, 1):
            draw.polygon(
                place.polygon(
                    [(0.5, y), (0.5 + side * 0.085, y - 0.045), (0.5 + side * 0.085, y + 0.045)]
                ),
                trim["bow"],
                outline=_shade(trim["bow"], 0.6),
            )
        draw.ellipse(
            place.box((0.5 - 0.02, y - 0.02), (0.5 + 0.02, y + 0.02)), _shade(trim["bow"], 0.8)
        )
    if "collar" in attributes.details:
        half = (
            NECK_CUT[attributes.neckline][0] if attributes.sleeves != "sleeveless" else STRAP_INNER
        )
        for side in (-1, 1):
            draw.polygon(
                place.polygon(
                    [
                        (0.5 + side * (half + 0.035), NECK_Y - 0.01),
                        (0.5 + side * 0.01, NECK_Y + 0.075),
                        (0.5 + side * (half + 0.045), NECK_Y + 0.065),
                    ]
                ),
                trim["collar"],
                outline=(120, 120, 120),
            )


def draw_dress(
    attributes: Attributes, width: int, height: int, rng: np.random.Generator
) -> tuple[Image.Image, Placement]:
    """Paint the dress on a white canvas; return the image and where figure units landed."""
    zoom = rng.uniform(0.93, 1.02)
    shift = (rng.uniform(-0.03, 0.03), rng.uniform(-0.015, 0.015))
    jitter = rng.integers(-8, 9, size=3)
    main = tuple(
        int(np.clip(c + j, 0, 255))
        for c, j in zip(COLOURS[attributes.colour].rgb, jitter, strict=True)
    )
    accent = COLOURS[attributes.accent].rgb
    size = (width * SUPERSAMPLING, height * SUPERSAMPLING)
    place = Placement.make(*size, zoom, shift)

    mask = Image.new("L", size, 0)
    mask_draw = ImageDraw.Draw(mask)
    mask_draw.polygon(place.polygon(bodice_outline(attributes)), 255)
    mask_draw.polygon(place.polygon(skirt_outline(attributes, rng.uniform(0.006, 0.014))), 255)
    sleeve = sleeve_outline(attributes)
    if sleeve:
        mask_draw.polygon(place.polygon(sleeve), 255)
        mask_draw.polygon(place.polygon(mirror(sleeve)), 255)
    _cut_neckline(mask_draw, place, attributes)

    fabric = Image.new("RGB", size, main)
    fabric_draw = ImageDraw.Draw(fabric)
    _draw_pattern(fabric_draw, place, attributes.pattern, accent, rng)
    if attributes.silhouette == "flared":  # folds falling from the waist
        hem_y = HEM_Y[attributes.hem]
        hem_half = hem_half_width("flared", hem_y)
        for u in (-0.6, -0.2, 0.2, 0.6):
            fabric_draw.line(
                place.polygon(
                    [(0.5 + u * 0.08, WAIST_Y + 0.03), (0.5 + u * hem_half * 0.9, hem_y)]
                ),
                _shade(main, 0.8),
                width=max(1, int(place.scale * 0.008)),
            )
    image = Image.composite(fabric, Image.new("RGB", size, (255, 255, 255)), mask)
    edge = mask.filter(ImageFilter.FIND_EDGES)  # a thin line on both sides of the boundary
    image.paste(_shade(main, 0.6) if attributes.colour != "weiß" else (165, 165, 160), mask=edge)
    _draw_details(ImageDraw.Draw(image), place, attributes, main)
    image = image.reduce(SUPERSAMPLING)
    final = Placement(
        place.scale / SUPERSAMPLING, place.left / SUPERSAMPLING, place.top / SUPERSAMPLING
    )
    return image, final


# --------------------------------------------------------------------------------------------
# Text: the German phrase material.
#
# For every attribute value, how an annotator may say it, by grammatical form:
#   attr    adjective stem before "Kleid"; the template adds the ending ("rot" -> "ein rotes Kleid")
#   pred    after "Das Kleid ist ..."
#   mit     a prepositional phrase after the noun ("mit kurzen Ärmeln", "ohne Ärmel")
#   hat     accusative object of "Das Kleid hat ..." ("einen V-Ausschnitt", "kurze Ärmel")
#   clause  a main clause of its own, without full stop, starting with a word that may be
#           written in lower case after a comma ("Es reicht bis zum Knie")
#   noun    colour as a noun ("Kleid in Rot"); compound: a head noun instead of "Kleid"
# Colour markers inside a phrase: {main}, {accent}, {trim} (the dress, pattern or detail
# colour as an adjective; {main:en} adds an ending) and {Main} (the colour as a noun).
# --------------------------------------------------------------------------------------------

PHRASES: dict[str, dict[str, dict[str, list[str]]]] = {
    "colour": {
        "any": {
            "attr": ["{main}"],
            "pred": ["{main}", "{main}", "komplett {main}", "ganz in {Main}"],
            "clause": [
                "Es ist {main}",
                "Die Farbe ist {main}",
                "Es ist ganz in {Main} gehalten",
                "Der Stoff ist {main}",
            ],
            "noun": ["{Main}"],
        },
    },
    "pattern": {
        "plain": {
            "attr": ["einfarbig", "uni", "schlicht"],
            "pred": ["einfarbig", "uni", "ohne Muster"],
            "mit": ["ohne Muster", "ohne Aufdruck"],
            "hat": ["kein Muster"],
            "clause": ["Es ist einfarbig", "Es hat kein Muster", "Das Kleid ist ohne Muster"],
        },
        "stripes": {
            "attr": ["gestreift", "quergestreift", "geringelt"],
            "pred": ["gestreift", "quergestreift", "{main}-{accent} gestreift"],
            "mit": [
                "mit Streifen",
                "mit Querstreifen",
                "mit Streifenmuster",
                "mit {accent:en} Streifen",
                "mit einem Streifenmuster",
            ],
            "hat": ["Streifen", "ein Streifenmuster", "{accent:e} Streifen", "Querstreifen"],
            "clause": [
                "Es ist gestreift",
                "Es hat {accent:e} Streifen",
                "Das Muster besteht aus {accent:en} Streifen",
                "Die Streifen sind {accent}",
            ],
        },
        "dots": {
            "attr": ["gepunktet", "gepünktelt"],
            "pred": ["gepunktet", "gepünktelt"],
            "mit": [
                "mit Punkten",
                "mit Pünktchen",
                "mit {accent:en} Punkten",
                "mit Punktemuster",
                "mit kleinen Punkten",
            ],
            "hat": ["Punkte", "{accent:e} Punkte", "ein Punktemuster", "kleine {accent:e} Punkte"],
            "clause": [
                "Es ist gepunktet",
                "Es ist mit {accent:en} Punkten bedruckt",
                "Das Muster besteht aus kleinen Punkten",
            ],
        },
        "floral": {
            "attr": ["geblümt", "floral", "geblümt"],
            "pred": ["geblümt", "floral gemustert"],
            "mit": [
                "mit Blumenmuster",
                "mit Blumen",
                "mit floralem Muster",
                "mit Blumendruck",
                "mit kleinen {accent:en} Blumen",
            ],
            "hat": [
                "ein Blumenmuster",
                "einen Blumendruck",
                "ein florales Muster",
                "kleine Blumen",
            ],
            "clause": [
                "Es ist mit Blumen bedruckt",
                "Das Muster besteht aus kleinen {accent:en} Blumen",
                "Es hat ein Blumenmuster",
            ],
            "compound": ["Blumenkleid"],
        },
        "checks": {
            "attr": ["kariert"],
            "pred": ["kariert", "{main}-{accent} kariert"],
            "mit": ["mit Karomuster", "mit Karos", "mit einem Karomuster"],
            "hat": ["ein Karomuster", "ein kariertes Muster", "Karos"],
            "clause": [
                "Es ist kariert",
                "Das Muster ist kariert",
                "Es hat ein {accent:es} Karomuster",
            ],
        },
    },
    "sleeves": {
        "sleeveless": {
            "attr": ["ärmellos"],
            "pred": ["ärmellos", "ohne Ärmel"],
            "mit": ["mit Trägern", "mit dünnen Trägern", "ohne Ärmel", "mit Spaghettiträgern"],
            "hat": ["keine Ärmel", "dünne Träger", "Träger statt Ärmeln"],
            "clause": [
                "Es hat keine Ärmel",
                "Es ist ärmellos",
                "Es wird von dünnen Trägern gehalten",
                "Die Träger sind schmal",
            ],
        },
        "short": {
            "attr": ["kurzärmelig", "kurzärmlig"],
            "pred": ["kurzärmelig"],
            "mit": ["mit kurzen Ärmeln", "mit Kurzarm", "mit kurzen Ärmelchen"],
            "hat": ["kurze Ärmel"],
            "clause": [
                "Die Ärmel sind kurz",
                "Es hat kurze Ärmel",
                "Die Ärmel enden über dem Ellenbogen",
            ],
        },
        "three_quarter": {
            "mit": ["mit 3/4-Ärmeln", "mit dreiviertellangen Ärmeln", "mit halblangen Ärmeln"],
            "hat": ["3/4-Ärmel", "dreiviertellange Ärmel", "halblange Ärmel"],
            "clause": [
                "Die Ärmel sind dreiviertellang",
                "Die Ärmel reichen bis unter den Ellenbogen",
                "Die Ärmel sind halblang",
            ],
        },
        "long": {
            "attr": ["langärmelig", "langärmlig"],
            "pred": ["langärmelig"],
            "mit": ["mit langen Ärmeln", "mit Langarm"],
            "hat": ["lange Ärmel"],
            "clause": [
                "Die Ärmel sind lang",
                "Die Ärmel reichen bis zum Handgelenk",
                "Es hat lange Ärmel",
            ],
        },
    },
    "neckline": {
        "round": {
            "pred": ["rund ausgeschnitten"],
            "mit": [
                "mit Rundhalsausschnitt",
                "mit rundem Ausschnitt",
                "mit einem runden Ausschnitt",
                "mit Rundhals",
            ],
            "hat": [
                "einen Rundhalsausschnitt",
                "einen runden Ausschnitt",
                "einen runden Halsausschnitt",
            ],
            "clause": [
                "Der Ausschnitt ist rund",
                "Der Halsausschnitt ist rund",
                "Es hat einen Rundhalsausschnitt",
            ],
        },
        "v": {
            "pred": ["V-förmig ausgeschnitten"],
            "mit": [
                "mit V-Ausschnitt",
                "mit einem V-Ausschnitt",
                "mit tiefem V-Ausschnitt",
                "mit V-Dekolleté",
            ],
            "hat": ["einen V-Ausschnitt", "ein V-förmiges Dekolleté", "einen tiefen V-Ausschnitt"],
            "clause": [
                "Der Ausschnitt ist V-förmig",
                "Das Dekolleté ist V-förmig geschnitten",
                "Es hat einen V-Ausschnitt",
            ],
        },
        "square": {
            "pred": ["eckig ausgeschnitten"],
            "mit": [
                "mit eckigem Ausschnitt",
                "mit Karree-Ausschnitt",
                "mit einem eckigen Dekolleté",
                "mit geradem Ausschnitt",
            ],
            "hat": ["einen eckigen Ausschnitt", "einen Karree-Ausschnitt", "ein eckiges Dekolleté"],
            "clause": [
                "Der Ausschnitt ist eckig",
                "Das Dekolleté ist gerade und eckig geschnitten",
            ],
        },
        "boat": {
            "pred": ["flach ausgeschnitten"],
            "mit": [
                "mit U-Boot-Ausschnitt",
                "mit flachem, breitem Ausschnitt",
                "mit Bootsausschnitt",
            ],
            "hat": [
                "einen U-Boot-Ausschnitt",
                "einen breiten, flachen Ausschnitt",
                "einen Bootsausschnitt",
            ],
            "clause": ["Der Ausschnitt ist breit und flach", "Es hat einen U-Boot-Ausschnitt"],
        },
    },
    "hem": {
        "mini": {
            "attr": ["kurz", "sehr kurz"],
            "pred": ["kurz", "sehr kurz"],
            "mit": ["mit kurzem Rock", "mit sehr kurzem Rock"],
            "hat": ["einen kurzen Rock"],
            "clause": [
                "Es endet über dem Knie",
                "Es endet weit über dem Knie",
                "Der Rock endet deutlich über dem Knie",
                "Es reicht bis zur Mitte der Oberschenkel",
                "Es ist sehr kurz",
            ],
            "compound": ["Minikleid"],
        },
        "knee": {
            "attr": ["knielang"],
            "pred": ["knielang", "knapp knielang"],
            "mit": ["mit knielangem Rock"],
            "hat": ["einen knielangen Rock"],
            "clause": [
                "Es reicht bis zum Knie",
                "Es endet am Knie",
                "Der Rock ist knielang",
                "Es geht bis knapp zum Knie",
            ],
        },
        "midi": {
            "attr": ["wadenlang", "midilang"],
            "pred": ["wadenlang", "midilang"],
            "mit": ["mit wadenlangem Rock", "mit Midirock"],
            "hat": ["einen wadenlangen Rock", "Midilänge"],
            "clause": [
                "Es endet unter dem Knie",
                "Es reicht bis zur Wade",
                "Es geht bis zur Mitte der Waden",
                "Der Rock endet unterhalb der Knie",
            ],
            "compound": ["Midikleid"],
        },
        "maxi": {
            "attr": ["bodenlang", "lang"],
            "pred": ["bodenlang", "lang", "knöchellang"],
            "mit": ["mit langem Rock", "mit bodenlangem Rock"],
            "hat": ["einen langen Rock"],
            "clause": [
                "Es reicht bis zum Boden",
                "Es reicht bis zu den Knöcheln",
                "Der Rock ist bodenlang",
                "Es ist ein langes Kleid",
            ],
            "compound": ["Maxikleid"],
        },
    },
    "silhouette": {
        "a_line": {
            "attr": ["ausgestellt", "leicht ausgestellt", "tailliert"],
            "pred": ["leicht ausgestellt", "in A-Linie geschnitten", "tailliert"],
            "mit": ["mit ausgestelltem Rock", "mit leicht ausgestelltem Rock"],
            "hat": ["einen leicht ausgestellten Rock", "einen A-Linien-Schnitt"],
            "clause": [
                "Der Rock ist leicht ausgestellt",
                "Es ist in A-Linie geschnitten",
                "Oben ist es tailliert und der Rock fällt leicht ausgestellt",
            ],
        },
        "sheath": {
            "attr": ["eng", "figurbetont", "eng anliegend", "schmal geschnitten"],
            "pred": ["eng", "eng geschnitten", "figurbetont", "eng anliegend"],
            "mit": ["mit engem Rock", "mit schmalem Schnitt"],
            "hat": ["einen engen Schnitt", "einen schmalen Rock", "einen figurbetonten Schnitt"],
            "clause": [
                "Es liegt eng am Körper an",
                "Der Schnitt ist schmal und figurbetont",
                "Der Rock ist eng",
            ],
            "compound": ["Etuikleid"],
        },
        "flared": {
            "attr": ["weit", "weit geschnitten", "schwingend"],
            "pred": ["weit geschnitten", "weit", "ausgestellt"],
            "mit": [
                "mit weitem Rock",
                "mit schwingendem Rock",
                "mit Tellerrock",
                "mit weit ausgestelltem Rock",
            ],
            "hat": ["einen weiten Rock", "einen Tellerrock", "einen schwingenden Rock"],
            "clause": [
                "Der Rock ist weit geschnitten",
                "Der Rock ist sehr weit und schwingt",
                "Ab der Taille wird der Rock weit",
            ],
        },
        "shirt": {
            "attr": ["gerade geschnitten", "locker", "locker geschnitten"],
            "pred": ["gerade geschnitten", "locker geschnitten"],
            "mit": ["mit geradem Schnitt", "mit lockerem Schnitt"],
            "hat": ["einen geraden Schnitt", "einen lockeren Schnitt"],
            "clause": [
                "Es ist gerade und locker geschnitten",
                "Es ist wie eine lange Bluse geschnitten",
                "Es hat einen geraden Schnitt",
            ],
            "compound": ["Hemdblusenkleid", "Blusenkleid"],
        },
    },
    "detail": {
        "belt": {
            "attr": ["gegürtet"],
            "pred": ["gegürtet"],
            "mit": [
                "mit Gürtel",
                "mit einem Gürtel",
                "mit einem {trim:en} Gürtel",
                "mit Taillengürtel",
                "mit {trim:em} Gürtel",
            ],
            "hat": ["einen Gürtel", "einen {trim:en} Gürtel", "einen Gürtel in der Taille"],
            "clause": [
                "In der Taille sitzt ein {trim:er} Gürtel",
                "Um die Taille ist ein Gürtel",
                "Es wird mit einem {trim:en} Gürtel getragen",
                "Der Gürtel ist {trim}",
            ],
        },
        "buttons": {
            "mit": [
                "mit Knöpfen",
                "mit einer Knopfleiste",
                "mit {trim:en} Knöpfen",
                "mit Knopfleiste",
            ],
            "hat": ["Knöpfe", "eine Knopfleiste", "{trim:e} Knöpfe", "kleine Knöpfe"],
            "clause": [
                "Vorne hat es eine Knopfleiste",
                "Vorne sind {trim:e} Knöpfe",
                "Es wird vorne geknöpft",
                "Die Knöpfe sind {trim}",
            ],
        },
        "bow": {
            "mit": [
                "mit einer Schleife",
                "mit einer {trim:en} Schleife",
                "mit Schleife",
                "mit einer Schleife an der Taille",
            ],
            "hat": ["eine Schleife", "eine {trim:e} Schleife", "eine große Schleife"],
            "clause": [
                "An der Taille ist eine Schleife",
                "Eine {trim:e} Schleife ziert die Taille",
                "Vorne ist eine große Schleife",
            ],
        },
        "lace": {
            "pred": ["mit Spitze besetzt"],
            "mit": [
                "mit Spitze",
                "mit Spitzenbesatz",
                "mit Spitzensaum",
                "mit einem Saum aus Spitze",
                "mit Spitzenrand",
            ],
            "hat": ["einen Spitzenbesatz", "einen Spitzensaum", "einen Saum aus Spitze"],
            "clause": [
                "Der Saum ist aus Spitze",
                "Am Saum ist Spitze",
                "Der Saum ist mit Spitze besetzt",
                "Unten ist ein Spitzenbesatz",
            ],
        },
        "pockets": {
            "mit": ["mit Taschen", "mit zwei Taschen", "mit aufgesetzten Taschen"],
            "hat": ["zwei Taschen", "Taschen", "aufgesetzte Taschen", "zwei aufgesetzte Taschen"],
            "clause": [
                "Es hat zwei Taschen",
                "Vorne sind zwei aufgesetzte Taschen",
                "Auf dem Rock sind zwei Taschen",
            ],
        },
        "collar": {
            "mit": [
                "mit Kragen",
                "mit einem Kragen",
                "mit einem {trim:en} Kragen",
                "mit Hemdkragen",
                "mit Bubikragen",
                "mit {trim:em} Kragen",
            ],
            "hat": ["einen Kragen", "einen {trim:en} Kragen", "einen kleinen Kragen"],
            "clause": [
                "Es hat einen Kragen",
                "Der Kragen ist {trim}",
                "Am Hals ist ein {trim:er} Kragen",
            ],
        },
    },
    "style": {  # subjective impressions, not tied to any attribute
        "any": {
            "attr": [
                "schön",
                "elegant",
                "sommerlich",
                "schlicht",
                "hübsch",
                "luftig",
                "festlich",
                "süß",
                "modern",
                "klassisch",
                "feminin",
                "lässig",
                "edel",
                "toll",
            ],
            "pred": [
                "schön",
                "sehr schön",
                "elegant",
                "sommerlich",
                "schlicht",
                "hübsch",
                "luftig",
                "festlich",
                "modern",
                "klassisch",
                "lässig",
            ],
            "clause": [
                "Es wirkt sehr elegant",
                "Es ist perfekt für den Sommer",
                "Es eignet sich gut für den Alltag",
                "Der Stoff wirkt leicht und luftig",
                "Es passt gut zu einer Party",
                "Es ist ideal für besondere Anlässe",
                "Der Stoff sieht hochwertig aus",
                "Es sieht sehr bequem aus",
            ],
            "compound": ["Sommerkleid", "Cocktailkleid", "Abendkleid", "Freizeitkleid"],
        },
    },
}

# Sentence templates, one tuple of sentences each. Slots take the next unused mention that
# has the form: {A:es} one adjective with ending -es, {AA:es} one or two; {P}/{PP} one or two
# predicatives; {MM} one to three "mit" phrases; {HH} one to three objects; {K} a clause,
# {k} a clause after a comma; {N} "Kleid" or a compound; {C} the colour as a noun.
# A slot ending in "?" may stay empty; a template whose other slots cannot be filled is skipped.
TEMPLATES: list[tuple[str, ...]] = [
    ("Das Kleid ist {PP}", "Es hat {HH}"),
    ("Das Kleid ist {P} und hat {HH}",),
    ("Ein {AA:es} {N} {MM?}",),
    ("{AA:es} {N} {MM}",),
    ("Ein {AA:es} {N} {MM}, {k}",),
    ("Ein {AA:es} {N}", "{K}", "{K?}"),
    ("Es handelt sich um ein {AA:es} {N} {MM?}",),
    ("Das {A:e} {N} hat {HH}",),
    ("Das {A:e} {N} ist {P}", "{K?}"),
    ("{N} in {C}, {PP}, {MM}",),
    ("Ein {A:es} {N} in {C} {MM?}",),
    ("Dieses {N} ist {PP}", "{K}"),
    ("Ich sehe ein {AA:es} {N} {MM?}", "{K?}"),
    ("Das Kleid hat {HH}", "Es ist {PP}"),
    ("{K}", "Das Kleid hat {HH}"),
    ("Das {N} ist {P}, {k}",),
    ("Ein {N} in {C}", "{K}", "{K?}"),
    ("{K}", "{K}", "{K?}"),
]
FALLBACK_TEMPLATE = ("{K}",)

# First words of clauses, written in lower case when a clause follows a comma.
CLAUSE_OPENERS = {
    "Es", "Der", "Die", "Das", "Ein", "Eine", "Oben", "Unten", "Vorne", "Ab", "Am", "An", "In",
    "Um", "Auf",
}  # fmt: skip

# How often an annotator mentions each attribute (colour: most of the time).
MENTION_CHANCE = {
    "colour": 0.9, "pattern": 0.8, "plain": 0.2, "sleeves": 0.6, "neckline": 0.5, "hem": 0.6,
    "silhouette": 0.4, "detail": 0.55, "style": 0.35,
}  # fmt: skip
MAX_MENTIONS = 5
COMPOUND_CHANCE = 0.3
LOWER_CASE_CHANCE, NO_UMLAUT_CHANCE, TYPO_CHANCE, NO_FULL_STOP_CHANCE = 0.06, 0.08, 0.12, 0.08
UMLAUT_FREE = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
)

# Which phrase form each template slot takes (by its first letter).
SLOT_FORMS = {
    "A": "attr",
    "P": "pred",
    "M": "mit",
    "H": "hat",
    "K": "clause",
    "k": "clause",
    "C": "noun",
}
SLOT = re.compile(r"\{(AA|A|PP|P|MM|M|HH|H|K|k|N|C)(?::(\w+))?(\?)?\}")
MARKER = re.compile(r"\{([Mm]ain|[Aa]ccent|[Tt]rim)(?::(\w+))?\}")


class MissingSlot(Exception):
    """A template slot that none of the remaining mentions can fill."""


@dataclass
class Mention:
    """One thing an annotator will say: the phrase forms of one attribute value."""

    kind: str  # "colour", "pattern", ... (a key of PHRASES)
    forms: dict[str, list[str]]
    trim: str | None = None  # colour of the detail, for {trim} markers


def inflect(adjective: str, ending: str) -> str:
    """Add a German adjective ending to the last word, unless that word takes none (rosa)."""
    last = adjective.rsplit(" ", 1)[-1]
    return adjective if last in INVARIABLE_ADJECTIVES else adjective + ending


def colour_word(rng: np.random.Generator, colour: str, noun: bool = False) -> str:
    """A German word for a colour: the usual one most of the time, sometimes a synonym."""
    entry = COLOURS[colour]
    words = entry.nouns if noun else entry.adjectives
    return words[0] if len(words) == 1 or rng.random() < 0.75 else _pick(rng, words[1:])


def _resolve(phrase: str, mention: Mention, attributes: Attributes, rng) -> str:
    """Replace colour markers in a phrase by inflected colour words."""

    def replace(match: re.Match) -> str:
        name, ending = match.group(1), match.group(2) or ""
        colour = {"main": attributes.colour, "accent": attributes.accent, "trim": mention.trim}[
            name.lower()
        ]
        if name[0].isupper():
            return colour_word(rng, colour, noun=True)
        return inflect(colour_word(rng, colour), ending)

    return MARKER.sub(replace, phrase)


def choose_mentions(attributes: Attributes, rng: np.random.Generator) -> list[Mention]:
    """What one annotator mentions, in order: usually the colour first, then a random subset."""
    candidates: list[Mention] = []
    chance = MENTION_CHANCE
    pattern_chance = chance["plain"] if attributes.pattern == "plain" else chance["pattern"]
    for kind, value, probability in [
        ("pattern", attributes.pattern, pattern_chance),
        ("sleeves", attributes.sleeves, chance["sleeves"]),
        ("neckline", attributes.neckline, chance["neckline"]),
        ("hem", attributes.hem, chance["hem"]),
        ("silhouette", attributes.silhouette, chance["silhouette"]),
        *[("detail", detail, chance["detail"]) for detail in attributes.details],
        ("style", "any", chance["style"]),
    ]:
        if rng.random() < probability:
            candidates.append(Mention(kind, PHRASES[kind][value], attributes.trims.get(value)))
    order = rng.permutation(len(candidates))
    mentions = [candidates[i] for i in order]
    if rng.random() < chance["colour"] or not mentions:
        colour = Mention("colour", PHRASES["colour"]["any"])
        position = 0 if rng.random() < 0.85 else int(rng.integers(len(mentions) + 1))
        mentions.insert(position, colour)
    return mentions[:MAX_MENTIONS]


def _lower_opener(clause: str) -> str:
    first, _, rest = clause.partition(" ")
    return f"{first.lower()} {rest}" if first in CLAUSE_OPENERS else clause


def _join(parts: list[str], drop_repeated_mit: bool = False) -> str:
    """'a', 'a und b', 'a, b und c'; repeated 'mit' is said once ('mit X und Y')."""
    if drop_repeated_mit:
        parts = [parts[0]] + [
            part[4:] if part.startswith("mit ") and previous.startswith("mit ") else part
            for previous, part in zip(parts, parts[1:], strict=False)
        ]
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " und " + parts[-1]


def fill_template(
    template: tuple[str, ...], mentions: list[Mention], attributes: Attributes, rng
) -> tuple[str, set[int]] | None:
    """Fill a template from the mentions; None when a required slot finds nothing to say."""
    used: set[int] = set()
    colour_for_noun = any("{C}" in sentence for sentence in template)

    def take(form: str, most: int) -> list[str]:
        taken = []
        for index, mention in enumerate(mentions):
            if len(taken) == most:
                break
            if index in used or not mention.forms.get(form):
                continue
            if colour_for_noun and mention.kind == "colour" and form != "noun":
                continue  # the colour is kept for {C}
            used.add(index)
            taken.append(_resolve(_pick(rng, mention.forms[form]), mention, attributes, rng))
        return taken

    def head_noun() -> str:
        if rng.random() < COMPOUND_CHANCE:
            for index, mention in enumerate(mentions):
                if index not in used and mention.forms.get("compound"):
                    used.add(index)
                    return _pick(rng, mention.forms["compound"])
        return "Kleid"

    def fill(match: re.Match) -> str:
        slot, ending, optional = match.group(1), match.group(2), match.group(3)
        many = int(rng.integers(1, 3 if slot in ("AA", "PP") else 4))
        if slot == "N":
            return head_noun()
        form = SLOT_FORMS[slot[0]]
        parts = take(form, many if len(slot) == 2 else 1)
        if not parts:
            if optional:
                return ""
            raise MissingSlot
        if form == "attr":
            parts = [inflect(part, ending) for part in parts]
            return ", ".join(parts) if rng.random() < 0.7 else " und ".join(parts)
        if slot == "k":
            return _lower_opener(parts[0])
        return _join(parts, drop_repeated_mit=form == "mit")

    sentences = []
    try:
        for sentence in template:
            text = re.sub(r"\s+", " ", SLOT.sub(fill, sentence)).strip(" ,")
            if text:
                sentences.append(text[0].upper() + text[1:] + ".")
    except MissingSlot:
        return None
    return " ".join(sentences), used


def add_noise(text: str, rng: np.random.Generator) -> str:
    """Crowd-worker spelling: sometimes all lower case, no umlauts, a typo or no full stop."""
    if rng.random() < LOWER_CASE_CHANCE:
        text = text.lower()
    if rng.random() < NO_UMLAUT_CHANCE:
        text = text.translate(UMLAUT_FREE)
    if rng.random() < TYPO_CHANCE:
        words = list(re.finditer(r"[A-Za-zÄÖÜäöüß]{5,}", text))
        if words:
            word = _pick(rng, words)
            letters, at = word.group(), int(rng.integers(1, len(word.group()) - 1))
            typo = _pick(rng, ("swap", "drop", "double"))
            if typo == "swap":
                changed = letters[:at] + letters[at + 1] + letters[at] + letters[at + 2 :]
            elif typo == "drop":
                changed = letters[:at] + letters[at + 1 :]
            else:
                changed = letters[:at] + letters[at] + letters[at:]
            text = text[: word.start()] + changed + text[word.end() :]
    if rng.random() < NO_FULL_STOP_CHANCE and text.endswith("."):
        text = text[:-1]
    return text


def describe(attributes: Attributes, rng: np.random.Generator) -> str:
    """One annotator's German description (1-3 sentences) of a dress."""
    mentions = choose_mentions(attributes, rng)
    order = [TEMPLATES[i] for i in rng.permutation(len(TEMPLATES))]
    for template in [*order, FALLBACK_TEMPLATE]:
        filled = fill_template(template, mentions, attributes, rng)
        if filled is not None:
            break
    text, used = filled
    unused = [m for i, m in enumerate(mentions) if i not in used and m.forms.get("clause")]
    if unused and text.count(".") < 3 and rng.random() < 0.5:
        extra = _resolve(_pick(rng, unused[0].forms["clause"]), unused[0], attributes, rng)
        text = f"{text} {extra}."
    return add_noise(text, rng)


# --------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------


@dataclass
class SampleItem:
    """Everything generated for one item, including what is never written (the attributes)."""

    item_id: str
    split: str
    attributes: Attributes
    image: Image.Image
    placement: Placement
    descriptions: list[str]


def item_id(index: int) -> str:
    """Item ids count from s00001."""
    return f"s{index + 1:05d}"


def make_item(seed: int, index: int, width: int, height: int) -> SampleItem:
    """Generate item `index`: its attributes, image and five descriptions."""

    def stream(purpose: int) -> np.random.Generator:
        return np.random.default_rng([seed, index, purpose])

    attribute_rng = stream(STREAM_ATTRIBUTES)
    split = str(int(attribute_rng.integers(10)))
    attributes = draw_attributes(attribute_rng)
    image, placement = draw_dress(attributes, width, height, stream(STREAM_DRAWING))
    text_rng = stream(STREAM_TEXT)
    descriptions = [describe(attributes, text_rng) for _ in range(ANNOTATORS)]
    return SampleItem(item_id(index), split, attributes, image, placement, descriptions)


def jpeg_bytes(image: Image.Image) -> bytes:
    """The image as JPEG bytes; the same image always gives the same bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def fetch(params: Params, raw_dir: Path) -> list[dict]:
    """Generate the dataset under `raw_dir`; return the normalised items (with "fold")."""
    raw_dir = Path(raw_dir)
    images_dir = raw_dir / IMAGES_FOLDER
    images_dir.mkdir(parents=True, exist_ok=True)
    records, items = [], []
    for index in tqdm(range(params.items), desc="sample", unit="item"):
        item = make_item(params.seed, index, params.width, params.height)
        file_name = f"{item.item_id}.jpg"
        with atomic_path(images_dir / file_name) as temporary:
            temporary.write_bytes(jpeg_bytes(item.image))
        url = URL_PREFIX + file_name
        records.append({"url": url, "descriptions": item.descriptions, "split": item.split})
        items.append(
            {
                "id": item.item_id,
                "image": f"{IMAGES_FOLDER}/{file_name}",
                "url": url,
                "descriptions": item.descriptions,
                "fold": item.split,
            }
        )
    write_json(raw_dir / DATASET_FILE, records)
    return items
