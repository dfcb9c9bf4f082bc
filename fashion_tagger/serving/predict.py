"""Tagging image files with a trained model: find the images, resize them as `prepare` does,
and keep each tag whose probability reaches the model's threshold for it (`global`, `per_tag`
or `fixed`), plus, for models with attribute heads, each attribute's most probable class (see
`stages.predict` for the command and its output formats)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from fashion_tagger.data.images import load_image
from fashion_tagger.errors import PipelineError
from fashion_tagger.model.inference import predict_all_probabilities, split_probabilities
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


Attributes = dict[str, tuple[str, float]]  # attribute -> (most probable class, probability)


def score_pixels(
    tagger: Tagger,
    record: dict,
    images: np.ndarray,
    mode: str = "global",
    device: torch.device = CPU,
    batch_size: int = 64,
    tta: bool = False,
) -> tuple[list[list[tuple[str, float]]], list[Attributes]]:
    """Per image, its (tag, probability) pairs at or above the tag's threshold, best first,
    and its most probable class per attribute ({} for a model of tags only)."""
    probabilities = predict_all_probabilities(tagger, images, device, batch_size, tta)
    scores, attribute_scores = split_probabilities(tagger, probabilities)
    thresholds = tag_thresholds(record, mode)
    tagged = []
    for row in scores:
        order = np.argsort(-row, kind="stable")
        tagged.append(
            [(record["classes"][i], float(row[i])) for i in order if row[i] >= thresholds[i]]
        )
    attributes: list[Attributes] = [{} for _ in range(len(images))]
    for name, block in attribute_scores.items():
        values = record["attributes"][name]
        for row, best in enumerate(block.argmax(axis=1)):
            attributes[row][name] = (values[best], float(block[row, best]))
    return tagged, attributes


def format_table(
    paths: list[Path],
    tagged: list[list[tuple[str, float]]],
    attributes: list[Attributes] | None = None,
) -> str:
    """One line per image: its tags, then ` | attribute class probability` for attribute models."""
    lines = []
    for index, (path, tags) in enumerate(zip(paths, tagged, strict=True)):
        line = f"{path}: " + (", ".join(f"{tag} {score:.2f}" for tag, score in tags) or "-")
        if attributes and attributes[index]:
            chosen = attributes[index].items()
            line += " | " + ", ".join(f"{name} {value} {p:.2f}" for name, (value, p) in chosen)
        lines.append(line)
    return "\n".join(lines)


def format_json(
    paths: list[Path],
    tagged: list[list[tuple[str, float]]],
    attributes: list[Attributes] | None = None,
) -> str:
    """A JSON list with each image's tags (and attributes, for attribute models)."""
    records = []
    for index, (path, tags) in enumerate(zip(paths, tagged, strict=True)):
        record = {"image": str(path), "tags": [{"tag": t, "score": round(s, 4)} for t, s in tags]}
        if attributes and attributes[index]:
            record["attributes"] = {
                name: {"value": value, "score": round(p, 4)}
                for name, (value, p) in attributes[index].items()
            }
        records.append(record)
    return json.dumps(records, indent=2, ensure_ascii=False)
