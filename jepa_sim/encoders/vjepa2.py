"""V-JEPA 2 encoders through ``transformers.VJEPA2Model``: Meta's hub checkpoints or any local folder saved
with ``save_pretrained`` (our stage-1 pretraining writes that format too)."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from jepa_sim.encoders.base import EncoderLoadError, FrozenEncoder, resolve_device, resolve_dtype
from jepa_sim.encoders.preprocess import to_video_clips

log = logging.getLogger(__name__)


def folder_fingerprint(folder: Path) -> str:
    """A short hash of a saved model folder's config and weights, to tell two checkpoints apart."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.suffix in (".json", ".safetensors", ".bin") and path.is_file():
            digest.update(path.name.encode())
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()[:12]


class VJEPA2Encoder(FrozenEncoder):
    """Each frame is encoded on its own, repeated to fill one tubelet, then a non-affine layer norm."""

    def __init__(self, model: Any, encoder_id: str, device: str = "auto", dtype: str = "float32", batch_size: int = 32):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        if self.dtype == torch.float16 and self.device.type == "cpu":
            raise ValueError("float16 inference is not supported on the CPU; use float32 or bfloat16")
        self.model = model.to(self.device, self.dtype).eval().requires_grad_(False)
        config = model.config
        self.id = encoder_id
        self.image_size = int(config.crop_size)
        self.tubelet = int(config.tubelet_size)
        side = self.image_size // int(config.patch_size)
        self.grid = (side, side)
        self.dim = int(config.hidden_size)
        self.batch_size = batch_size

    @torch.inference_mode()
    def encode(self, frames: Any) -> torch.Tensor:
        """Tokens ``(B, N, D)`` float32 on the CPU, each frame's tokens layer-normed over D."""
        clips = to_video_clips(frames, self.image_size, self.tubelet)  # (B, T, 3, S, S)
        out = []
        for start in range(0, clips.shape[0], self.batch_size):
            batch = clips[start : start + self.batch_size].to(self.device, self.dtype)
            tokens = self.model.get_vision_features(pixel_values_videos=batch)  # (b, N, D)
            out.append(F.layer_norm(tokens.float(), (tokens.shape[-1],)).cpu())
        if not out:
            return torch.zeros(0, self.num_tokens, self.dim)
        return torch.cat(out)


def load_vjepa2(
    source: str, device: str = "auto", dtype: str = "float32", batch_size: int = 32, local_files_only: bool = False
) -> VJEPA2Encoder:
    """Load a V-JEPA 2 encoder from a local ``save_pretrained`` folder or a Hugging Face hub id."""
    from transformers import VJEPA2Model

    folder = Path(source).expanduser()
    if folder.is_dir():
        config = folder / "config.json"
        if not config.is_file():
            raise EncoderLoadError(f"{folder} has no config.json: not a save_pretrained model folder")
        model_type = json.loads(config.read_text()).get("model_type")
        if model_type != "vjepa2":
            raise EncoderLoadError(f"{folder} holds a {model_type!r} model, not a V-JEPA 2 (model_type 'vjepa2')")
        try:
            model = VJEPA2Model.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EncoderLoadError(f"could not load the V-JEPA 2 weights in {folder}: {exc}") from exc
        encoder_id = f"{folder.resolve().name}@{folder_fingerprint(folder)}"
        log.info("loaded V-JEPA 2 encoder from %s (%s)", folder, encoder_id)
        return VJEPA2Encoder(model, encoder_id, device, dtype, batch_size)
    try:
        model = VJEPA2Model.from_pretrained(source, local_files_only=local_files_only)
    except (OSError, ValueError) as exc:
        raise EncoderLoadError(
            f"could not fetch the V-JEPA 2 weights {source!r} from the Hugging Face hub ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no details'}). Without network access, download them on "
            f"a machine that has it (`huggingface-cli download {source} --local-dir vjepa2`, or "
            "`VJEPA2Model.from_pretrained(id).save_pretrained(folder)`), copy the folder here and pass its path "
            "as the encoder; HF_HUB_OFFLINE=1 skips the network retries"
        ) from exc
    return VJEPA2Encoder(model, source, device, dtype, batch_size)


def random_vjepa2(
    source: str, seed: int = 0, device: str = "auto", dtype: str = "float32", batch_size: int = 32
) -> VJEPA2Encoder:
    """The architecture of the V-JEPA 2 folder or cached hub id ``source`` with freshly initialised weights:
    the baseline that shows what pretraining adds."""
    from transformers import VJEPA2Config, VJEPA2Model

    try:
        config = VJEPA2Config.from_pretrained(Path(source).expanduser(), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EncoderLoadError(f"could not read a V-JEPA 2 config from {source!r}: {exc}") from exc
    torch.manual_seed(seed)
    return VJEPA2Encoder(VJEPA2Model(config), f"random-init:{Path(source).name}@seed{seed}", device, dtype, batch_size)
