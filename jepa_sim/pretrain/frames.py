"""Video frames of a dataset held in memory for pretraining, sampled as single frames or short clips."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from jepa_sim.data.dataset import episode_path
from jepa_sim.data.episode import EpisodeFormatError, read_arrays
from jepa_sim.data.features import VIEW_ARRAYS, check_views
from jepa_sim.encoders.preprocess import center_crop_resize, normalize, to_video_clips


class FrameBank:
    """Every frame of the chosen episodes and views as one uint8 tensor ``(F, H, W, 3)``, with episode boundaries
    (each view of an episode is its own segment, so a clip never mixes views).

    ``sample`` draws clips of ``length`` frames ``stride`` apart that never cross an episode boundary; with
    ``length=1`` it draws single frames. Frames are read with their CRC checked; a damaged episode raises
    :class:`EpisodeFormatError` naming the file.
    """

    def __init__(
        self,
        root: Path,
        episodes: Sequence[int],
        on_episode: Callable[[int], None] | None = None,
        views: Sequence[str] = ("exterior",),
    ) -> None:
        if not episodes:
            raise ValueError("no episodes to load frames from")
        check_views(tuple(views))
        chunks, starts, lengths = [], [], []
        offset = 0
        for index in episodes:
            path = episode_path(root, index)
            for view in views:
                key = VIEW_ARRAYS[view]
                try:
                    frames = read_arrays(path, [key])[key]
                except EpisodeFormatError as exc:
                    if view == "exterior" or f"{key}.npy is missing" not in str(exc):
                        raise
                    raise EpisodeFormatError(
                        f"episode {index} has no {key}: collect with --wrist-camera to use the {view} view"
                    ) from exc
                if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
                    raise EpisodeFormatError(f"episode {index}: {key} have shape {frames.shape} {frames.dtype}")
                chunks.append(torch.from_numpy(frames))
                starts.append(offset)
                lengths.append(len(frames))
                offset += len(frames)
            if on_episode is not None:
                on_episode(index)
        self.frames = torch.cat(chunks)
        self.episodes = list(episodes)
        self.starts = torch.tensor(starts)
        self.lengths = torch.tensor(lengths)
        self._starts: dict[tuple[int, int], torch.Tensor] = {}

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def clip_starts(self, length: int, stride: int) -> torch.Tensor:
        """Frame indices where a clip of ``length`` frames ``stride`` apart fits inside its episode."""
        if (length, stride) in self._starts:
            return self._starts[length, stride]
        span = (length - 1) * stride
        valid = [
            torch.arange(s, s + n - span)
            for s, n in zip(self.starts.tolist(), self.lengths.tolist(), strict=True)
            if n > span
        ]
        if not valid:
            raise ValueError(f"no episode is long enough for clips of {length} frames {stride} apart")
        self._starts[length, stride] = torch.cat(valid)
        return self._starts[length, stride]

    def sample(
        self, batch: int, length: int = 1, stride: int = 1, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """uint8 clips ``(batch, length, H, W, 3)``."""
        starts = self.clip_starts(length, stride) if length > 1 else None
        if starts is None:
            first = torch.randint(0, len(self), (batch,), generator=generator)
        else:
            first = starts[torch.randint(0, len(starts), (batch,), generator=generator)]
        index = first.unsqueeze(1) + stride * torch.arange(length).unsqueeze(0)
        return self.frames[index]


def clips_to_pixels(clips: torch.Tensor, image_size: int, frames_per_clip: int) -> torch.Tensor:
    """uint8 ``(B, L, H, W, 3)`` -> normalised ``(B, frames_per_clip, 3, S, S)``: crop, resize, ImageNet
    normalisation as :func:`jepa_sim.encoders.preprocess.to_video_clips`; single frames (``L == 1``) are
    repeated to fill the clip, exactly as the frozen encoder sees a frame at encoding time."""
    b, length = clips.shape[:2]
    if length not in (1, frames_per_clip):
        raise ValueError(f"clips of {length} frames cannot fill {frames_per_clip} frames per clip")
    if length == 1:
        return to_video_clips(clips[:, 0], image_size, frames_per_clip)
    x = normalize(center_crop_resize(clips.flatten(0, 1), image_size))
    return x.view(b, length, *x.shape[1:])
