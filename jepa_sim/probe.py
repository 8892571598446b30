"""Frozen-feature probes: does an encoder's output tell where the arm and the object are?

Ridge regression from pooled tokens to the end-effector position, the object position and the gripper opening,
fitted on some episodes and scored (R^2) on others, so a probe cannot memorise frames it is tested on. The
attentive probe (:func:`fit_attentive`, V-JEPA's evaluation protocol) reads every token instead: a learned query
attends over the tokens, each with a learned embedding of where it is, and a linear head reads the result; where
a small object is, is which tokens show it, which no linear map of pooled features can read.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from jepa_sim.data.dataset import episode_path
from jepa_sim.data.episode import EpisodeFormatError, read_arrays, read_metadata
from jepa_sim.data.features import VIEW_ARRAYS


def _position_of(name: str) -> Callable[[dict[str, NDArray[Any]]], NDArray[Any]]:
    """The position of the object called ``name`` (the task object or the distractor of the episode)."""
    return lambda a: a["object_pose"][:, :3] if str(a["object"]) == name else a["other_object_pos"]


TARGETS: dict[str, Callable[[dict[str, NDArray[Any]]], NDArray[Any]]] = {
    "ee_pos": lambda a: a["states"][:, :3],
    "object_pos": lambda a: a["object_pose"][:, :3],
    "gripper": lambda a: a["states"][:, 6:7],
    "cup_pos": _position_of("cup"),
    "box_pos": _position_of("box"),
}
"""what the probe regresses, from an episode's arrays and its ``object`` (positions in metres, robot base frame).
Both objects are in every scene: ``object_pos`` is the task's, which one image cannot tell (a cup episode and a box
episode can look alike), so ``cup_pos`` and ``box_pos`` name the object by what it is"""

LAMBDAS = tuple(10.0**k for k in range(-4, 4))


@dataclass(frozen=True)
class ProbeSet:
    """Pooled features and targets of some episodes, one row per frame."""

    features: NDArray[np.float64]
    targets: dict[str, NDArray[np.float64]]
    episode: NDArray[np.int64]


@dataclass(frozen=True)
class ProbeScore:
    r2: float
    """R^2 averaged over the target's axes, on the test episodes"""
    r2_axes: tuple[float, ...]
    rmse: float
    """root mean squared error over all axes (metres for positions)"""
    ridge: float
    """regularisation strength chosen on a validation split of the training episodes"""


POOLS: tuple[str, ...] = ("mean", "grid", "cells", "tokens")


def pool_tokens(tokens: torch.Tensor, pool: str) -> torch.Tensor:
    """``(B, N, D)`` tokens of a square grid -> ``(B, D)`` (``mean`` over all tokens), ``(B, 4 D)`` (``grid``:
    the mean of each quarter of the image, so the probe keeps where in the frame a feature is) or
    ``(B, N / 4 * D)`` (``cells``: the mean of each 2 x 2 square of tokens, the squares the shipped predictors fold
    into one token, ``merge`` 2: what a linear read-out of the predictor's own inputs can see, at a quarter of
    the width of every token side by side) or ``(B, N * D)`` (``tokens``: every token, for the attentive probe)."""
    if pool == "mean":
        return tokens.mean(1)
    if pool == "tokens":
        return tokens.reshape(tokens.shape[0], -1)
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
    b, n, d = tokens.shape
    side = math.isqrt(n)
    if side * side != n or side % 2:
        raise ValueError(f"{pool} pooling needs an even square token grid, got {n} tokens")
    cells = 2 if pool == "grid" else side // 2  # cells per side
    grid = tokens.reshape(b, cells, side // cells, cells, side // cells, d)
    return grid.mean(dim=(2, 4)).reshape(b, cells * cells * d)


def pooled_features(
    encode: Callable[[Any], torch.Tensor], frames: NDArray[np.uint8], batch: int = 256, pool: str = "mean"
) -> NDArray:
    """Pooled encoder output (:func:`pool_tokens`), ``(F, D)`` or ``(F, 4 D)`` float64."""
    out = [pool_tokens(encode(frames[i : i + batch]), pool).double().numpy() for i in range(0, len(frames), batch)]
    return np.concatenate(out) if out else np.zeros((0, 0))


def probe_sets(
    root: Path,
    episodes: Sequence[int],
    encoders: dict[str, Callable[[Any], torch.Tensor]],
    every: int = 1,
    on_episode: Callable[[int], None] | None = None,
    views: Sequence[str] = ("exterior",),
    pool: str = "mean",
) -> dict[str, ProbeSet]:
    """Features of every encoder and the shared targets for every ``every``-th frame of the given episodes;
    each episode is read once, whatever the number of encoders. With several ``views`` a frame's features are
    the pooled features of each view side by side (the views of one instant)."""
    keys = [VIEW_ARRAYS[v] for v in views]
    feats: dict[str, list[NDArray]] = {name: [] for name in encoders}
    targets: dict[str, list[NDArray]] = {k: [] for k in TARGETS}
    owners = []
    rows = slice(None, None, every)
    for index in episodes:
        try:
            path = episode_path(root, index)
            arrays = read_arrays(path, [*keys, "states", "object_pose", "other_object_pos"])
            arrays["object"] = np.array(read_metadata(path)["object"])
        except EpisodeFormatError as exc:
            if "wrist_frames" in str(exc) and "missing" in str(exc):
                raise EpisodeFormatError(f"{exc}; collect with --wrist-camera to probe the wrist view") from exc
            raise
        frames = arrays[keys[0]][rows]
        for name, encode in encoders.items():
            per_view = [pooled_features(encode, arrays[key][rows], pool=pool) for key in keys]
            feats[name].append(np.concatenate(per_view, axis=1))
        for name, fn in TARGETS.items():
            targets[name].append(fn(arrays)[rows])
        owners.append(np.full(len(frames), index))
        if on_episode is not None:
            on_episode(index)
    if not owners:
        raise ValueError("no episodes to probe")
    shared = {k: np.concatenate(v).astype(np.float64) for k, v in targets.items()}
    episode = np.concatenate(owners)
    return {name: ProbeSet(np.concatenate(f), shared, episode) for name, f in feats.items()}


def ridge_fit(x: NDArray, y: NDArray, lam: float) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Ridge on standardised features; returns (weights, bias, feature mean, feature scale)."""
    mean, scale = x.mean(0), x.std(0) + 1e-8
    z = (x - mean) / scale
    gram = z.T @ z + lam * len(z) * np.eye(z.shape[1])
    w = np.linalg.solve(gram, z.T @ (y - y.mean(0)))
    return w, y.mean(0), mean, scale


def ridge_predict(model: tuple[NDArray, NDArray, NDArray, NDArray], x: NDArray) -> NDArray:
    w, bias, mean, scale = model
    return ((x - mean) / scale) @ w + bias


def r2_axes(y: NDArray, pred: NDArray) -> NDArray:
    """Coefficient of determination per output axis."""
    ss_res = ((y - pred) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0) + 1e-12
    return 1.0 - ss_res / ss_tot


def fit_probe(train: ProbeSet, test: ProbeSet, name: str, lambdas: Sequence[float] = LAMBDAS) -> ProbeScore:
    """Choose the ridge strength on a split of the training episodes, refit on all of them, score on test."""
    return fit_probes(train, test, [name], lambdas)[name]


def fit_probes(
    train: ProbeSet, test: ProbeSet, names: Sequence[str], lambdas: Sequence[float] = LAMBDAS
) -> dict[str, ProbeScore]:
    """:func:`fit_probe` for several targets at once: each standardisation and Gram matrix is computed once and
    each ridge strength solved once for every target (the same numbers as one target at a time)."""
    fit, val = _validation_split(train.episode)
    widths = [train.targets[n].shape[1] for n in names]
    bounds = np.cumsum([0, *widths])
    y = np.concatenate([train.targets[n] for n in names], axis=1)
    ridge = _Ridge(train.features[fit], y[fit])
    val_scores = np.array(  # (lambdas, targets)
        [[r2_axes(y[val][:, a:b], p[:, a:b]).mean() for a, b in itertools.pairwise(bounds)]
         for p in (ridge.predict(lam, train.features[val]) for lam in lambdas)]
    )  # fmt: skip
    best = [float(lambdas[int(k)]) for k in np.argmax(val_scores, axis=0)]
    full = _Ridge(train.features, y)
    out: dict[str, ProbeScore] = {}
    for lam in sorted(set(best)):
        pred = full.predict(lam, test.features)
        for k, name in enumerate(names):
            if best[k] == lam:
                truth, guess = test.targets[name], pred[:, bounds[k] : bounds[k + 1]]
                axes = r2_axes(truth, guess)
                rmse = float(np.sqrt(((truth - guess) ** 2).mean()))
                out[name] = ProbeScore(float(axes.mean()), tuple(float(a) for a in axes), rmse, lam)
    return {name: out[name] for name in names}


def _validation_split(episode: NDArray[np.int64]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(fit, validate) masks over frames owned by ``episode``: every fifth training episode validates (with one
    episode, it does both)."""
    episodes = np.unique(episode)
    val = np.isin(episode, episodes[::5] if len(episodes) > 1 else episodes)
    return (~val if (~val).any() else val), val


class _Ridge:
    """:func:`ridge_fit` of several targets on one feature matrix, its Gram matrix computed once."""

    def __init__(self, x: NDArray, y: NDArray) -> None:
        self.mean, self.scale = x.mean(0), x.std(0) + 1e-8
        z = (x - self.mean) / self.scale
        self.n, self.gram, self.y_mean = len(z), z.T @ z, y.mean(0)
        self.zty = z.T @ (y - self.y_mean)

    def predict(self, lam: float, x: NDArray) -> NDArray:
        w = np.linalg.solve(self.gram + lam * self.n * np.eye(len(self.gram)), self.zty)
        return ridge_predict((w, self.y_mean, self.mean, self.scale), x)


def run_probe(train: ProbeSet, test: ProbeSet) -> dict[str, ProbeScore]:
    """One score per target of the sets (:data:`TARGETS`)."""
    return fit_probes(train, test, list(train.targets))


class AttentiveProbe(torch.nn.Module):
    """Cross-attention pooling and a linear head: ``heads`` learned queries attend over the ``(B, T, D)`` tokens,
    their outputs side by side are mapped to the targets. Each token's key and value also get a learned embedding
    of its index (where in which view it is): the frozen tokens carry where they are only through the encoder's
    rotary attention, so the probe learns it."""

    def __init__(self, tokens: int, dim: int, outputs: int, width: int = 128, heads: int = 4) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.norm = torch.nn.LayerNorm(dim)
        self.key = torch.nn.Linear(dim, width)
        self.value = torch.nn.Linear(dim, width)
        self.position_key = torch.nn.Parameter(torch.zeros(tokens, width))
        self.position_value = torch.nn.Parameter(torch.randn(tokens, width) * 0.02)
        self.query = torch.nn.Parameter(torch.randn(heads, self.head_dim) * self.head_dim**-0.5)
        self.head = torch.nn.Linear(width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        x = self.norm(x)
        k = (self.key(x) + self.position_key).view(b, t, self.heads, self.head_dim)
        v = (self.value(x) + self.position_value).view(b, t, self.heads, self.head_dim)
        weights = torch.softmax(torch.einsum("bthd,hd->bht", k, self.query) * self.head_dim**-0.5, dim=-1)
        return self.head(torch.einsum("bht,bthd->bhd", weights, v).reshape(b, -1))


def fit_attentive(
    train: ProbeSet,
    test: ProbeSet,
    dim: int,
    epochs: int = 40,
    batch: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    seed: int = 0,
    on_epoch: Callable[[int], None] | None = None,
) -> dict[str, ProbeScore]:
    """The attentive probe on every token (``ProbeSet.features`` ``(F, T * dim)``, pool ``tokens``), all targets
    at once (standardised on the training frames): AdamW, every fifth training episode held out to keep the epoch
    with the lowest validation loss; scored per target on ``test`` as :func:`fit_probe` is (``ridge``: the weight
    decay)."""
    if train.features.shape[1] % dim or train.features.shape[1] != test.features.shape[1]:
        raise ValueError(f"attentive probe: features of width {train.features.shape[1]} are not tokens of {dim}")
    torch.manual_seed(seed)
    names = list(train.targets)
    widths = [train.targets[n].shape[1] for n in names]
    y_train = np.concatenate([train.targets[n] for n in names], axis=1)
    mean, scale = y_train.mean(0), y_train.std(0) + 1e-8

    def tensors(data: ProbeSet) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.as_tensor(data.features, dtype=torch.float32).view(len(data.features), -1, dim)
        y = np.concatenate([data.targets[n] for n in names], axis=1)
        return x, torch.as_tensor((y - mean) / scale, dtype=torch.float32)

    x, y = tensors(train)
    fit, val = (torch.as_tensor(mask) for mask in _validation_split(train.episode))
    model = AttentiveProbe(x.shape[1], dim, y.shape[1])
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(1, epochs))
    generator = torch.Generator().manual_seed(seed)
    fit_rows = torch.nonzero(fit).squeeze(1)
    best, best_state = float("inf"), copy.deepcopy(model.state_dict())
    for epoch in range(epochs):
        model.train()
        for rows in fit_rows[torch.randperm(len(fit_rows), generator=generator)].split(batch):
            loss = torch.nn.functional.mse_loss(model(x[rows]), y[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()
        model.eval()
        with torch.no_grad():
            val_loss = float(torch.nn.functional.mse_loss(_predict(model, x[val], batch), y[val]))
        if val_loss < best:
            best, best_state = val_loss, copy.deepcopy(model.state_dict())
        if on_epoch is not None:
            on_epoch(epoch)
    model.load_state_dict(best_state)
    model.eval()
    x_test, _ = tensors(test)
    with torch.no_grad():
        pred = _predict(model, x_test, batch).double().numpy() * scale + mean
    scores, start = {}, 0
    for name, width in zip(names, widths, strict=True):
        truth, guess = test.targets[name], pred[:, start : start + width]
        axes = r2_axes(truth, guess)
        rmse = float(np.sqrt(((truth - guess) ** 2).mean()))
        scores[name] = ProbeScore(float(axes.mean()), tuple(float(a) for a in axes), rmse, weight_decay)
        start += width
    return scores


def _predict(model: AttentiveProbe, x: torch.Tensor, batch: int) -> torch.Tensor:
    return torch.cat([model(rows) for rows in x.split(batch)]) if len(x) else torch.zeros(0, model.head.out_features)
