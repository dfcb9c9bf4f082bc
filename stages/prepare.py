"""Stage `prepare`: decode and resize every image once into the uint8 cache `data/prepare/`."""

from __future__ import annotations

from fashion_tagger.data.cache import PrepareParams, PrepareRuntime, write_cache
from fashion_tagger.data.items import item_images
from fashion_tagger.errors import run_stage
from fashion_tagger.params import read_params
from fashion_tagger.paths import CACHE_IMAGES_FILE


def main() -> None:
    params = read_params("prepare", PrepareParams)
    runtime = read_params("runtime.prepare", PrepareRuntime)
    paths = item_images()
    size = write_cache(
        list(paths.values()), list(paths), params.height, params.width, workers=runtime.workers
    )
    print(
        f"prepare: {len(paths)} images at {params.height}x{params.width} -> {CACHE_IMAGES_FILE} "
        f"({size / 2**20:.1f} MiB)"
    )


if __name__ == "__main__":
    run_stage(main)
