"""The learning-rate finder (fastai's `lr_find`): train briefly while the LR grows exponentially.

Starting from the model that `train.*` params describe (backbone, weights, head, loss, optimizer,
batch size, augmentation; the backbone frozen when `freeze_epochs` > 0, as training's first
epoch is), every step uses the next LR of an exponential sweep from `start` to `end`; the sweep
stops early once the smoothed loss exceeds `DIVERGENCE` times its minimum. Nothing is saved: the
weights are thrown away. Suggested LR, the steepest-descent rule: where the smoothed loss falls
fastest against log(LR), before its minimum.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from tqdm import tqdm

from fashion_tagger.data.batches import BatchLoader
from fashion_tagger.data.dataset import SplitData
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import atomic_path
from fashion_tagger.model.augment import BatchAugment
from fashion_tagger.model.training import (
    AUGMENT_SEED_OFFSET,
    TrainParams,
    build_training,
    device_batches,
    training_loss,
)

SMOOTHING = 0.98  # exponential moving average of the loss, debiased (as fastai's recorder)
DIVERGENCE = 4.0  # stop when the smoothed loss exceeds this many times its minimum
LOG_Y_SPAN = 20.0  # the chart's y axis turns logarithmic when the losses span more than this


def sweep_lrs(start: float, end: float, steps: int) -> np.ndarray:
    """`steps` learning rates growing exponentially from `start` to `end`."""
    if not 0 < start < end or steps < 2:
        raise PipelineError(f"lr_find: need 0 < start < end and steps >= 2 ({start}, {end})")
    return start * (end / start) ** (np.arange(steps) / (steps - 1))


def smooth(losses: list[float], beta: float = SMOOTHING) -> np.ndarray:
    """Debiased exponential moving average of the losses."""
    average, smoothed = 0.0, []
    for step, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta**step))
    return np.array(smoothed)


def lr_sweep(
    params: TrainParams,
    train: SplitData,
    attribute_classes: dict[str, list[str]],
    device: torch.device,
    lrs: np.ndarray,
    workers: int = 0,
) -> list[dict]:
    """Train one step per LR of `lrs` (head at the LR, backbone at LR * backbone_lr_mult);
    rows of lr, loss and smoothed loss, up to where the loss diverges. The model, optimizer and
    AMP set-up are `fit`'s (`build_training`)."""
    generator = torch.Generator().manual_seed(params.seed)
    sizes = {name: len(values) for name, values in attribute_classes.items()}
    # The sweep sets every step's LRs itself: built at LR 1 under a constant schedule, the
    # parameter groups' LRs are their multipliers of the head's.
    fixed = params.model_copy(update={"lr": 1.0, "schedule": "constant", "ema_decay": None})
    parts = build_training(fixed, device, train.labels.shape[1], sizes, len(lrs))
    tagger, optimizer = parts.tagger, parts.optimizer
    tagger.freeze_backbone(params.freeze_epochs > 0)
    tagger.train()
    loader = BatchLoader(train, params.batch_size, generator, workers, device.type == "cuda")
    augment = BatchAugment(params.augment)
    augment_generator = torch.Generator().manual_seed(params.seed + AUGMENT_SEED_OFFSET)
    loss_function = training_loss(params, train.labels, sizes, device)
    multipliers = [group["lr"] for group in optimizer.param_groups]  # relative to the head's
    rows: list[dict] = []
    losses: list[float] = []

    def batches():
        """Augmented batches on the device, epoch after epoch (fewer batches than steps)."""
        while True:
            yield from device_batches(loader, augment, augment_generator, device)

    stream = batches()
    for lr in tqdm(lrs, desc="lr_find", unit="step"):
        images, targets = next(stream)
        for group, multiplier in zip(optimizer.param_groups, multipliers, strict=True):
            group["lr"] = float(lr) * multiplier
        with parts.autocast():
            loss = loss_function(tagger(images).float(), targets)
        parts.step(loss)
        losses.append(loss.item())
        smoothed = smooth(losses)
        rows.append({"lr": float(lr), "loss": losses[-1], "smoothed_loss": float(smoothed[-1])})
        if not math.isfinite(losses[-1]) or smoothed[-1] > DIVERGENCE * smoothed.min():
            break
    return rows


def suggest_lr(rows: list[dict]) -> float:
    """Steepest descent: the LR where the smoothed loss falls fastest against log(LR), looked
    for before the loss minimum."""
    lrs = np.array([row["lr"] for row in rows])
    smoothed = np.array([row["smoothed_loss"] for row in rows])
    if len(rows) < 3:
        raise PipelineError("lr_find: the loss diverged within 3 steps; lower --start")
    lowest = int(np.nanargmin(smoothed))
    end = max(lowest, 2)
    slopes = np.gradient(smoothed[: end + 1], np.log(lrs[: end + 1]))
    return float(lrs[int(np.argmin(slopes))])


def sweep_summary(rows: list[dict], suggestion: float) -> str:
    """What the sweep found, each figure naming its curve: the suggestion (smoothed loss) and
    where the raw and the smoothed loss are lowest."""
    raw = min(rows, key=lambda row: row["loss"])
    smoothed = min(rows, key=lambda row: row["smoothed_loss"])
    return (
        f"{len(rows)} steps from {rows[0]['lr']:.1e} to {rows[-1]['lr']:.1e}; suggested train.lr "
        f"{suggestion:.2e} (steepest descent of the smoothed loss); raw loss lowest "
        f"({raw['loss']:.3g}) at {raw['lr']:.1e}, smoothed loss lowest "
        f"({smoothed['smoothed_loss']:.3g}) at {smoothed['lr']:.1e}"
    )


def draw_lr_curve(path: Path, rows: list[dict], suggestion: float) -> None:
    """Save `lr_figure` as a PNG."""
    with atomic_path(path) as temporary:
        lr_figure(rows, suggestion).savefig(temporary, format="png", dpi=90)


def lr_figure(rows: list[dict], suggestion: float) -> Figure:
    """The raw and the smoothed loss against the LR (log axis), every finite point of both on
    the chart (log y when they span more than LOG_Y_SPAN), the suggestion marked."""
    lrs = [row["lr"] for row in rows]
    figure = Figure(figsize=(7, 4.5))
    axis = figure.subplots()
    axis.plot(lrs, [row["loss"] for row in rows], alpha=0.4, label="raw loss (per batch)")
    axis.plot(lrs, [row["smoothed_loss"] for row in rows], label="smoothed loss")
    axis.axvline(suggestion, color="red", linestyle="--", label=f"suggested: {suggestion:.2e}")
    axis.set_xscale("log")
    finite = [
        value
        for row in rows
        for value in (row["loss"], row["smoothed_loss"])
        if math.isfinite(value)
    ]
    low, high = min(finite), max(finite)
    if low > 0 and high / low > LOG_Y_SPAN:
        axis.set_yscale("log")
        axis.set_ylim(low / 1.1, high * 1.1)
    else:
        margin = 0.05 * (high - low or abs(high) or 1.0)
        axis.set_ylim(low - margin, high + margin)
    axis.set_xlabel("learning rate (head; backbone x train.backbone_lr_mult)")
    axis.set_ylabel("training loss")
    axis.set_title("lr_find")
    axis.legend()
    figure.tight_layout()
    return figure
