"""Scoring images with a model in batches: logits, tag probabilities and embeddings.

Inputs are uint8 NHWC arrays (the cache's layout, possibly memory-mapped); each batch is copied,
moved to the device and scored in eval mode, with autocast on CUDA.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from fashion_tagger.model.network import Tagger
from fashion_tagger.params import StrictModel
from fashion_tagger.torch_utils import DeviceChoice


class InferenceRuntime(StrictModel):
    """`runtime.evaluate` and `runtime.similar`: where and how many images at once are scored
    (never the scores themselves)."""

    batch_size: int = Field(gt=0)
    device: DeviceChoice


@torch.inference_mode()
def predict_batches(
    function, images: np.ndarray, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """`function` (a module or method taking uint8 NCHW) over uint8 NHWC images, in batches."""
    channels_last = device.type == "cuda"
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.array(images[start : start + batch_size]))  # a writable copy
        batch = batch.to(device).permute(0, 3, 1, 2)
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, enabled=channels_last):
            outputs.append(function(batch).float().cpu())
    return torch.cat(outputs).numpy()


def predict_logits(
    tagger: Tagger, images: np.ndarray, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """Logits (N, tags) for uint8 NHWC images, in batches, in eval mode (the tagger moves to
    `device`)."""
    return predict_batches(tagger.to(device).eval(), images, device, batch_size)


def predict_probabilities(
    tagger: Tagger, images: np.ndarray, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """Tag probabilities (N, tags): the sigmoid of `predict_logits`."""
    logits = predict_logits(tagger, images, device, batch_size)
    return torch.sigmoid(torch.from_numpy(logits)).numpy()


def predict_embeddings(
    tagger: Tagger, images: np.ndarray, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """Pooled backbone features (N, features) for uint8 NHWC images, in eval mode (the tagger
    moves to `device`)."""
    return predict_batches(tagger.to(device).eval().embed, images, device, batch_size)
