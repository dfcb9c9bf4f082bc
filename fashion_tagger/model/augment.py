"""Batched augmentation on the training device, with parameters drawn independently per image.

The seeds' augmentations (horizontal flip, random grayscale, colour jitter; NUS-WIDE's affine)
written as a few whole-batch tensor operations, because torchvision's v2 transforms draw ONE
set of parameters per call when given a batch. Colour is linear algebra: grayscale,
brightness, contrast, saturation and hue rotation are each a 3x3 matrix (plus an offset for
contrast) on RGB, so an image's whole colour augmentation and the uint8 -> [0, 1] scaling are
one matrix product per image (`torch.baddbmm`). Differences from torchvision's ColorJitter:
hue is rotated in YIQ space instead of HSV, the four adjustments run in a fixed order
(brightness, contrast, saturation, hue) and the result is clamped to [0, 1] once at the end.
The affine warp (rotation, shift, zoom) uses `grid_sample` (bilinear), filling uncovered
pixels white like the photos' background.

Random parameters come from a CPU generator, drawn for the whole global batch, so the same
seed gives the same images on any device and in any number of DDP processes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pydantic import Field

from fashion_tagger.params import StrictModel

GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale
RGB_TO_YIQ = (
    (0.299, 0.587, 0.114),
    (0.596, -0.274, -0.322),
    (0.211, -0.523, 0.312),
)


class AffineParams(StrictModel):
    degrees: float = Field(ge=0, le=180)  # random rotation in [-degrees, degrees]; 0 with all: off
    translate: float = Field(ge=0, le=1)  # random shift up to this share of width and height
    scale: float = Field(ge=0, lt=1)  # random zoom in [1 - scale, 1 + scale]


class AugmentParams(StrictModel):
    hflip: bool  # random horizontal flip (p=0.5)
    grayscale: float = Field(ge=0, le=1)  # probability of turning an image gray; 0 turns it off
    color_jitter: float = Field(ge=0, le=0.5)  # brightness/contrast/saturation/hue strength; 0 off
    affine: AffineParams  # NUS-WIDE seed: degrees 20, translate 0.2, scale 0.5


@dataclass(frozen=True)
class Draws:
    """Per-image parameters of one batch. Colour: `post @ (contrast * pre @ rgb + offset)`,
    where `pre` is grayscale and brightness, the offset blends with the mean gray of the image
    at that step, and `post` is saturation then hue."""

    flip: torch.Tensor | None  # (N,) bool
    pre: torch.Tensor | None  # (N, 3, 3); None: no colour change
    contrast: torch.Tensor | None  # (N,) contrast factors; None: no colour jitter
    post: torch.Tensor | None  # (N, 3, 3), with contrast
    theta: torch.Tensor | None  # (N, 2, 3) affine_grid matrices (normalised coordinates)

    def slice(self, start: int, stop: int) -> Draws:
        """The draws of images start..stop (one DDP rank's share of the global batch)."""
        return Draws(*(None if part is None else part[start:stop] for part in vars(self).values()))


def uniform(count: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(count, generator=generator, dtype=torch.float64)


def saturation_matrices(factors: torch.Tensor) -> torch.Tensor:
    """Blend each pixel with its gray value: s * I + (1 - s) * (gray weights in every row)."""
    gray = torch.tensor(GRAY_WEIGHTS, dtype=torch.float64).expand(3, 3)
    eye = torch.eye(3, dtype=torch.float64)
    return factors.view(-1, 1, 1) * eye + (1 - factors).view(-1, 1, 1) * gray


def hue_matrices(shifts: torch.Tensor) -> torch.Tensor:
    """Rotate the chroma (I, Q) of YIQ by shift * 360 degrees, keeping luma."""
    to_yiq = torch.tensor(RGB_TO_YIQ, dtype=torch.float64)
    angle = shifts * 2 * math.pi
    rotation = torch.zeros(len(shifts), 3, 3, dtype=torch.float64)
    rotation[:, 0, 0] = 1
    # Clockwise in the (I, Q) plane: the direction in which HSV hue grows (red -> yellow).
    rotation[:, 1, 1], rotation[:, 1, 2] = angle.cos(), angle.sin()
    rotation[:, 2, 1], rotation[:, 2, 2] = -angle.sin(), angle.cos()
    return torch.linalg.inv(to_yiq) @ rotation @ to_yiq


def affine_thetas(
    count: int, params: AffineParams, height: int, width: int, generator: torch.Generator
) -> torch.Tensor:
    """Sampling matrices for rotation about the centre, shift (in pixels) and zoom, mapping
    each output pixel to its source in affine_grid's normalised coordinates."""
    angle = uniform(count, -params.degrees, params.degrees, generator) * math.pi / 180
    shift_x = uniform(count, -params.translate, params.translate, generator) * width
    shift_y = uniform(count, -params.translate, params.translate, generator) * height
    zoom = uniform(count, 1 - params.scale, 1 + params.scale, generator)
    cos, sin = angle.cos() / zoom, angle.sin() / zoom  # inverse rotation, inverse zoom
    half_w, half_h = width / 2, height / 2
    theta = torch.empty(count, 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 1] = cos, sin * half_h / half_w
    theta[:, 1, 0], theta[:, 1, 1] = -sin * half_w / half_h, cos
    theta[:, 0, 2] = -(cos * shift_x + sin * shift_y) / half_w
    theta[:, 1, 2] = -(-sin * shift_x + cos * shift_y) / half_h
    return theta


class BatchAugment:
    """The params' augmentations for whole uint8 NHWC batches on any device."""

    def __init__(self, params: AugmentParams) -> None:
        self.params = params
        affine = params.affine
        self.affine_on = affine.degrees > 0 or affine.translate > 0 or affine.scale > 0

    def draw(self, count: int, height: int, width: int, generator: torch.Generator) -> Draws:
        """Independent parameters for each of `count` images (always on the CPU generator)."""
        params = self.params
        flip = torch.rand(count, generator=generator) < 0.5 if params.hflip else None
        pre = contrast = post = None
        if params.grayscale > 0 or params.color_jitter > 0:
            pre = torch.eye(3, dtype=torch.float64).repeat(count, 1, 1)
            if params.grayscale > 0:
                gray = torch.rand(count, generator=generator) < params.grayscale
                pre[gray] = saturation_matrices(torch.zeros(int(gray.sum()), dtype=torch.float64))
            if params.color_jitter > 0:
                strength = params.color_jitter
                low, high = max(0.0, 1 - strength), 1 + strength
                pre = uniform(count, low, high, generator).view(-1, 1, 1) * pre  # brightness
                contrast = uniform(count, low, high, generator)
                saturation = uniform(count, low, high, generator)
                hue = uniform(count, -strength, strength, generator)
                post = hue_matrices(hue) @ saturation_matrices(saturation)
        theta = None
        if self.affine_on:
            theta = affine_thetas(count, params.affine, height, width, generator)
        return Draws(flip, pre, contrast, post, theta)

    def __call__(self, images: torch.Tensor, draws: Draws) -> torch.Tensor:
        """Augmented float images in [0, 1], NCHW (a channels_last view of the NHWC input);
        flips `images` in place."""
        count, height, width, _ = images.shape
        device = images.device
        if draws.flip is not None and draws.flip.any():
            flipped = draws.flip.nonzero().flatten().to(device, non_blocking=True)
            images[flipped] = images[flipped].flip(2)
        recoloured = draws.pre is not None
        pixels = self.recolour(images, draws) if recoloured else images.float().div_(255)
        pixels = pixels.permute(0, 3, 1, 2)
        if draws.theta is not None:
            theta = draws.theta.to(device, dtype=pixels.dtype, non_blocking=True)
            grid = F.affine_grid(theta, [count, 3, height, width], align_corners=False)
            pixels = F.grid_sample(pixels - 1, grid, align_corners=False) + 1  # white fill
        return pixels

    @staticmethod
    def recolour(images: torch.Tensor, draws: Draws) -> torch.Tensor:
        """One colour matrix product per image (uint8 scaling and contrast offset folded in),
        clamped to [0, 1]; returns float NHWC."""
        count, device = len(images), images.device
        flat = images.reshape(count, -1, 3).float()
        # The small per-image matrices go to the device (float64) so that no step waits for it.
        matrix = draws.pre.to(device, non_blocking=True)
        offset = torch.zeros(count, 3, 1, dtype=torch.float64, device=device)
        if draws.contrast is not None:
            pre, post = matrix, draws.post.to(device, non_blocking=True)
            mean = flat.mean(dim=1).double().view(count, 3, 1) / 255
            gray = torch.tensor(GRAY_WEIGHTS, dtype=torch.float64, device=device).view(1, 1, 3)
            contrast = draws.contrast.to(device, non_blocking=True).view(-1, 1, 1)
            gray_mean = gray @ (pre @ mean)  # (N, 1, 1)
            offset = post @ ((1 - contrast) * gray_mean).expand(count, 3, 1)
            matrix = post @ (contrast * pre)
        matrix = (matrix / 255).transpose(1, 2).float()
        offset = offset.view(count, 1, 3).float()
        return torch.baddbmm(offset, flat, matrix).clamp_(0, 1).view(images.shape)
