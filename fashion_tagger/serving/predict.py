"""Tagging image files with a trained model: find the images, bring them to the model's size,
and keep each tag whose probability reaches the model's threshold for it (`global`, `per_tag`
or `fixed`), plus, for models with attribute heads, each attribute's most probable class (the
`fashion-tagger predict` command, `fashion_tagger.cli`, prints them).

An image shaped about like the training images is resized as `prepare` resized them; one whose
aspect ratio is further than `ASPECT_TOLERANCE` from the model's (a landscape photo for a
portrait model) is padded to the model's aspect ratio first, so it is never squeezed."""

from __future__ import annotations

import numpy as np
import torch

from fashion_tagger.model.inference import predict, split_probabilities
from fashion_tagger.model.network import ModelRecord, Tagger

THRESHOLD_MODES = ("global", "per_tag", "fixed")
CPU = torch.device("cpu")


Attributes = dict[str, tuple[str, float]]  # attribute -> (most probable class, probability)


def score_pixels(
    tagger: Tagger,
    record: ModelRecord,
    images: np.ndarray,
    mode: str = "global",
    device: torch.device = CPU,
    batch_size: int = 64,
    tta: bool = False,
) -> tuple[list[list[tuple[str, float]]], list[Attributes]]:
    """Per image, its (tag, probability) pairs at or above the tag's threshold, best first,
    and its most probable class per attribute ({} for a model of tags only)."""
    probabilities = predict(tagger, images, device, batch_size, tta="average" if tta else "none")
    scores, attribute_scores = split_probabilities(tagger, probabilities)
    thresholds = record.tag_thresholds(mode)
    tagged = []
    for row in scores:
        order = np.argsort(-row, kind="stable")
        tagged.append(
            [(record.classes[i], float(row[i])) for i in order if row[i] >= thresholds[i]]
        )
    attributes: list[Attributes] = [{} for _ in range(len(images))]
    for name, block in attribute_scores.items():
        values = record.attributes[name]
        for row, best in enumerate(block.argmax(axis=1)):
            attributes[row][name] = (values[best], float(block[row, best]))
    return tagged, attributes
