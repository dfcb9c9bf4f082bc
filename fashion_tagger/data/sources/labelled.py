"""Source `labelled`: a user's own images with given tags, listed in a CSV.

The CSV is UTF-8 with a header of exactly an image column, a tags column (`image,tags` by
default; set `image_column: image_name` for a Planet-style `labels.csv`) and the `attributes`
columns, single-choice labels such as Fashion Product Images' gender, articleType, baseColour
(items then carry "attributes": {column: value}, which encode turns into one softmax head each).
Tags are separated by spaces and/or commas, and case-folded (`Red` and `RED` are one tag); a
tag list with commas must be quoted (`a.jpg,"red,long"`), since a row with more fields than
the header is an error, as is any other column and an image listed twice. Image paths are
relative to `images_dir`, which defaults to the CSV's own folder; `image_suffix` is appended
to each (e.g. ".jpg" where the CSV lists bare names).
Each image is verified (decodes, not too small, not a decompression bomb) and copied to
`raw_dir/images/<same relative path>`. Items get "descriptions": [] and "tags": [...], so the
tag extraction stages pass them through. A missing file, an unreadable image, an empty tag
list or a path leaving the images folder is a one-line error naming the CSV line.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from pydantic import Field
from tqdm import tqdm

from fashion_tagger.data.images import ImageError, verify_image
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import atomic_folder
from fashion_tagger.params import StrictModel

TAG_SEPARATORS = re.compile(r"[,\s]+")


class Params(StrictModel):
    """Params of the `labelled` source (params.yaml: download.labelled)."""

    csv: str = "labelled/labels.csv"
    images_dir: str | None = None  # null: the folder holding the CSV
    image_column: str = "image"
    tags_column: str = "tags"
    attributes: list[str] = []  # single-choice columns (e.g. gender, articleType), one head each
    image_suffix: str = ""  # appended to every image path, e.g. ".jpg"
    min_side: int = Field(default=32, ge=1)
    max_pixels: int = Field(default=40_000_000, ge=1)


def parse_tags(text: str) -> list[str]:
    """Tags from a space- and/or comma-separated cell, case-folded, in order, without repeats."""
    return list(dict.fromkeys(tag.casefold() for tag in TAG_SEPARATORS.split(text) if tag))


def parse_attributes(fields: dict[str, str], where: str) -> dict[str, str]:
    """The row's single-choice attribute values by column name; an empty cell is an error."""
    values = {}
    for name, text in fields.items():
        if not text.strip():
            raise PipelineError(f"{where}: empty attribute '{name}'")
        values[name] = text.strip()
    return values


def resolve_inside(folder: Path, relative: str) -> Path:
    """`folder / relative`, resolved; a ValueError if it would leave `folder`."""
    root = folder.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ValueError("path leaves the images folder")
    return path


def check_header(header: list[str], params: Params, csv_path: Path) -> tuple[int, int]:
    """Positions of the image and tags columns; a missing declared column (image, tags,
    attributes) or any other column is an error."""
    declared = [params.image_column, params.tags_column, *params.attributes]
    for column in declared:
        if column not in header:
            raise PipelineError(f"{csv_path}: missing column '{column}' (header: {header})")
    extra = [column for column in header if column not in declared]
    if extra or len(header) != len(declared):
        raise PipelineError(
            f"{csv_path}: unexpected column(s) {extra or header} (header: {header}); the CSV "
            f"holds exactly {declared} (download.labelled: image_column, tags_column, "
            "attributes)"
        )
    return header.index(params.image_column), header.index(params.tags_column)


def read_csv_lines(csv_path: Path) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank CSV record, header first; UTF-8 only."""
    if not csv_path.is_file():
        raise PipelineError(f"{csv_path}: file not found")
    try:
        with csv_path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            return [(reader.line_num, fields) for fields in reader if fields]
    except UnicodeDecodeError as error:
        raise PipelineError(
            f"{csv_path}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset "
            f"{error.start}); save the CSV as UTF-8"
        ) from None
    except csv.Error as error:
        raise PipelineError(f"{csv_path}: not a readable CSV ({error})") from None


def read_rows(params: Params) -> list[tuple[int, str, list[str], dict[str, str]]]:
    """(CSV line number, image path, tags, attributes) for every row, checking columns, fields,
    tags and attributes.

    A row with more fields than the header is an error rather than extra tags: an unquoted
    comma-separated tag list (`a.jpg,red,long,dress`) must be quoted (`a.jpg,"red,long,dress"`)
    or space-separated, so no tag is ever dropped or guessed.
    """
    csv_path = Path(params.csv)
    lines = read_csv_lines(csv_path)
    if not lines:
        raise PipelineError(f"{csv_path}: empty file (expected a header)")
    (_, header), records = lines[0], lines[1:]
    header = [name.strip() for name in header]
    image_at, tags_at = check_header(header, params, csv_path)
    attribute_at = {name: header.index(name) for name in params.attributes}
    rows = []
    for line, fields in records:
        where = f"{csv_path}: line {line}"
        if len(fields) != len(header):
            raise PipelineError(
                f"{where}: {len(fields)} fields, the header has {len(header)}; quote a tag "
                'list that contains commas ("red,long,dress") or separate tags by spaces'
            )
        image = fields[image_at].strip()
        if not image:
            raise PipelineError(f"{where}: empty image path")
        tags = parse_tags(fields[tags_at])
        if not tags:
            raise PipelineError(f"{where}: {image}: no tags")
        cells = {name: fields[position] for name, position in attribute_at.items()}
        attributes = parse_attributes(cells, f"{where}: {image}")
        rows.append((line, image + params.image_suffix, tags, attributes))
    if not rows:
        raise PipelineError(f"{csv_path}: no rows")
    return rows


def locate_images(
    rows: list[tuple[int, str, list[str], dict[str, str]]], images_dir: Path, csv_path: Path
) -> list[Path]:
    """Each row's image file, resolved inside `images_dir`; missing or repeated ones are errors."""
    root = images_dir.resolve()
    line_of: dict[Path, int] = {}
    sources = []
    for line, image, *_ in rows:
        where = f"{csv_path}: line {line}: {image}"
        try:
            source = resolve_inside(root, image)
        except ValueError as error:
            raise PipelineError(f"{where}: {error}") from None
        if not source.is_file():
            raise PipelineError(f"{where}: image file not found in {images_dir}")
        if source in line_of:
            raise PipelineError(f"{where}: the same image is already on line {line_of[source]}")
        line_of[source] = line
        sources.append(source)
    return sources


def fetch(params: Params, raw_dir: Path) -> list[dict]:
    """Verify and copy the listed images into raw_dir/images; return normalised items.

    The images are written into a temporary folder that replaces raw_dir/images whole once
    all of them passed, so a broken CSV or image leaves the last good images in place.
    """
    csv_path = Path(params.csv)
    rows = read_rows(params)
    images_dir = Path(params.images_dir) if params.images_dir is not None else csv_path.parent
    if not images_dir.is_dir():
        raise PipelineError(f"download.labelled.images_dir: {images_dir}: folder not found")
    sources = locate_images(rows, images_dir, csv_path)
    root = images_dir.resolve()
    with atomic_folder(raw_dir / "images") as folder:
        return copy_images(rows, sources, root, folder, params)


def copy_images(
    rows: list[tuple[int, str, list[str], dict[str, str]]],
    sources: list[Path],
    root: Path,
    folder: Path,
    params: Params,
) -> list[dict]:
    """Verify each image and copy it to `folder/<its path under root>`; the items."""
    width = max(5, len(str(len(rows) - 1)))
    items = []
    progress = tqdm(list(zip(rows, sources, strict=True)), desc="labelled images", unit="img")
    for index, ((line, image, tags, attributes), source) in enumerate(progress):
        data = source.read_bytes()
        try:
            verify_image(data, params.min_side, params.max_pixels)
        except ImageError as error:
            raise PipelineError(f"{Path(params.csv)}: line {line}: {image}: {error}") from None
        relative = source.relative_to(root).as_posix()
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        item = {
            "id": f"l{index:0{width}d}",
            "image": f"images/{relative}",
            "url": image,
            "descriptions": [],
            "tags": tags,
        }
        items.append(item | ({"attributes": attributes} if attributes else {}))
    return items
