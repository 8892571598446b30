"""One registry that resolves an encoder name or path to a frozen encoder."""

from __future__ import annotations

from pathlib import Path

from jepa_sim.encoders.base import EncoderLoadError, FrozenEncoder
from jepa_sim.encoders.vjepa2 import folder_fingerprint, load_vjepa2, random_vjepa2

HUB_IDS: dict[str, str] = {
    "vjepa2-vitl": "facebook/vjepa2-vitl-fpc64-256",
    "vjepa2-vith": "facebook/vjepa2-vith-fpc64-256",
    "vjepa2-vitg": "facebook/vjepa2-vitg-fpc64-256",
    "vjepa2-vitg-384": "facebook/vjepa2-vitg-fpc64-384",
}
"""short names of Meta's V-JEPA 2 checkpoints (REFERENCES.md)"""

CHECKPOINTS_DIR = Path(__file__).resolve().parents[2] / "checkpoints"
DEFAULT_ENCODER = "default"
"""the embedded encoder shipped in ``checkpoints/encoder`` (pretrained on our sim video)"""


def resolve(name_or_path: str) -> str:
    """A short name, ``default``, a hub id or a folder -> what the backend loads."""
    if name_or_path == DEFAULT_ENCODER:
        folder = CHECKPOINTS_DIR / "encoder"
        if not (folder / "config.json").is_file():
            raise EncoderLoadError(
                f"the embedded default encoder is missing ({folder}/config.json; is the checkout complete?). "
                "Pretrain one with `jepa-sim pretrain --data DIR` and pass OUT/encoder, or pass a V-JEPA 2 "
                "save_pretrained folder or a Hugging Face id (e.g. vjepa2-vitl) as the encoder"
            )
        return str(folder)
    return HUB_IDS.get(name_or_path, name_or_path)


def encoder_id(name_or_path: str) -> str:
    """The id :func:`load_encoder` gives the encoder ``name_or_path`` (which names its feature cache and is
    recorded in predictor checkpoints), without loading the weights."""
    source = resolve(name_or_path)
    folder = Path(source).expanduser()
    if folder.is_dir():
        return f"{folder.resolve().name}@{folder_fingerprint(folder)}"
    return source


def available() -> dict[str, str]:
    """Names users can pass, with what they resolve to."""
    return {DEFAULT_ENCODER: str(CHECKPOINTS_DIR / "encoder"), **HUB_IDS}


def load_encoder(
    name_or_path: str,
    device: str = "auto",
    dtype: str = "float32",
    batch_size: int = 32,
    local_files_only: bool = False,
) -> FrozenEncoder:
    """The frozen encoder named by ``name_or_path``: ``default``, a short name from ``HUB_IDS``, a Hugging
    Face id such as ``facebook/vjepa2-vitl-fpc64-256``, or a local folder saved with ``save_pretrained``."""
    source = resolve(name_or_path)
    if not Path(source).expanduser().is_dir() and "/" not in source:
        raise EncoderLoadError(
            f"unknown encoder {name_or_path!r}: not a folder, and not one of {', '.join(available())} "
            "or a Hugging Face id (owner/name)"
        )
    return load_vjepa2(source, device, dtype, batch_size, local_files_only)


def load_random_encoder(name_or_path: str, seed: int = 0, device: str = "auto", batch_size: int = 32) -> FrozenEncoder:
    """The architecture of ``name_or_path`` with random weights (a baseline for probes); needs the config
    locally (a folder, or a hub id already in the Hugging Face cache)."""
    return random_vjepa2(resolve(name_or_path), seed, device, "float32", batch_size)
