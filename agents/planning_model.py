"""What the MPC agent plans with: the energy over candidate action sequences (:class:`PlanningModel`), and the
learned world model behind it (:class:`PredictorModel`: the predictor imagines each candidate, in fp32 or bfloat16).
The simulator as the model is ``agents.sim_model``. The energy compares latents of one or more camera views
(:func:`weighted_distance`)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from jepa_sim.planning.base import CostFn
from jepa_sim.planning.energy import LatentEnergy
from jepa_sim.predictor.model import ACPredictor

Views = Mapping[str, NDArray[np.uint8]]
"""one camera image per named view (``exterior``, ``wrist``), uint8 (H, W, 3) each"""
Latents = dict[str, torch.Tensor]
"""tokens per named view"""
EXTERIOR = "exterior"


def weighted_distance(z: Latents, goal: Latents, weights: Mapping[str, float]) -> torch.Tensor:
    """The energy's distance: sum over views of weight x mean |z - goal| over the view's tokens and features.
    ``z`` (..., N, D) per view, ``goal`` (N, D) per view; returns (...)."""
    return sum(weight * (z[view] - goal[view]).abs().mean(dim=(-2, -1)) for view, weight in weights.items())  # type: ignore[return-value]


class PlanningModel(Protocol):
    """What the agent plans with: an energy over candidate action sequences from the current instant."""

    device: torch.device
    views: tuple[str, ...]
    """the views whose latents it can predict"""
    actions_are_commands: bool
    """True: the model executes a candidate's gripper change as a command, as the robot would (the simulator);
    False: it reads an action as the state change it causes, the convention of the training data (the learned
    predictor). With ``gripper_snap`` the agent scores snapped actions only for the first kind (see there)"""

    def energy(self, z: Latents, state: torch.Tensor, goal: Latents, weights: Mapping[str, float]) -> CostFn:
        """The cost (K, H, 7) -> (K,) of reaching ``goal`` (N, D per view) from the frames encoded as ``z``
        (N, D per view) at ``state`` (7,): :func:`weighted_distance` of the predicted final latents."""
        ...


class PredictorModel:
    """The learned world model: the predictor imagines each candidate's final latent (:class:`LatentEnergy`);
    the current frame is observed once per step and its cache shared by every candidate and iteration.
    It observes the views it was trained on (``predictor.config.views``; the shipped one: the exterior view,
    the paper's layout), all of them: an agent observing fewer is refused."""

    def __init__(self, predictor: ACPredictor, precision: str = "fp32", path_weight: float = 0.0) -> None:
        """``precision``: ``fp32``, or ``bf16`` (the predictor's matrix products in bfloat16 under autocast,
        about 1.5x faster per planning step on a CPU with native bfloat16; its costs rank candidates as fp32's
        do), or ``auto`` (:func:`resolve_precision`). ``path_weight``: :class:`LatentEnergy`'s (0: the paper's
        energy of the last predicted frame only)."""
        self.path_weight = path_weight
        self.predictor = predictor.eval()
        self.device = next(predictor.parameters()).device
        self.views: tuple[str, ...] = predictor.config.views
        self.actions_are_commands = False
        self.precision = resolve_precision(precision, self.device)
        # bf16: a copy whose Linear layers already hold the bfloat16 weights autocast would cast them to, so that
        # no call casts them again (the same numbers; about 2 of the 2.1M parameters' casts per energy call)
        self._planning = bf16_linears(self.predictor) if self.precision == "bf16" else self.predictor

    def energy(self, z: Latents, state: torch.Tensor, goal: Latents, weights: Mapping[str, float]) -> CostFn:
        if set(weights) != set(self.views):
            raise ValueError(f"the predictor was trained on the views {self.views} and needs all of them, "
                             f"not {tuple(weights)}")  # fmt: skip
        cfg = self.predictor.config
        frame = cfg.join_views(z)
        if self.precision == "fp32":
            observed = self.predictor.observe(frame[None], torch.zeros(0, 7, device=self.device), state[None])
            return LatentEnergy(self.predictor, observed, cfg.join_views(goal), weights, self.path_weight)

        # autocast, not a bfloat16 predictor: the residual stream and the layer norms stay float32. A bfloat16
        # copy (all arithmetic in bfloat16) was 1.2x faster per call but grasped the cup in 1/10 and 2/10 trials
        # where autocast grasps 5/10 (README, *Precision*)
        def autocast() -> torch.autocast:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)

        with autocast():
            observed = self._planning.observe(frame[None], torch.zeros(0, 7, device=self.device), state[None])
        energy = LatentEnergy(self._planning, observed, cfg.join_views(goal), weights, self.path_weight)

        def bf16_energy(actions: torch.Tensor) -> torch.Tensor:
            with autocast():
                return energy(actions).float()

        return bf16_energy


def bf16_linears(predictor: ACPredictor) -> ACPredictor:
    """A copy of ``predictor`` whose Linear layers hold bfloat16 weights and biases (everything else float32): under
    autocast it computes exactly what the float32 predictor does, without casting the weights at every call."""
    fast = copy.deepcopy(predictor)
    for module in fast.modules():
        if isinstance(module, torch.nn.Linear):
            module.to(torch.bfloat16)
    return fast.eval()


PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for the predictor's planning arithmetic: ``auto`` is ``bf16`` on a GPU or on a CPU
    whose oneDNN has native bfloat16 (AVX512-BF16 or AMX), else ``fp32`` (emulated bfloat16 is slower)."""
    check_precision(precision)
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return "bf16" if device.type == "cpu" and native else "fp32"
