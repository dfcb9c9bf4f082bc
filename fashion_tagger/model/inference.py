"""Scoring images with a model in batches: `predict` gives logits, tag and attribute
probabilities or embeddings.

Inputs are uint8 NHWC arrays (the cache's layout, possibly memory-mapped), optionally with the
rows to score (a split of the cache, gathered batch by batch, never copied whole); each batch
is moved to the device and scored in eval mode, with autocast and channels_last on CUDA.
Pages of a memory-mapped cache are handed back as the batches go, so memory stays bounded.
With test-time augmentation (`tta`) an image's output is the average of its own and its
horizontal flip's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from fashion_tagger.data.mapped import release_interval, release_pages
from fashion_tagger.model.network import Tagger, split_outputs
from fashion_tagger.params import StrictModel
from fashion_tagger.torch_utils import DeviceChoice

# told the number of images each batch scored (a progress bar's update, in the stages: the
# serving code, which the MLflow model carries, needs no progress-bar package)
Progress = Callable[[int], object]


class InferenceRuntime(StrictModel):
    """`runtime.evaluate` and `runtime.similar`: where and how many images at once are scored
    (never the scores themselves)."""

    batch_size: int = Field(gt=0)
    device: DeviceChoice


@torch.inference_mode()
def score_batches(
    function,
    images: np.ndarray,
    device: torch.device,
    batch_size: int = 64,
    rows: np.ndarray | None = None,
    *,
    progress: Progress | None = None,
) -> np.ndarray:
    """`function` (a module or method taking uint8 NCHW) over uint8 NHWC images (those at
    `rows` when given, in that order), in batches; `progress` is told each batch's size."""
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
        if progress is not None:
            progress(len(outputs[-1]))
        if (index + 1) % release_every == 0:
            release_pages(images)
    return torch.cat(outputs).numpy()


def head_probabilities(tagger: Tagger, logits: torch.Tensor) -> torch.Tensor:
    """Logits to probabilities: a sigmoid per tag, a softmax over each attribute's classes."""
    sizes = list(tagger.attribute_sizes.values())
    tags, attributes = split_outputs(logits.float(), tagger.num_tags, sizes)
    return torch.cat([torch.sigmoid(tags), *(block.softmax(dim=1) for block in attributes)], 1)


Output = Literal["logits", "probabilities", "embeddings"]
TestTimeAugmentation = Literal["none", "average", "both"]


def predict(
    tagger: Tagger,
    images: np.ndarray,
    device: torch.device,
    batch_size: int = 64,
    rows: np.ndarray | None = None,
    *,
    output: Output = "probabilities",
    tta: TestTimeAugmentation = "none",
    progress: Progress | None = None,
) -> np.ndarray:
    """The tagger's `output` for uint8 NHWC images (all, or those at `rows`), in eval mode on
    `device`: `logits` (N, tags + all attribute classes), `probabilities` (the same columns; a
    sigmoid per tag, a softmax per attribute) or `embeddings` (N, pooled backbone features).
    `tta`: `average` gives the mean of each image's and its horizontal flip's output, `both`
    the plain and the averaged outputs from one pass, stacked (2, N, ...). `progress`: as in
    `score_batches`."""
    tagger = tagger.to(device).eval()
    score = {
        "logits": tagger,
        "probabilities": lambda batch: head_probabilities(tagger, tagger(batch)),
        "embeddings": tagger.embed,
    }[output]
    function = score
    if tta != "none":

        def function(batch: torch.Tensor) -> torch.Tensor:
            plain = score(batch)
            averaged = (plain + score(batch.flip(-1))) / 2
            return torch.cat([plain, averaged], 1) if tta == "both" else averaged

    scores = score_batches(function, images, device, batch_size, rows, progress=progress)
    if tta != "both":
        return scores
    width = scores.shape[1] // 2
    return np.stack([scores[:, :width], scores[:, width:]])


def split_probabilities(tagger: Tagger, probabilities: np.ndarray) -> tuple[np.ndarray, dict]:
    """`predict`'s probabilities apart: tag probabilities and {attribute: (N, classes)}."""
    sizes = tagger.attribute_sizes
    tags, blocks = split_outputs(
        torch.from_numpy(probabilities), tagger.num_tags, [*sizes.values()]
    )
    return tags.numpy(), {name: block.numpy() for name, block in zip(sizes, blocks, strict=True)}
