"""Stage `download`: fetch or generate the raw dataset and write the normalised items file.

Every source writes the same layout (see `fashion_tagger.data.items`): `data/raw/items.json`
and the images it points to under `data/raw/images/`, so later stages never know which source
ran. The labelled source reads only from `labelled/` (a dep of this stage, its folders tracked
with `dvc add`), so editing the CSV or an image re-runs the pipeline from here.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Literal

from fashion_tagger.data.items import write_items
from fashion_tagger.data.sources import feidegger, labelled, sample
from fashion_tagger.errors import PipelineError, run_stage
from fashion_tagger.params import StrictModel, read_params
from fashion_tagger.paths import (
    IMAGES_DIR,
    ITEMS_FILE,
    LABELLED_DIR,
    OLD_LABELLED_DIR,
    RAW_DIR,
)


class DownloadParams(StrictModel):
    source: Literal["sample", "feidegger", "labelled"]
    sample: sample.Params
    feidegger: feidegger.Params
    labelled: labelled.Params


def check_old_layout() -> None:
    """Data left in data/labelled/ (the earlier place) is invisible to DVC, since git ignores
    data/: `dvc checkout` and `dvc exp run` would delete it. Name the command that moves it."""
    names = sorted(path.name for path in OLD_LABELLED_DIR.glob("*") if path.name != "README.md")
    if names:
        sources = " ".join(shlex.quote(f"{OLD_LABELLED_DIR.as_posix()}/{name}") for name in names)
        raise PipelineError(
            f"{OLD_LABELLED_DIR}/ holds labelled data ({', '.join(names)}) where DVC cannot "
            f"track it (git ignores data/); move it with `mv {sources} {LABELLED_DIR}/` and "
            f"point download.labelled.csv into {LABELLED_DIR}/ (see {LABELLED_DIR}/README.md)"
        )


def check_labelled_paths(params: labelled.Params) -> None:
    """The labelled data must live in labelled/, the folder DVC tracks as this stage's dep."""
    check_old_layout()
    root = LABELLED_DIR.resolve()
    for name, value in (("csv", params.csv), ("images_dir", params.images_dir)):
        if value is not None and not Path(value).resolve().is_relative_to(root):
            raise PipelineError(
                f"param download.labelled.{name}: {value} is outside {LABELLED_DIR}/, the "
                f"folder DVC tracks for this stage (see {LABELLED_DIR}/README.md)"
            )


def fetch_items(params: DownloadParams) -> list[dict]:
    """Run the chosen source into data/raw; its normalised items.

    The images folder must hold exactly this run's images, whatever ran before, but it is
    emptied only once the source has been checked (labelled and feidegger empty it themselves
    after reading their CSV or release JSON), so a bad source leaves the last good data alone.
    """
    if params.source == "labelled":
        check_labelled_paths(params.labelled)
        return labelled.fetch(params.labelled, RAW_DIR)
    if params.source == "feidegger":
        runtime = read_params("runtime.download", feidegger.Runtime)
        return feidegger.fetch(params.feidegger, RAW_DIR, runtime)
    shutil.rmtree(IMAGES_DIR, ignore_errors=True)  # sample: its params are its only input
    return sample.fetch(params.sample, RAW_DIR)


def main() -> None:
    params = read_params("download", DownloadParams)
    items = fetch_items(params)
    write_items(ITEMS_FILE, items)
    print(f"download: {len(items)} items from source '{params.source}' -> {ITEMS_FILE}")


if __name__ == "__main__":
    run_stage(main)
