"""Image files: checking downloaded bytes, and decoding to the pipeline's uint8 pixels."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from fashion_tagger.errors import PipelineError

IMAGE_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}
HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")


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


def load_image(path: Path, height: int, width: int) -> np.ndarray:
    """Decode one image to RGB and resize it to (height, width); uint8 array (H, W, 3)."""
    try:
        with Image.open(path) as image:
            # JPEGs: let the decoder skip detail we would throw away (much faster on big photos).
            image.draft("RGB", (width, height))
            image = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except FileNotFoundError:
        raise PipelineError(f"{path}: image not found") from None
    except (UnidentifiedImageError, OSError) as error:
        raise PipelineError(f"{path}: cannot decode image ({error})") from None
