"""The image cache: every item's image decoded and resized once into a uint8 array.

Training reads pixels from this cache instead of decoding JPEGs every epoch. In a folder:
- `images.npy`: uint8 array (items, height, width, 3), RGB, rows in the order of `ids.json`;
- `ids.json`: the item ids, sorted as in `data/raw/items.json`.
Images are resized to exactly (height, width), as the recipe's `Resize((224, 224))` does.
"""

from __future__ import annotations

from functools import partial
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from pydantic import Field
from tqdm import tqdm

from fashion_tagger.data.images import load_image
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import atomic_path, read_json, write_json
from fashion_tagger.params import StrictModel
from fashion_tagger.paths import CACHE_IDS_FILE, CACHE_IMAGES_FILE, PREPARE_DIR


class PrepareParams(StrictModel):
    height: int = Field(gt=0)
    width: int = Field(gt=0)


class PrepareRuntime(StrictModel):
    workers: int = Field(ge=0)  # decoding processes; 0 decodes in this process


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
    with (
        atomic_path(directory / CACHE_IMAGES_FILE.name) as temporary,
        temporary.open("wb") as handle,
    ):
        np.save(handle, images)
    write_json(directory / CACHE_IDS_FILE.name, ids)


def load_cache(directory: Path = PREPARE_DIR) -> tuple[list[str], np.ndarray]:
    """The cached item ids and their images (uint8 NHWC, memory-mapped, rows in ids order)."""
    ids = read_json(directory / CACHE_IDS_FILE.name)
    images_path = directory / CACHE_IMAGES_FILE.name
    if not images_path.exists():
        raise PipelineError(f"{images_path}: file not found")
    return ids, np.load(images_path, mmap_mode="r")
