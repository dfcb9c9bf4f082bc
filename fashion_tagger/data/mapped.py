"""The image cache read back memory-mapped, and keeping a long reader's resident memory bounded.

Kept apart from `data.cache` (prepare's writer) so that the stages that only read the cache,
and inference, do not depend on prepare's decoding code.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np

from fashion_tagger.errors import PipelineError
from fashion_tagger.io import read_json
from fashion_tagger.paths import CACHE_IDS_FILE, CACHE_IMAGES_FILE, PREPARE_DIR

RELEASE_BYTES = 128 * 2**20  # cache bytes a reader maps between two hand-backs of pages


def release_interval(batch_bytes: int) -> int:
    """After how many batches of `batch_bytes` a reader hands its mapped pages back."""
    return max(1, RELEASE_BYTES // max(1, batch_bytes))


def release_pages(images: np.ndarray) -> None:
    """Unmap the pages of a memory-mapped array from this process (they stay in the OS page
    cache); later reads fault them back in. Arrays in memory are left alone."""
    base = images
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if base is not None:
        base.madvise(mmap.MADV_DONTNEED)


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
