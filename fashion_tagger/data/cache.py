"""The image cache: every item's image decoded and resized once into a uint8 array on disk.

Training reads pixels from this cache instead of decoding JPEGs every epoch. In a folder:
- `images.npy`: uint8 array (items, height, width, 3), RGB, rows in the order of `ids.json`;
- `ids.json`: the item ids, sorted as in `data/raw/items.json`.
Images are resized to exactly (height, width), as the recipe's `Resize((224, 224))` does.

`write_cache` streams decoded rows straight into the `.npy` file (through the OS page cache),
so its memory does not grow with the number of images; `load_cache` maps the file read-only
(`data.mapped.release_pages` keeps a long reader's resident memory bounded).
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

DECODE_CHUNK = 16  # images a decoding process handles per task


class PrepareParams(StrictModel):
    height: int = Field(gt=0)
    width: int = Field(gt=0)


class PrepareRuntime(StrictModel):
    workers: int = Field(ge=0)  # decoding processes; 0 decodes in this process


def decoded_images(paths: list[Path], height: int, width: int, workers: int = 0):
    """Yield each image decoded and resized, in order, from a pool of `workers` processes."""
    decode = partial(load_image, height=height, width=width)
    progress = partial(tqdm, total=len(paths), desc="prepare", unit="img")
    if workers > 0:
        with Pool(workers) as pool:
            yield from progress(pool.imap(decode, paths, chunksize=DECODE_CHUNK))
    else:
        yield from progress(map(decode, paths))


def write_cache(
    paths: list[Path],
    ids: list[str],
    height: int,
    width: int,
    directory: Path = PREPARE_DIR,
    workers: int = 0,
) -> int:
    """Decode `paths` into `directory`/images.npy row by row (atomically), and write ids.json;
    returns the size of the pixel data in bytes."""
    shape = (len(paths), height, width, 3)
    header = {"descr": np.dtype(np.uint8).str, "fortran_order": False, "shape": shape}
    with (
        atomic_path(directory / CACHE_IMAGES_FILE.name) as temporary,
        temporary.open("wb") as handle,
    ):
        np.lib.format.write_array_header_1_0(handle, header)
        for pixels in decoded_images(paths, height, width, workers):
            handle.write(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
    write_json(directory / CACHE_IDS_FILE.name, ids)
    return int(np.prod(shape))


def load_cache(directory: Path = PREPARE_DIR) -> tuple[list[str], np.ndarray]:
    """The cached item ids and their images (uint8 NHWC, memory-mapped, rows in ids order)."""
    ids = read_json(directory / CACHE_IDS_FILE.name)
    images_path = directory / CACHE_IMAGES_FILE.name
    if not images_path.exists():
        raise PipelineError(f"{images_path}: file not found")
    images = np.load(images_path, mmap_mode="r")
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(ids):
        raise PipelineError(
            f"{images_path}: expected uint8 (items, height, width, 3) for {len(ids)} ids, "
            f"found {images.dtype} {images.shape}; re-run prepare"
        )
    return ids, images
