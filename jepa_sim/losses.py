"""V-JEPA 2-AC training losses: teacher forcing plus an autoregressive rollout, both plain L1 against the
frozen encoder's layer-normed tokens, summed 1:1 (V-JEPA 2, arXiv 2506.09985)."""

from __future__ import annotations

import torch

from jepa_sim.predictor.model import ACPredictor


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over every element."""
    return (pred - target).abs().mean()


def teacher_forcing_loss(
    predictor: ACPredictor, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor
) -> torch.Tensor:
    """One pass over the true frames 0..T-2 with their actions and states predicts frames 1..T-1.

    ``z`` (B, T, N, D) frozen tokens of a clip, ``states`` (B, T, 7), ``actions`` (B, T-1, 7) where
    ``actions[:, t]`` takes frame t to frame t+1."""
    return l1(predictor(z[:, :-1], actions, states[:, :-1]), z[:, 1:])


def rollout_loss(
    predictor: ACPredictor, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor, steps: int = 2
) -> torch.Tensor:
    """From the true frame 0 only, predict frames 1..steps autoregressively, each prediction fed back as the
    next input (with the true actions and states), and score all of them.

    This is the corrected rollout: the context for predicting frame k+1 is ``[z_0, z_hat_1 .. z_hat_k]``,
    and the loss covers ``[z_hat_1 .. z_hat_steps]`` against ``z[:, 1 : steps + 1]``."""
    if steps < 1:
        raise ValueError(f"rollout steps must be at least 1, got {steps}")
    if z.shape[1] < steps + 1:
        raise ValueError(f"a rollout of {steps} steps needs clips of at least {steps + 1} frames, got {z.shape[1]}")
    preds = predictor.rollout(z[:, 0], actions[:, :steps], states[:, :steps])
    return l1(preds, z[:, 1 : steps + 1])


def ac_losses(
    predictor: ACPredictor, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor, rollout_steps: int = 2
) -> dict[str, torch.Tensor]:
    """``{"loss": tf + rollout, "teacher_forcing": ..., "rollout": ...}`` (0-d tensors; ``loss`` has the graph)."""
    if actions.shape[1] != z.shape[1] - 1 or states.shape[1] != z.shape[1]:
        raise ValueError(
            f"a clip of {z.shape[1]} frames needs {z.shape[1]} states and {z.shape[1] - 1} actions, "
            f"got {states.shape[1]} and {actions.shape[1]}"
        )
    tf = teacher_forcing_loss(predictor, z, actions, states)
    ro = rollout_loss(predictor, z, actions, states, rollout_steps)
    return {"loss": tf + ro, "teacher_forcing": tf.detach(), "rollout": ro.detach()}
