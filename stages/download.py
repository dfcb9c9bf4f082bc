"""Stage `download`: fetch or generate the raw dataset and write the normalised items file.

Every source writes the same layout (see `stages.items`): `data/raw/items.json` and the
images it points to under `data/raw/images/`, so later stages never know which source ran.
"""

from __future__ import annotations

import shutil
from typing import Literal

from stages.common import StrictModel, read_params, run_stage
from stages.items import IMAGES_DIR, ITEMS_FILE, RAW_DIR, write_items
from stages.sources import feidegger, labelled, sample


class DownloadParams(StrictModel):
    source: Literal["sample", "feidegger", "labelled"]
    sample: sample.Params
    feidegger: feidegger.Params
    labelled: labelled.Params


SOURCES = {"sample": sample, "feidegger": feidegger, "labelled": labelled}


def main() -> None:
    params = read_params("download", DownloadParams)
    source = SOURCES[params.source]
    # start from an empty images folder so it holds exactly this run's images, whatever ran before
    shutil.rmtree(IMAGES_DIR, ignore_errors=True)
    items = source.fetch(getattr(params, params.source), RAW_DIR)
    write_items(ITEMS_FILE, items)
    print(f"download: {len(items)} items from source '{params.source}' -> {ITEMS_FILE}")


if __name__ == "__main__":
    run_stage(main)
