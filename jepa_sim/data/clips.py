"""Fixed-length training clips from a dataset folder, for a ``torch.utils.data.DataLoader``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from jepa_sim.data.dataset import EpisodeDataset
from jepa_sim.data.episode import read_episode, read_metadata
from jepa_sim.geometry import state_delta


def split_episodes(indices: Sequence[int], holdout_fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """A seeded (train, held-out) split of episode indices; at least one episode is held out when asked."""
    if not 0.0 <= holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in [0, 1), got {holdout_fraction}")
    order = np.random.default_rng(seed).permutation(np.asarray(indices, dtype=np.int64))
    n_hold = 0 if holdout_fraction == 0 else max(1, round(len(order) * holdout_fraction))
    return sorted(order[n_hold:].tolist()), sorted(order[:n_hold].tolist())


def clip_windows(
    frames: dict[int, int], clip_len: int, frame_stride: int = 1, clip_step: int = 1
) -> tuple[list[tuple[int, int]], list[int]]:
    """Every ``(episode, start)`` window of ``clip_len`` frames ``frame_stride`` apart, starts ``clip_step``
    apart, for episodes with the given frame counts; and the episodes too short for one window."""
    if clip_len < 2:
        raise ValueError(f"clip_len must be at least 2 (a frame, an action and the next frame), got {clip_len}")
    if frame_stride < 1 or clip_step < 1:
        raise ValueError(f"frame_stride and clip_step must be at least 1, got {frame_stride}, {clip_step}")
    span = (clip_len - 1) * frame_stride + 1
    windows: list[tuple[int, int]] = []
    skipped: list[int] = []
    for index, n in frames.items():
        if n < span:
            skipped.append(index)
            continue
        windows += [(index, start) for start in range(0, n - span + 1, clip_step)]
    return windows, skipped


class ClipDataset(Dataset[dict[str, Any]]):
    """Every window of ``clip_len`` frames, ``frame_stride`` frames apart, from the chosen episodes.

    An item holds ``frames`` uint8 (L, H, W, 3), ``states`` float32 (L, 7), ``actions`` float32 (L-1, 7),
    where ``actions[k]`` is the achieved state change from frame k to frame k+1 of the clip (with a stride
    of s it spans s recorded steps), and ``episode``/``start`` (which window). Episodes shorter than one
    clip are skipped (``skipped`` lists them). Decoded episodes are kept in a small per-process cache.
    """

    def __init__(
        self,
        root: Path,
        clip_len: int = 8,
        frame_stride: int = 1,
        clip_step: int = 1,
        episodes: Sequence[int] | None = None,
        load_frames: bool = True,
        cache_size: int = 8,
    ) -> None:
        self.dataset = EpisodeDataset(root)
        self.clip_len, self.frame_stride, self.load_frames = clip_len, frame_stride, load_frames
        self.cache_size = cache_size
        chosen = self.dataset.indices if episodes is None else list(episodes)
        lengths = {i: int(read_metadata(self.dataset.path(i))["steps"]) + 1 for i in chosen}
        self.windows, self.skipped = clip_windows(lengths, clip_len, frame_stride, clip_step)
        self._cache: OrderedDict[int, dict[str, NDArray[Any]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.windows)

    def _episode(self, index: int) -> dict[str, NDArray[Any]]:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        episode = read_episode(self.dataset.path(index), check=True)  # raises EpisodeFormatError, names the file
        keys = ("states", "frames") if self.load_frames else ("states",)
        arrays = {k: episode[k] for k in keys}
        self._cache[index] = arrays
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return arrays

    def __getitem__(self, item: int) -> dict[str, Any]:
        index, start = self.windows[item]
        arrays = self._episode(index)
        rows = slice(start, start + (self.clip_len - 1) * self.frame_stride + 1, self.frame_stride)
        states = arrays["states"][rows]
        out: dict[str, Any] = {
            "states": torch.from_numpy(states.astype(np.float32)),
            "actions": torch.from_numpy(state_delta(states[:-1], states[1:]).astype(np.float32)),
            "episode": index,
            "start": start,
        }
        if self.load_frames:
            out["frames"] = torch.from_numpy(np.ascontiguousarray(arrays["frames"][rows]))
        return out
