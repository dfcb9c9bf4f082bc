"""Peak memory of `prepare` and of one training epoch's data path on a large generated cache.

Part 1 runs prepare's `write_cache` over --images JPEG paths (a few distinct random-pixel
JPEGs, repeated: decoding cost and memory are those of distinct files) at --size pixels square
with --workers decoding processes. Part 2 runs one epoch of the training data path over the
resulting cache (memory-mapped): BatchLoader (shuffled, batch --batch) -> CPU device ->
batched default augmentations. Each part runs in its own process; the figures are its peak
resident set size (and the decoding processes' largest). The cache goes under --dir (default
/tmp) and is deleted at the end. Run from the repo root:

    python -m benchmarks.bench_memory [--images 100000] [--size 224]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.bench_train import DEFAULT_AUGMENT, TAGS, augmented_passes
from fashion_tagger.data.cache import write_cache
from fashion_tagger.data.dataset import SplitData
from fashion_tagger.data.mapped import load_cache
from fashion_tagger.model.augment import AugmentParams

DISTINCT_FILES = 32


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024


def prepare_part(folder: Path, images: int, size: int, workers: int) -> None:
    """Decode `images` JPEG paths into folder/cache with prepare's code; print peak RSS."""
    rng = np.random.default_rng(0)
    files = []
    for index in range(DISTINCT_FILES):
        path = folder / f"{index}.jpg"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
        files.append(path)
    paths = [files[index % DISTINCT_FILES] for index in range(images)]
    start = time.perf_counter()
    written = write_cache(
        paths, [str(i) for i in range(images)], size, size, folder / "cache", workers
    )
    seconds = time.perf_counter() - start
    print(
        f"prepare: {images} images at {size}x{size} ({written / 2**30:.1f} GiB) in {seconds:.0f} s "
        f"({images / seconds:.0f} images/s), {workers} workers: peak RSS "
        f"{peak_rss_mib():.0f} MiB (main), {peak_rss_mib(resource.RUSAGE_CHILDREN):.0f} MiB "
        "(largest decoding process)"
    )


def epoch_part(folder: Path, batch: int, workers: int, limit: int | None) -> None:
    """One shuffled epoch (its first `limit` batches when given) of the data path over the
    memory-mapped cache; print peak RSS."""
    ids, cache = load_cache(folder / "cache")
    labels = (np.random.default_rng(1).random((len(ids), TAGS)) < 0.2).astype(np.float32)
    split = SplitData(ids, cache, np.arange(len(ids)), labels)
    augment = AugmentParams.model_validate(DEFAULT_AUGMENT)
    one_pass = augmented_passes(split, batch, augment, workers, torch.device("cpu"))
    start, seen = time.perf_counter(), 0
    for index, (images, _) in enumerate(one_pass()):
        seen += len(images)
        if limit is not None and index + 1 >= limit:
            break
    seconds = time.perf_counter() - start
    print(
        f"epoch data path: {seen} of {len(ids)} images, batch {batch}, {workers} loader threads, "
        "in "
        f"{seconds:.0f} s ({seen / seconds:.0f} images/s): peak RSS {peak_rss_mib():.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2, help="decoding processes")
    parser.add_argument("--loader-workers", type=int, default=1, help="batch threads")
    parser.add_argument("--epoch-batches", type=int, help="stop the epoch after N batches")
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--part", choices=("prepare", "epoch"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part == "prepare":
        prepare_part(Path(args.folder), args.images, args.size, args.workers)
        return
    if args.part == "epoch":
        epoch_part(Path(args.folder), args.batch, args.loader_workers, args.epoch_batches)
        return
    needed = args.images * args.size * args.size * 3
    free = shutil.disk_usage(args.dir).free
    if needed > free * 0.8:
        sys.exit(f"--dir {args.dir}: {needed / 2**30:.1f} GiB needed, {free / 2**30:.1f} free")
    folder = Path(tempfile.mkdtemp(prefix="bench_memory_", dir=args.dir))
    try:
        for part in ("prepare", "epoch"):
            subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_memory", *sys.argv[1:]]
                + ["--part", part, "--folder", str(folder)],
                check=True,
            )
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
