"""A trained predictor on disk: ``model.safetensors`` plus ``config.json`` with the architecture, the encoder
whose tokens it predicts, the action and state conventions, and how it was trained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from jepa_sim.atomic import atomic_folder
from jepa_sim.predictor.model import ACPredictor, PredictorConfig

FORMAT = "jepa-sim-predictor"
VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CONVENTIONS = {
    "state": "end-effector xyz (m, robot base frame), Euler xyz (rad), gripper (0 open .. 1 closed)",
    "action": "state change to the next frame: dxyz (base frame), euler_xyz(R_next R_now^T), gripper delta",
    "inputs": "raw units; the predictor standardises them with the training statistics it stores",
    "targets": "frozen-encoder tokens after a non-affine layer norm",
}


DEFAULT_PREDICTOR = "default"
"""the embedded predictor shipped in ``checkpoints/predictor`` (trained on the default encoder's tokens)"""
TWO_VIEW_PREDICTOR = "two-view"
"""the shipped two-view predictor (exterior and wrist camera), ``checkpoints/predictor-2v``"""
SHIPPED_PREDICTORS: dict[str, str] = {
    "one-view": "predictor",
    DEFAULT_PREDICTOR: "predictor",
    TWO_VIEW_PREDICTOR: "predictor-2v",
    "two-view-hover": "predictor-2v-hover",
}
"""names of the shipped predictors -> their folders in ``checkpoints/``. ``default`` is the one-view predictor's
name from before the two-view agent shipped; `jepa-sim eval` and `deploy` default to ``two-view-hover`` (their
``--agent grasp`` preset), ``two-view`` fine-tuned on data where the expert hovers and probes beside the object
before it grasps (its model card)"""


class PredictorLoadError(RuntimeError):
    """A predictor folder is missing, corrupt, or does not fit the encoder it is used with."""


def resolve_predictor(name_or_path: str | Path) -> Path:
    """A shipped predictor's name (:data:`SHIPPED_PREDICTORS`: ``one-view``, ``two-view``, ``two-view-hover``)
    -> its folder in ``checkpoints/``; anything else is a folder path."""
    from jepa_sim.encoders.registry import CHECKPOINTS_DIR

    folder = SHIPPED_PREDICTORS.get(str(name_or_path))
    return CHECKPOINTS_DIR / folder if folder is not None else Path(name_or_path)


def save_predictor(folder: Path, model: ACPredictor, encoder: dict[str, Any], training: dict[str, Any]) -> Path:
    """Write the predictor folder (replacing an older one by renames, so a crash never leaves half of one)."""
    folder = Path(folder)
    with atomic_folder(folder) as staging:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(staging / WEIGHTS), metadata={"format": FORMAT})
        meta = {"format": FORMAT, "version": VERSION, "predictor": model.config.to_dict(), "encoder": encoder,
                "conventions": CONVENTIONS, "training": training}  # fmt: skip
        (staging / CONFIG).write_text(json.dumps(meta, indent=1) + "\n")
    return folder


def read_predictor_meta(folder: str | Path) -> dict[str, Any]:
    """``config.json`` of a predictor folder, checked for format."""
    path = resolve_predictor(folder) / CONFIG
    if not path.is_file():
        raise PredictorLoadError(
            f"{folder} is not a predictor folder (no {CONFIG}); train one with `jepa-sim train --data DIR`"
        )
    try:
        meta: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PredictorLoadError(f"{path} is corrupt ({exc})") from exc
    if (
        meta.get("format") != FORMAT
        or not isinstance(meta.get("predictor"), dict)
        or "id" not in meta.get("encoder", {})
    ):
        raise PredictorLoadError(f"{path} is not a jepa-sim predictor config (format {meta.get('format')!r})")
    if meta.get("version", 0) > VERSION:
        raise PredictorLoadError(f"{path} has format version {meta['version']}; this jepa-sim reads up to {VERSION}")
    return meta


def check_encoder(meta: dict[str, Any], encoder_id: str, folder: Path | str = "the predictor") -> None:
    """A clear error when the predictor was trained on another encoder's tokens."""
    trained = meta["encoder"]["id"]
    if trained != encoder_id:
        raise PredictorLoadError(
            f"{folder} was trained on tokens of encoder {trained!r}, not {encoder_id!r}: its predictions would be "
            "meaningless. Use the encoder it was trained with, or train a predictor on features of this encoder "
            "(`jepa-sim encode --encoder ...`, then `jepa-sim train --encoder ...`)"
        )


def load_predictor(
    folder: str | Path, encoder_id: str | None = None, device: str | torch.device = "cpu"
) -> tuple[ACPredictor, dict[str, Any]]:
    """The predictor in ``folder`` (``default`` = the shipped one; in eval mode) and its metadata. With
    ``encoder_id``, a predictor trained on another encoder is a :class:`PredictorLoadError`."""
    folder = resolve_predictor(folder)
    meta = read_predictor_meta(folder)
    if encoder_id is not None:
        check_encoder(meta, encoder_id, folder)
    try:
        config = PredictorConfig.from_dict(meta["predictor"])
    except (TypeError, ValueError) as exc:
        raise PredictorLoadError(f"{folder / CONFIG}: bad predictor config ({exc})") from exc
    model = ACPredictor(config)
    try:
        state = load_file(str(folder / WEIGHTS))
        model.load_state_dict(state)
    except FileNotFoundError as exc:
        raise PredictorLoadError(f"{folder / WEIGHTS} is missing") from exc
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise PredictorLoadError(f"{folder / WEIGHTS} is corrupt or does not match its config: {exc}") from exc
    return model.to(device).eval(), meta
