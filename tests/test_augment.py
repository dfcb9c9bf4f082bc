"""Tests for the batched augmentation: per-image draws, torchvision's meaning, determinism."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from fashion_tagger.model.augment import (
    CPU_CHUNK,
    AugmentParams,
    BatchAugment,
    Draws,
    hue_matrices,
    saturation_matrices,
)

NO_AFFINE = {"degrees": 0, "translate": 0, "scale": 0}


def augment(**changes) -> BatchAugment:
    off = {"hflip": False, "grayscale": 0, "color_jitter": 0, "affine": NO_AFFINE}
    return BatchAugment(AugmentParams.model_validate(off | changes))


def run(augmentation: BatchAugment, images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    draws = augmentation.draw(len(images), *images.shape[1:3], torch.Generator().manual_seed(seed))
    return augmentation(images.clone(), draws)


def gradient_batch(count: int = 32) -> torch.Tensor:
    """`count` copies of one image whose columns differ (so a flip shows) and in mid-tones."""
    columns = torch.linspace(40, 210, 12).round().to(torch.uint8)
    image = torch.stack([columns, columns.flip(0), torch.full((12,), 120, dtype=torch.uint8)], -1)
    return image.expand(8, 12, 3).expand(count, 8, 12, 3).contiguous()


def test_all_off_only_scales_to_unit_floats_in_nchw():
    images = torch.randint(0, 256, (4, 6, 5, 3), dtype=torch.uint8)
    out = run(augment(), images)
    assert out.shape == (4, 3, 6, 5) and out.dtype == torch.float32
    assert torch.equal(out, images.permute(0, 3, 1, 2).float() / 255)


def test_flip_is_drawn_per_image():
    images = gradient_batch()
    out = run(augment(hflip=True), images)
    plain = images.permute(0, 3, 1, 2).float() / 255
    flipped = [torch.equal(out[i], plain[i].flip(-1)) for i in range(len(images))]
    kept = [torch.equal(out[i], plain[i]) for i in range(len(images))]
    assert all(f != k for f, k in zip(flipped, kept, strict=True))
    assert 4 < sum(flipped) < 28  # independent draws, p=0.5, not one decision for the batch


def test_grayscale_is_drawn_per_image_with_torchvision_weights():
    images = gradient_batch()
    out = run(augment(grayscale=0.5), images)
    gray = TF.rgb_to_grayscale(images.permute(0, 3, 1, 2).float() / 255).expand(-1, 3, -1, -1)
    is_gray = [torch.allclose(out[i], gray[i], atol=1e-3) for i in range(len(images))]
    assert 4 < sum(is_gray) < 28
    assert all(torch.allclose(out[i, 0], out[i, 1]) for i in range(len(images)) if is_gray[i])


def jitter_draws(count, brightness, contrast, saturation, hue) -> Draws:
    def full(value):
        return torch.full((count,), value, dtype=torch.float64)

    pre = torch.eye(3, dtype=torch.float64).repeat(count, 1, 1) * brightness
    post = hue_matrices(full(hue)) @ saturation_matrices(full(saturation))
    return Draws(None, pre, full(contrast), post, None)


def test_brightness_contrast_saturation_mean_what_torchvision_means():
    images = gradient_batch(2)
    out = augment(color_jitter=0.2)(images.clone(), jitter_draws(2, 1.1, 0.8, 1.2, 0.0))
    expected = images.permute(0, 3, 1, 2).float() / 255
    expected = TF.adjust_saturation(
        TF.adjust_contrast(TF.adjust_brightness(expected, 1.1), 0.8), 1.2
    )
    assert torch.allclose(out, expected, atol=1e-4)  # mid-tones: no clamping in between


def test_hue_turns_red_towards_yellow_like_torchvision():
    red = torch.tensor([200, 40, 40], dtype=torch.uint8).expand(1, 4, 4, 3).contiguous()
    out = augment(color_jitter=0.2)(red.clone(), jitter_draws(1, 1.0, 1.0, 1.0, 0.05))
    expected = TF.adjust_hue(red.permute(0, 3, 1, 2).float() / 255, 0.05)
    assert out[0, 1].mean() > red[..., 1].float().mean() / 255 + 0.05  # more green
    assert torch.allclose(out, expected, atol=0.2)  # YIQ rotation vs. HSV: near, not equal
    assert out[0, 0].mean() > out[0, 1].mean() > out[0, 2].mean()  # red, then green


def test_affine_fills_uncovered_pixels_white_and_draws_per_image():
    black = torch.zeros(16, 20, 20, 3, dtype=torch.uint8)
    out = run(augment(affine={"degrees": 10, "translate": 0.4, "scale": 0.2}), black)
    white_share = (out > 0.99).float().mean(dim=(1, 2, 3))
    assert (white_share > 0).all() and len(set(white_share.tolist())) > 8


def test_same_seed_same_images_and_a_slice_is_that_part_of_the_batch():
    augmentation = augment(
        hflip=True,
        grayscale=0.3,
        color_jitter=0.1,
        affine={"degrees": 5, "translate": 0.1, "scale": 0.1},
    )
    images = torch.randint(0, 256, (8, 10, 8, 3), dtype=torch.uint8)
    assert torch.equal(run(augmentation, images, seed=3), run(augmentation, images, seed=3))
    assert not torch.equal(run(augmentation, images, seed=3), run(augmentation, images, seed=4))
    draws = augmentation.draw(8, 10, 8, torch.Generator().manual_seed(5))
    whole = augmentation(images.clone(), draws)
    part = augmentation(images[2:6].clone(), draws.slice(2, 6))
    # contrast uses each image's own mean, so a share of the batch gives the same pixels
    assert torch.allclose(part, whole[2:6], atol=1e-6)


def test_each_image_comes_out_as_if_augmented_alone():
    """The CPU works in chunks of images and copies flips in runs: neither may leak across."""
    augmentation = augment(hflip=True, grayscale=0.3, color_jitter=0.2)
    count = CPU_CHUNK + 3  # a full chunk and a short one
    images = torch.randint(0, 256, (count, 6, 7, 3), dtype=torch.uint8)
    draws = augmentation.draw(count, 6, 7, torch.Generator().manual_seed(2))
    whole = augmentation(images, draws)
    alone = [augmentation(images[i : i + 1], draws.slice(i, i + 1)) for i in range(count)]
    assert torch.allclose(whole, torch.cat(alone), atol=1e-6)
    assert 0 < int(draws.flip.sum()) < count and whole.is_contiguous()


def test_cpu_output_buffers_are_reused_only_once_nothing_holds_them():
    augmentation = augment(color_jitter=0.1)
    images = torch.randint(0, 256, (4, 6, 6, 3), dtype=torch.uint8)

    def batch(seed: int) -> torch.Tensor:
        return augmentation(images, augmentation.draw(4, 6, 6, torch.Generator().manual_seed(seed)))

    first = batch(0)
    kept = first.clone()
    second = batch(1)
    assert second.data_ptr() != first.data_ptr() and torch.equal(first, kept)
    freed = second.data_ptr()
    del second
    assert batch(2).data_ptr() == freed  # no new allocation
    # a tensor autograd saved for backward holds the batch too
    conv = torch.nn.Conv2d(3, 2, 3)
    loss = conv(first).sum()
    saved = first.data_ptr()
    del first
    assert all(batch(seed).data_ptr() != saved for seed in range(3))
    loss.backward()
    del loss
    assert saved in {batch(seed).data_ptr() for seed in range(3)}
    assert len(augmentation.outputs.buffers) <= 3


@pytest.mark.gpu
def test_cuda_gives_the_cpu_images():
    augmentation = augment(hflip=True, grayscale=0.3, color_jitter=0.1)
    images = torch.randint(0, 256, (8, 10, 8, 3), dtype=torch.uint8)
    on_cpu = run(augmentation, images)
    on_gpu = run(augmentation, images.cuda()).cpu()
    assert torch.allclose(on_cpu, on_gpu, atol=1e-5)
