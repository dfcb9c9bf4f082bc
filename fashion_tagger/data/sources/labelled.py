"""Source `labelled`: a user's own images with given tags, listed in a CSV.

The CSV has a header with an image column and a tags column (`image,tags` by default; set
`image_column: image_name` for a Planet-style `labels.csv`). Tags are separated by spaces
and/or commas. Image paths are relative to `images_dir`, which defaults to the CSV's own
folder; `image_suffix` is appended to each (e.g. ".jpg" where the CSV lists bare names).
Each image is verified (decodes, not too small, not a decompression bomb) and copied to
`raw_dir/images/<same relative path>`. Items get "descriptions": [] and "tags": [...], so the
tag extraction stages pass them through. `attributes` names single-choice columns (Fashion
Product Images' gender, articleType, baseColour): items then carry "attributes": {column:
value}, which encode turns into one softmax head each. A missing file, an unreadable image,
an empty tag list or attribute, or a path leaving the images folder is a one-line error naming
the CSV line.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from pydantic import Field
from tqdm import tqdm

from fashion_tagger.data.images import ImageError, verify_image
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import atomic_path
from fashion_tagger.params import StrictModel

TAG_SEPARATORS = re.compile(r"[,\s]+")


class Params(StrictModel):
    """Params of the `labelled` source (params.yaml: download.labelled)."""

    csv: str = "data/labelled/labels.csv"
    images_dir: str | None = None  # null: the folder holding the CSV
    image_column: str = "image"
    tags_column: str = "tags"
    attributes: list[str] = []  # single-choice columns (e.g. gender, articleType), one head each
    image_suffix: str = ""  # appended to every image path, e.g. ".jpg"
    min_side: int = Field(default=32, ge=1)
    max_pixels: int = Field(default=40_000_000, ge=1)


def parse_tags(text: str) -> list[str]:
    """Tags from a space- and/or comma-separated cell, in order, without repeats."""
    return list(dict.fromkeys(tag for tag in TAG_SEPARATORS.split(text) if tag))


def parse_attributes(row: dict, names: list[str], where: str) -> dict[str, str]:
    """The row's single-choice attribute values by column name; an empty cell is an error."""
    values = {}
    for name in names:
        value = (row.get(name) or "").strip()
        if not value:
            raise PipelineError(f"{where}: empty attribute '{name}'")
        values[name] = value
    return values


def resolve_inside(folder: Path, relative: str) -> Path:
    """`folder / relative`, resolved; a ValueError if it would leave `folder`."""
    root = folder.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ValueError("path leaves the images folder")
    return path


def read_rows(params: Params) -> list[tuple[int, str, list[str], dict[str, str]]]:
    """(CSV line number, image path, tags, attributes) for every row, checking columns and
    tags."""
    csv_path = Path(params.csv)
    if not csv_path.is_file():
        raise PipelineError(f"{csv_path}: file not found")
    rows = []
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for column in (params.image_column, params.tags_column, *params.attributes):
            if column not in (reader.fieldnames or []):
                raise PipelineError(
                    f"{csv_path}: missing column '{column}' (header: {reader.fieldnames})"
                )
        for row in reader:
            where = f"{csv_path}: line {reader.line_num}"
            image = (row[params.image_column] or "").strip()
            if not image:
                raise PipelineError(f"{where}: empty image path")
            tags = parse_tags(row[params.tags_column] or "")
            if not tags:
                raise PipelineError(f"{where}: {image}: no tags")
            attributes = parse_attributes(row, params.attributes, f"{where}: {image}")
            rows.append((reader.line_num, image + params.image_suffix, tags, attributes))
    if not rows:
        raise PipelineError(f"{csv_path}: no rows")
    return rows


def fetch(params: Params, raw_dir: Path) -> list[dict]:
    """Verify and copy the listed images into raw_dir/images; return normalised items."""
    csv_path = Path(params.csv)
    rows = read_rows(params)
    images_dir = Path(params.images_dir) if params.images_dir is not None else csv_path.parent
    if not images_dir.is_dir():
        raise PipelineError(f"download.labelled.images_dir: {images_dir}: folder not found")
    root = images_dir.resolve()
    width = max(5, len(str(len(rows) - 1)))
    items = []
    progress = tqdm(rows, desc="labelled images", unit="img")
    for index, (line, image, tags, attributes) in enumerate(progress):
        where = f"{csv_path}: line {line}: {image}"
        try:
            source = resolve_inside(root, image)
        except ValueError as error:
            raise PipelineError(f"{where}: {error}") from None
        if not source.is_file():
            raise PipelineError(f"{where}: image file not found in {images_dir}")
        data = source.read_bytes()
        try:
            verify_image(data, params.min_side, params.max_pixels)
        except ImageError as error:
            raise PipelineError(f"{where}: {error}") from None
        relative = source.relative_to(root).as_posix()
        with atomic_path(raw_dir / "images" / relative) as temporary:
            temporary.write_bytes(data)
        item = {
            "id": f"l{index:0{width}d}",
            "image": f"images/{relative}",
            "url": image,
            "descriptions": [],
            "tags": tags,
        }
        items.append(item | ({"attributes": attributes} if attributes else {}))
    return items
