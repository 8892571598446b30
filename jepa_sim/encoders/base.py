"""The frozen-encoder interface shared by every backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch


class EncoderLoadError(RuntimeError):
    """An encoder name or path could not be resolved or loaded; the message says what to do instead."""


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; anything else is passed to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device={device!r} is not a valid torch device (use auto, cpu, cuda, cuda:1, ...)") from exc


DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r} is not supported; choose one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


class FrozenEncoder(ABC):
    """A frozen image encoder: uint8 frames ``(B, H, W, 3)`` in, layer-normed tokens ``(B, N, D)`` out.

    ``id`` names the weights (hub id or resolved folder plus a fingerprint), so feature caches and predictor
    checkpoints can refuse features from another encoder.
    """

    id: str
    dim: int
    """token width D"""
    grid: tuple[int, int]
    """token grid (rows, cols); N = rows * cols"""
    image_size: int
    """input side after crop and resize"""

    @property
    def num_tokens(self) -> int:
        return self.grid[0] * self.grid[1]

    @abstractmethod
    def encode(self, frames: Any) -> torch.Tensor:
        """Tokens ``(B, N, D)`` float32 on the CPU for uint8 frames ``(B, H, W, 3)``."""

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "dim": self.dim, "grid": list(self.grid), "image_size": self.image_size}
