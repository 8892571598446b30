"""Frames to encoder input: crop (never squash) to a square, resize, ImageNet normalisation."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def as_frame_batch(frames: Any) -> torch.Tensor:
    """uint8 frames ``(B, H, W, 3)`` (numpy or torch) as a uint8 tensor, with a clear error for anything else."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) else frames
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"frames must be a numpy array or torch tensor, got {type(frames).__name__}")
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 4 or tensor.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 RGB of shape (B, H, W, 3), got shape {tuple(tensor.shape)}")
    if tensor.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8 (0..255), got {tensor.dtype}")
    return tensor


def center_crop_resize(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(B, H, W, 3)`` -> float ``(B, 3, size, size)`` in [0, 1]: the largest centred square is cropped,
    then resized with antialiasing, so a non-square camera image is cropped like training images, not squashed."""
    x = frames.permute(0, 3, 1, 2).float().div_(255.0)
    h, w = x.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    x = x[..., top : top + side, left : left + side]
    if side != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp_(0.0, 1.0)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """ImageNet mean/std normalisation of ``(B, 3, H, W)`` values in [0, 1]."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def to_video_clips(frames: Any, size: int, tubelet: int) -> torch.Tensor:
    """Each frame on its own as a clip ``(B, tubelet, 3, size, size)``: the frame repeated to fill one tubelet."""
    x = normalize(center_crop_resize(as_frame_batch(frames), size))
    return x.unsqueeze(1).expand(-1, tubelet, -1, -1, -1)
