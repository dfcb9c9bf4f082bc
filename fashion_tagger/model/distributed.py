"""Training on several devices with PyTorch's own engine: DDP under the elastic launcher.

`runtime.train.processes: N` (> 1) makes the train stage re-launch itself under
`torch.distributed.run` on this machine (one process per device, `--standalone`); a user can
also start the stage with `torchrun` directly (any rendezvous, several nodes). Every process
finds its rank in the environment that the launcher sets (RANK, WORLD_SIZE, LOCAL_RANK).
Gradients are averaged by DistributedDataParallel; NCCL on CUDA, gloo on the CPU.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from fashion_tagger.errors import PipelineError


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 alone writes files and the MLflow run."""
        return self.rank == 0

    def shard(self, count: int) -> slice:
        """This rank's contiguous share of `count` items (shares differ by at most one)."""
        return slice(self.rank * count // self.world, (self.rank + 1) * count // self.world)


SINGLE_PROCESS = Ranks()


def launched_ranks() -> Ranks:
    """The ranks that torchrun set in the environment; one process when it did not."""
    if "WORLD_SIZE" not in os.environ:
        return SINGLE_PROCESS
    return Ranks(
        int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
    )


def launcher_command(processes: int, module: str) -> list[str]:
    """The command that runs `python -m module` in `processes` processes on this machine."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
        "-m",
        module,
    ]


def relaunch(processes: int, module: str) -> bool:
    """Run `module` under the elastic launcher when asked for more than one process and not
    already launched; returns True when it did (this process then has nothing left to do)."""
    if processes <= 1 or "WORLD_SIZE" in os.environ:
        return False
    result = subprocess.run(launcher_command(processes, module), check=False)
    if result.returncode != 0:
        raise PipelineError(
            f"param runtime.train.processes: {processes} processes of {module} failed "
            f"(exit status {result.returncode}; see the ranks' errors above)"
        )
    return True


def rank_device(device: torch.device, ranks: Ranks) -> torch.device:
    """One CUDA device per local rank (CPU ranks share the CPU)."""
    if device.type != "cuda" or ranks.world == 1:
        return device
    if ranks.local_rank >= torch.cuda.device_count():
        raise PipelineError(
            f"param runtime.train.processes: local rank {ranks.local_rank} has no CUDA device "
            f"({torch.cuda.device_count()} visible)"
        )
    torch.cuda.set_device(ranks.local_rank)
    return torch.device("cuda", ranks.local_rank)


@contextlib.contextmanager
def process_group(ranks: Ranks, device: torch.device) -> Iterator[None]:
    """The default process group for the duration of the block (nothing for one process)."""
    if ranks.world == 1:
        yield
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        dist.init_process_group(backend, device_id=device)
    else:
        dist.init_process_group(backend)
    try:
        yield
    finally:
        dist.destroy_process_group()


def wrap(module: nn.Module, ranks: Ranks, device: torch.device) -> nn.Module:
    """The module as DDP when there are several processes (gradients averaged), else as is."""
    if ranks.world == 1:
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids)


def sum_across(value: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """The sum of `value` over all processes."""
    if ranks.world > 1:
        value = value.clone()
        dist.all_reduce(value)
    return value


def gather_rows(rows: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """Every process's rows, concatenated in rank order (shares may differ in length)."""
    if ranks.world == 1:
        return rows
    counts = [torch.zeros((), dtype=torch.int64, device=rows.device) for _ in range(ranks.world)]
    dist.all_gather(counts, torch.tensor(len(rows), device=rows.device))
    longest = int(max(counts))
    padded = torch.zeros((longest, *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
    padded[: len(rows)] = rows
    parts = [torch.empty_like(padded) for _ in range(ranks.world)]
    dist.all_gather(parts, padded)
    return torch.cat([part[: int(count)] for part, count in zip(parts, counts, strict=True)])


def gather_objects(value: object, ranks: Ranks) -> list:
    """Every process's `value` (any picklable object), in rank order."""
    if ranks.world == 1:
        return [value]
    values = [None] * ranks.world
    dist.all_gather_object(values, value)
    return values


def barrier(ranks: Ranks) -> None:
    """Wait for all processes (e.g. until rank 0 has written a checkpoint)."""
    if ranks.world > 1:
        dist.barrier()
