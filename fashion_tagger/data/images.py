"""Image files: checking downloaded bytes, finding a user's images, and decoding to the
pipeline's uint8 pixels."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from fashion_tagger.errors import PipelineError

IMAGE_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}
HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}  # of the files a folder offers


class ImageError(Exception):
    """Downloaded or given bytes are not a usable image; the message says why."""


def verify_image(data: bytes, min_side: int, max_pixels: int) -> str:
    """Check bytes are a complete, decodable, sensibly sized image; return its PIL format."""
    if data.lstrip()[:16].lower().startswith(HTML_STARTS):
        raise ImageError("an HTML page, not an image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format, (width, height) = image.format, image.size
            if image_format not in IMAGE_EXTENSIONS:
                raise ImageError(f"unsupported image format {image_format}")
            if width * height > max_pixels:
                raise ImageError(
                    f"decompression bomb: {width}x{height} pixels exceeds max_pixels {max_pixels}"
                )
            if min(width, height) < min_side:
                raise ImageError(f"too small: {width}x{height} (min_side {min_side})")
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Image.DecompressionBombError as error:
        raise ImageError(f"decompression bomb: {error}") from None
    except Image.UnidentifiedImageError:
        raise ImageError("not a decodable image (unknown format)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"not a decodable image ({error})") from None
    return image_format


@contextmanager
def open_image(path: Path) -> Iterator[Image.Image]:
    """PIL's Image.open, with a missing or undecodable file as a one-line error naming it."""
    try:
        with Image.open(path) as image:
            yield image
    except FileNotFoundError:
        raise PipelineError(f"{path}: image not found") from None
    except (UnidentifiedImageError, OSError) as error:
        raise PipelineError(f"{path}: cannot decode image ({error})") from None


def load_image(path: Path, height: int, width: int, pad: bool = False) -> np.ndarray:
    """Decode one image to RGB and resize it to (height, width); uint8 array (H, W, 3).

    With `pad` the image is first centred on a white canvas (the catalogue photos' background)
    of the target's aspect ratio, so it is scaled, never squeezed."""
    with open_image(path) as image:
        # JPEGs: let the decoder skip detail we would throw away (much faster on big photos).
        if pad:
            scale = min(width / image.width, height / image.height)
            image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
        else:
            image.draft("RGB", (width, height))
        image = image.convert("RGB")
        if pad:
            image = pad_to_aspect(image, height, width)
        image = image.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


def pad_to_aspect(image: Image.Image, height: int, width: int) -> Image.Image:
    """The image centred on the smallest white canvas with the aspect ratio width:height."""
    canvas_width = max(image.width, round(image.height * width / height))
    canvas_height = max(image.height, round(image.width * height / width))
    canvas = Image.new("RGB", (canvas_width, canvas_height), "white")
    canvas.paste(image, ((canvas_width - image.width) // 2, (canvas_height - image.height) // 2))
    return canvas


def list_images(paths: list[Path | str]) -> list[Path]:
    """The image files named, and those inside the folders named (sorted), in argument order."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(
                file
                for file in path.rglob("*")
                if file.suffix.lower() in IMAGE_SUFFIXES and file.is_file()
            )
        elif path.is_file():
            found.append(path)
        else:
            raise PipelineError(f"{path}: no such file or folder")
    if not found:
        raise PipelineError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {paths}")
    return found


# The training images were resized to the model's size without padding (the sample's 2:3
# drawings to 3:4), so an image within this factor of the model's aspect ratio is resized the
# same way; beyond it, it is padded.
ASPECT_TOLERANCE = 1.25


def needs_padding(path: Path, height: int, width: int) -> bool:
    """True when the image's aspect ratio is more than ASPECT_TOLERANCE off width:height."""
    with open_image(path) as image:
        ratio = (image.width / image.height) / (width / height)
    return max(ratio, 1 / ratio) > ASPECT_TOLERANCE


def load_pixels(paths: list[Path], height: int, width: int) -> tuple[np.ndarray, list[bool]]:
    """uint8 NHWC images at the model's size, and per image whether it was padded to get there."""
    padded = [needs_padding(path, height, width) for path in paths]
    pixels = [load_image(path, height, width, pad) for path, pad in zip(paths, padded, strict=True)]
    return np.stack(pixels), padded
