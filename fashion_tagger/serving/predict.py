"""Tagging image files with a trained model: find the images, resize them as `prepare` does,
and keep each tag whose probability reaches the model's threshold for it (`global`, `per_tag`
or `fixed`; see `stages.predict` for the command and its output formats)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from fashion_tagger.data.images import load_image
from fashion_tagger.errors import PipelineError
from fashion_tagger.model.inference import predict_probabilities
from fashion_tagger.model.network import Tagger, tag_thresholds

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
THRESHOLD_MODES = ("global", "per_tag", "fixed")
CPU = torch.device("cpu")


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


def load_pixels(paths: list[Path], height: int, width: int) -> np.ndarray:
    """uint8 NHWC images resized as the prepare stage does."""
    return np.stack([load_image(path, height, width) for path in paths])


def tag_pixels(
    tagger: Tagger,
    record: dict,
    images: np.ndarray,
    mode: str = "global",
    device: torch.device = CPU,
    batch_size: int = 64,
) -> list[list[tuple[str, float]]]:
    """Per image, its (tag, probability) pairs at or above the tag's threshold, best first."""
    scores = predict_probabilities(tagger, images, device, batch_size)
    thresholds = tag_thresholds(record, mode)
    tagged = []
    for row in scores:
        order = np.argsort(-row, kind="stable")
        tagged.append(
            [(record["classes"][i], float(row[i])) for i in order if row[i] >= thresholds[i]]
        )
    return tagged


def format_table(paths: list[Path], tagged: list[list[tuple[str, float]]]) -> str:
    return "\n".join(
        f"{path}: " + (", ".join(f"{tag} {score:.2f}" for tag, score in tags) or "-")
        for path, tags in zip(paths, tagged, strict=True)
    )


def format_json(paths: list[Path], tagged: list[list[tuple[str, float]]]) -> str:
    records = [
        {"image": str(path), "tags": [{"tag": t, "score": round(s, 4)} for t, s in tags]}
        for path, tags in zip(paths, tagged, strict=True)
    ]
    return json.dumps(records, indent=2, ensure_ascii=False)
