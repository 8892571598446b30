"""The two-view world model (DROID's rig: the exterior and the wrist camera) end to end on tiny models: collect
both views -> encode each -> train a predictor on both views' tokens -> plan with it; and the refusals that keep
a predictor and an agent on the same views."""

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file
from test_encoders import tiny_vjepa2
from test_grasping import plan_two_steps

from agents.bc import resolve_bc
from agents.drivers.sim import SimDriver
from agents.mpc import MPCAgent, MPCConfig
from agents.planning_model import PredictorModel
from envs.collection import CollectSpec, collect
from jepa_sim.cli.main import main
from jepa_sim.data.feature_clips import FeatureClips
from jepa_sim.data.features import encode_dataset
from jepa_sim.encoders import load_encoder
from jepa_sim.planning import CEM, CEMConfig
from jepa_sim.planning.energy import LatentEnergy, integrate_states
from jepa_sim.predictor import ACPredictor, PredictorConfig
from jepa_sim.predictor.checkpoint import load_predictor
from jepa_sim.predictor.model import Observed

BOTH = ("exterior", "wrist")
CFG2 = PredictorConfig(token_dim=8, grid=(4, 4), width=32, depth=2, heads=2, max_steps=6, merge=2, views=BOTH)
TINY = ["--width", "32", "--depth", "2", "--heads", "2", "--batch-size", "4", "--device", "cpu", "--clip-len", "3"]


def inputs(batch: int = 2, steps: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(batch, steps, CFG2.num_tokens, 8, generator=g)
    return z, torch.randn(batch, steps, 7, generator=g), torch.randn(batch, steps, 7, generator=g)


def test_a_two_view_frame_is_both_views_tokens_side_by_side():
    assert (CFG2.view_tokens, CFG2.num_tokens, CFG2.merged_tokens, CFG2.step_tokens) == (16, 32, 8, 10)
    z = torch.randn(3, 32, 8)
    parts = CFG2.split_views(z)
    assert list(parts) == list(BOTH) and torch.equal(parts["wrist"], z[:, 16:])
    assert torch.equal(CFG2.join_views(parts), z)
    with pytest.raises(ValueError, match=r"missing.*wrist"):
        CFG2.join_views({"exterior": parts["exterior"]})
    # a config from before views existed is the exterior view alone, and round-trips
    old = {k: v for k, v in CFG2.to_dict().items() if k != "views"}
    assert PredictorConfig.from_dict(old).views == ("exterior",)
    assert PredictorConfig.from_dict(CFG2.to_dict()) == CFG2
    with pytest.raises(ValueError, match="distinct"):
        PredictorConfig(token_dim=8, grid=(4, 4), views=("wrist", "wrist"))


def test_the_two_view_predictor_folds_each_view_apart_and_tells_the_views_apart():
    model = ACPredictor(CFG2).eval()
    z, a, s = inputs()
    assert torch.equal(model.unfold(model.fold(z)), z)
    # folding works view by view: the first view's folded tokens depend on the first view only
    other = z.clone()
    other[..., 16:, :] = 0
    assert torch.equal(model.fold(z)[..., :4, :], model.fold(other)[..., :4, :])
    with torch.no_grad():
        full = model(z, a, s)
        assert full.shape == z.shape
        # step-by-step with the cache equals the whole sequence (the planning fast path)
        cache = None
        for t in range(z.shape[1]):
            out, cache = model.step(z[:, t], a[:, t], s[:, t], cache)
            torch.testing.assert_close(out, full[:, t], rtol=1e-5, atol=1e-5)
        # the view embedding: the same image shown as either view gives different predictions
        same = torch.cat([z[..., :16, :], z[..., :16, :]], dim=-2)
        pred = model(same, a, s)
        assert not torch.allclose(pred[..., :16, :], pred[..., 16:, :])
    with pytest.raises(ValueError, match=r"views \('exterior', 'wrist'\) side by side"):
        model(z[..., :16, :], a, s)
    # a one-view predictor keeps the parameter set of the checkpoints shipped before views existed
    one = ACPredictor(PredictorConfig(token_dim=8, grid=(4, 4), width=32, depth=2, heads=2, merge=2))
    assert one.view_pos is None and "view_pos" not in one.state_dict()


def observed_two_view() -> tuple[ACPredictor, Observed, torch.Tensor]:
    """A random two-view predictor, one observed frame of it and a random goal (32 tokens: 16 per view)."""
    model = ACPredictor(CFG2).eval()
    z, _a, _s = inputs(batch=1)
    return model, model.observe(z[0, :1], torch.zeros(0, 7), torch.zeros(1, 7)), torch.randn(32, 8)


def test_the_energy_weighs_each_views_latent_distance():
    model, observed, goal = observed_two_view()
    actions = torch.randn(5, 2, 7) * 0.01
    final = model.imagine(observed, actions, integrate_states(observed.state, actions))[:, -1]
    per_view = [(final[:, :16] - goal[:16]).abs().mean((1, 2)), (final[:, 16:] - goal[16:]).abs().mean((1, 2))]
    weighted = LatentEnergy(model, observed, goal, {"exterior": 0.25, "wrist": 0.75})(actions)
    torch.testing.assert_close(weighted, 0.25 * per_view[0] + 0.75 * per_view[1])
    equal = LatentEnergy(model, observed, goal)(actions)  # default: equal weights = the plain mean
    torch.testing.assert_close(equal, (final - goal).abs().mean((1, 2)))
    with pytest.raises(ValueError, match="weights must be given"):
        LatentEnergy(model, observed, goal, {"exterior": 1.0})


def test_the_path_weight_adds_the_distance_of_the_frames_predicted_on_the_way():
    model, observed, goal = observed_two_view()
    actions = torch.randn(5, 3, 7) * 0.01
    imagined = model.imagine(observed, actions, integrate_states(observed.state, actions))  # (K, 3, N, D)
    weights = {"exterior": 0.25, "wrist": 0.75}

    def distance(frame: torch.Tensor) -> torch.Tensor:
        return 0.25 * (frame[:, :16] - goal[:16]).abs().mean((1, 2)) + 0.75 * (frame[:, 16:] - goal[16:]).abs().mean(
            (1, 2))  # fmt: skip

    on_the_way = (distance(imagined[:, 0]) + distance(imagined[:, 1])) / 2
    scored = LatentEnergy(model, observed, goal, weights, path_weight=0.5)(actions)
    torch.testing.assert_close(scored, distance(imagined[:, 2]) + 0.5 * on_the_way)
    torch.testing.assert_close(LatentEnergy(model, observed, goal, weights)(actions), distance(imagined[:, 2]))
    one_step = actions[:, :1]  # nothing on the way: the last frame's distance alone
    torch.testing.assert_close(LatentEnergy(model, observed, goal, weights, path_weight=0.5)(one_step),
                               LatentEnergy(model, observed, goal, weights)(one_step))  # fmt: skip
    with pytest.raises(ValueError, match="path_weight"):
        LatentEnergy(model, observed, goal, weights, path_weight=-1.0)


@pytest.fixture(scope="module")
def two_view(tmp_path_factory):
    """Four grasp episodes at 64 px with both cameras, each view encoded by a tiny random V-JEPA 2."""
    root = tmp_path_factory.mktemp("twoview") / "data"
    spec = CollectSpec(env_ids=("JepaSim/FrankaGrasp-v0",), objects=("box",), image_size=64, seed=5,
                       wrist_camera=True, max_steps=8)  # fmt: skip
    collect(root, spec, 4)
    enc = root.parent / "enc"
    tiny_vjepa2(enc)
    encoder = load_encoder(str(enc), device="cpu")
    encode_dataset(root, encoder.encode, encoder.describe(), views=BOTH)
    return root, enc, encoder


def test_both_views_flow_from_collection_to_planning(two_view, tmp_path):
    root, enc, encoder = two_view
    clips = FeatureClips(root, encoder.id, clip_len=3, views=BOTH)
    item = clips[0]
    assert item["z"].shape == (3, 2 * encoder.num_tokens, encoder.dim)
    exterior = FeatureClips(root, encoder.id, clip_len=3)[0]["z"]
    torch.testing.assert_close(item["z"][:, : encoder.num_tokens], exterior)  # exterior first, then wrist

    out = tmp_path / "run"
    train = ["train", "--data", str(root), "--encoder", str(enc), "--out", str(out), *TINY, "--steps", "2"]
    assert main([*train, "--views", "exterior,wrist"]) == 0
    predictor, meta = load_predictor(out / "predictor", encoder.id)
    assert meta["predictor"]["views"] == ["exterior", "wrist"] and predictor.config.views == BOTH
    assert main(["predict-eval", "--data", str(root), "--predictor", str(out / "predictor"), "--encoder", str(enc),
                 "--device", "cpu", "--horizons", "2"]) == 0  # fmt: skip

    # plan two steps in the simulator with both views of observations and goals
    driver = SimDriver.make("JepaSim/FrankaGrasp-v0", "box", image_size=64, goal_chain="grasp", wrist_camera=True)
    planner = CEM(CEMConfig(horizon=2, samples=6, topk=2, iterations=1))
    agent = MPCAgent(encoder, predictor, planner, MPCConfig(views=BOTH, max_steps_per_subgoal=1))
    assert isinstance(agent.model, PredictorModel) and agent.model.views == BOTH
    plan_two_steps(driver, agent, driver.reset(seed=0))

    # `jepa-sim eval --views auto` (the default) observes the predictor's views
    ev = tmp_path / "eval"
    assert main(["eval", "--methods", "mpc", "--tasks", "grasp", "--objects", "box", "--trials", "1", "--videos", "0",
                 "--samples", "4", "--topk", "2", "--iterations", "1", "--horizon", "1",
                 "--image-size", "64", "--encoder", str(enc), "--predictor", str(out / "predictor"),
                 "--goal-chain", "grasp", "--out", str(ev), "--device", "cpu"]) == 0  # fmt: skip
    assert json.loads((ev / "results.json").read_text())["_meta"]["agent"]["views"] == ["exterior", "wrist"]


def test_a_two_view_predictor_refuses_an_agent_with_one_view_and_training_needs_every_views_tokens(two_view, tmp_path):
    _root, enc, encoder = two_view
    predictor = ACPredictor(PredictorConfig(token_dim=encoder.dim, grid=encoder.grid, width=32, depth=2, heads=2,
                                            views=BOTH))  # fmt: skip
    planner = CEM(CEMConfig(horizon=1, samples=4, topk=2, iterations=1))
    with pytest.raises(ValueError, match=r"trained on the views \('exterior', 'wrist'\).*--views exterior,wrist"):
        MPCAgent(encoder, predictor, planner, MPCConfig())
    # a dataset encoded for the exterior view only: training on both says how to encode the wrist view
    only = tmp_path / "only"
    collect(only, CollectSpec(env_ids=("JepaSim/FrankaGrasp-v0",), objects=("box",), image_size=64, seed=5,
                              wrist_camera=True, max_steps=4), 2)  # fmt: skip
    encode_dataset(only, encoder.encode, encoder.describe())
    with pytest.raises(SystemExit, match=r"encode .*--views exterior,wrist"):
        main(["train", "--data", str(only), "--encoder", str(enc), "--out", str(tmp_path / "r"), *TINY,
              "--steps", "1", "--views", "exterior,wrist"])  # fmt: skip


@pytest.mark.parametrize("name", ["two-view", "two-view-hover"])
def test_the_shipped_two_view_predictors_load_with_the_shipped_encoder_and_record_their_views(name):
    encoder = load_encoder("default", device="cpu")
    predictor, meta = load_predictor(name, encoder.id)
    assert predictor.config.views == BOTH and meta["training"]["config"]["views"] == list(BOTH)
    assert predictor.view_pos is not None and predictor.config.view_tokens == encoder.num_tokens
    if name == "two-view-hover":  # two-view fine-tuned on data with the hovering expert: a real, different model
        assert meta["training"]["config"]["init"] == "two-view" and "hover" in meta["training"]["data_spec"]["policy"]
        base, _ = load_predictor("two-view", encoder.id)
        assert not torch.equal(predictor.state_dict()["view_pos"], base.state_dict()["view_pos"])


def test_bf16_planning_ranks_candidates_as_fp32_does_and_bad_precisions_are_refused():
    """The shipped two-view predictor, real frames of a grasp reset, 64 candidate 2-step plans of the eval's
    size: the bfloat16 costs order the candidates as the fp32 ones do."""
    encoder = load_encoder("default", device="cpu")
    predictor, _ = load_predictor("two-view", encoder.id)
    driver = SimDriver.make("JepaSim/FrankaGrasp-v0", "cup", image_size=128, wrist_camera=True, goal_chain="grasp")
    obs = driver.reset(seed=0)
    goal = driver.goal_views()[2]
    driver.close()
    z = {view: encoder.encode(image[None])[0] for view, image in obs.views().items()}
    goal_z = {view: encoder.encode(image[None])[0] for view, image in goal.items()}
    g = torch.Generator().manual_seed(0)
    actions = torch.cat([torch.rand(64, 2, 6, generator=g) * 0.15 - 0.075,
                         torch.rand(64, 2, 1, generator=g) * 1.5 - 0.75], dim=2)  # fmt: skip
    actions[..., 3:5] = 0
    costs = {}
    for precision in ("fp32", "bf16"):
        planning = PredictorModel(predictor, precision)
        assert planning.precision == precision
        state = torch.as_tensor(obs.state, dtype=torch.float32)
        costs[precision] = planning.energy(z, state, goal_z, {"exterior": 0.5, "wrist": 0.5})(actions)
    assert costs["bf16"].dtype == torch.float32 and not torch.equal(costs["bf16"], costs["fp32"])  # bf16 in effect
    assert torch.corrcoef(torch.stack([costs["fp32"], costs["bf16"]]))[0, 1] > 0.99
    best = set(costs["fp32"].argsort()[:10].tolist())
    assert len(best & set(costs["bf16"].argsort()[:10].tolist())) >= 7
    assert PredictorModel(predictor, "auto").precision in ("fp32", "bf16")
    with pytest.raises(ValueError, match="precision"):
        MPCConfig(precision="fp16")
    with pytest.raises(ValueError, match="precision"):
        PredictorModel(predictor, "half")


def test_a_two_view_bc_policy_trains_on_both_views_tokens_and_observes_both_cameras(two_view, tmp_path):
    from agents.bc import BCAgent, load_bc

    root, enc, encoder = two_view
    out = tmp_path / "bc"
    assert main(["train-bc", "--data", str(root), "--encoder", str(enc), "--out", str(out), "--steps", "3",
                 "--batch-size", "8", "--views", "exterior,wrist"]) == 0  # fmt: skip
    policy = load_bc(out, encoder.id)
    assert policy.config.views == BOTH
    assert json.loads((out / "config.json").read_text())["config"]["views"] == list(BOTH)
    agent = BCAgent(policy, encoder.encode)
    driver = SimDriver.make("JepaSim/FrankaGrasp-v0", "box", image_size=64, wrist_camera=True)
    first = driver.reset(seed=0)
    goals = driver.goal_views()
    agent.reset(goals, first)
    action = agent.act(first)
    assert action.shape == (7,) and torch.isfinite(torch.from_numpy(action)).all()
    # both views count: another wrist image changes the action
    other = replace(first, wrist_image=first.image)
    assert not torch.equal(torch.from_numpy(agent.act(other)), torch.from_numpy(action))
    with pytest.raises(ValueError, match=r"lacks the view\(s\) \['wrist'\]"):
        agent.act(replace(first, wrist_image=None))
    with pytest.raises(ValueError, match=r"lacks the view\(s\) \['wrist'\]"):
        agent.reset([first.image], first)
    # `jepa-sim eval --methods bc` renders the wrist camera for a two-view policy
    ev = tmp_path / "eval"
    assert main(["eval", "--methods", "bc", "--bc", str(out), "--tasks", "grasp", "--objects", "box", "--trials", "1",
                 "--videos", "0", "--image-size", "64", "--encoder", str(enc), "--out", str(ev),
                 "--device", "cpu"]) == 0  # fmt: skip
    with pytest.raises(SystemExit, match="views"):
        main(["train-bc", "--data", str(root), "--encoder", str(enc), "--out", str(tmp_path / "x"),
              "--views", "exterior,top"])  # fmt: skip


def test_the_shipped_two_view_bc_policy_loads_with_the_shipped_encoder_in_float32():
    from agents.bc import load_bc

    encoder = load_encoder("default", device="cpu")
    policy = load_bc("two-view", encoder.id)
    assert policy.config.views == BOTH and {p.dtype for p in policy.parameters()} == {torch.float32}
    meta = json.loads((resolve_bc("two-view") / "config.json").read_text())
    assert meta["training"]["views"] == list(BOTH) and meta["training"]["weights_dtype"] == "float16"
    # stored in float16 (half the file), the same numbers once loaded: float16 values, float32 tensors
    stored = load_file(str(resolve_bc("two-view") / "model.safetensors"))
    assert {t.dtype for t in stored.values()} == {torch.float16}
    torch.testing.assert_close(policy.state_dict()["net.0.weight"], stored["net.0.weight"].float(), rtol=0, atol=0)
