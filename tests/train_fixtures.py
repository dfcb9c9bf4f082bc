"""Tiny inputs for the prepare/train/evaluate tests, in the formats the earlier stages write.

Images are small coloured "dresses" whose tags follow from the pixels (red or blue body,
stripes), so a model can learn them in a few epochs.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

from fashion_tagger.data.cache import write_cache
from fashion_tagger.data.items import write_items

CLASSES = ["blue", "dress", "red", "striped"]
HEIGHT, WIDTH = 32, 24
REPO = Path(__file__).resolve().parents[1]
# A small torchvision backbone from scratch: these tests check the pipeline, not accuracy.
TINY_BACKBONE = "mobilenet_v3_small"
TINY_FEATURES = 1024  # its pooled features (the embeddings)


def merged(base: dict, changes: dict) -> dict:
    """`base` with `changes` applied, nested sections merged key by key."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict) and value:
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


# params.yaml with what makes the stages quick on tiny images: a small backbone from scratch,
# few epochs, everything on the CPU in the test's own process.
TINY_PARAMS = merged(
    yaml.safe_load((REPO / "params.yaml").read_text()),
    {
        "prepare": {"height": HEIGHT, "width": WIDTH},
        "train": {
            "backbone": TINY_BACKBONE,
            "pretrained": False,
            "lr": 0.003,
            "schedule": "constant",
            "batch_size": 8,
            "epochs": 2,
            "seed": 1,
            "min_val_positives": 2,
            "label_groups": False,
            "unmentioned_weight": 1.0,
        },
        "evaluate": {
            "pr_points": 20,
            "gallery_size": 5,
            "tta": False,
            "label_issue_items": 4,
        },
        "similar": {"queries": 3, "neighbours": 4},
        "runtime": {
            "prepare": {"workers": 0},
            "train": {"device": "cpu", "workers": 0},
            "evaluate": {"batch_size": 16, "device": "cpu"},
            "similar": {"batch_size": 16, "device": "cpu"},
        },
    },
)


def draw_item(red: bool, striped: bool) -> Image.Image:
    """A 48x64 white picture with a red or blue trapezoid, optionally striped."""
    image = Image.new("RGB", (48, 64), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    colour = (200, 30, 40) if red else (30, 60, 190)
    draw.polygon([(18, 8), (30, 8), (40, 58), (8, 58)], fill=colour)
    if striped:
        for y in range(12, 58, 6):
            draw.line([(8, y), (40, y)], fill=(255, 255, 255), width=2)
    return image


def write_inputs(root: Path, items: int = 48, params: dict | None = None) -> dict:
    """data/raw, data/encode, data/split, data/prepare and params.yaml under `root`.

    Splits: half train, a quarter val, a quarter test. Returns (a copy of) the params written.
    """
    rng = np.random.default_rng(0)
    images_dir = root / "data/raw/images"
    images_dir.mkdir(parents=True)
    records, rows = [], []
    for index in range(items):
        item_id = f"t{index:03d}"
        red, striped = bool(index % 2), bool(rng.random() < 0.5)
        draw_item(red, striped).save(images_dir / f"{item_id}.jpg", quality=95)
        records.append(
            {
                "id": item_id,
                "image": f"images/{item_id}.jpg",
                "url": f"https://example.invalid/{item_id}.jpg",
                "descriptions": ["Ein Kleid."],
            }
        )
        tags = {"dress", "red" if red else "blue"} | ({"striped"} if striped else set())
        rows.append([item_id, *(int(tag in tags) for tag in CLASSES)])
    write_items(root / "data/raw/items.json", records)

    (root / "data/encode").mkdir(parents=True)
    with (root / "data/encode/labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *CLASSES])
        writer.writerows(rows)
    (root / "data/encode/classes.json").write_text(json.dumps(CLASSES))

    ids = [row[0] for row in rows]
    half, quarter = items // 2, items // 4
    split = {"train": ids[:half], "val": ids[half : half + quarter], "test": ids[half + quarter :]}
    (root / "data/split").mkdir(parents=True)
    (root / "data/split/split.json").write_text(json.dumps(split))

    paths = [root / "data/raw" / record["image"] for record in records]
    write_cache(paths, ids, HEIGHT, WIDTH, root / "data/prepare")

    params = copy.deepcopy(params or TINY_PARAMS)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return params
