"""Training throughput: the real data path vs. the same model on ready-made tensors.

Real path: the prepare cache (uint8 NHWC) -> CachedImages with the params' augmentations ->
DataLoader (params' workers) -> model (params' backbone, head and pretrained weights; all
layers learning, BCE). Reference: the same model on one batch of tensors already
in memory. The ratio says how much the data path costs. Uses `data/prepare/` when present, else
a random cache of the params' image size. Run from the repo root:

    python -m benchmarks.bench_train [--batches 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from fashion_tagger.data.cache import PrepareParams
from fashion_tagger.data.dataset import SplitData
from fashion_tagger.model.network import Tagger
from fashion_tagger.model.training import TrainParams, TrainRuntime, make_loader
from fashion_tagger.params import read_params
from fashion_tagger.paths import CACHE_IMAGES_FILE as IMAGES_FILE
from fashion_tagger.torch_utils import autocast_dtype, select_device

TAGS = 50


def train_steps(tagger, batches, optimizer, device, amp_dtype) -> int:
    """Run one optimisation step per batch; returns the number of images seen."""
    seen = 0
    for images, targets in batches:
        images, targets = images.to(device, non_blocking=True), targets.to(device)
        if device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = F.binary_cross_entropy_with_logits(tagger(images).float(), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(images)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen


def images_per_second(tagger, batches, device, amp_dtype, lr) -> float:
    optimizer = torch.optim.Adam(tagger.parameters(), lr=lr)
    start = time.perf_counter()
    seen = train_steps(tagger, batches, optimizer, device, amp_dtype)
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="timed batches per measurement")
    args = parser.parse_args()
    params = read_params("train", TrainParams)
    size = read_params("prepare", PrepareParams)
    runtime = read_params("runtime.train", TrainRuntime)
    device = select_device(runtime.device, "runtime.train.device")
    amp_dtype = autocast_dtype(device, params.amp)
    count = params.batch_size * (args.batches + 2)
    if IMAGES_FILE.exists():
        cache = np.load(IMAGES_FILE, mmap_mode="r")
        images = np.ascontiguousarray(cache[np.arange(count) % len(cache)])
        source = str(IMAGES_FILE)
    else:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (count, size.height, size.width, 3), dtype=np.uint8)
        source = "random cache"
    labels = (np.random.default_rng(1).random((count, TAGS)) < 0.2).astype(np.float32)
    data = SplitData(ids=[str(i) for i in range(count)], images=images, labels=labels)

    torch.manual_seed(params.seed)
    tagger = Tagger(params.backbone, TAGS, params.dropout, params.head, params.pretrained)
    tagger = tagger.to(device)
    if device.type == "cuda":
        tagger = tagger.to(memory_format=torch.channels_last)
    tagger.train()
    loader = make_loader(
        data, params, torch.Generator().manual_seed(0), device.type == "cuda", runtime.workers
    )
    batches = iter(loader)
    warm_up = [next(batches), next(batches)]
    images_per_second(tagger, warm_up, device, amp_dtype, params.lr)
    real = images_per_second(tagger, batches, device, amp_dtype, params.lr)

    one_batch = next(iter(loader))
    tensors = [(one_batch[0].to(device), one_batch[1].to(device))] * args.batches
    memory = images_per_second(tagger, tensors, device, amp_dtype, params.lr)

    print(
        f"{params.backbone} at {images.shape[1]}x{images.shape[2]}, batch {params.batch_size}, "
        f"{runtime.workers} workers, {device.type}, data from {source}"
    )
    print(f"real data path:      {real:8.1f} images/s")
    print(f"in-memory tensors:   {memory:8.1f} images/s")
    print(f"ratio (real/memory): {real / memory:8.2f}")


if __name__ == "__main__":
    main()
