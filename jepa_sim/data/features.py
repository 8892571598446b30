"""A cache of frozen-encoder features beside a dataset, written once per frame and reused every epoch.

``DATA/features/<encoder key>/`` holds ``meta.json`` (the encoder's id, token grid and width, storage dtype)
and one ``episode_NNNNNN.npy`` per episode with the tokens of every exterior frame, ``(T+1, N, D)`` float16;
other views (the wrist camera) live in a subfolder named after the view, ``wrist/episode_NNNNNN.npy``, encoded
by the same frozen encoder. Files are
written atomically, so an interrupted ``jepa-sim encode`` resumes by encoding only the episodes still missing.
A cache is tied to one encoder id: features of another encoder live in another folder and are never mixed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jepa_sim.atomic import atomic_write, remove_leftovers
from jepa_sim.data.dataset import EpisodeDataset
from jepa_sim.data.episode import EpisodeFormatError, episode_filename, read_arrays
from jepa_sim.data.manifest import DatasetError

FEATURES_DIR = "features"
STORAGE_DTYPE = "float16"
VIEW_ARRAYS: dict[str, str] = {"exterior": "frames", "wrist": "wrist_frames"}
"""the episode array each view's features are encoded from"""


def check_views(views: tuple[str, ...]) -> tuple[str, ...]:
    """The views, or a ValueError naming the allowed ones."""
    unknown = [v for v in views if v not in VIEW_ARRAYS]
    if unknown or not views or len(set(views)) != len(views):
        named = f"unknown view(s) {unknown}: " if unknown else ""
        raise ValueError(f"{named}views must be distinct names among {', '.join(VIEW_ARRAYS)}, got {views}")
    return views


def parse_views(text: str) -> tuple[str, ...]:
    """A ``--views`` flag (``exterior,wrist``) as checked view names (:func:`check_views`)."""
    return check_views(tuple(v.strip() for v in text.split(",") if v.strip()))


def cache_key(encoder_id: str) -> str:
    """A folder name for an encoder id (``facebook/vjepa2-vitl-fpc64-256`` -> ``facebook--vjepa2-vitl-fpc64-256``)."""
    return re.sub(r"[^A-Za-z0-9._@-]+", "--", encoder_id).strip("-")


class FeatureCache:
    """The cached features of one encoder for one dataset folder."""

    def __init__(self, data_root: Path, encoder: dict[str, Any]) -> None:
        """``encoder`` is ``FrozenEncoder.describe()``: id, dim, grid, image_size."""
        self.data_root = Path(data_root)
        self.encoder = dict(encoder)
        self.folder = self.data_root / FEATURES_DIR / cache_key(str(encoder["id"]))
        self.meta_path = self.folder / "meta.json"

    @classmethod
    def open(cls, data_root: Path, encoder_id: str) -> FeatureCache:
        """An existing cache, by encoder id; a clear error when it was never written."""
        folder = Path(data_root) / FEATURES_DIR / cache_key(encoder_id)
        meta_path = folder / "meta.json"
        if not meta_path.is_file():
            raise DatasetError(
                f"no features of encoder {encoder_id!r} in {data_root}; run `jepa-sim encode --data {data_root} "
                f"--encoder ...` first (cached: {', '.join(list_caches(data_root)) or 'none'})"
            )
        meta = json.loads(meta_path.read_text())
        return cls(data_root, meta["encoder"])

    def path(self, index: int, view: str = "exterior") -> Path:
        folder = self.folder if view == "exterior" else self.folder / check_views((view,))[0]
        return (folder / episode_filename(index)).with_suffix(".npy")

    def write_meta(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.meta_path.is_file():
            existing = json.loads(self.meta_path.read_text())["encoder"]
            if existing != self.encoder:
                raise DatasetError(f"{self.folder} holds features of {existing}, not of {self.encoder}")
            return
        with atomic_write(self.meta_path) as tmp:
            tmp.write_text(json.dumps({"encoder": self.encoder, "dtype": STORAGE_DTYPE}, indent=2) + "\n")

    def missing(self, dataset: EpisodeDataset, views: tuple[str, ...] = ("exterior",)) -> list[int]:
        """Episodes of which some view is not cached yet."""
        return [i for i in dataset.indices if not all(self.path(i, v).is_file() for v in views)]

    def write(self, index: int, tokens: NDArray[Any], view: str = "exterior") -> None:
        """Store one episode's tokens ``(T+1, N, D)`` of one view atomically as float16."""
        expected = (self.encoder["grid"][0] * self.encoder["grid"][1], self.encoder["dim"])
        if tokens.ndim != 3 or tokens.shape[1:] != expected:
            raise ValueError(f"tokens must be (frames, {expected[0]}, {expected[1]}), got {tokens.shape}")
        path = self.path(index, view)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, tokens.astype(STORAGE_DTYPE), allow_pickle=False)

    def read(self, index: int, frames: int | None = None, mmap: bool = True, view: str = "exterior") -> NDArray[Any]:
        """Tokens ``(T+1, N, D)`` of one episode and view (memory-mapped), checked against the expected frame
        count."""
        path = self.path(index, view)
        try:
            tokens = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except FileNotFoundError as exc:
            views = "" if view == "exterior" else f" --views exterior,{view}"
            raise DatasetError(f"{path}: missing; run `jepa-sim encode{views}` to finish the feature cache") from exc
        except (ValueError, OSError, EOFError) as exc:
            raise DatasetError(f"{path}: truncated or corrupt feature file ({exc}); delete it, rerun encode") from exc
        grid = self.encoder["grid"]
        if tokens.ndim != 3 or tokens.shape[1:] != (grid[0] * grid[1], self.encoder["dim"]):
            raise DatasetError(f"{path}: features of shape {tokens.shape} do not match the encoder {self.encoder}")
        if frames is not None and tokens.shape[0] != frames:
            raise DatasetError(f"{path}: {tokens.shape[0]} feature frames, the episode has {frames}")
        return tokens

    def cleanup(self) -> None:
        remove_leftovers(self.folder)
        for view in VIEW_ARRAYS:
            if view != "exterior" and (self.folder / view).is_dir():
                remove_leftovers(self.folder / view)


def list_caches(data_root: Path) -> list[str]:
    folder = Path(data_root) / FEATURES_DIR
    return sorted(p.name for p in folder.iterdir() if (p / "meta.json").is_file()) if folder.is_dir() else []


def encode_dataset(
    data_root: Path,
    encode: Callable[[NDArray[np.uint8]], Any],
    encoder: dict[str, Any],
    on_episode: Callable[[int, int], None] | None = None,
    views: tuple[str, ...] = ("exterior",),
) -> FeatureCache:
    """Encode every episode and view of ``data_root`` not yet in the cache; ``on_episode(index, frames)`` after
    each episode. A view the dataset was not collected with is a :class:`DatasetError` naming the fix."""
    check_views(views)
    dataset = EpisodeDataset(data_root)
    cache = FeatureCache(data_root, encoder)
    cache.write_meta()
    cache.cleanup()
    for index in cache.missing(dataset, views):
        for view in views:
            if cache.path(index, view).is_file():
                continue
            key = VIEW_ARRAYS[view]
            try:
                frames = read_arrays(dataset.path(index), [key])[key]
            except EpisodeFormatError as exc:
                if view != "exterior" and f"{key}.npy is missing" in str(exc):
                    raise DatasetError(f"{dataset.path(index)} has no {key}: the {view} view needs a dataset "
                                       "collected with --wrist-camera") from exc  # fmt: skip
                raise
            tokens = encode(frames)
            tokens = tokens.numpy() if hasattr(tokens, "numpy") else np.asarray(tokens)
            if not np.all(np.isfinite(tokens)):
                raise ValueError(f"the encoder returned NaN or inf for {dataset.path(index)} ({view})")
            cache.write(index, tokens, view)
        if on_episode is not None:
            on_episode(index, int(frames.shape[0]))
    return cache
