"""Torch helpers shared by training, evaluation, serving and translation: device, precision, I/O."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Literal

import torch

from fashion_tagger.errors import PipelineError
from fashion_tagger.io import write_bytes

DeviceChoice = Literal["auto", "cpu", "cuda"]


def select_device(choice: str, param: str) -> torch.device:
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


def send(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on `device` without making the host wait: on CUDA it is pinned, then copied
    on the current stream (a plain copy from pageable memory may wait for the GPU to drain)."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def save_torch(path: Path | str, obj: Any) -> None:
    """torch.save, atomically and byte-identical for equal objects: saved to memory first, since
    torch names the archive inside the file after the (randomly named) temporary file."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getvalue())
