"""Goal-conditioned behaviour cloning on the frozen encoder's tokens: the stand-in for the paper's Octo baseline.

The policy sees what the MPC agent sees (the current frame's tokens, the goal image's tokens, the state) and
regresses the recorded action. Tokens are average-pooled to a coarser grid, then an MLP maps
``[current, goal, state]`` to the action. Goals are relabelled in hindsight: the goal of every frame is the
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


class BCPolicy(nn.Module):
    """``(current tokens (B, N, D), goal tokens (B, N, D), state (B, 7)) -> action (B, 7)``."""

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
        features = 2 * (rows // config.pool) * (cols // config.pool) * config.token_dim + 7
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
        rows, cols = self.config.grid

        def pooled(tokens: torch.Tensor) -> torch.Tensor:
            grid = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, rows, cols)
            return F.avg_pool2d(grid, self.config.pool).flatten(1)

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
    on_load: Callable[[int], None] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """Train a BC policy on the cached tokens of ``encoder`` in ``data``; writes ``out/model.safetensors`` and
    ``out/config.json``; returns the training record (including held-out action error)."""
    from jepa_sim.data.dataset import EpisodeDataset

    dataset = EpisodeDataset(data)
    train_eps, held_eps = split_episodes(dataset.indices, holdout, seed)
    if not train_eps or not held_eps:
        raise ValueError(f"{data} has {len(dataset)} episodes: BC needs at least 2 (one is held out)")
    train = bc_samples(FeatureClips(data, str(encoder["id"]), 2, 1, 1, train_eps, on_load))
    held = bc_samples(FeatureClips(data, str(encoder["id"]), 2, 1, 1, held_eps, on_load))
    torch.manual_seed(seed)
    config = BCConfig(token_dim=int(encoder["dim"]), grid=(int(encoder["grid"][0]), int(encoder["grid"][1])))
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
    record = {"data": str(data), "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
              "train_frames": len(train.z), "heldout_frames": len(held.z), "train_seconds": round(seconds, 1),
              "heldout_xyz_mae_m": float(mae[:3].mean()), "heldout_gripper_mae": float(mae[6]),
              "mean_action_xyz_mae_m": float(baseline[:3].mean()),
              "mean_action_gripper_mae": float(baseline[6])}  # fmt: skip
    save_bc(out, policy, encoder, record)
    return record


def save_bc(out: Path, policy: BCPolicy, encoder: dict[str, Any], training: dict[str, Any]) -> None:
    """Write the policy folder atomically (weights and config swap in together)."""
    with atomic_folder(Path(out)) as staging:
        state = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
        save_file(state, str(staging / "model.safetensors"))
        meta = {"format": FORMAT, "config": {**asdict(policy.config), "grid": list(policy.config.grid)},
                "encoder": encoder, "training": training}  # fmt: skip
        (staging / "config.json").write_text(json.dumps(meta, indent=1) + "\n")


def load_bc(folder: str | Path, encoder_id: str) -> BCPolicy:
    """A trained BC policy (``default`` = the shipped ``checkpoints/bc``); a clear error when it is missing or
    was trained on another encoder's tokens."""
    from jepa_sim.encoders.registry import CHECKPOINTS_DIR

    folder = CHECKPOINTS_DIR / "bc" if str(folder) == "default" else Path(folder)
    path = folder / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no BC policy (config.json); train one with `jepa-sim train-bc`")
    try:
        meta = json.loads(path.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a BC policy config")
        trained = meta["encoder"]["id"]
        config = BCConfig(**{**meta["config"], "grid": tuple(meta["config"]["grid"])})
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


class BCAgent:
    """A trained BC policy behind the evaluation harness's agent interface."""

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

    def reset(
        self, goals: Sequence[NDArray[np.uint8] | Mapping[str, NDArray[np.uint8]]], first: Any, seed: int | None = None
    ) -> None:
        """Aim at the last goal's exterior image (the policy was trained on that view)."""
        goal = goals[-1]
        image = goal if isinstance(goal, np.ndarray) else goal["exterior"]
        self._goal = self.encode(image[None]).float().to(self.device)
        self.plan_seconds = []

    @torch.inference_mode()
    def act(self, obs: Any) -> NDArray[np.float64]:
        if self._goal is None:
            raise RuntimeError("reset the agent with a goal image first")
        start = time.perf_counter()
        z = self.encode(obs.image[None]).float().to(self.device)
        state = torch.as_tensor(np.asarray(obs.state, np.float32), device=self.device)[None]
        action = self.policy(z, self._goal, state)[0].double().cpu().numpy()
        self.plan_seconds.append(time.perf_counter() - start)
        return action
