"""The image cache: every item's image decoded and resized once into a uint8 array on disk.

Training reads pixels from this cache instead of decoding JPEGs every epoch. In a folder:
- `images.npy`: uint8 array (items, height, width, 3), RGB, rows in the order of `ids.json`;
- `ids.json`: the item ids, sorted as in `data/raw/items.json`.
Images are resized to exactly (height, width), as the recipe's `Resize((224, 224))` does.

`write_cache` streams decoded rows straight into the `.npy` file (through the OS page cache),
so its memory does not grow with the number of images; readers map it with
`data.mapped.load_cache`.
"""

from __future__ import annotations

import shutil
from functools import partial
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from pydantic import Field
from tqdm import tqdm

from fashion_tagger.data.images import load_image
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import atomic_path, write_json
from fashion_tagger.params import StrictModel
from fashion_tagger.paths import CACHE_IDS_FILE, CACHE_IMAGES_FILE, PREPARE_DIR

DECODE_CHUNK = 16  # images a decoding process handles per task
HEADER_ROOM = 4096  # bytes, more than any .npy header written here


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


def size_text(size: int) -> str:
    """Bytes as GiB (from 1 GiB) or MiB, for error lines."""
    return f"{size / 2**30:.2f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


def free_memory() -> int | None:
    """Bytes of memory available now (Linux's MemAvailable, which counts reclaimable page
    cache); None where the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            fields = dict(line.split(":", 1) for line in handle)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def check_room(target: Path, size: int, in_flight: int, height: int, width: int) -> None:
    """Fail in one line, before writing, when the `size` bytes of the cache cannot fit on
    `target`'s disk or the `in_flight` decoded images at a time cannot fit in memory."""
    where = f"prepare.height x width = {height} x {width}"
    memory, needed = free_memory(), in_flight * height * width * 3
    if memory is not None and needed > memory:
        raise PipelineError(
            f"{where}: the {in_flight} images decoded at a time take {size_text(needed)} but only "
            f"{size_text(memory)} of memory is free; lower prepare.height and prepare.width"
        )
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if size > free:
        raise PipelineError(
            f"{where}: the image cache {target} needs {size_text(size)} but only "
            f"{size_text(free)} is free on its disk; lower prepare.height and prepare.width or "
            "free some space"
        )


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
    target = directory / CACHE_IMAGES_FILE.name
    in_flight = max(1, workers) * DECODE_CHUNK
    check_room(target, int(np.prod(shape)) + HEADER_ROOM, in_flight, height, width)
    with (
        atomic_path(target) as temporary,
        temporary.open("wb") as handle,
    ):
        np.lib.format.write_array_header_1_0(handle, header)
        for pixels in decoded_images(paths, height, width, workers):
            handle.write(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
    write_json(directory / CACHE_IDS_FILE.name, ids)
    return int(np.prod(shape))
