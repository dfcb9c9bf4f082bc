"""Stage `prepare`: decode and resize every image once into a uint8 array cache.

Training reads pixels from this cache instead of decoding JPEGs every epoch, and augments them
as tensors. Outputs, in `data/prepare/`:
- `images.npy`: uint8 array (items, height, width, 3), RGB, rows in the order of `ids.json`;
- `ids.json`: the item ids, sorted as in `data/raw/items.json`.
Images are resized to exactly (height, width), as the recipe's `Resize((224, 224))` does.

This module also reads the cache back (`load_cache`), alone or aligned with the labels and the
split (`load_labelled_split`), for train, evaluate, similar and the benchmark.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import partial
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydantic import Field
from tqdm import tqdm

from stages.common import (
    PipelineError,
    StrictModel,
    atomic_path,
    read_json,
    read_params,
    run_stage,
    write_json,
)
from stages.items import item_images

PREPARE_DIR = Path("data/prepare")
IMAGES_FILE = PREPARE_DIR / "images.npy"
IDS_FILE = PREPARE_DIR / "ids.json"
LABELS_FILE = Path("data/encode/labels.csv")
CLASSES_FILE = Path("data/encode/classes.json")
SPLIT_FILE = Path("data/split/split.json")


class PrepareParams(StrictModel):
    height: int = Field(gt=0)
    width: int = Field(gt=0)
    workers: int = Field(ge=0)  # decoding processes; 0 decodes in this process


def load_image(path: Path, height: int, width: int) -> np.ndarray:
    """Decode one image to RGB and resize it to (height, width); uint8 array (H, W, 3)."""
    try:
        with Image.open(path) as image:
            # JPEGs: let the decoder skip detail we would throw away (much faster on big photos).
            image.draft("RGB", (width, height))
            image = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except FileNotFoundError:
        raise PipelineError(f"{path}: image not found") from None
    except (UnidentifiedImageError, OSError) as error:
        raise PipelineError(f"{path}: cannot decode image ({error})") from None


def build_cache(paths: list[Path], height: int, width: int, workers: int = 0) -> np.ndarray:
    """Decode and resize all images, in order, with an optional pool of worker processes."""
    cache = np.empty((len(paths), height, width, 3), dtype=np.uint8)
    decode = partial(load_image, height=height, width=width)
    progress = partial(tqdm, total=len(paths), desc="prepare", unit="img")
    if workers > 0:
        with Pool(workers) as pool:
            for index, pixels in enumerate(progress(pool.imap(decode, paths, chunksize=16))):
                cache[index] = pixels
    else:
        for index, path in enumerate(progress(paths)):
            cache[index] = decode(path)
    return cache


def save_cache(images: np.ndarray, ids: list[str], directory: Path = PREPARE_DIR) -> None:
    """Write images.npy and ids.json atomically."""
    with atomic_path(directory / IMAGES_FILE.name) as temporary, temporary.open("wb") as handle:
        np.save(handle, images)
    write_json(directory / IDS_FILE.name, ids)


def load_cache(directory: Path = PREPARE_DIR) -> tuple[list[str], np.ndarray]:
    """The cached item ids and their images (uint8 NHWC, memory-mapped, rows in ids order)."""
    ids = read_json(directory / IDS_FILE.name)
    images_path = directory / IMAGES_FILE.name
    if not images_path.exists():
        raise PipelineError(f"{images_path}: file not found")
    return ids, np.load(images_path, mmap_mode="r")


@dataclass(frozen=True)
class SplitData:
    """One split's images (uint8 NHWC, rows in `ids` order) and 0/1 labels (items x tags)."""

    ids: list[str]
    images: np.ndarray
    labels: np.ndarray


def read_labels(path: Path = LABELS_FILE) -> tuple[list[str], dict[str, np.ndarray]]:
    """labels.csv as (tag columns, id -> 0/1 row)."""
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or header[0] != "id" or len(header) < 2:
            raise PipelineError(f"{path}: expected a header 'id,<tag>,...'")
        rows = {}
        for line, row in enumerate(reader, start=2):
            if len(row) != len(header) or any(value not in ("0", "1") for value in row[1:]):
                raise PipelineError(
                    f"{path}: line {line}: expected an id and {len(header) - 1} 0/1"
                )
            rows[row[0]] = np.array(row[1:], dtype=np.float32)
    return header[1:], rows


def load_labelled_split(
    names: tuple[str, ...] = ("train", "val", "test"), directory: Path = Path(".")
) -> tuple[list[str], dict[str, SplitData]]:
    """The class names and, per split name, its cached images and labels (ids in split order)."""
    classes = read_json(directory / CLASSES_FILE)
    columns, labels = read_labels(directory / LABELS_FILE)
    if columns != classes:
        raise PipelineError(f"{directory / LABELS_FILE}: columns differ from {CLASSES_FILE}")
    split = read_json(directory / SPLIT_FILE)
    cache_ids, images = load_cache(directory / PREPARE_DIR)
    row_of = {item_id: row for row, item_id in enumerate(cache_ids)}
    result = {}
    for name in names:
        ids = split.get(name)
        if not ids:
            raise PipelineError(f"{directory / SPLIT_FILE}: split '{name}' is missing or empty")
        for item_id in ids:
            if item_id not in row_of:
                raise PipelineError(f"{directory / IMAGES_FILE}: no image for item {item_id!r}")
            if item_id not in labels:
                raise PipelineError(f"{directory / LABELS_FILE}: no labels for item {item_id!r}")
        rows = np.array([row_of[item_id] for item_id in ids])
        result[name] = SplitData(
            ids=list(ids),
            images=np.ascontiguousarray(images[rows]),
            labels=np.stack([labels[item_id] for item_id in ids]),
        )
    return classes, result


def main() -> None:
    params = read_params("prepare", PrepareParams)
    paths = item_images()
    images = build_cache(list(paths.values()), params.height, params.width, params.workers)
    save_cache(images, list(paths))
    size_mb = images.nbytes / 2**20
    print(
        f"prepare: {len(paths)} images at {params.height}x{params.width} -> {IMAGES_FILE} "
        f"({size_mb:.1f} MiB)"
    )


if __name__ == "__main__":
    run_stage(main)
