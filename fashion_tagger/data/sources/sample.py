"""Source `sample`: an embedded, synthetic, deterministic stand-in for FEIDEGGER.

FEIDEGGER holds dress photos on a white background, each described in German by five crowd
workers. This source makes the same thing offline: for every item it draws hidden visual
attributes (silhouette, colour, pattern, sleeves, neckline, hem length, details) with a seeded
random generator, paints a dress that SHOWS them (PIL, white background, portrait), and lets
five simulated annotators describe it in German, each mentioning a random subset, with
synonyms, subjective words and occasional sloppy spelling. The attributes themselves are never
written out: as with the real data, labels can only come from the text.

Output under `raw_dir`: `feidegger.json` in FEIDEGGER's exact format (a list of
{"url", "descriptions": [5 German str], "split": "0".."9"}), the JPEGs under `images/`, and
`true_tags.json`, each item's tags that are true of its image (see `sample_truth`).
`fetch` returns the normalised items (see `data.items`) with an extra "fold" (the split).

Every random draw comes from a generator seeded with (seed, item index, purpose), so the same
params give byte-identical files, and item k is the same whatever the number of items.

The work is split by job: `sample_attributes` draws what a dress looks like, `sample_painting`
paints it and `sample_text` writes its German descriptions (word material in `resources/`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import Field, model_validator
from tqdm import tqdm

from fashion_tagger.data.sources.sample_attributes import Attributes, draw_attributes
from fashion_tagger.data.sources.sample_painting import Placement, draw_dress
from fashion_tagger.data.sources.sample_text import Description, describe
from fashion_tagger.data.sources.sample_truth import read_claims, write_true_tags
from fashion_tagger.io import atomic_path, write_json
from fashion_tagger.params import StrictModel
from fashion_tagger.paths import TRUE_TAGS_FILE

DATASET_FILE = "feidegger.json"
IMAGES_FOLDER = "images"
URL_PREFIX = "https://sample.invalid/images/"
ANNOTATORS = 5
JPEG_QUALITY = 90

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


def item_stream(seed: int, index: int, purpose: int) -> np.random.Generator:
    """The random stream of one purpose (STREAM_*) of item `index`."""
    return np.random.default_rng([seed, index, purpose])


def draw_item_attributes(seed: int, index: int) -> tuple[str, Attributes]:
    """Item `index`'s split digit and hidden attributes, from its attribute stream."""
    rng = item_stream(seed, index, STREAM_ATTRIBUTES)
    split = str(int(rng.integers(10)))
    return split, draw_attributes(rng)


def describe_item(seed: int, index: int, attributes: Attributes) -> list[Description]:
    """The annotators' descriptions of item `index`, and what each states (its text stream)."""
    rng = item_stream(seed, index, STREAM_TEXT)
    return [describe(attributes, rng) for _ in range(ANNOTATORS)]


def make_item(seed: int, index: int, width: int, height: int) -> SampleItem:
    """Generate item `index`: its attributes, image and five descriptions."""
    split, attributes = draw_item_attributes(seed, index)
    drawing = item_stream(seed, index, STREAM_DRAWING)
    image, placement = draw_dress(attributes, width, height, drawing)
    descriptions = [d.text for d in describe_item(seed, index, attributes)]
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
    records, items, drawn = [], [], {}
    for index in tqdm(range(params.items), desc="sample", unit="item"):
        item = make_item(params.seed, index, params.width, params.height)
        file_name = f"{item.item_id}.jpg"
        with atomic_path(images_dir / file_name) as temporary:
            temporary.write_bytes(jpeg_bytes(item.image))
        url = URL_PREFIX + file_name
        drawn[item.item_id] = item.attributes
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
    write_true_tags(raw_dir / TRUE_TAGS_FILE.name, drawn, read_claims())
    return items
