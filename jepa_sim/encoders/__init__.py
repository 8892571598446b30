"""Frozen, pretrained video encoders behind one registry (see :func:`load_encoder`)."""

from jepa_sim.encoders.base import EncoderLoadError, FrozenEncoder
from jepa_sim.encoders.registry import HUB_IDS, available, encoder_id, load_encoder, load_random_encoder

__all__ = [
    "HUB_IDS",
    "EncoderLoadError",
    "FrozenEncoder",
    "available",
    "encoder_id",
    "load_encoder",
    "load_random_encoder",
]
