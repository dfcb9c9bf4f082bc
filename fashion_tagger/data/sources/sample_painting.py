"""The sample source's pictures: a dress that shows its attributes, on a white portrait canvas.

The dress is laid out in figure units (x 0..1, y 0..1.5, centre x 0.5), then placed on the
canvas with a small random zoom and shift, drawn at twice the size and reduced (smooth edges).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fashion_tagger.data.sources.sample_attributes import COLOURS, Attributes, luminance

SUPERSAMPLING = 2  # images are drawn at twice the size and reduced, for smooth edges

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
    if luminance(rgb) < 50:
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
