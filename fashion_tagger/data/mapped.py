"""Memory-mapped arrays: keeping a long reader's resident memory bounded.

Kept apart from `data.cache` so that inference (and the MLflow model that ships it) does not
pull in prepare's decoding and progress-bar dependencies.
"""

from __future__ import annotations

import mmap

import numpy as np

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
