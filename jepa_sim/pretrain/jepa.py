"""The V-JEPA objective on ``transformers``' ``VJEPA2Model``: a context encoder that sees only the visible
tokens, a narrower predictor that fills in the masked ones, and an EMA copy of the encoder for targets.

``transformers`` runs its encoder on every token and masks afterwards, which would let context tokens see
the very tokens they must predict. Here the context pass gathers the visible patch embeddings first and
runs the same encoder layers on them with their grid positions (3D RoPE), as the official V-JEPA does;
the weights stay a plain ``VJEPA2Model``, saved with ``save_pretrained`` and loaded by the registry.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from jepa_sim.pretrain.masks import MaskPair


@dataclass(frozen=True)
class ModelSize:
    """Encoder and predictor shape (a ``VJEPA2Config``); the default is the embedded CPU encoder."""

    image_size: int = 128
    patch_size: int = 16
    tubelet: int = 2
    frames_per_clip: int = 2
    width: int = 192
    depth: int = 6
    heads: int = 3
    pred_width: int = 96
    pred_depth: int = 4
    pred_heads: int = 3

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.frames_per_clip % self.tubelet:
            raise ValueError(f"frames_per_clip {self.frames_per_clip} is not a multiple of tubelet {self.tubelet}")
        if self.width % self.heads or self.pred_width % self.pred_heads:
            raise ValueError("width and pred_width must be multiples of heads and pred_heads")

    @property
    def grid(self) -> tuple[int, int, int]:
        side = self.image_size // self.patch_size
        return self.frames_per_clip // self.tubelet, side, side


def build_config(size: ModelSize) -> Any:
    from transformers import VJEPA2Config

    # attn_implementation is a PretrainedConfig keyword that VJEPA2Config's stubs do not list
    return VJEPA2Config(  # type: ignore[call-arg]
        patch_size=size.patch_size,
        crop_size=size.image_size,
        frames_per_clip=size.frames_per_clip,
        tubelet_size=size.tubelet,
        hidden_size=size.width,
        num_attention_heads=size.heads,
        num_hidden_layers=size.depth,
        pred_hidden_size=size.pred_width,
        pred_num_attention_heads=size.pred_heads,
        pred_num_hidden_layers=size.pred_depth,
        pred_num_mask_tokens=2,
        attn_implementation="sdpa",
    )


def build_model(size: ModelSize, seed: int = 0) -> Any:
    """A freshly initialised ``VJEPA2Model`` (encoder + predictor) of the given size."""
    from transformers import VJEPA2Model

    torch.manual_seed(seed)
    return VJEPA2Model(build_config(size))


SIZE_FIELDS: tuple[str, ...] = (
    "crop_size", "patch_size", "frames_per_clip", "tubelet_size", "hidden_size", "num_attention_heads",
    "num_hidden_layers", "pred_hidden_size", "pred_num_attention_heads", "pred_num_hidden_layers",
)  # fmt: skip
"""the ``VJEPA2Config`` fields a ``ModelSize`` sets: an initial model must match the run's on all of them"""


def load_model(folder: Any, size: ModelSize) -> Any:
    """The ``VJEPA2Model`` (encoder + pretraining predictor) saved in ``folder`` by a pretraining export, to
    continue pretraining from; ValueError when it is missing or its shape is not ``size``'s."""
    from pathlib import Path

    from transformers import VJEPA2Model

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ValueError(f"{folder} is not an exported encoder folder (no config.json): pass a pretraining run's "
                         "encoder/ folder, e.g. checkpoints/encoder")  # fmt: skip
    model = VJEPA2Model.from_pretrained(folder)
    wanted = build_config(size)
    differ = [f"{k} {getattr(model.config, k, None)} (the run: {getattr(wanted, k)})" for k in SIZE_FIELDS
              if getattr(model.config, k, None) != getattr(wanted, k)]  # fmt: skip
    if differ:
        raise ValueError(f"{folder} has another shape than this run: {', '.join(differ)}; give the same sizes")
    return model


def gather_tokens(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[b, index[b]]`` for ``x`` (B, N, D) and ``index`` (B, K)."""
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def context_forward(encoder: Any, embedded: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """Encoder output ``(B, Nc, D)`` for the visible tokens ``context`` (B, Nc) only, from the patch
    embeddings ``encoder.embeddings(pixels)`` (B, N, D) of the whole clip."""
    x = gather_tokens(embedded, context)
    for layer in encoder.layer:
        x = layer(x, context)[0]
    return encoder.layernorm(x)


@torch.no_grad()
def target_tokens(target_encoder: Any, pixels: torch.Tensor) -> torch.Tensor:
    """Layer-normed (non-affine) tokens ``(B, N, D)`` of the EMA target encoder on the full clip."""
    h = target_encoder(pixel_values_videos=pixels).last_hidden_state
    return F.layer_norm(h, (h.shape[-1],))


def jepa_loss(
    model: Any, target_encoder: Any, pixels: torch.Tensor, masks: list[MaskPair]
) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean over mask groups of the L1 error of the predicted masked tokens against the targets.

    Returns the loss and scalars to log: the loss per group, and ``target_std``, the standard deviation over
    the batch of the mean-pooled targets (averaged over features), which falls towards 0 if features collapse.
    """
    targets = target_tokens(target_encoder, pixels)
    losses = []
    stats: dict[str, float] = {}
    n_tokens = targets.shape[1]
    embedded = model.encoder.embeddings(pixels)
    for g, pair in enumerate(masks):
        context = context_forward(model.encoder, embedded, pair.context)
        full = context.new_zeros(context.shape[0], n_tokens, context.shape[-1])
        full = full.scatter(1, pair.context.unsqueeze(-1).expand_as(context), context)
        pred = model.predictor(full, [pair.context], [pair.target]).last_hidden_state
        loss = (pred - gather_tokens(targets, pair.target)).abs().mean()
        losses.append(loss)
        stats[f"loss_group{g}"] = float(loss.detach())
    total = torch.stack(losses).mean()
    stats["target_std"] = float(targets.mean(1).std(0).mean()) if targets.shape[0] > 1 else 0.0
    return total, stats


def make_target_encoder(model: Any) -> Any:
    """A frozen copy of the model's encoder, updated only by :func:`ema_update`."""
    target = copy.deepcopy(model.encoder)
    return target.requires_grad_(False).eval()


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """``target <- momentum * target + (1 - momentum) * online``, parameter by parameter."""
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"EMA momentum must be in [0, 1], got {momentum}")
    t_params: list[torch.Tensor] = list(target.parameters())
    o_params: list[torch.Tensor] = list(online.parameters())
    if len(t_params) != len(o_params):
        raise ValueError("target and online modules have different parameter lists")
    torch._foreach_mul_(t_params, momentum)
    torch._foreach_add_(t_params, [p.detach() for p in o_params], alpha=1.0 - momentum)


def export_model(model: Any, target_encoder: Any) -> Any:
    """A copy of the model whose encoder holds the EMA target weights (the ones V-JEPA keeps for downstream
    use), ready for ``save_pretrained``."""
    exported = copy.deepcopy(model).cpu()
    exported.encoder.load_state_dict(target_encoder.state_dict())
    return exported
