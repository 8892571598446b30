"""Stage-1 V-JEPA pretraining: masks, EMA, schedule, a real (tiny) run, resume, export and the probe."""

import itertools
import json
import os
import signal

import numpy as np
import pytest
import torch

from envs.collection import CollectSpec, collect
from jepa_sim.cli.main import main
from jepa_sim.encoders import load_encoder, load_random_encoder
from jepa_sim.pretrain.frames import FrameBank, clips_to_pixels
from jepa_sim.pretrain.jepa import ModelSize, build_model, context_forward, ema_update, gather_tokens
from jepa_sim.pretrain.masks import DEFAULT_GROUPS, BlockSpec, MultiBlockMasker, block_shape, sample_target_mask
from jepa_sim.pretrain.trainer import PretrainConfig, Pretrainer, PretrainError, StepReport, read_metrics
from jepa_sim.probe import ProbeSet, fit_probe, ridge_fit, ridge_predict, run_probe
from jepa_sim.schedules import linear, warmup_stable_decay

TINY = ModelSize(image_size=32, patch_size=8, width=32, depth=2, heads=2, pred_width=16, pred_depth=1, pred_heads=2)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain") / "data"
    collect(root, CollectSpec(env_ids=("JepaSim/FrankaReach-v0",), objects=("cup",), image_size=64), 5)
    return root


# --- masks -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.15, 0.3, 0.7])
def test_one_block_covers_its_configured_share_of_the_frame(scale):
    gen = torch.Generator().manual_seed(0)
    spec = BlockSpec(1, scale)
    fractions = [sample_target_mask(spec, (1, 16, 16), 4, gen).float().mean().item() for _ in range(50)]
    assert abs(np.mean(fractions) - scale) < 0.1 * scale
    assert all(abs(f - scale) < 0.25 * scale for f in fractions)


def test_block_aspect_ratio_stays_in_range():
    gen = torch.Generator().manual_seed(1)
    for _ in range(200):
        _, h, w = block_shape(BlockSpec(1, 0.25), (1, 32, 32), gen)
        assert 0.75 * 0.8 <= h / w <= 1.5 * 1.25  # rounding to whole tokens


def test_masks_span_every_frame_and_unions_cover_more_than_one_block():
    gen = torch.Generator().manual_seed(2)
    mask = sample_target_mask(BlockSpec(8, 0.15), (4, 16, 16), 8, gen)
    assert torch.equal(mask, mask[:, :1].expand_as(mask))  # the same blocks in every temporal slice
    union = mask.float().mean().item()
    assert 0.15 < union < 1 - 0.85**8 + 0.1  # overlapping blocks: more than one, at most all eight disjoint


def test_masker_gives_disjoint_sorted_context_and_target_sets():
    gen = torch.Generator().manual_seed(3)
    masker = MultiBlockMasker((2, 8, 8), DEFAULT_GROUPS, min_context=4)
    for pair in masker(6, gen):
        assert pair.context.shape[0] == pair.target.shape[0] == 6
        assert pair.context.shape[1] >= 4
        for ctx, tgt in zip(pair.context, pair.target, strict=True):
            assert not set(ctx.tolist()) & set(tgt.tolist())
            assert torch.equal(ctx, ctx.sort().values) and torch.equal(tgt, tgt.sort().values)
            assert int(ctx.min()) >= 0 and int(max(ctx.max(), tgt.max())) < 128


def test_long_range_group_masks_most_of_the_frame():
    gen = torch.Generator().manual_seed(4)
    masker = MultiBlockMasker((1, 16, 16), (BlockSpec(2, 0.7),))
    pair = masker(16, gen)[0]
    assert pair.target.shape[1] / 256 > 0.7  # the union of two 0.7 blocks covers at least one of them


def test_bad_training_settings_are_refused_before_any_frame_is_loaded():
    with pytest.raises(ValueError, match="warmup"):
        PretrainConfig(warmup=0.9, decay=0.2)
    with pytest.raises(ValueError, match="ema"):
        PretrainConfig(ema=(1.0, 0.99))
    with pytest.raises(ValueError, match="clip_frames"):
        PretrainConfig(clip_frames=3)


def test_bad_mask_settings_are_refused():
    with pytest.raises(ValueError, match="spatial_scale"):
        BlockSpec(1, 1.5)
    with pytest.raises(ValueError, match="min_context"):
        MultiBlockMasker((1, 2, 2), min_context=4)


# --- EMA and schedules ---------------------------------------------------------------------------------------


def test_ema_update_matches_its_formula():
    torch.manual_seed(0)
    target, online = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in target.parameters()]
    ema_update(target, online, 0.9)
    for old, new, src in zip(before, target.parameters(), online.parameters(), strict=True):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * src, rtol=0, atol=1e-7)
    frozen = [p.detach().clone() for p in target.parameters()]
    ema_update(target, online, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(frozen, target.parameters(), strict=True))
    with pytest.raises(ValueError, match="momentum"):
        ema_update(target, online, 1.5)


def test_warmup_stable_decay_schedule():
    lrs = [warmup_stable_decay(s, 100, 1.0, warmup=0.1, decay=0.2, final=0.0) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == 1.0
    assert all(lr == 1.0 for lr in lrs[10:80])
    assert lrs[80] < 1.0 and lrs[-1] == 0.0
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))
    assert linear(0, 11, 0.996, 1.0) == 0.996 and linear(10, 11, 0.996, 1.0) == 1.0


# --- the model ---------------------------------------------------------------------------------------------


def test_context_encoder_sees_only_visible_tokens():
    """Changing a masked patch's pixels leaves the context tokens unchanged (no leak from the targets)."""
    model = build_model(TINY).eval()
    pixels = torch.randn(1, 2, 3, 32, 32)
    context = torch.tensor([[0, 1, 2, 3]])  # the first row of the 4x4 grid
    with torch.no_grad():
        a = context_forward(model.encoder, model.encoder.embeddings(pixels), context)
        changed = pixels.clone()
        changed[..., 24:, 24:] += 5.0  # the last patch, masked
        b = context_forward(model.encoder, model.encoder.embeddings(changed), context)
        full = model.encoder(pixel_values_videos=pixels).last_hidden_state
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, gather_tokens(full, context))  # the full pass mixes every token


def test_frame_bank_clips_stay_inside_episodes(data):
    from jepa_sim.data.dataset import EpisodeDataset

    bank = FrameBank(data, EpisodeDataset(data).indices)
    starts = bank.clip_starts(4, 2)
    ends = torch.cat([bank.starts + bank.lengths])
    for s in starts.tolist():
        episode = int((bank.starts <= s).nonzero().max())
        assert s + 6 < int(ends[episode])
    clips = bank.sample(3, 4, 2, torch.Generator().manual_seed(0))
    assert clips.shape == (3, 4, 64, 64, 3) and clips.dtype == torch.uint8
    pixels = clips_to_pixels(clips[:, :1], 32, 2)
    assert pixels.shape == (3, 2, 3, 32, 32) and torch.equal(pixels[:, 0], pixels[:, 1])


# --- runs ----------------------------------------------------------------------------------------------------


def tiny_config(**changes):
    return PretrainConfig(**{"size": TINY, "steps": 2, "batch_size": 4, "holdout": 0.2, **changes})


def test_two_step_run_is_finite_and_exports_a_registry_loadable_encoder(data, tmp_path):
    result = Pretrainer(data, tmp_path / "run", tiny_config()).run()
    metrics = read_metrics(tmp_path / "run")
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        assert all(np.isfinite(v) for v in m.values())
    assert "val_loss" in metrics[-1]
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    encoder = load_encoder(str(result.encoder_dir), device="cpu")
    tokens = encoder.encode(np.zeros((2, 64, 64, 3), np.uint8))
    assert tokens.shape == (2, 16, 32) and torch.isfinite(tokens).all()
    card = json.loads((result.encoder_dir / "training.json").read_text())
    assert card["steps"] == 2 and card["heldout_episodes"] and card["hardware"]["torch"]
    # the exported encoder holds the EMA target weights
    target_w = state["target"]["embeddings.patch_embeddings.proj.weight"]
    torch.testing.assert_close(encoder.model.encoder.embeddings.patch_embeddings.proj.weight, target_w)


def test_video_clips_with_two_temporal_slices_train(data, tmp_path):
    size = ModelSize(**{**vars(TINY), "frames_per_clip": 4})
    cfg = tiny_config(size=size, clip_frames=4, frame_stride=1, holdout=0.0)
    Pretrainer(data, tmp_path / "video", cfg).run()
    assert all(np.isfinite(m["loss"]) for m in read_metrics(tmp_path / "video"))


def assert_same_state(a_dir, b_dir):
    a = torch.load(a_dir / "checkpoint.pt", weights_only=True)
    b = torch.load(b_dir / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"]
    for part in ("model", "target"):
        for key in a[part]:
            torch.testing.assert_close(a[part][key], b[part][key], rtol=0, atol=1e-6)
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        torch.testing.assert_close(sa["exp_avg"], sb["exp_avg"], rtol=0, atol=1e-6)
    metrics_a, metrics_b = read_metrics(a_dir), read_metrics(b_dir)
    assert [m["step"] for m in metrics_a] == [m["step"] for m in metrics_b]
    assert [m["lr"] for m in metrics_a] == [m["lr"] for m in metrics_b]


def test_ctrl_c_checkpoints_whole_steps_and_a_resumed_run_ends_with_the_same_weights(data, tmp_path):
    cfg = tiny_config(steps=4)
    Pretrainer(data, tmp_path / "straight", cfg).run()

    def ctrl_c_during_step_two(report: StepReport) -> None:
        if report.step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # a real SIGINT: the handler lets the step finish

    with pytest.raises(KeyboardInterrupt):
        Pretrainer(data, tmp_path / "killed", cfg).run(on_step=ctrl_c_during_step_two)
    assert torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)["step"] == 2
    starts = []
    Pretrainer(data, tmp_path / "killed", cfg).run(on_start=lambda s, *_: starts.append(s))
    assert starts == [2]
    assert_same_state(tmp_path / "straight", tmp_path / "killed")
    assert [m["step"] for m in read_metrics(tmp_path / "killed")] == [1, 2, 3, 4]


def test_a_hard_kill_falls_back_to_the_last_checkpoint_and_redoes_the_lost_steps(data, tmp_path):
    cfg = tiny_config(steps=4)
    Pretrainer(data, tmp_path / "straight", cfg).run()

    def stop_after_two(report: StepReport) -> None:
        if report.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Pretrainer(data, tmp_path / "killed", cfg).run(on_step=stop_after_two)
    # what a SIGKILL during step 4 leaves: the checkpoint of step 2, log lines of step 3 and half of step 4
    with open(tmp_path / "killed" / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"step": 3, "loss": 9.0, "lr": 9.0}) + "\n" + '{"step": 4, "lo')
    Pretrainer(data, tmp_path / "killed", cfg).run()
    assert_same_state(tmp_path / "straight", tmp_path / "killed")
    assert 9.0 not in [m["loss"] for m in read_metrics(tmp_path / "killed")]


def test_a_run_folder_with_another_config_is_refused(data, tmp_path):
    Pretrainer(data, tmp_path / "run", tiny_config()).run()
    with pytest.raises(PretrainError, match="changed: lr"):
        Pretrainer(data, tmp_path / "run", tiny_config(lr=1e-3))


def test_a_run_continues_from_an_exported_encoder_and_refuses_another_shape(data, two_view_data, tmp_path):
    first = Pretrainer(data, tmp_path / "first", tiny_config()).run()
    exported = torch.load(tmp_path / "first" / "checkpoint.pt", weights_only=True)["target"]
    # step 0 of the continued run starts from the export's weights (encoder and pretraining predictor)
    starts = []
    cont = Pretrainer(two_view_data, tmp_path / "more", tiny_config(views=("exterior", "wrist"), steps=1),
                      init=first.encoder_dir)  # fmt: skip
    cont.run(on_start=lambda s, *_: starts.append(s))
    assert starts == [0]
    card = json.loads((tmp_path / "more" / "encoder" / "training.json").read_text())
    assert card["init"] == str(first.encoder_dir)
    state = torch.load(tmp_path / "more" / "checkpoint.pt", weights_only=True)
    key = "embeddings.patch_embeddings.proj.weight"
    fresh = Pretrainer(two_view_data, tmp_path / "fresh", tiny_config(views=("exterior", "wrist"), steps=1))
    fresh.run()
    scratch = torch.load(tmp_path / "fresh" / "checkpoint.pt", weights_only=True)
    # one small step away from the export, far from a fresh initialisation
    near = (state["target"][key] - exported[key]).abs().max()
    far = (scratch["target"][key] - exported[key]).abs().max()
    assert near < 0.1 * far
    # the start is part of the run: the same folder without it (or from elsewhere) is refused
    with pytest.raises(PretrainError, match="different init"):
        Pretrainer(two_view_data, tmp_path / "more", tiny_config(views=("exterior", "wrist"), steps=1))
    with pytest.raises(PretrainError, match="not an exported encoder folder"):
        Pretrainer(data, tmp_path / "x", tiny_config(), init=tmp_path / "first")
    wider = ModelSize(**{**vars(TINY), "width": TINY.width * 2, "pred_width": TINY.pred_width * 2})
    with pytest.raises(PretrainError, match="another shape than this run: hidden_size"):
        Pretrainer(data, tmp_path / "wide", tiny_config(size=wider), init=first.encoder_dir)  # before any frame


def test_a_corrupt_checkpoint_is_named(data, tmp_path):
    Pretrainer(data, tmp_path / "run", tiny_config()).run()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PretrainError, match="cannot resume"):
        Pretrainer(data, tmp_path / "run", tiny_config()).run()


def test_pretrain_and_probe_commands(data, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["pretrain", "--data", str(data), "--out", str(out), "--steps", "2", "--batch-size", "4",
            "--image-size", "32", "--patch-size", "8", "--width", "32", "--depth", "2", "--heads", "2",
            "--pred-width", "16", "--pred-depth", "1", "--pred-heads", "2", "--holdout", "0.4",
            "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    assert (out / "loss.png").stat().st_size > 1000
    assert "encoder:" in capsys.readouterr().out
    probe = tmp_path / "probe.json"
    assert main(["probe", "--data", str(data), "--encoder", str(out / "encoder"), "--device", "cpu",
                 "--json-out", str(probe)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "held out of the encoder's pretraining" in printed and "| ee_pos |" in printed
    scores = json.loads(probe.read_text())
    assert set(scores["pretrained"]) == set(scores["random init"]) == {"ee_pos", "object_pos", "gripper", "cup_pos",
                                                                       "box_pos"}  # fmt: skip
    assert scores["test_episodes"] == 2


def test_pretrain_on_a_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match=r"jepa-sim pretrain: .*manifest"):
        main(["pretrain", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")])


# --- probe ---------------------------------------------------------------------------------------------------


def synthetic(n_episodes, seed, informative=True):
    rng = np.random.default_rng(seed)
    n = n_episodes * 20
    pos = rng.uniform(-0.3, 0.3, (n, 3))
    feats = rng.normal(size=(n, 16))
    if informative:
        mixing = np.random.default_rng(99).normal(size=(3, 3))  # the same code in train and test sets
        feats[:, :3] = pos @ mixing * 10 + rng.normal(scale=0.01, size=(n, 3))
    targets = {"ee_pos": pos, "object_pos": pos, "gripper": pos[:, :1]}
    return ProbeSet(feats, targets, np.repeat(np.arange(n_episodes), 20))


def test_probe_scores_a_linear_code_near_one_and_noise_near_zero():
    good = fit_probe(synthetic(10, 0), synthetic(4, 1), "ee_pos")
    assert good.r2 > 0.99 and good.rmse < 0.02
    noise = fit_probe(synthetic(10, 1, informative=False), synthetic(4, 2, informative=False), "ee_pos")
    assert noise.r2 < 0.1
    # every target at once gives what one at a time does (ridge_fit, the reference)
    train, test = synthetic(10, 0), synthetic(4, 1)
    train.targets["object_pos"] = train.targets["object_pos"] + np.random.default_rng(5).normal(size=(200, 3))
    together = run_probe(train, test)
    for name in train.targets:
        alone = fit_probe(train, test, name)
        assert together[name].ridge == alone.ridge and together[name].r2 == pytest.approx(alone.r2, abs=1e-9)
        reference = ridge_predict(ridge_fit(train.features, train.targets[name], alone.ridge), test.features)
        assert np.sqrt(((test.targets[name] - reference) ** 2).mean()) == pytest.approx(alone.rmse, abs=1e-9)


def hot_tokens(n_episodes, seed, tokens=16, dim=8):
    """Frames whose tokens are noise but one, which carries a fixed feature: where it is (its index) is the target,
    which a mean over the tokens cannot tell."""
    rng = np.random.default_rng(seed)
    n = n_episodes * 20
    x = rng.normal(scale=0.1, size=(n, tokens, dim))
    where = rng.integers(0, tokens, n)
    x[np.arange(n), where, 0] += 3.0
    side = int(np.sqrt(tokens))
    pos = np.stack([where // side, where % side, np.zeros(n)], axis=1) / side
    targets = {"ee_pos": pos, "object_pos": pos, "gripper": pos[:, :1]}
    return ProbeSet(x.reshape(n, -1), targets, np.repeat(np.arange(n_episodes), 20))


def test_the_attentive_probe_reads_where_a_token_is_which_pooling_cannot():
    from jepa_sim.probe import fit_attentive

    train, test = hot_tokens(30, 0), hot_tokens(8, 1)
    scores = fit_attentive(train, test, dim=8, epochs=40, batch=64, lr=1e-2, weight_decay=0.0)
    assert set(scores) == {"ee_pos", "object_pos", "gripper"}
    assert scores["object_pos"].r2_axes[0] > 0.9 and scores["object_pos"].r2_axes[1] > 0.9
    mean_pooled = ProbeSet(train.features.reshape(len(train.features), 16, 8).mean(1), train.targets, train.episode)
    held = ProbeSet(test.features.reshape(len(test.features), 16, 8).mean(1), test.targets, test.episode)
    assert max(fit_probe(mean_pooled, held, "object_pos").r2_axes[:2]) < 0.1  # the mean lost where the token was
    with pytest.raises(ValueError, match="not tokens of 5"):
        fit_attentive(train, test, dim=5)


def test_random_baseline_has_the_same_architecture(data, tmp_path):
    result = Pretrainer(data, tmp_path / "run", tiny_config()).run()
    trained = load_encoder(str(result.encoder_dir), device="cpu")
    random = load_random_encoder(str(result.encoder_dir), seed=0, device="cpu")
    assert (random.dim, random.grid, random.image_size) == (trained.dim, trained.grid, trained.image_size)
    assert random.id.startswith("random-init") and random.id != trained.id
    frames = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    assert not torch.allclose(random.encode(frames), trained.encode(frames))


def test_cli_defaults_match_the_library_defaults():
    """The CLI mirrors the config dataclasses (flat flags read better than nested ones); they must not drift."""
    from pathlib import Path

    from jepa_sim.cli.pretrain_cmd import PretrainArgs

    args, size, config = PretrainArgs(data=Path("d")), ModelSize(), PretrainConfig()
    for name in ("image_size", "patch_size", "frames_per_clip", "width", "depth", "heads", "pred_width",
                 "pred_depth", "pred_heads"):  # fmt: skip
        assert getattr(args, name) == getattr(size, name), name
    for name in ("steps", "batch_size", "lr", "warmup", "decay", "weight_decay", "holdout", "seed", "clip_frames",
                 "frame_stride"):  # fmt: skip
        assert getattr(args, name) == getattr(config, name), name
    assert (args.ema_start, args.ema_end) == config.ema


# --- two views (exterior and wrist) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_view_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain2") / "data"
    spec = CollectSpec(env_ids=("JepaSim/FrankaGrasp-v0",), objects=("box",), image_size=64, wrist_camera=True)
    collect(root, spec, 4)
    return root


def test_the_frame_bank_holds_each_view_of_an_episode_as_its_own_segment(two_view_data, data):
    from jepa_sim.data.dataset import EpisodeDataset

    indices = EpisodeDataset(two_view_data).indices
    one = FrameBank(two_view_data, indices)
    both = FrameBank(two_view_data, indices, views=("exterior", "wrist"))
    assert len(both) == 2 * len(one) and len(both.starts) == 2 * len(indices)
    assert torch.equal(both.frames[: int(both.lengths[0])], one.frames[: int(one.lengths[0])])
    assert not torch.equal(both.frames[int(both.starts[1])], one.frames[0])  # the wrist view, not the exterior
    from jepa_sim.data.episode import EpisodeFormatError

    with pytest.raises(EpisodeFormatError, match="no wrist_frames: collect with --wrist-camera"):
        FrameBank(data, EpisodeDataset(data).indices, views=("wrist",))
    with pytest.raises(ValueError, match="views must be distinct names"):
        tiny_config(views=("exterior", "top"))


def test_pretraining_on_both_views_and_probing_them_side_by_side(two_view_data, tmp_path, capsys):
    result = Pretrainer(two_view_data, tmp_path / "run", tiny_config(views=("exterior", "wrist"))).run()
    card = json.loads((result.encoder_dir / "training.json").read_text())
    assert card["config"]["views"] == ["exterior", "wrist"]
    probe = tmp_path / "probe.json"
    args = ["probe", "--data", str(two_view_data), "--encoder", str(result.encoder_dir), "--device", "cpu",
            "--views", "exterior,wrist", "--pool", "grid", "--no-baseline", "--json-out", str(probe)]  # fmt: skip
    assert main(args) == 0
    scores = json.loads(probe.read_text())
    assert scores["views"] == "exterior,wrist" and scores["pool"] == "grid"
    assert set(scores["pretrained"]) == {"ee_pos", "object_pos", "gripper", "cup_pos", "box_pos"}
    attentive = tmp_path / "attentive.json"
    assert main([*args[:-1], str(attentive), "--probe", "attentive", "--epochs", "2"]) == 0
    scores = json.loads(attentive.read_text())
    assert scores["probe"] == "attentive" and set(scores["pretrained"]) == {"ee_pos", "object_pos", "gripper",
                                                                            "cup_pos", "box_pos"}  # fmt: skip
    assert "attentive probe on every token" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--probe must be ridge or attentive"):
        main([*args, "--probe", "linear"])
    with pytest.raises(SystemExit, match="--pool tokens"):
        main([*args, "--pool", "tokens"])


def test_grid_pooling_keeps_where_a_feature_is():
    from jepa_sim.probe import pool_tokens

    tokens = torch.zeros(1, 16, 3)
    tokens[0, 0, 0] = 1.0  # top-left token
    assert pool_tokens(tokens, "mean").shape == (1, 3)
    grid = pool_tokens(tokens, "grid")
    assert grid.shape == (1, 12) and grid[0, 0] == 0.25 and grid[0, 3:].abs().sum() == 0
    with pytest.raises(ValueError, match="even square token grid"):
        pool_tokens(torch.zeros(1, 9, 3), "grid")
    cells = pool_tokens(tokens, "cells")  # 4 x 4 tokens: 2 x 2 cells of 2 x 2 tokens (one each, here the quarters)
    assert cells.shape == (1, 12) and torch.equal(cells, grid)
    eight = torch.zeros(2, 64, 3)
    eight[1, 9, 2] = 4.0  # row 1, col 1: the first cell of 2 x 2 tokens
    cells = pool_tokens(eight, "cells")
    assert cells.shape == (2, 48) and cells[1, 2] == 1.0 and cells[1].abs().sum() == 1.0 and cells[0].abs().sum() == 0
    with pytest.raises(ValueError, match="pool must be one of mean, grid, cells"):
        pool_tokens(tokens, "max")
