"""Device-run helper: turn a training run folder into one tar (<16 MiB) with the predictor, its metrics and card."""

import sys
import tarfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from jepa_sim.predictor.checkpoint import save_predictor
from jepa_sim.predictor.model import ACPredictor, PredictorConfig

run, out = Path(sys.argv[1]), Path(sys.argv[2])
pred = run / "predictor"
if not (pred / "model.safetensors").is_file():
    state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    model = ACPredictor(PredictorConfig.from_dict(state["predictor"]))
    model.load_state_dict(state["model"])
    save_predictor(
        pred, model, state["encoder"], {"steps": state["step"], "interrupted": True, "config": state["config"]}
    )
w = pred / "model.safetensors"
if w.stat().st_size > 15_000_000:
    with safe_open(str(w), "pt") as f:
        meta = f.metadata()
    st = load_file(str(w))
    save_file({k: (v.half() if v.is_floating_point() else v) for k, v in st.items()}, str(w), metadata=meta)
with tarfile.open(out, "w") as tar:
    for name in ("predictor", "metrics.jsonl", "run.json", "loss.png"):
        if (run / name).exists():
            tar.add(run / name, arcname=name)
print(out, out.stat().st_size)
