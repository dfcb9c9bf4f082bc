"""The tagging model: a torchvision backbone with a new dropout + linear head, and its file format.

`Tagger` takes a batch of images (N, 3, H, W) as uint8 or as floats in [0, 1], normalises them
itself and returns one logit per tag; a sigmoid turns logits into independent tag probabilities.
Keeping the normalisation inside the module means every user of the model (evaluate, the MLflow
copy, the benchmark) feeds it raw pixels and cannot get the statistics wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn

from stages.common import PipelineError, atomic_path

# The recipe's normalisation: maps [0, 1] pixels to [-1, 1].
NORMALIZE_MEAN = (0.5, 0.5, 0.5)
NORMALIZE_STD = (0.5, 0.5, 0.5)


def replace_head(backbone: nn.Module, num_classes: int, dropout: float) -> nn.Module:
    """Swap the backbone's last linear layer (its ImageNet classifier) for dropout + linear."""
    linears = [name for name, module in backbone.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise PipelineError(
            f"backbone {type(backbone).__name__} has no linear classifier to replace"
        )
    *parents, leaf = linears[-1].split(".")
    parent = backbone.get_submodule(".".join(parents)) if parents else backbone
    in_features = getattr(parent, leaf).in_features
    head = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(in_features, num_classes))
    setattr(parent, leaf, head)
    return backbone


def build_backbone(name: str, num_classes: int, dropout: float) -> nn.Module:
    """A randomly initialised torchvision classification model with a `num_classes` head."""
    if name not in torchvision.models.list_models(module=torchvision.models):
        raise PipelineError(
            f"param train.backbone: unknown torchvision classification model '{name}'"
        )
    return replace_head(torchvision.models.get_model(name, weights=None), num_classes, dropout)


class Tagger(nn.Module):
    """Normalisation + backbone: raw pixels in, one logit per tag out."""

    def __init__(self, backbone: str, num_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone_name = backbone
        self.dropout = dropout
        self.backbone = build_backbone(backbone, num_classes, dropout)
        self.register_buffer("mean", torch.tensor(NORMALIZE_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(NORMALIZE_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:
            images = images.float().div_(255)
        return self.backbone((images - self.mean) / self.std)


def save_model(
    path: Path | str, tagger: Tagger, classes: list[str], height: int, width: int
) -> None:
    """Write all that rebuilding and running the model needs (weights, backbone, tags, size)."""
    record = {
        "state_dict": {key: value.cpu() for key, value in tagger.state_dict().items()},
        "backbone": tagger.backbone_name,
        "dropout": tagger.dropout,
        "classes": list(classes),
        "height": height,
        "width": width,
        "mean": list(NORMALIZE_MEAN),
        "std": list(NORMALIZE_STD),
    }
    with atomic_path(path) as temporary:
        torch.save(record, temporary)


def load_model(path: Path | str) -> tuple[Tagger, dict]:
    """Rebuild a saved model in eval mode; returns it and its record (classes, height, ...)."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    record = torch.load(path, map_location="cpu", weights_only=True)
    tagger = Tagger(record["backbone"], len(record["classes"]), record["dropout"])
    tagger.load_state_dict(record["state_dict"])
    return tagger.eval(), record


@torch.inference_mode()
def predict_logits(
    tagger: Tagger, images: np.ndarray, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """Logits (N, tags) for uint8 NHWC images, in batches, in eval mode."""
    tagger.eval()
    channels_last = device.type == "cuda"
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size]))
        batch = batch.to(device).permute(0, 3, 1, 2)
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, enabled=channels_last):
            outputs.append(tagger(batch).float().cpu())
    return torch.cat(outputs).numpy()
