"""Stage `train`: fit the multi-label tagger on the cached training images.

Reads `data/prepare/` (the uint8 image cache), `data/encode/labels.csv` + `classes.json` and
`data/split/split.json`. Writes
- `data/train/model.pt`: the last epoch's model (see `stages.model.save_model`);
- `data/train/checkpoints/last.pt`: model, optimizer, grad scaler, epoch, RNG states and the
  history so far, rewritten atomically after every epoch; `train.resume: true` continues from it;
- `data/train/mlflow_run.json`: the MLflow run id that evaluate reopens;
- `metrics/train_curves.csv`: per epoch train loss, val loss, val micro/macro F1 and val mAP.
Augmentations (the recipe's flip, grayscale and colour jitter) run on uint8 tensors.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2
from tqdm import tqdm

from stages.common import (
    PipelineError,
    StrictModel,
    atomic_path,
    read_params,
    run_stage,
    write_json,
    write_text,
)
from stages.metrics import summary
from stages.model import Tagger, predict_logits, save_model
from stages.prepare import CLASSES_FILE, LABELS_FILE, SPLIT_FILE, SplitData, load_labelled_split
from stages.tracking import RUN_FILE, Tracker, pipeline_tags, section_params, tracking_uri

TRAIN_DIR = Path("data/train")
MODEL_FILE = TRAIN_DIR / "model.pt"
CHECKPOINT_FILE = TRAIN_DIR / "checkpoints" / "last.pt"
CURVES_FILE = Path("metrics/train_curves.csv")
CURVE_COLUMNS = ["epoch", "train_loss", "val_loss", "val_micro_f1", "val_macro_f1", "val_map"]


class AugmentParams(StrictModel):
    hflip: bool  # random horizontal flip (p=0.5)
    grayscale: float = Field(ge=0, le=1)  # probability of turning an image gray; 0 turns it off
    color_jitter: float = Field(ge=0, le=0.5)  # brightness/contrast/saturation/hue strength; 0 off


class TrainParams(StrictModel):
    backbone: str  # any torchvision classification model name, e.g. resnet18, resnext50_32x4d
    dropout: float = Field(ge=0, lt=1)
    augment: AugmentParams
    optimizer: Literal["adam", "adamw", "sgd"]
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    batch_size: int = Field(gt=0)
    epochs: int = Field(gt=0)
    workers: int = Field(ge=0)  # DataLoader worker processes; 0 loads in the training process
    seed: int
    device: Literal["auto", "cpu", "cuda"]
    amp: bool  # mixed precision on CUDA (bf16 where supported, else fp16 with a grad scaler)
    threshold: float = Field(gt=0, lt=1)  # for the validation F1 curves
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
    """The recipe's augmentations for uint8 CHW tensors, each switchable; None when all are off."""
    steps: list[nn.Module] = []
    if params.hflip:
        steps.append(v2.RandomHorizontalFlip())
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


def make_optimizer(name: str, parameters, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(
        parameters, lr=lr, weight_decay=weight_decay, momentum=0.9, nesterov=True
    )


# ---------------------------------------------------------------- checkpoints


def fingerprint(params: TrainParams, data_files: list[Path], image_shape: tuple) -> str:
    """Identifies what a checkpoint was trained on; resuming needs the same (epochs may grow)."""
    relevant = params.model_dump(exclude={"epochs", "resume", "workers", "device"})
    digest = hashlib.sha256(json.dumps([relevant, list(image_shape)], sort_keys=True).encode())
    for path in data_files:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save to a temporary file that replaces `path` only when complete."""
    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def load_checkpoint(path: Path, expected_fingerprint: str, epochs: int) -> dict | None:
    """The checkpoint to resume from, or None (saying why) when there is none to use."""
    if not path.exists():
        print(f"train: resume requested but {path} does not exist; starting afresh")
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["fingerprint"] != expected_fingerprint:
        print(f"train: {path} was trained with other params or data; starting afresh")
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
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    description: str,
) -> float:
    """One pass over the loader; returns the mean training loss."""
    tagger.train()
    channels_last = device.type == "cuda"
    total, count = 0.0, 0
    for images, targets in tqdm(loader, desc=description, unit="batch", leave=False):
        images = images.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = targets.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = F.binary_cross_entropy_with_logits(tagger(images).float(), targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total += loss.item() * len(images)
        count += len(images)
    return total / count


def validate(
    tagger: Tagger, data: SplitData, device: torch.device, batch_size: int, threshold: float
) -> dict[str, float]:
    """Validation loss, micro/macro F1 at `threshold` and mAP."""
    logits = torch.from_numpy(predict_logits(tagger, data.images, device, batch_size))
    targets = torch.from_numpy(data.labels)
    scores = summary(data.labels, torch.sigmoid(logits).numpy(), threshold)
    return {
        "val_loss": F.binary_cross_entropy_with_logits(logits, targets).item(),
        "val_micro_f1": scores["micro_f1"],
        "val_macro_f1": scores["macro_f1"],
        "val_map": scores["map"],
    }


def fit(
    params: TrainParams,
    classes: list[str],
    data: dict[str, SplitData],
    checkpoint_path: Path,
    run_fingerprint: str,
    on_epoch: Callable[[dict], None] = lambda row: None,
) -> tuple[Tagger, list[dict]]:
    """Train for `params.epochs` epochs (resuming if asked), checkpointing after each epoch.

    Returns the model and the per-epoch history; `on_epoch` sees every history row, including
    rows restored from a checkpoint, so a fresh MLflow run still gets the whole curve.
    """
    device = select_device(params.device)
    amp_dtype = autocast_dtype(device, params.amp)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(params.seed)
    generator = torch.Generator().manual_seed(params.seed)

    tagger = Tagger(params.backbone, len(classes), params.dropout).to(device)
    if device.type == "cuda":
        tagger = tagger.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(
        params.optimizer, tagger.parameters(), params.lr, params.weight_decay
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    loader = make_loader(data["train"], params, generator, pin_memory=device.type == "cuda")

    history: list[dict] = []
    state = (
        load_checkpoint(checkpoint_path, run_fingerprint, params.epochs) if params.resume else None
    )
    if state is not None:
        tagger.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        generator.set_state(state["rng"]["loader"])
        if device.type == "cuda" and state["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        history = state["history"]
        for row in history:
            on_epoch(row)

    for epoch in range(len(history) + 1, params.epochs + 1):
        train_loss = train_epoch(
            tagger, loader, optimizer, scaler, device, amp_dtype, f"epoch {epoch}/{params.epochs}"
        )
        row = {"epoch": epoch, "train_loss": train_loss}
        row |= validate(tagger, data["val"], device, params.batch_size, params.threshold)
        history.append(row)
        on_epoch(row)
        print(
            f"train: epoch {epoch}/{params.epochs} loss {train_loss:.4f} "
            f"val loss {row['val_loss']:.4f} micro-F1 {row['val_micro_f1']:.3f} "
            f"mAP {row['val_map']:.3f}"
        )
        save_checkpoint(
            checkpoint_path,
            {
                "fingerprint": run_fingerprint,
                "epoch": epoch,
                "model": tagger.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": {
                    "torch": torch.get_rng_state(),
                    "loader": generator.get_state(),
                    "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
                },
                "history": history,
            },
        )
    return tagger, history


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


def serving_model(tagger: Tagger) -> nn.Module:
    """A CPU copy that maps uint8 NCHW images to tag probabilities (what MLflow serves)."""
    cpu_copy = copy.deepcopy(tagger).to("cpu", memory_format=torch.contiguous_format)
    return nn.Sequential(cpu_copy, nn.Sigmoid()).eval()


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
        height, width = data["train"].images.shape[1:3]
        save_model(MODEL_FILE, tagger, classes, height, width)
        write_text(CURVES_FILE, curves_csv(history))
        example = data["val"].images[:2].transpose(0, 3, 1, 2).copy()
        tracker.log_model(serving_model(tagger), example)
        tracker.log_artifact(CLASSES_FILE)
        tracker.log_artifact(CURVES_FILE, "plots")
    except BaseException:
        tracker.end("FAILED")
        raise
    tracker.end()
    write_json(RUN_FILE, {"run_id": tracker.run_id, "tracking_uri": tracking_uri()})
    print(f"train: {len(history)} epochs -> {MODEL_FILE}, {CURVES_FILE}")


if __name__ == "__main__":
    run_stage(main)
