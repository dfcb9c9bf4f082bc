"""Training batches gathered whole from the memory-mapped cache, one index operation each.

The order of an epoch is one permutation drawn from a torch generator before the first batch,
so the batches (and everything downstream) are the same whatever the number of prefetching
threads. With several processes (DDP) every rank draws the same permutation and takes its own
contiguous slice of each global batch: together the ranks see exactly the 1-process batches.
For a GPU a batch is gathered straight into pinned memory, and `to_device` copies the next
batch on a side CUDA stream while the current one trains.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from fashion_tagger.data.dataset import SplitData
from fashion_tagger.data.mapped import release_interval, release_pages
from fashion_tagger.errors import PipelineError

PREFETCH_PER_WORKER = 2  # batches each thread may gather ahead


class BatchLoader:
    """Shuffled (uint8 NHWC images, float32 targets) tensor batches of one split (targets: the
    tag labels, then any attribute class indices).

    `batch_size` is the global batch; rank `rank` of `world` gets its `batch_size / world`
    share. Incomplete last batches are dropped (a batch of one would break BatchNorm).
    `workers` threads gather batches ahead; with `pin_memory` they gather into pinned memory
    (one copy out of the cache, ready for a non-blocking copy to the GPU).
    """

    def __init__(
        self,
        split: SplitData,
        batch_size: int,
        generator: torch.Generator,
        workers: int = 0,
        pin_memory: bool = False,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if len(split) < batch_size:
            raise PipelineError(
                f"param train.batch_size: {batch_size} exceeds the {len(split)} train items"
            )
        if batch_size % world:
            raise PipelineError(
                f"param train.batch_size: {batch_size} is not divisible by the {world} processes"
            )
        self.split = split
        self.targets = split.targets()  # tag labels, then attribute class indices (float32)
        self.batch_size = batch_size
        self.local_size = batch_size // world
        self.share = slice(rank * self.local_size, (rank + 1) * self.local_size)  # of a batch
        self.generator = generator
        self.workers = workers
        self.pin_memory = pin_memory
        image_bytes = int(np.prod(split.image_shape))
        self.release_every = release_interval(image_bytes * self.local_size)

    def __len__(self) -> int:
        return len(self.split) // self.batch_size

    def batch_positions(self) -> list[np.ndarray]:
        """This rank's item positions for every batch of one epoch (draws the permutation)."""
        order = torch.randperm(len(self.split), generator=self.generator).numpy()
        return [order[index * self.batch_size :][self.share] for index in range(len(self))]

    def gather(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch: images gathered from the cache in one index operation, and labels."""
        shape = (len(positions), *self.split.image_shape)
        images = torch.empty(shape, dtype=torch.uint8, pin_memory=self.pin_memory)
        labels = torch.empty(
            (len(positions), self.targets.shape[1]), dtype=torch.float32, pin_memory=self.pin_memory
        )
        self.split.images(positions, out=images.numpy())
        np.take(self.targets, positions, axis=0, out=labels.numpy())
        return images, labels

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        batches = self.batch_positions()
        if self.workers == 0:
            for index, positions in enumerate(batches):
                yield self.gather(positions)
                self.release(index)
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="batches") as pool:
            pending: deque = deque()
            for index, positions in enumerate(batches):
                pending.append(pool.submit(self.gather, positions))
                if len(pending) > self.workers * PREFETCH_PER_WORKER:
                    yield pending.popleft().result()
                self.release(index)
            while pending:
                yield pending.popleft().result()

    def release(self, index: int) -> None:
        """Hand the cache's mapped pages back every `release_every` batches (bounded memory)."""
        if (index + 1) % self.release_every == 0:
            release_pages(self.split.cache)


Batch = tuple[torch.Tensor, ...]


def to_device(batches: Iterable[Batch], device: torch.device) -> Iterator[Batch]:
    """The batches' tensors on `device`. On CUDA the next batch (pinned) is copied on a side
    stream while the caller works on the current one; the caller's stream waits for that copy
    only, never for the host."""
    if device.type != "cuda":
        for batch in batches:
            yield tuple(tensor.to(device) for tensor in batch)
        return
    side = torch.cuda.Stream(device)

    def send(batch: Batch) -> tuple[Batch, torch.cuda.Event]:
        with torch.cuda.stream(side):
            moved = tuple(tensor.to(device, non_blocking=True) for tensor in batch)
            copied = torch.cuda.Event()
            copied.record(side)
        return moved, copied

    def ready(moved: Batch, copied: torch.cuda.Event) -> Batch:
        current = torch.cuda.current_stream(device)
        current.wait_event(copied)
        for tensor in moved:  # memory made on the side stream, used on this one
            tensor.record_stream(current)
        return moved

    upcoming = None
    for batch in batches:
        following = send(batch)
        if upcoming is not None:
            yield ready(*upcoming)
        upcoming = following
    if upcoming is not None:
        yield ready(*upcoming)
