"""Scoring images with a model in batches: logits, tag and attribute probabilities, embeddings.

Inputs are uint8 NHWC arrays (the cache's layout, possibly memory-mapped), optionally with the
rows to score (a split of the cache, gathered batch by batch, never copied whole); each batch
is moved to the device and scored in eval mode, with autocast and channels_last on CUDA.
Pages of a memory-mapped cache are handed back as the batches go, so memory stays bounded.
With `tta` (test-time augmentation) an image's probabilities are the average of its own and
its horizontal flip's.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from fashion_tagger.data.mapped import release_interval, release_pages
from fashion_tagger.model.network import Tagger, split_outputs
from fashion_tagger.params import StrictModel
from fashion_tagger.torch_utils import DeviceChoice


class InferenceRuntime(StrictModel):
    """`runtime.evaluate` and `runtime.similar`: where and how many images at once are scored
    (never the scores themselves)."""

    batch_size: int = Field(gt=0)
    device: DeviceChoice


@torch.inference_mode()
def predict_batches(
    function,
    images: np.ndarray,
    device: torch.device,
    batch_size: int = 64,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """`function` (a module or method taking uint8 NCHW) over uint8 NHWC images (those at
    `rows` when given, in that order), in batches."""
    cuda = device.type == "cuda"
    rows = np.arange(len(images)) if rows is None else rows
    release_every = release_interval(batch_size * int(np.prod(images.shape[1:])))
    outputs = []
    for index, start in enumerate(range(0, len(rows), batch_size)):
        batch = torch.from_numpy(images[rows[start : start + batch_size]])  # a gathered copy
        if cuda:
            batch = batch.pin_memory()
        batch = batch.to(device, non_blocking=True).permute(0, 3, 1, 2)
        if cuda:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, enabled=cuda):
            outputs.append(function(batch).float().cpu())
        if (index + 1) % release_every == 0:
            release_pages(images)
    return torch.cat(outputs).numpy()


def predict_logits(
    tagger: Tagger,
    images: np.ndarray,
    device: torch.device,
    batch_size: int = 64,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Logits (N, tags) for uint8 NHWC images, in batches, in eval mode (the tagger moves to
    `device`)."""
    return predict_batches(tagger.to(device).eval(), images, device, batch_size, rows)


def head_probabilities(tagger: Tagger, logits: torch.Tensor) -> torch.Tensor:
    """Logits to probabilities: a sigmoid per tag, a softmax over each attribute's classes."""
    sizes = list(tagger.attribute_sizes.values())
    tags, attributes = split_outputs(logits.float(), tagger.num_tags, sizes)
    return torch.cat([torch.sigmoid(tags), *(block.softmax(dim=1) for block in attributes)], 1)


def predict_plain_and_flipped(
    tagger: Tagger,
    images: np.ndarray,
    device: torch.device,
    batch_size: int = 64,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """In one pass: the probabilities (N, tags + all attribute classes) of each image, and the
    average of the image's and its horizontal flip's (test-time augmentation)."""
    tagger = tagger.to(device).eval()

    def both(batch: torch.Tensor) -> torch.Tensor:
        plain = head_probabilities(tagger, tagger(batch))
        flipped = head_probabilities(tagger, tagger(batch.flip(-1)))
        return torch.cat([plain, (plain + flipped) / 2], 1)

    scores = predict_batches(both, images, device, batch_size, rows)
    width = scores.shape[1] // 2
    return scores[:, :width], scores[:, width:]


def predict_all_probabilities(
    tagger: Tagger,
    images: np.ndarray,
    device: torch.device,
    batch_size: int = 64,
    tta: bool = False,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Probabilities (N, tags + all attribute classes) in the model's output order, of all
    images or of `rows`; with `tta` the average of each image's and its horizontal flip's."""
    if tta:
        return predict_plain_and_flipped(tagger, images, device, batch_size, rows)[1]
    tagger = tagger.to(device).eval()
    return predict_batches(
        lambda batch: head_probabilities(tagger, tagger(batch)), images, device, batch_size, rows
    )


def split_probabilities(tagger: Tagger, probabilities: np.ndarray) -> tuple[np.ndarray, dict]:
    """`predict_all_probabilities` apart: tag probabilities and {attribute: (N, classes)}."""
    sizes = tagger.attribute_sizes
    tags, blocks = split_outputs(
        torch.from_numpy(probabilities), tagger.num_tags, [*sizes.values()]
    )
    return tags.numpy(), {name: block.numpy() for name, block in zip(sizes, blocks, strict=True)}


def predict_probabilities(
    tagger: Tagger,
    images: np.ndarray,
    device: torch.device,
    batch_size: int = 64,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Tag probabilities (N, tags): the sigmoid of the tag logits."""
    probabilities = predict_all_probabilities(tagger, images, device, batch_size, rows=rows)
    return split_probabilities(tagger, probabilities)[0]


def predict_embeddings(
    tagger: Tagger,
    images: np.ndarray,
    device: torch.device,
    batch_size: int = 64,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Pooled backbone features (N, features) for uint8 NHWC images, in eval mode (the tagger
    moves to `device`)."""
    return predict_batches(tagger.to(device).eval().embed, images, device, batch_size, rows)
