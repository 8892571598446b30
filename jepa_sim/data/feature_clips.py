"""Training clips of cached frozen-encoder tokens, for the action-conditioned predictor."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from jepa_sim.data.clips import clip_windows
from jepa_sim.data.dataset import EpisodeDataset
from jepa_sim.data.episode import read_arrays
from jepa_sim.data.features import FeatureCache, check_views
from jepa_sim.geometry import state_delta


class FeatureClips(Dataset[dict[str, Any]]):
    """Every window of ``clip_len`` frames, ``frame_stride`` apart, as tokens ``z`` float32 (L, V * N, D), states
    float32 (L, 7) and actions float32 (L-1, 7), the achieved state change between consecutive clip frames.
    With several ``views`` a frame's tokens are each view's ``(N, D)`` side by side, in the order of ``views``
    (the predictor's layout, :meth:`~jepa_sim.predictor.model.PredictorConfig.split_views`).

    Tokens (float16, as cached by ``jepa-sim encode``) and states of the chosen episodes are held in memory,
    so the encoder never runs here. A cache that is missing, incomplete or of another shape is a
    :class:`~jepa_sim.data.manifest.DatasetError` naming the file.
    """

    def __init__(
        self,
        root: Path,
        encoder_id: str,
        clip_len: int = 3,
        frame_stride: int = 1,
        clip_step: int = 1,
        episodes: Sequence[int] | None = None,
        on_episode: Callable[[int], None] | None = None,
        views: Sequence[str] = ("exterior",),
    ) -> None:
        """``on_episode(index)`` after each episode is loaded (for a progress bar)."""
        dataset = EpisodeDataset(root)
        self.cache = FeatureCache.open(root, encoder_id)
        self.views = check_views(tuple(views))
        self.clip_len, self.frame_stride, self.clip_step = clip_len, frame_stride, clip_step
        chosen = dataset.indices if episodes is None else list(episodes)
        self.states: dict[int, NDArray[np.float64]] = {}
        self.tokens: dict[int, NDArray[np.float16]] = {}
        for index in chosen:
            states = read_arrays(dataset.path(index), ["states"])["states"]
            self.states[index] = states
            parts = [self.cache.read(index, frames=len(states), mmap=False, view=v) for v in self.views]
            self.tokens[index] = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
            if on_episode is not None:
                on_episode(index)
        lengths = {i: len(s) for i, s in self.states.items()}
        self.windows, self.skipped = clip_windows(lengths, clip_len, frame_stride, clip_step)

    def with_clip_len(self, clip_len: int) -> FeatureClips:
        """The same episodes cut into windows of another length, sharing the tokens in memory (no reload)."""
        other = copy.copy(self)
        other.clip_len = clip_len
        lengths = {i: len(s) for i, s in self.states.items()}
        other.windows, other.skipped = clip_windows(lengths, clip_len, self.frame_stride, self.clip_step)
        return other

    def action_state_samples(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every action (consecutive frames ``frame_stride`` apart) and every state of the held episodes, as
        float32 ``(M, 7)`` tensors: the statistics the predictor standardises its inputs with."""
        stride = self.frame_stride
        actions = [state_delta(s[:-stride], s[stride:]) for s in self.states.values() if len(s) > stride]
        if not actions:
            raise ValueError("no episode is longer than the frame stride")
        states = np.concatenate(list(self.states.values()))
        return torch.from_numpy(np.concatenate(actions).astype(np.float32)), torch.from_numpy(states.astype(np.float32))

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, item: int) -> dict[str, Any]:
        index, start = self.windows[item]
        rows = slice(start, start + (self.clip_len - 1) * self.frame_stride + 1, self.frame_stride)
        states = self.states[index][rows]
        return {
            "z": torch.from_numpy(self.tokens[index][rows].astype(np.float32)),
            "states": torch.from_numpy(states.astype(np.float32)),
            "actions": torch.from_numpy(state_delta(states[:-1], states[1:]).astype(np.float32)),
            "episode": index,
            "start": start,
        }
