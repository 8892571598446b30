"""A block-causal transformer over per-step tokens ``[action_t, state_t, patch tokens_t]``.

Every token of step t attends to every token of steps <= t, so the outputs of step t never depend on later
steps. The patch outputs of step t, through a LayerNorm and a Linear back to the encoder width, predict the
frozen-encoder tokens of frame t + 1. Positions: a learned embedding per time step (shared by the step's
action, state and patch tokens), a learned embedding per grid cell for patch tokens, and a learned type
embedding telling action, state and patch tokens apart.

``merge`` > 1 folds each ``merge x merge`` square of encoder tokens into one predictor token (their features
concatenated) and unfolds the output the same way, so a step costs ``N / merge**2 + 2`` tokens instead of
``N + 2``: on a CPU that is what makes planning with hundreds of candidates real time. ``merge=1`` is the
paper's layout. ``residual=True`` adds the input tokens of step t to the head's output, so the network
learns what changes from frame t to t + 1 (mostly the arm: little of a frame moves in one control step) and
starts out as the copy-last-frame predictor instead of below it.

Views: with ``views=("exterior", "wrist")`` (DROID's rig) a frame is the tokens of every view side by side,
``(V * N, D)`` in the order of ``views``: a step is ``[action_t, state_t, view 0's patches, view 1's patches]``,
each patch token also carrying a learned embedding of its view (a view's grid cells share the grid embedding).
Every view's tokens attend to every other's, so the wrist view's close-up of the fingers and the exterior
view's arm pose inform each other's predictions. One view (the paper's layout) has no view embedding.

Because of the block-causal structure, the keys and values of earlier steps can be cached: :meth:`step`
extends a :class:`KVCache` by one step, which is how rollouts and planning avoid re-running the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class PredictorConfig:
    token_dim: int
    """width D of the frozen encoder's tokens"""
    grid: tuple[int, int]
    """the encoder's token grid (rows, cols)"""
    width: int = 256
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    max_steps: int = 16
    """longest sequence of time steps the positional table covers"""
    action_dim: int = 7
    state_dim: int = 7
    merge: int = 1
    """fold ``merge x merge`` squares of encoder tokens into one predictor token (1 = one token per patch)"""
    residual: bool = False
    """predict the change of the tokens (output = input tokens + head) rather than the next tokens outright"""
    views: tuple[str, ...] = ("exterior",)
    """the camera views whose tokens make a frame, in order (their tokens are concatenated)"""

    def __post_init__(self) -> None:
        if not self.views or len(set(self.views)) != len(self.views):
            raise ValueError(f"views must name distinct camera views, got {self.views}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not a multiple of heads {self.heads}")
        if min(self.token_dim, self.grid[0], self.grid[1], self.depth, self.max_steps, self.merge) < 1:
            raise ValueError(f"token_dim, grid, depth, max_steps and merge must be positive: {self}")
        if self.grid[0] % self.merge or self.grid[1] % self.merge:
            raise ValueError(f"the token grid {self.grid} is not divisible by merge={self.merge}")

    @property
    def view_tokens(self) -> int:
        """encoder tokens per view (one image)"""
        return self.grid[0] * self.grid[1]

    @property
    def num_tokens(self) -> int:
        """encoder tokens per frame, every view together"""
        return len(self.views) * self.view_tokens

    @property
    def merged_view_tokens(self) -> int:
        """predictor patch tokens per view"""
        return self.view_tokens // self.merge**2

    @property
    def merged_tokens(self) -> int:
        """predictor patch tokens per frame, every view together"""
        return len(self.views) * self.merged_view_tokens

    def split_views(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Tokens ``(..., V * N, D)`` of a frame -> ``(..., N, D)`` per view (views, no copies)."""
        n = self.view_tokens
        return {view: z[..., i * n : (i + 1) * n, :] for i, view in enumerate(self.views)}

    def join_views(self, z: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The inverse of :meth:`split_views`: ``(..., N, D)`` per view -> ``(..., V * N, D)``; a missing view
        is a ValueError naming it."""
        missing = [v for v in self.views if v not in z]
        if missing:
            raise ValueError(f"the predictor observes the views {self.views}; missing {missing}")
        return torch.cat([z[v] for v in self.views], dim=-2)

    @property
    def step_tokens(self) -> int:
        """predictor tokens per time step: action, state, then the (merged) patch tokens"""
        return self.merged_tokens + 2

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PredictorConfig:
        """From :meth:`to_dict`; a config written before views existed is the exterior view alone."""
        views: tuple[str, ...] = tuple(data.get("views", ("exterior",)))  # type: ignore[arg-type]
        return cls(**{**data, "grid": tuple(data["grid"]), "views": views})  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "grid": list(self.grid), "views": list(self.views)}


def block_causal_mask(steps: int, tokens_per_step: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean ``(L, L)``, ``L = steps * tokens_per_step``: True where a query token may attend to a key token,
    i.e. where the key's step is not after the query's."""
    step = torch.arange(steps * tokens_per_step, device=device) // tokens_per_step
    return step.unsqueeze(1) >= step.unsqueeze(0)


@dataclass
class KVCache:
    """Keys and values of the steps seen so far, one ``(B, heads, L, head_dim)`` pair per layer."""

    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)
    steps: int = 0

    def expand(self, batch: int) -> KVCache:
        """The same history for ``batch`` rollouts (a view, no copy) from a cache of batch 1."""
        return KVCache([k.expand(batch, -1, -1, -1) for k in self.keys],
                       [v.expand(batch, -1, -1, -1) for v in self.values], self.steps)  # fmt: skip


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Unmasked attention written out (softmax of scaled dot products, times the values). One planning step's
    queries are a few dozen tokens: there this was 1.1x (fp32) to 2.6x (bf16) faster on this project's 2-core CPU
    than the fused kernel of ``scaled_dot_product_attention``, whose tiling pays off only for long sequences
    (ad-hoc timing of 64 candidates x 4 heads, 34 queries, 68 keys)."""
    weights = torch.softmax((q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2), dim=-1)
    return weights @ v


class Block(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``x`` (B, L, W); ``mask`` (L, L_all) boolean or None (attend to everything); ``past`` cached
        (keys, values) of earlier tokens. Returns the output and this layer's (keys, values) incl. ``past``."""
        b, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, length, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        attn = attend(q, k, v) if mask is None else F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, length, width))
        x = x + self.mlp(self.norm2(x))
        return x, (k, v)


class ACPredictor(nn.Module):
    """Predicts next-frame encoder tokens from tokens, actions and states (see the module docstring)."""

    action_mean: torch.Tensor
    action_std: torch.Tensor
    state_mean: torch.Tensor
    state_std: torch.Tensor

    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        folded = config.token_dim * config.merge**2
        self.patch_in = nn.Linear(folded, w)
        self.action_in = nn.Linear(config.action_dim, w)
        self.state_in = nn.Linear(config.state_dim, w)
        self.time_pos = nn.Parameter(torch.zeros(config.max_steps, w))
        self.grid_pos = nn.Parameter(torch.zeros(config.merged_view_tokens, w))
        self.type_pos = nn.Parameter(torch.zeros(3, w))
        # one view keeps the single-view parameter set (checkpoints from before views load unchanged)
        self.view_pos = nn.Parameter(torch.zeros(len(config.views), w)) if len(config.views) > 1 else None
        self.blocks = nn.ModuleList(Block(w, config.heads, config.mlp_ratio) for _ in range(config.depth))
        self.norm = nn.LayerNorm(w)
        self.out = nn.Linear(w, folded)
        for p in (self.time_pos, self.grid_pos, self.type_pos, self.view_pos):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        if config.residual:  # start as the copy-last-frame predictor
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
        # fixed input standardisation (set from the training data, saved with the weights): callers pass raw
        # actions (state deltas: metres, radians, gripper units) and raw states
        self.register_buffer("action_mean", torch.zeros(config.action_dim))
        self.register_buffer("action_std", torch.ones(config.action_dim))
        self.register_buffer("state_mean", torch.zeros(config.state_dim))
        self.register_buffer("state_std", torch.ones(config.state_dim))

    def set_input_stats(self, actions: torch.Tensor, states: torch.Tensor, floor: float = 1e-3) -> None:
        """Standardise inputs with the mean and std of sample ``actions`` (M, 7) and ``states`` (M, 7)."""
        with torch.no_grad():
            self.action_mean.copy_(actions.mean(0))
            self.action_std.copy_(actions.std(0).clamp_min(floor))
            self.state_mean.copy_(states.mean(0))
            self.state_std.copy_(states.std(0).clamp_min(floor))

    def _check(self, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> None:
        cfg = self.config
        b, t = z.shape[:2]
        if z.shape[2:] != (cfg.num_tokens, cfg.token_dim):
            views = "" if len(cfg.views) == 1 else f" (the views {cfg.views} side by side, {cfg.view_tokens} each)"
            raise ValueError(f"tokens must be (B, T, {cfg.num_tokens}, {cfg.token_dim}){views}, got {tuple(z.shape)}")
        if actions.shape != (b, t, cfg.action_dim) or states.shape != (b, t, cfg.state_dim):
            raise ValueError(
                f"actions and states must be (B, T, 7) matching tokens (B={b}, T={t}), "
                f"got {tuple(actions.shape)} and {tuple(states.shape)}"
            )

    def _check_folded(self, zf: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> None:
        """Folded tokens ``(B, N', m**2 * D)`` with actions and states ``(B, H, 7)``."""
        cfg = self.config
        folded = (cfg.merged_tokens, cfg.token_dim * cfg.merge**2)
        if zf.dim() != 3 or tuple(zf.shape[1:]) != folded:
            raise ValueError(f"folded tokens must be (B, {folded[0]}, {folded[1]}), got {tuple(zf.shape)}")
        b = zf.shape[0]
        if (
            actions.dim() != 3
            or actions.shape[0] != b
            or actions.shape[2] != cfg.action_dim
            or states.shape != (*actions.shape[:2], cfg.state_dim)
        ):
            raise ValueError(f"actions and states must be (B={b}, H, 7), got {tuple(actions.shape)} and "
                             f"{tuple(states.shape)}")  # fmt: skip

    def fold(self, z: torch.Tensor) -> torch.Tensor:
        """``(..., V * N, D)`` -> ``(..., V * N / m**2, m**2 * D)``: each m x m square of a view's grid becomes
        one token."""
        m = self.config.merge
        if m == 1:
            return z
        (rows, cols), d, v = self.config.grid, z.shape[-1], len(self.config.views)
        lead = z.shape[:-2]
        z = z.reshape(*lead, v, rows // m, m, cols // m, m, d).transpose(-4, -3)
        return z.reshape(*lead, v * (rows // m) * (cols // m), m * m * d)

    def unfold(self, z: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`fold`."""
        m = self.config.merge
        if m == 1:
            return z
        (rows, cols), d, v = self.config.grid, self.config.token_dim, len(self.config.views)
        lead = z.shape[:-2]
        z = z.reshape(*lead, v, rows // m, cols // m, m, m, d).transpose(-4, -3)
        return z.reshape(*lead, v * rows * cols, d)

    def patch_positions(self) -> torch.Tensor:
        """``(V * N', W)``: each patch token's grid embedding, plus its view's embedding with several views."""
        pos = self.grid_pos.repeat(len(self.config.views), 1)
        if self.view_pos is not None:
            pos = pos + self.view_pos.repeat_interleave(self.config.merged_view_tokens, dim=0)
        return pos

    def fold_batch(self, z: torch.Tensor) -> torch.Tensor:
        """:meth:`fold` that keeps a frame broadcast to the whole batch (``stride(0) == 0``) broadcast: folded
        once, not once per batch element."""
        if z.shape[0] > 1 and z.stride(0) == 0:
            return self.fold(z[:1]).expand(z.shape[0], *([-1] * (z.dim() - 1)))
        return self.fold(z)

    def embed(self, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor, first_step: int = 0) -> torch.Tensor:
        """Input tokens ``(B, T * (N + 2), W)`` for steps ``first_step .. first_step + T - 1``."""
        self._check(z, actions, states)
        return self._embed(self.fold_batch(z), actions, states, first_step)

    def _embed(self, zf: torch.Tensor, actions: torch.Tensor, states: torch.Tensor, first_step: int) -> torch.Tensor:
        """:meth:`embed` of folded tokens ``zf`` (B, T, N', m**2 * D)."""
        b, t = zf.shape[:2]
        if first_step + t > self.config.max_steps:
            raise ValueError(f"{first_step + t} time steps exceed max_steps={self.config.max_steps}")
        time = self.time_pos[first_step : first_step + t].unsqueeze(0).unsqueeze(2)  # (1, T, 1, W)
        actions = (actions - self.action_mean) / self.action_std
        states = (states - self.state_mean) / self.state_std
        a = self.action_in(actions).unsqueeze(2) + self.type_pos[0]
        s = self.state_in(states).unsqueeze(2) + self.type_pos[1]
        # one frame broadcast to the whole batch (planning's first step: every candidate starts from the current
        # frame) is embedded once
        shared = b > 1 and zf.stride(0) == 0
        p = self.patch_in(zf[:1] if shared else zf) + self.patch_positions() + self.type_pos[2]
        p = p.expand(b, -1, -1, -1) if shared else p
        return (torch.cat([a, s, p], dim=2) + time).reshape(b, t * self.config.step_tokens, -1)

    def head(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """Patch outputs of ``steps`` steps ``(B, steps * (N + 2), W)`` -> predicted tokens ``(B, steps, N, D)``."""
        return self.unfold(self.head_folded(x, steps))

    def head_folded(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """:meth:`head` in the predictor's folded token order ``(B, steps, N', m**2 * D)``."""
        x = x.view(x.shape[0], steps, self.config.step_tokens, -1)[:, :, 2:]
        return self.out(self.norm(x))

    def forward(self, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """Tokens ``(B, T, N, D)`` of frames 0..T-1 with the actions and states at those frames -> predicted
        tokens ``(B, T, N, D)`` of frames 1..T (output t sees only steps <= t)."""
        steps = z.shape[1]
        x = self.embed(z, actions, states)
        mask = block_causal_mask(steps, self.config.step_tokens, x.device)
        for block in self.blocks:
            x, _ = block(x, mask)
        out = self.head(x, steps)
        return out + z if self.config.residual else out

    def step(
        self, z: torch.Tensor, action: torch.Tensor, state: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """One more step after the cached ones: tokens ``(B, N, D)``, action and state ``(B, 7)`` -> the
        predicted next tokens ``(B, N, D)`` and the extended cache. Equal to :meth:`forward` on the whole
        sequence, without recomputing the history."""
        self._check(z.unsqueeze(1), action.unsqueeze(1), state.unsqueeze(1))
        out, cache = self.step_folded(self.fold_batch(z), action, state, cache)
        return self.unfold(out), cache

    def step_folded(
        self, zf: torch.Tensor, action: torch.Tensor, state: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """:meth:`step` on folded tokens ``(B, N', m**2 * D)`` (:meth:`fold`), returning folded predictions: the
        same numbers, in the order the predictor's tokens hold them, so a rollout folds its first frame once and
        never unfolds what it feeds back."""
        cache = cache or KVCache()
        x = self._embed(zf.unsqueeze(1), action.unsqueeze(1), state.unsqueeze(1), first_step=cache.steps)
        new = KVCache(steps=cache.steps + 1)
        for i, block in enumerate(self.blocks):
            past = (cache.keys[i], cache.values[i]) if cache.keys else None
            x, (k, v) = block(x, None, past)  # the new step sees the history and itself: no mask needed
            new.keys.append(k)
            new.values.append(v)
        out = self.head_folded(x, 1)[:, 0]
        return (out + zf if self.config.residual else out), new

    def rollout(
        self, z0: torch.Tensor, actions: torch.Tensor, states: torch.Tensor, cache: KVCache | None = None
    ) -> torch.Tensor:
        """Autoregressive prediction from the tokens ``z0`` (B, N, D) of the current frame: each predicted frame
        is fed back as the next input. ``actions`` and ``states`` (B, H, 7) are the inputs of the H steps.
        Returns the predicted tokens ``(B, H, N, D)`` of the next H frames."""
        self._check(z0.unsqueeze(1), actions[:, :1], states[:, :1])
        return self.unfold(self.rollout_folded(self.fold_batch(z0), actions, states, cache))

    def rollout_folded(
        self, z0f: torch.Tensor, actions: torch.Tensor, states: torch.Tensor, cache: KVCache | None = None
    ) -> torch.Tensor:
        """:meth:`rollout` from folded tokens ``z0f`` (B, N', m**2 * D) to folded predictions (B, H, N', m**2 * D)."""
        self._check_folded(z0f, actions, states)
        preds = []
        z = z0f
        for h in range(actions.shape[1]):
            z, cache = self.step_folded(z, actions[:, h], states[:, h], cache)
            preds.append(z)
        return torch.stack(preds, dim=1)

    def observe(self, z: torch.Tensor, past_actions: torch.Tensor, states: torch.Tensor) -> Observed:
        """Run an observed history once, at batch 1, for :meth:`imagine`: ``z`` (T0, N, D) tokens of the
        observed frames (the last is the current one), ``past_actions`` (T0-1, 7) the actions taken between
        them, ``states`` (T0, 7) their states."""
        t0 = z.shape[0]
        if past_actions.shape != (t0 - 1, self.config.action_dim) or states.shape != (t0, self.config.state_dim):
            raise ValueError(
                f"a history of {t0} frames needs past_actions ({t0 - 1}, 7) and states ({t0}, 7), "
                f"got {tuple(past_actions.shape)} and {tuple(states.shape)}"
            )
        cache = None
        for t in range(t0 - 1):
            _, cache = self.step(z[t : t + 1], past_actions[t : t + 1], states[t : t + 1], cache)
        return Observed(cache, z[-1], states[-1])

    def imagine(self, observed: Observed, actions: torch.Tensor, future_states: torch.Tensor) -> torch.Tensor:
        """The planning fast path: K candidate action sequences ``actions`` (K, H, 7) from one observed history
        (its cached keys and values are expanded to the K candidates, not recomputed). ``future_states``
        (K, H, 7) are the states at each step (``[:, 0]`` the current one; the rest integrated from the
        actions by the caller). Returns the predicted tokens (K, H, N, D) of the H frames after the current one."""
        return self.unfold(self.imagine_folded(observed, actions, future_states))

    def imagine_folded(self, observed: Observed, actions: torch.Tensor, future_states: torch.Tensor) -> torch.Tensor:
        """:meth:`imagine` returning folded tokens (K, H, N', m**2 * D): planning compares them with a folded goal
        (an L1 mean is the same over the tokens in any order)."""
        k = actions.shape[0]
        if future_states.shape != actions.shape or not torch.allclose(future_states[:, 0], observed.state[None]):
            raise ValueError("future_states must be (K, H, 7) like the actions and start at the current state")
        shared = observed.cache.expand(k) if observed.cache is not None else None
        z0f = self.fold(observed.z[None])
        return self.rollout_folded(z0f.expand(k, -1, -1), actions, future_states, shared)


@dataclass
class Observed:
    """An observed history as :meth:`ACPredictor.observe` leaves it: the cache of the steps before the
    current frame, and the current frame's tokens (N, D) and state (7,)."""

    cache: KVCache | None
    z: torch.Tensor
    state: torch.Tensor
