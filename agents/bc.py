"""Goal-conditioned behaviour cloning on the frozen encoder's tokens: the stand-in for the paper's Octo baseline.

The policy sees what the MPC agent sees (the current frame's tokens, the goal image's tokens, the state) and
regresses the recorded action. Tokens are average-pooled to a coarser grid, then an MLP maps
``[current, goal, state]`` to the action. With several camera views (``BCConfig.views``, e.g. the exterior and
the wrist camera, as the two-view predictor observes them) the current frame and the goal are every view's
pooled tokens side by side. Goals are relabelled in hindsight: the goal of every frame is the
last frame of its episode, so exploratory and failed episodes teach too, and at test time the goal image
takes its place.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from jepa_sim.atomic import atomic_folder
from jepa_sim.data.clips import split_episodes
from jepa_sim.data.feature_clips import FeatureClips
from jepa_sim.geometry import state_delta
from jepa_sim.schedules import warmup_stable_decay

FORMAT = "jepa-sim-bc"


@dataclass(frozen=True)
class BCConfig:
    token_dim: int
    grid: tuple[int, int]
    pool: int = 2
    """average-pool pool x pool squares of tokens"""
    hidden: int = 512
    layers: int = 3
    dropout: float = 0.1
    views: tuple[str, ...] = ("exterior",)
    """the camera views whose tokens make a frame, in order (the predictor's layout: each view's tokens side by
    side)"""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BCConfig:
        """From the ``config`` of ``config.json``; a policy saved before views existed saw the exterior view."""
        return cls(**{**data, "grid": tuple(data["grid"]), "views": tuple(data.get("views", ("exterior",)))})

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "grid": list(self.grid), "views": list(self.views)}


class BCPolicy(nn.Module):
    """``(current tokens (B, V * N, D), goal tokens (B, V * N, D), state (B, 7)) -> action (B, 7)``: ``V`` views'
    tokens side by side, in the order of ``config.views``."""

    mean: torch.Tensor
    std: torch.Tensor
    action_mean: torch.Tensor
    action_std: torch.Tensor

    def __init__(self, config: BCConfig) -> None:
        super().__init__()
        self.config = config
        rows, cols = config.grid
        if rows % config.pool or cols % config.pool:
            raise ValueError(f"the grid {config.grid} is not divisible by pool={config.pool}")
        features = 2 * len(config.views) * (rows // config.pool) * (cols // config.pool) * config.token_dim + 7
        dims = [features] + [config.hidden] * config.layers
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            layers += [nn.Linear(a, b), nn.GELU(), nn.Dropout(config.dropout)]
        self.net = nn.Sequential(*layers, nn.Linear(dims[-1], 7))
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))
        self.register_buffer("action_mean", torch.zeros(7))
        self.register_buffer("action_std", torch.ones(7))

    def features(self, z: torch.Tensor, goal: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        (rows, cols), views = self.config.grid, len(self.config.views)
        expected = (views * rows * cols, self.config.token_dim)
        if z.shape[1:] != expected or goal.shape[1:] != expected:
            raise ValueError(f"the policy takes tokens (B, {expected[0]}, {expected[1]}) (views {self.config.views}), "
                             f"got {tuple(z.shape)} and {tuple(goal.shape)}")  # fmt: skip

        def pooled(tokens: torch.Tensor) -> torch.Tensor:
            b, d = tokens.shape[0], tokens.shape[2]
            grid = tokens.reshape(b * views, rows * cols, d).transpose(1, 2).reshape(b * views, d, rows, cols)
            return F.avg_pool2d(grid, self.config.pool).reshape(b, -1)

        return torch.cat([pooled(z), pooled(goal), state], dim=1)

    def forward(self, z: torch.Tensor, goal: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """The action in raw units (the network works on standardised inputs and outputs)."""
        x = (self.features(z, goal, state) - self.mean) / self.std
        return self.net(x) * self.action_std + self.action_mean


@dataclass
class BCData:
    z: torch.Tensor
    goal_index: torch.Tensor
    goals: torch.Tensor
    states: torch.Tensor
    actions: torch.Tensor


def bc_samples(clips: FeatureClips) -> BCData:
    """Every frame with an action: its tokens, its episode's last-frame tokens (the hindsight goal), its state
    and the achieved action to the next frame."""
    zs, goal_index, states, actions, goals = [], [], [], [], []
    for g, (index, tokens) in enumerate(clips.tokens.items()):
        s = clips.states[index]
        zs.append(torch.from_numpy(tokens[:-1]))
        goals.append(torch.from_numpy(tokens[-1].astype(np.float32)))
        goal_index.append(torch.full((len(s) - 1,), g))
        states.append(torch.from_numpy(s[:-1].astype(np.float32)))
        actions.append(torch.from_numpy(state_delta(s[:-1], s[1:]).astype(np.float32)))
    return BCData(torch.cat(zs), torch.cat(goal_index), torch.stack(goals), torch.cat(states), torch.cat(actions))


def train_bc(
    data: Path,
    encoder: dict[str, Any],
    out: Path,
    steps: int = 3000,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    holdout: float = 0.1,
    views: Sequence[str] = ("exterior",),
    on_load: Callable[[int], None] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """Train a BC policy on the cached tokens of ``encoder`` in ``data`` (of each of ``views``); writes
    ``out/model.safetensors`` and ``out/config.json``; returns the training record (including held-out action
    error)."""
    from jepa_sim.data.dataset import EpisodeDataset

    dataset = EpisodeDataset(data)
    train_eps, held_eps = split_episodes(dataset.indices, holdout, seed)
    if not train_eps or not held_eps:
        raise ValueError(f"{data} has {len(dataset)} episodes: BC needs at least 2 (one is held out)")
    train = bc_samples(FeatureClips(data, str(encoder["id"]), 2, 1, 1, train_eps, on_load, views))
    held = bc_samples(FeatureClips(data, str(encoder["id"]), 2, 1, 1, held_eps, on_load, views))
    torch.manual_seed(seed)
    grid = (int(encoder["grid"][0]), int(encoder["grid"][1]))
    config = BCConfig(token_dim=int(encoder["dim"]), grid=grid, views=tuple(views))
    policy = BCPolicy(config)
    sample = torch.randperm(len(train.z))[:20_000]
    with torch.no_grad():
        feats = policy.features(train.z[sample].float(), train.goals[train.goal_index[sample]], train.states[sample])
        policy.mean.copy_(feats.mean(0))
        policy.std.copy_(feats.std(0).clamp_min(1e-3))
        policy.action_mean.copy_(train.actions.mean(0))
        policy.action_std.copy_(train.actions.std(0).clamp_min(1e-4))
    optimizer = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = warmup_stable_decay(step, steps, lr, 0.05, 0.2, 0.01)
        i = torch.randint(len(train.z), (batch_size,), generator=gen)
        pred = policy(train.z[i].float(), train.goals[train.goal_index[i]], train.states[i])
        loss = F.smooth_l1_loss((pred - train.actions[i]) / policy.action_std, torch.zeros_like(pred))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if on_step is not None:
            on_step(step + 1, float(loss.detach()))
    seconds = time.perf_counter() - start
    policy.eval()
    with torch.no_grad():
        pred = torch.cat([policy(held.z[j : j + 1024].float(), held.goals[held.goal_index[j : j + 1024]],
                                 held.states[j : j + 1024]) for j in range(0, len(held.z), 1024)])  # fmt: skip
        mae = (pred - held.actions).abs().mean(0)
        baseline = (held.actions - train.actions.mean(0)).abs().mean(0)
    record = {"data": str(data), "views": list(views), "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
              "train_frames": len(train.z), "heldout_frames": len(held.z), "train_seconds": round(seconds, 1),
              "heldout_xyz_mae_m": float(mae[:3].mean()), "heldout_gripper_mae": float(mae[6]),
              "mean_action_xyz_mae_m": float(baseline[:3].mean()),
              "mean_action_gripper_mae": float(baseline[6])}  # fmt: skip
    save_bc(out, policy, encoder, record)
    return record


def save_bc(
    out: Path, policy: BCPolicy, encoder: dict[str, Any], training: dict[str, Any], dtype: torch.dtype | None = None
) -> None:
    """Write the policy folder atomically (weights and config swap in together). ``dtype`` (e.g. float16: half
    the file, for a shipped checkpoint) stores the weights in that precision; :func:`load_bc` loads them back into
    float32."""
    with atomic_folder(Path(out)) as staging:
        state = {k: v.detach().cpu().to(dtype or v.dtype).contiguous() for k, v in policy.state_dict().items()}
        save_file(state, str(staging / "model.safetensors"))
        meta = {"format": FORMAT, "config": policy.config.to_dict(),
                "encoder": encoder, "training": training}  # fmt: skip
        (staging / "config.json").write_text(json.dumps(meta, indent=1) + "\n")


def load_bc(folder: str | Path, encoder_id: str) -> BCPolicy:
    """A trained BC policy (a name of :data:`SHIPPED_BC`: ``default``, ``two-view``; else a folder); a clear error
    when it is missing or was trained on another encoder's tokens."""
    folder = resolve_bc(folder)
    path = folder / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no BC policy (config.json); train one with `jepa-sim train-bc`")
    try:
        meta = json.loads(path.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a BC policy config")
        trained = meta["encoder"]["id"]
        config = BCConfig.from_dict(meta["config"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is corrupt: {exc}") from exc
    if trained != encoder_id:
        raise ValueError(f"{folder} was trained on tokens of encoder {trained!r}, not {encoder_id!r}")
    policy = BCPolicy(config)
    try:
        policy.load_state_dict(load_file(str(folder / "model.safetensors")))
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise ValueError(f"{folder / 'model.safetensors'} is missing, corrupt or unlike its config: {exc}") from exc
    return policy.eval()


SHIPPED_BC: dict[str, str] = {"one-view": "bc", "default": "bc", "two-view": "bc-2v"}
"""names of the shipped BC policies -> their folders in ``checkpoints/`` (``two-view``: exterior and wrist camera,
trained on the two-view predictor's data, `jepa-sim eval`'s default; ``default`` is the one-view policy's name
from before it)"""


def resolve_bc(name_or_path: str | Path) -> Path:
    """A shipped BC policy's name (:data:`SHIPPED_BC`) -> its folder in ``checkpoints/``; else a folder path."""
    from jepa_sim.encoders.registry import CHECKPOINTS_DIR

    folder = SHIPPED_BC.get(str(name_or_path))
    return CHECKPOINTS_DIR / folder if folder is not None else Path(name_or_path)


class BCAgent:
    """A trained BC policy behind the evaluation harness's agent interface; it observes the policy's views."""

    def __init__(self, policy: BCPolicy, encode: Callable[[NDArray[np.uint8]], torch.Tensor]) -> None:
        self.policy, self.encode = policy, encode
        self.plan_seconds: list[float] = []
        self._goal: torch.Tensor | None = None

    @property
    def goal_index(self) -> int:
        return -1

    @property
    def device(self) -> torch.device:
        return next(self.policy.parameters()).device

    @property
    def views(self) -> tuple[str, ...]:
        return self.policy.config.views

    def _tokens(self, images: Mapping[str, NDArray[np.uint8]], what: str) -> torch.Tensor:
        """(1, V * N, D): every view's tokens side by side; a missing view is a ValueError naming it."""
        missing = [v for v in self.views if v not in images]
        if missing:
            raise ValueError(f"{what} lacks the view(s) {missing}; the BC policy observes {self.views}")
        tokens = self.encode(np.stack([images[v] for v in self.views])).float().to(self.device)
        return tokens.reshape(1, -1, tokens.shape[-1])

    def reset(
        self, goals: Sequence[NDArray[np.uint8] | Mapping[str, NDArray[np.uint8]]], first: Any, seed: int | None = None
    ) -> None:
        """Aim at the last goal (its image of each of the policy's views): hindsight goals in training were
        episodes' last frames, never sub-goals."""
        goal = goals[-1]
        self._goal = self._tokens({"exterior": goal} if isinstance(goal, np.ndarray) else goal, "the goal")
        self.plan_seconds = []

    @torch.inference_mode()
    def act(self, obs: Any) -> NDArray[np.float64]:
        if self._goal is None:
            raise RuntimeError("reset the agent with a goal image first")
        start = time.perf_counter()
        z = self._tokens(obs.views(), "the observation")
        state = torch.as_tensor(np.asarray(obs.state, np.float32), device=self.device)[None]
        action = self.policy(z, self._goal, state)[0].double().cpu().numpy()
        self.plan_seconds.append(time.perf_counter() - start)
        return action
