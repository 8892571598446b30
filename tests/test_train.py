"""`jepa-sim train` and `jepa-sim predict-eval`: the predictor trained on cached tokens, resumed after a kill,
data parallel under torchrun, and tied to its encoder."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_encoders import tiny_vjepa2

from envs.collection import CollectSpec, collect
from jepa_sim.cli.main import main
from jepa_sim.data.features import encode_dataset
from jepa_sim.encoders import encoder_id, load_encoder
from jepa_sim.predictor.checkpoint import PredictorLoadError, load_predictor, read_predictor_meta
from jepa_sim.runs import read_metrics

REPO = Path(__file__).resolve().parents[1]
TINY = ["--width", "32", "--depth", "2", "--heads", "2", "--batch-size", "4", "--device", "cpu", "--clip-len", "3"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Four reach episodes at 64 px with the tokens of a tiny random V-JEPA 2 (4x4 grid, width 32)."""
    root = tmp_path_factory.mktemp("train") / "data"
    collect(root, CollectSpec(env_ids=("JepaSim/FrankaReach-v0",), objects=("cup",), image_size=64, seed=3), 4)
    enc = root.parent / "enc"
    tiny_vjepa2(enc)
    encoder = load_encoder(str(enc), device="cpu")
    encode_dataset(root, encoder.encode, encoder.describe())
    return root, enc


def train_args(data, out, *extra):
    root, enc = data
    return ["train", "--data", str(root), "--encoder", str(enc), "--out", str(out), *TINY, *extra]


def cli(*args, env=None):
    """The CLI in a fresh process (with one torch thread, so the test is steady on 2 cores)."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "MUJOCO_GL": "egl", **(env or {})}
    return [sys.executable, "-m", "jepa_sim.cli.main", *args], full_env


def test_train_exports_a_predictor_tied_to_its_encoder(data, tmp_path, capsys):
    _root, enc = data
    out = tmp_path / "run"
    assert main(train_args(data, out, "--steps", "4")) == 0
    printed = capsys.readouterr().out
    assert "| horizon | predictor L1 | copy-last-frame L1 | ratio |" in printed
    assert [m["step"] for m in read_metrics(out)] == [1, 2, 3, 4]
    assert (out / "loss.png").is_file() and (out / "checkpoint.pt").is_file()

    model, meta = load_predictor(out / "predictor", encoder_id(str(enc)))
    assert meta["encoder"]["id"] == encoder_id(str(enc)) and meta["encoder"]["grid"] == [4, 4]
    assert meta["predictor"]["width"] == 32 and meta["training"]["steps"] == 4
    assert "state" in meta["conventions"] and "action" in meta["conventions"]
    assert [row["horizon"] for row in meta["training"]["horizons"]] == [1, 2, 3, 4]
    # the input standardisation learned from the data travels with the weights
    assert not torch.equal(model.action_std, torch.ones(7))
    with pytest.raises(PredictorLoadError, match="trained on tokens of encoder"):
        load_predictor(out / "predictor", "encoder@000000000000")


def test_predict_eval_reports_every_horizon_and_refuses_another_encoder(data, tmp_path, capsys):
    root, _enc = data
    out = tmp_path / "run"
    assert main(train_args(data, out, "--steps", "2")) == 0
    capsys.readouterr()
    report = tmp_path / "eval.json"
    args = ["predict-eval", "--data", str(root), "--predictor", str(out / "predictor"), "--device", "cpu"]
    assert main([*args, "--horizons", "3", "--json-out", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "held out of the predictor's training" in printed
    rows = json.loads(report.read_text())["rows"]
    assert [r["horizon"] for r in rows] == [1, 2, 3]
    assert all(r["copy_last"] > 0 and r["model"] > 0 for r in rows)

    other = tmp_path / "other"
    tiny_vjepa2(other, seed=1)
    with pytest.raises(SystemExit, match="trained on tokens of encoder"):
        main([*args, "--encoder", str(other)])
    with pytest.raises(SystemExit, match="not a predictor folder"):
        main(["predict-eval", "--data", str(root), "--predictor", str(tmp_path)])


def test_training_can_start_from_a_predictor_of_the_same_architecture_and_refuses_another(data, tmp_path, capsys):
    first = tmp_path / "first"
    assert main(train_args(data, first, "--steps", "4")) == 0
    start, _ = load_predictor(first / "predictor")
    more = tmp_path / "more"
    # one step at a negligible rate: the weights are the first run's, not a fresh initialisation
    assert main(train_args(data, more, "--steps", "1", "--lr", "1e-9", "--init", str(first / "predictor"))) == 0
    model, meta = load_predictor(more / "predictor")
    assert meta["training"]["config"]["init"] == str(first / "predictor")
    for name, weights in start.state_dict().items():
        assert torch.allclose(model.state_dict()[name], weights, atol=1e-5), name
    fresh = tmp_path / "fresh"
    assert main(train_args(data, fresh, "--steps", "1", "--lr", "1e-9")) == 0
    other, _ = load_predictor(fresh / "predictor")
    assert not torch.allclose(other.state_dict()["patch_in.weight"], start.state_dict()["patch_in.weight"])
    capsys.readouterr()
    root, enc = data
    wider = [a if a != "32" else "64" for a in TINY]  # --width 64 (the only 32 in TINY)
    with pytest.raises(SystemExit, match=r"its architecture .* differs from this run.s"):
        main(["train", "--data", str(root), "--encoder", str(enc), "--out", str(tmp_path / "wider"), *wider,
              "--steps", "1", "--init", str(first / "predictor")])  # fmt: skip
    with pytest.raises(SystemExit, match="cannot start from predictor"):
        main(train_args(data, tmp_path / "none", "--steps", "1", "--init", str(tmp_path / "missing")))

    # tokens of another encoder of the same shape (an encoder pretrained further): refused unless asked for
    other = tmp_path / "other_encoder"
    tiny_vjepa2(other, seed=2)  # not seed 1: another test needs that encoder uncached
    encoder = load_encoder(str(other), device="cpu")
    encode_dataset(root, encoder.encode, encoder.describe())
    moved = ["train", "--data", str(root), "--encoder", str(other), *TINY, "--steps", "1", "--lr", "1e-9",
             "--init", str(first / "predictor")]  # fmt: skip
    with pytest.raises(SystemExit, match="trained on tokens of encoder"):
        main([*moved, "--out", str(tmp_path / "moved")])
    assert main([*moved, "--out", str(tmp_path / "warm"), "--init-any-encoder"]) == 0
    warm, meta = load_predictor(tmp_path / "warm" / "predictor", encoder_id(str(other)))
    assert meta["training"]["config"]["init_any_encoder"] is True
    assert torch.allclose(warm.state_dict()["patch_in.weight"], start.state_dict()["patch_in.weight"], atol=1e-5)
    with pytest.raises(SystemExit, match="init_any_encoder needs an init predictor"):
        main(train_args(data, tmp_path / "bare", "--steps", "1", "--init-any-encoder"))


def test_training_on_an_encoder_without_cached_tokens_says_how_to_cache_them(data, tmp_path):
    root, _ = data
    other = tmp_path / "other"
    tiny_vjepa2(other, seed=1)
    with pytest.raises(SystemExit, match="run `jepa-sim encode"):
        main(["train", "--data", str(root), "--encoder", str(other), "--out", str(tmp_path / "r"), *TINY])


def test_a_run_folder_of_another_encoder_or_config_is_refused(data, tmp_path):
    out = tmp_path / "run"
    assert main(train_args(data, out, "--steps", "1")) == 0
    with pytest.raises(SystemExit, match=r"different config \(changed: lr\)"):
        main(train_args(data, out, "--steps", "1", "--lr", "1e-3"))


def test_a_killed_run_resumes_from_its_checkpoint_with_the_same_steps_schedule_and_weights(data, tmp_path):
    steps = ["--steps", "300", "--checkpoint-every", "5"]
    reference = tmp_path / "reference"
    command, env = cli(*train_args(data, reference, *steps))
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=REPO)

    killed = tmp_path / "killed"
    command, env = cli(*train_args(data, killed, *steps))
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed / "checkpoint.pt").is_file() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed; raise --steps"
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = torch.load(killed / "checkpoint.pt", weights_only=True)["step"]
    assert 0 < saved < 300 and saved % 5 == 0

    command, env = cli(*train_args(data, killed, *steps))
    resumed = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=REPO)
    assert f"resuming from step {saved}" in resumed.stdout
    ref_log, log = read_metrics(reference), read_metrics(killed)
    assert [m["step"] for m in log] == list(range(1, 301))
    assert [m["lr"] for m in log] == [m["lr"] for m in ref_log]
    assert [m["loss"] for m in log] == [m["loss"] for m in ref_log]  # the same batches, in the same order
    ref_weights = load_file(str(reference / "predictor" / "model.safetensors"))
    weights = load_file(str(killed / "predictor" / "model.safetensors"))
    for name, value in ref_weights.items():
        torch.testing.assert_close(weights[name], value, rtol=0, atol=0, msg=name)


def test_two_torchrun_processes_hold_equal_weights_matching_one_process(data, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    steps = ["--steps", "3"]
    command, env = cli(*train_args(data, one, *steps))
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=REPO)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command, env = cli(*train_args(data, two, *steps))
    result = subprocess.run([*torchrun, *command[1:]], env=env, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("done: 3 steps") == 1  # only rank 0 reports

    training = read_predictor_meta(two / "predictor")["training"]
    assert training["ranks"] == 2 and len(training["rank_checksums"]) == 2
    # each rank takes half of the same global batch and DDP averages the gradients: one optimiser step on
    # the whole batch, up to the order of float additions
    single = load_file(str(one / "predictor" / "model.safetensors"))
    parallel = load_file(str(two / "predictor" / "model.safetensors"))
    assert single["out.weight"].abs().sum() > 0  # trained away from its zero init (residual predictor)
    for name, value in single.items():
        torch.testing.assert_close(parallel[name], value, rtol=1e-4, atol=1e-5, msg=name)
    # the logged loss is the whole batch's (the mean over ranks), not rank 0's half
    for a, b in zip(read_metrics(one), read_metrics(two), strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)


def test_cli_defaults_match_the_library_defaults():
    from dataclasses import fields

    from jepa_sim.cli.train_cmd import TrainArgs
    from jepa_sim.predictor.train import TrainConfig

    cli_defaults = {f.name: f.default for f in fields(TrainArgs)}
    cli_defaults["views"] = tuple(str(cli_defaults["views"]).split(","))  # the flag is comma-separated text
    for f in fields(TrainConfig):
        if f.name in cli_defaults:
            assert cli_defaults[f.name] == f.default, f.name


def test_the_shipped_predictor_loads_with_the_shipped_encoder():
    model, meta = load_predictor("default", encoder_id("default"))
    assert meta["training"]["steps"] == 4000
    rows = meta["training"]["horizons"]
    assert len(rows) == 4 and all(row["model"] < row["copy_last"] for row in rows)
    assert model.config.token_dim == 192 and model.config.grid == (8, 8)


def test_bc_baseline_trains_on_cached_tokens_and_refuses_another_encoder(data, tmp_path, capsys):
    from agents.bc import BCAgent, load_bc
    from agents.drivers.base import Observation

    root, enc = data
    out = tmp_path / "bc"
    args = ["train-bc", "--data", str(root), "--encoder", str(enc), "--out", str(out), "--steps", "20"]
    assert main([*args, "--batch-size", "8"]) == 0
    assert "held-out action error" in capsys.readouterr().out
    policy = load_bc(out, encoder_id(str(enc)))
    record = json.loads((out / "config.json").read_text())["training"]
    assert record["steps"] == 20 and record["train_frames"] > 0 and record["heldout_frames"] > 0
    encoder = load_encoder(str(enc), device="cpu")
    agent = BCAgent(policy, encoder.encode)
    image = torch.zeros(64, 64, 3, dtype=torch.uint8).numpy()
    agent.reset([image], Observation(image, torch.zeros(7).double().numpy(), 0.0))
    action = agent.act(Observation(image, torch.zeros(7).double().numpy(), 0.0))
    assert action.shape == (7,) and torch.isfinite(torch.from_numpy(action)).all()
    with pytest.raises(ValueError, match="trained on tokens of encoder"):
        load_bc(out, "encoder@000000000000")
