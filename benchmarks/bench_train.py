"""Training throughput: (a) the data path alone, (b) the training step on ready tensors,
(c) the real path end to end, and the ratio (c)/(b).

(a) cache (memory-mapped uint8 .npy) -> BatchLoader -> device -> batched augmentation with the
    default augmentations (hflip, grayscale 0.1, colour jitter 0.1), at --data-size pixels
    square and --data-batch images per batch;
(b) forward, BCE, backward and optimizer step of the model on one batch already on the device
    (model, optimizer and AMP built as training builds them);
(c) (a) feeding (b): the stage's own `device_batches` with the params' augmentations.
Each measurement runs --warmup untimed rounds, then --repeats timed ones; the figures are the
median and the spread (min-max) in images/s. The model (backbone, size, batch, AMP) comes from
params.yaml unless given. Run from the repo root, e.g.

    python -m benchmarks.bench_train
    python -m benchmarks.bench_train --backbone resnet50 --size 224 224 --batch 32
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fashion_tagger.data.batches import BatchLoader
from fashion_tagger.data.cache import PrepareParams
from fashion_tagger.data.dataset import SplitData
from fashion_tagger.model.augment import AugmentParams, BatchAugment
from fashion_tagger.model.training import (
    TrainingParts,
    TrainParams,
    TrainRuntime,
    build_training,
    device_batches,
    training_device,
)
from fashion_tagger.params import read_params

TAGS = 50
DEFAULT_AUGMENT = {
    "hflip": True,
    "grayscale": 0.1,
    "color_jitter": 0.1,
    "affine": {"degrees": 0, "translate": 0.0, "scale": 0.0},
}


def random_split(directory: Path, count: int, height: int, width: int) -> SplitData:
    """A memory-mapped cache of random pixels (written to `directory`) and random labels."""
    path = directory / "images.npy"
    cache = np.lib.format.open_memmap(path, "w+", np.uint8, (count, height, width, 3))
    rng = np.random.default_rng(0)
    for start in range(0, count, 256):
        cache[start : start + 256] = rng.integers(0, 256, cache[start : start + 256].shape)
    cache.flush()
    del cache
    labels = (rng.random((count, TAGS)) < 0.2).astype(np.float32)
    rows = np.arange(count)
    return SplitData([str(i) for i in rows], np.load(path, mmap_mode="r"), rows, labels)


def measure(run: Callable[[], int], warmup: int, repeats: int) -> list[float]:
    """Images/s of `run` (which returns the images it handled) over timed repeats."""
    for _ in range(warmup):
        run()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        seen = run()
        rates.append(seen / (time.perf_counter() - start))
    return rates


def describe(name: str, rates: list[float]) -> str:
    return (
        f"{name:<34} median {statistics.median(rates):9.1f} images/s "
        f"(min {min(rates):.1f}, max {max(rates):.1f}, {len(rates)} runs)"
    )


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_steps(model, parts: TrainingParts, batches: Iterable) -> int:
    """One optimisation step of `model` (`parts.tagger`, maybe compiled) per batch, with
    training's AMP set-up; returns the number of images seen."""
    seen = 0
    for images, targets in batches:
        with parts.autocast():
            loss = F.binary_cross_entropy_with_logits(model(images).float(), targets)
        parts.step(loss)
        seen += len(images)
    synchronize(parts.device)
    return seen


def augmented_passes(
    split: SplitData, batch_size: int, augment: AugmentParams, workers: int, device: torch.device
) -> Callable[[], Iterable]:
    """A function giving one pass of the training data path over `split` per call (the
    stage's `device_batches`: shuffled uint8 batches to `device`, augmented there)."""
    loader = BatchLoader(
        split,
        batch_size,
        torch.Generator().manual_seed(0),
        workers,
        pin_memory=device.type == "cuda",
    )
    batch_augment = BatchAugment(augment)
    generator = torch.Generator().manual_seed(1)
    return lambda: device_batches(loader, batch_augment, generator, device)


def data_path(args, runtime: TrainRuntime, device: torch.device, directory: Path) -> list[float]:
    """(a): batches from the cache to augmented float tensors on the device."""
    size = args.data_size
    split = random_split(directory, args.data_batch * args.data_batches, size, size)
    augment = AugmentParams.model_validate(DEFAULT_AUGMENT)
    one_pass = augmented_passes(split, args.data_batch, augment, runtime.workers, device)

    def run() -> int:
        seen = 0
        for images, _ in one_pass():
            seen += len(images)
        synchronize(device)
        return seen

    return measure(run, args.warmup, args.repeats)


def model_paths(args, params: TrainParams, runtime, device, directory: Path):
    """(b) and (c) for the params' model: ready tensors, then the real path."""
    height, width = args.size
    split = random_split(directory, params.batch_size * args.steps, height, width)
    # speed does not depend on the weights: random ones, so any backbone runs offline; the
    # schedule is not stepped
    random_weights = params.model_copy(update={"pretrained": False})
    parts = build_training(random_weights, device, TAGS, {}, args.steps)
    parts.tagger.train()
    model = torch.compile(parts.tagger) if runtime.compile else parts.tagger
    one_pass = augmented_passes(split, params.batch_size, params.augment, runtime.workers, device)
    ready = next(one_pass())

    def tensors() -> int:
        return train_steps(model, parts, [ready] * args.steps)

    def real() -> int:
        return train_steps(model, parts, one_pass())

    ready_rates, real_rates = [], []
    for _ in range(args.warmup):
        tensors(), real()
    for _ in range(args.repeats):  # interleaved, so a busy machine slows both alike
        ready_rates += measure(tensors, 0, 1)
        real_rates += measure(real, 0, 1)
    return ready_rates, real_rates


def main() -> None:
    params = read_params("train", TrainParams)
    prepare = read_params("prepare", PrepareParams)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default=params.backbone)
    parser.add_argument("--size", nargs=2, type=int, default=[prepare.height, prepare.width])
    parser.add_argument("--batch", type=int, default=params.batch_size)
    parser.add_argument("--steps", type=int, default=8, help="training steps per repeat")
    parser.add_argument("--data-size", type=int, default=224, help="(a): square image side")
    parser.add_argument("--data-batch", type=int, default=256, help="(a): images per batch")
    parser.add_argument("--data-batches", type=int, default=8, help="(a): batches per repeat")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-model", action="store_true", help="measure (a) only")
    args = parser.parse_args()
    params = params.model_copy(update={"backbone": args.backbone, "batch_size": args.batch})
    runtime = read_params("runtime.train", TrainRuntime)
    device = training_device(runtime)
    print(
        f"device {device}, {torch.get_num_threads()} torch threads, "
        f"{runtime.workers} loader threads"
    )
    with tempfile.TemporaryDirectory(prefix="bench_train_") as folder:
        (Path(folder) / "a").mkdir()
        rates = data_path(args, runtime, device, Path(folder) / "a")
        print(
            describe(f"(a) data path {args.data_size}^2 b{args.data_batch}", rates)
            + " [default augmentations]"
        )
        if args.skip_model:
            return
        (Path(folder) / "b").mkdir()
        ready, real = model_paths(args, params, runtime, device, Path(folder) / "b")
    label = f"{params.backbone} {args.size[0]}x{args.size[1]} b{params.batch_size}"
    print(describe(f"(b) {label} ready tensors", ready))
    print(describe(f"(c) {label} real path", real))
    ratios = [c / b for b, c in zip(ready, real, strict=True)]
    print(
        f"ratio (c)/(b): median {statistics.median(ratios):.3f} "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
