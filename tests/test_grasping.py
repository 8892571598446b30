"""Grasping as the paper specifies it: reach-with-object starts held, grasp chains of goal images from both
views, a two-view energy, the advance rule, and the diagnostic that names where grasping breaks."""

import itertools
import json
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
import torch
from test_encoders import tiny_vjepa2

from agents.diagnostics import chain_traces, gripper_contrast
from agents.drivers.sim import SimDriver
from agents.mpc import MPCAgent, MPCConfig
from agents.policies import MPCPolicy
from agents.sim_model import SimulatorModel
from envs.expert import ScriptedExpert
from jepa_sim.cli.main import main
from jepa_sim.encoders import load_encoder
from jepa_sim.planning import CEM, CEMConfig
from jepa_sim.predictor import ACPredictor, PredictorConfig

CHAINS = {
    ("reach", "grasp"): ["goal"],
    ("grasp", "grasp"): ["above", "over", "around", "closed", "lifted"],
    ("reach_with_object", "grasp"): ["carried"],
    ("grasp_and_carry", "grasp"): ["above", "over", "around", "closed", "lifted", "carried"],
    ("pick_and_place", "grasp"): ["above", "over", "around", "closed", "lifted", "carried", "lowered", "placed"],
    ("grasp", "paper"): ["lifted"],
    ("reach_with_object", "paper"): ["carried"],
    ("grasp_and_carry", "paper"): ["carried"],
    ("pick_and_place", "paper"): ["closed", "carried", "placed"],
}
IDS = {
    "reach": "JepaSim/FrankaReach-v0",
    "grasp": "JepaSim/FrankaGrasp-v0",
    "reach_with_object": "JepaSim/FrankaReachWithObject-v1",
    "grasp_and_carry": "JepaSim/FrankaGraspAndCarry-v0",
    "pick_and_place": "JepaSim/FrankaPickAndPlace-v0",
}


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("enc")
    tiny_vjepa2(folder)
    return load_encoder(str(folder), device="cpu")


@pytest.mark.parametrize("obj", ["cup", "box"])
def test_reach_with_object_starts_held_and_stays_held(obj):
    env = gym.make(IDS["reach_with_object"], object=obj, image_size=64)
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        assert info["grasped"] and obs["state"][6] > 0.2  # closed on the object (0 = open)
        assert info["object_pos"][2] > info["object_rest_height"] + 0.05  # in the air, not on the table
        for _ in range(10):
            obs, _, _, _, info = env.step(np.zeros(7))
            assert info["grasped"]
        assert np.linalg.norm(info["object_pos"] - info["tool_pos"]) < 0.03  # it did not slide out
    env.close()


@pytest.mark.parametrize("task", ["reach_with_object", "grasp_and_carry"])
def test_the_expert_solves_the_carry_tasks(task):
    env = gym.make(IDS[task], object="box", image_size=64)
    obs, info = env.reset(seed=5)
    expert = ScriptedExpert(task, "box", seed=5)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(expert.act(obs["state"], info))
        done = terminated or truncated
    assert info["is_success"]
    env.close()


@pytest.mark.parametrize(("task", "chain"), sorted(CHAINS))
def test_goal_chains_have_their_documented_length_and_order(task, chain):
    env = gym.make(IDS[task], object="cup", image_size=64, goal_chain=chain, wrist_camera=True)
    _, info = env.reset(seed=2)
    names = CHAINS[task, chain]
    assert info["subgoal_names"] == names
    exterior = info.get("subgoal_images", [info["goal_image"]])
    assert len(exterior) == len(info["wrist_subgoal_images"]) == len(names)
    assert np.array_equal(exterior[-1], info["goal_image"])
    assert np.array_equal(info["wrist_subgoal_images"][-1], info["wrist_goal_image"])
    for a, b in itertools.pairwise(exterior):
        assert not np.array_equal(a, b)
    if "closed" in names:  # closing is visible: the wrist view of "around" and "closed" differ a lot
        i = names.index("closed")
        wrist = info["wrist_subgoal_images"]
        changed = np.mean(np.abs(wrist[i].astype(int) - wrist[i - 1]).sum(-1) > 30)
        assert changed > 0.05
    env.close()


def test_the_over_image_shows_the_gripper_chain_over_above_the_grasp_pose():
    configs = {}
    for over in (0.05, 0.08):
        env = gym.make(IDS["grasp"], object="cup", image_size=64, goal_chain="grasp", chain_over=over)
        env.reset(seed=2)
        configs[over] = {name: tool for name, tool, *_ in env.unwrapped._goal_configurations()}
        env.close()
    for over, tool in configs.items():
        assert tool["over"][2] - tool["around"][2] == pytest.approx(over)
        assert np.allclose(tool["over"][:2], tool["around"][:2])
    with pytest.raises(ValueError, match="chain_over"):
        gym.make(IDS["grasp"], object="cup", goal_chain="grasp", chain_over=0.12)


def test_place_over_adds_the_lowering_image_above_the_place():
    env = gym.make(IDS["pick_and_place"], object="box", image_size=64, goal_chain="grasp", place_over=0.04)
    _, info = env.reset(seed=2)
    names = info["subgoal_names"]
    assert names[-4:] == ["carried", "lowering", "lowered", "placed"]
    assert len(info["subgoal_images"]) == len(names)
    tool = {name: pos for name, pos, *_ in env.unwrapped._goal_configurations()}
    assert tool["lowering"][2] - tool["lowered"][2] == pytest.approx(0.04)
    assert np.allclose(tool["lowering"][:2], tool["lowered"][:2])
    env.close()
    env = gym.make(IDS["grasp"], object="box", image_size=64, goal_chain="grasp", place_over=0.04)
    assert "lowering" not in env.reset(seed=2)[1]["subgoal_names"]  # only pick-and-place puts down
    env.close()
    with pytest.raises(ValueError, match="place_over"):
        gym.make(IDS["pick_and_place"], object="box", goal_chain="grasp", place_over=0.2)


def test_the_sim_driver_gives_both_views_of_observations_and_goals():
    driver = SimDriver.make(IDS["grasp"], "box", image_size=64, wrist_camera=True, goal_chain="grasp")
    obs = driver.reset(seed=0)
    assert set(obs.views()) == {"exterior", "wrist"}
    goals = driver.goal_views()
    assert len(goals) == 5 and all(set(g) == {"exterior", "wrist"} for g in goals)
    driver.close()
    plain = SimDriver.make(IDS["grasp"], "box", image_size=64)
    assert set(plain.reset(seed=0).views()) == {"exterior"} and set(plain.goal_views()[0]) == {"exterior"}
    plain.close()


def test_a_single_view_predictor_refuses_two_views_and_goals_must_have_every_view(encoder):
    predictor = ACPredictor(PredictorConfig(token_dim=32, grid=(4, 4), width=32, depth=1, heads=2))
    planner = CEM(CEMConfig(horizon=1, samples=4, topk=2, iterations=1))
    with pytest.raises(ValueError, match=r"trained on \('exterior',\) cannot plan with \['wrist'\]"):
        MPCAgent(encoder, predictor, planner, MPCConfig(views=("exterior", "wrist")))
    driver = SimDriver.make(IDS["grasp"], "cup", image_size=64, wrist_camera=True, goal_chain="grasp")
    agent = MPCAgent(
        encoder, SimulatorModel(driver.simulator, encoder), planner, MPCConfig(views=("exterior", "wrist"))
    )
    obs = driver.reset(seed=0)
    goals = driver.goal_views()
    with pytest.raises(ValueError, match=r"goal 1 lacks the view\(s\) \['wrist'\]"):
        agent.reset([goals[0], {"exterior": goals[1]["exterior"]}])
    with pytest.raises(ValueError, match="is a single image but the agent observes"):
        agent.reset([goals[0]["exterior"]])
    agent.reset(goals)
    with pytest.raises(ValueError, match=r"the observation lacks the view\(s\) \['wrist'\]"):
        agent.act({"exterior": obs.image}, obs.state)
    with pytest.raises(ValueError, match="view_weights must be 2"):
        MPCConfig(views=("exterior", "wrist"), view_weights=(1.0,))
    driver.close()


def test_a_two_view_simulator_agent_plans_steps_and_scores_both_views(encoder):
    driver = SimDriver.make(IDS["grasp"], "box", image_size=64, wrist_camera=True, goal_chain="grasp")
    sim = driver.simulator
    obs = driver.reset(seed=1)
    actions = torch.zeros(2, 1, 7)
    actions[1, 0, 6] = 1.0  # close the gripper
    target = sim.preview_views(actions[1].double().numpy(), ("exterior", "wrist"))
    goal = {v: encoder.encode(target[v][None])[0] for v in target}
    model = SimulatorModel(sim, encoder)
    state = torch.as_tensor(obs.state, dtype=torch.float32)
    wrist_only = model.energy(goal, state, goal, {"wrist": 1.0})(actions)
    both = model.energy(goal, state, goal, {"exterior": 0.5, "wrist": 0.5})(actions)
    assert float(wrist_only[1]) == pytest.approx(0.0, abs=1e-6) and float(wrist_only[0]) > 0
    assert float(both[1]) == pytest.approx(0.0, abs=1e-6) and float(both[0]) > 0
    planner = CEM(CEMConfig(horizon=2, samples=6, topk=2, iterations=1))
    agent = MPCAgent(encoder, model, planner, MPCConfig(views=("exterior", "wrist"), max_steps_per_subgoal=1))
    plan_two_steps(driver, agent, obs)


def plan_two_steps(driver, agent, obs):
    """Two closed-loop steps of ``agent`` toward the driver's goal chain (one step per sub-goal), then close."""
    policy = MPCPolicy(agent)
    policy.reset(driver.goal_views(), obs)
    for _ in range(2):
        action = policy.act(obs)
        assert action.shape == (7,) and np.all(np.isfinite(action))
        driver.send_action(action)
        obs = driver.get_observation()
    assert [log.subgoal for log in agent.log] == [0, 1]
    driver.close()


class _ConstantModel:
    """A planning model under which every candidate scores ``cost`` (the sub-goal rules alone decide)."""

    views = ("exterior",)
    device = torch.device("cpu")
    actions_are_commands = False

    def __init__(self, cost: float = 1.0) -> None:
        self.cost = cost

    def energy(self, z, state, goal, weights):
        return lambda a: torch.full((len(a),), self.cost)


class _FixedDistances:
    """Drives MPCAgent._advance with given distances to the current sub-goal (no encoder, no planning)."""

    def __init__(self, config, distances, goals=3):
        self.agent = MPCAgent.__new__(MPCAgent)
        self.agent.config = config
        self.agent.num_goals, self.agent.subgoal, self.agent.steps_on_subgoal = goals, 0, 0
        self.agent.history, self.agent.previous = [], None
        self.queue = list(distances)
        self.agent.distance = lambda z, index: self.queue.pop(0)

    def run(self, steps):
        out = []
        for _ in range(steps):
            self.agent._advance({})
            out.append(self.agent.subgoal)
        return out


def test_the_stall_rule_advances_where_the_ratio_rule_cannot():
    # a sub-goal that starts close (closing the gripper): 0.10 -> 0.07 -> 0.068 -> 0.069, never below half
    stalled = [0.10, 0.07, 0.068, 0.069, 0.3, 0.3]
    ratio_only = _FixedDistances(MPCConfig(advance_ratio=0.5, max_steps_per_subgoal=25), stalled)
    assert ratio_only.run(4) == [0, 0, 0, 0]
    with_stall = _FixedDistances(MPCConfig(advance_ratio=0.5, stall_steps=2), stalled)
    assert with_stall.run(4) == [0, 0, 0, 1]  # no new low 10% below 0.07 in the last two steps: move on
    # while the distance keeps falling by more than 10% per step, it stays
    falling = _FixedDistances(MPCConfig(advance_ratio=0.1, stall_steps=2), [0.4, 0.3, 0.22, 0.17, 0.13])
    assert falling.run(5) == [0, 0, 0, 0, 0]


def test_patient_sub_goals_wait_longer_before_the_stall_rule_moves_on():
    # a long move (carrying): the distance falls slowly at first, then fast
    slow = [0.40, 0.39, 0.38, 0.36, 0.30, 0.20, 0.09, 0.5]  # (the last: the next sub-goal's start)
    quick = _FixedDistances(MPCConfig(advance_ratio=0.25, stall_steps=2), slow)
    assert quick.run(3) == [0, 0, 1]  # left after two steps without a 10% new low
    patient = _FixedDistances(MPCConfig(advance_ratio=0.25, stall_steps=2, patient_subgoals=(0,)), slow)
    assert patient.run(7) == [0, 0, 0, 0, 0, 0, 1]  # waits 4 steps: the fall comes, and it arrives by the ratio
    elsewhere = _FixedDistances(MPCConfig(advance_ratio=0.25, stall_steps=2, patient_subgoals=(1,)), slow)
    assert elsewhere.run(3) == [0, 0, 1]  # only the named sub-goals wait
    with pytest.raises(ValueError, match="patient_subgoals need"):
        MPCConfig(patient_subgoals=(4,))  # no stall rule to make patient


def test_patient_progress_keeps_a_long_move_while_the_distance_still_falls():
    # carrying 4 cm per step: the distance falls about 9% per step, holds once, falls on, then stops (arrived)
    carry = [0.42, 0.38, 0.345, 0.35, 0.33, 0.32, 0.33, 0.325, 0.5]
    quick = _FixedDistances(MPCConfig(advance_ratio=0.25, stall_steps=2), carry)
    assert quick.run(4) == [0, 0, 0, 1]  # 0.345, 0.35 set no 10% new low below 0.38: left half-way
    config = MPCConfig(advance_ratio=0.25, stall_steps=2, patient_subgoals=(0,), patient_stall_steps=2,
                       patient_progress=0.03)  # fmt: skip
    assert config.min_progress_on(0) == 0.03 and config.min_progress_on(1) == 0.1
    patient = _FixedDistances(config, carry)
    assert patient.run(8) == [0] * 7 + [1]  # stays while every two steps set a 3% new low, leaves when they do not
    with pytest.raises(ValueError, match="patient_progress must be"):
        MPCConfig(stall_steps=2, patient_subgoals=(0,), patient_progress=1.5)


def test_precise_sub_goals_stay_while_the_distance_still_falls():
    # carrying with the exterior view alone: the distance falls below 0.25 of its start with the object still
    # centimetres off its target (0.45 -> 0.11), and goes on falling as the object comes over it
    carry = [0.45, 0.33, 0.16, 0.11, 0.075, 0.074, 0.076, 0.5]
    usual = MPCConfig(advance_ratio=0.25, stall_steps=2, patient_subgoals=(0,), patient_stall_steps=2,
                      patient_progress=0.03)  # fmt: skip
    assert usual.advance_ratio_on(0) == 0.25 and _FixedDistances(usual, carry).run(4) == [0, 0, 0, 1]
    config = replace(usual, precise_subgoals=(0,), precise_ratio=0.1)
    assert config.advance_ratio_on(0) == 0.1 and config.advance_ratio_on(1) == 0.25  # the precise ones only
    assert _FixedDistances(config, carry).run(7) == [0] * 6 + [1]  # stays while it falls, leaves by the stall rule
    stall_only = _FixedDistances(
        replace(usual, precise_subgoals=(0,), precise_ratio=0.0), [0.4, 0.01, 0.011, 0.012, 0.5]
    )
    assert stall_only.run(4) == [0, 0, 0, 1]  # 0: never by the ratio, however low
    with pytest.raises(ValueError, match="precise_ratio must be"):
        replace(usual, precise_subgoals=(0,), precise_ratio=1.5)


def test_the_diagnostic_traces_and_contrasts_on_a_tiny_encoder(encoder):
    weights = {"exterior": 0.5, "wrist": 0.5}
    (trace,) = chain_traces(encoder, "grasp", "box", [0], weights, image_size=64)
    assert trace.names == ["above", "over", "around", "closed", "lifted"] and trace.success
    assert trace.distances.shape == (len(trace.phases), 5) and np.all(trace.distances >= 0)
    assert set(trace.per_view) == {"exterior", "wrist"}
    np.testing.assert_allclose(trace.distances, 0.5 * trace.per_view["exterior"] + 0.5 * trace.per_view["wrist"])
    assert trace.distances[trace.minima[-1], -1] < trace.distances[0, -1]  # the lifted frame is nearest at the end
    (contrast,) = gripper_contrast(encoder, "cup", [0], weights, image_size=64)
    assert set(contrast.close) == {"exterior", "wrist", "weighted"}
    assert contrast.close["wrist"] > 0 and contrast.sidestep["exterior"] > 0


def test_eval_takes_views_goal_chains_and_the_advance_rule(tmp_path):
    out = tmp_path / "eval"
    args = ["eval", "--methods", "simmpc", "--tasks", "grasp", "--objects", "box", "--trials", "1", "--videos", "1",
            "--samples", "4", "--topk", "2", "--iterations", "1", "--goal-chain", "grasp", "--views", "exterior,wrist",
            "--view-weights", "1,3", "--stall-steps", "2", "--max-steps-per-subgoal", "2", "--image-size", "64",
            "--gripper-snap", "0.3",
            "--out", str(out), "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    meta = json.loads((out / "results.json").read_text())["_meta"]
    assert meta["goal_chain"] == "grasp" and meta["agent"]["views"] == ["exterior", "wrist"]
    assert meta["agent"]["view_weights"] == {"exterior": 0.25, "wrist": 0.75} and meta["agent"]["stall_steps"] == 2
    assert meta["agent"]["gripper_snap"] == 0.3
    assert meta["grasp_chain"] == CHAINS["grasp", "grasp"]  # results made with another chain are not resumed
    import imageio.v3 as iio

    frames = iio.imread(out / "grasp_box_simmpc_seed1000.mp4")
    assert frames.shape[1:] == (64, 256, 3)  # exterior | wrist | goal exterior | goal wrist
    with pytest.raises(SystemExit, match="unknown view"):
        main(["eval", "--views", "exterior,top", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match=r"mpc.*views|trained on"):  # the one-view predictor knows no wrist view
        main(["eval", "--methods", "mpc", "--predictor", "one-view", "--views", "exterior,wrist", "--out",
              str(tmp_path / "y")])  # fmt: skip


@pytest.mark.parametrize("commands", [True, False])
def test_gripper_snap_is_executed_and_scored_as_the_model_reads_actions(encoder, commands):
    """Executed actions are always snapped; the simulator (actions are commands) scores snapped actions, the
    learned predictor (actions are observed state changes) scores the planned change itself."""
    config = MPCConfig(gripper_snap=0.3)
    actions = torch.tensor([[0.01, 0, 0, 0, 0, 0, 0.29], [0, 0, 0, 0, 0, 0, 0.31], [0, 0, 0, 0, 0, 0, -0.5]])
    assert config.snap(actions)[:, 6].tolist() == [0.0, 1.0, -1.0]
    assert torch.equal(config.snap(actions)[:, :6], actions[:, :6])
    assert torch.equal(MPCConfig().snap(actions), actions)  # the paper's continuous gripper
    with pytest.raises(ValueError, match="gripper_snap"):
        MPCConfig(gripper_snap=1.5)
    driver = SimDriver.make(IDS["grasp"], "box", image_size=64)
    scored = []

    class Spy:  # a model that records what it is asked to score
        views = ("exterior",)
        device = torch.device("cpu")
        actions_are_commands = commands

        def energy(self, z, state, goal, weights):
            def cost(a):
                scored.append(a.clone())
                return a[..., 6].sum(-1) * 0 + torch.rand(len(a))

            return cost

    agent = MPCAgent(encoder, Spy(), CEM(CEMConfig(horizon=2, samples=8, topk=2, iterations=2)), config)
    obs = driver.reset(seed=0)
    agent.reset(driver.goal_images())
    for _ in range(3):
        action = agent.act(obs.image, obs.state)
        assert action[6] in (-1.0, 0.0, 1.0)
    snapped = all(set(a[..., 6].unique().tolist()) <= {-1.0, 0.0, 1.0} for a in scored)
    assert snapped == commands
    driver.close()


@pytest.mark.parametrize(("gain", "margin", "closes"), [(0.5, 0.05, True), (0.01, 0.05, False), (0.01, 0.0, True)])
def test_a_gripper_change_is_executed_only_when_it_lowers_the_energy_by_the_margin(encoder, gain, margin, closes):
    """Closing lowers the energy by ``gain`` per unit of planned change (so the best samples close as far as the
    bounds allow); with a margin, a change that earns less than the margin is dropped from the executed plan."""

    class Closing:
        views = ("exterior",)
        device = torch.device("cpu")
        actions_are_commands = False

        def energy(self, z, state, goal, weights):
            return lambda a: 1.0 - gain * a[:, 0, 6].clamp(0, 1)

    config = MPCConfig(gripper_snap=0.3, gripper_margin=margin)
    agent = MPCAgent(encoder, Closing(), CEM(CEMConfig(horizon=2, samples=16, topk=4, iterations=2)), config)
    driver = SimDriver.make(IDS["grasp"], "box", image_size=64)
    obs = driver.reset(seed=0)
    agent.reset(driver.goal_images())
    action = agent.act(obs.image, obs.state)
    assert action[6] == (1.0 if closes else 0.0)
    # the plan kept is the one executed, with its own cost (the warm start of the next step starts from it)
    assert agent.log[-1].energy == pytest.approx(1.0 - gain * agent.previous.actions[0, 6].clamp(0, 1).item())
    driver.close()
    with pytest.raises(ValueError, match="gripper_margin"):
        MPCConfig(gripper_margin=-0.1)


# every candidate scores ``cost``: 10 = no plan gets closer, 0 = a plan reaches the goal
@pytest.mark.parametrize(("cost", "expected"), [(10.0, [1, 2, 2]), (0.0, [0, 0, 0])])
def test_plan_arrival_moves_on_when_the_best_plan_gets_no_closer(encoder, cost, expected):
    config = MPCConfig(plan_arrival=True, max_steps_per_subgoal=25)
    agent = MPCAgent(encoder, _ConstantModel(cost), CEM(CEMConfig(horizon=1, samples=4, topk=2, iterations=1)), config)
    rng = np.random.default_rng(0)
    goals = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)]
    frame = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    agent.reset(goals)
    for _ in range(3):
        agent.act(frame, np.zeros(7))
    assert [log.subgoal for log in agent.log] == expected


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        # the last goal stalls far from arrival: back to sub-goal 1, once (retries=1), then it stays
        ([0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8], [0, 1, 2, 2, 2, 1, 2, 2, 2, 2]),
        # the last goal is reached (below half its start): no stall short of arrival, no retry
        ([0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3], [0, 1, 2, 2, 2, 2, 2, 2, 2, 2]),
    ],
)
def test_the_chain_goes_back_when_the_last_goal_stalls_short_of_arrival(encoder, last, expected):
    """Distances are scripted per sub-goal: 0 and 1 are reached at once (below half their start), the last one
    follows ``last`` (start 1.0)."""

    quick = MPCConfig(advance_ratio=0.5, stall_steps=2, retry_from=1, retries=1)
    # a patient last goal (the grasp task's *lifted*) goes back by the quick rule all the same
    patient = MPCConfig(advance_ratio=0.5, stall_steps=2, retry_from=1, retries=1, patient_subgoals=(2,),
                        patient_stall_steps=4, patient_progress=0.0)  # fmt: skip
    for config in (quick, patient):
        agent = MPCAgent(encoder, _ConstantModel(), CEM(CEMConfig(horizon=1, samples=4, topk=2, iterations=1)), config)
        rng = np.random.default_rng(0)
        agent.reset([rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)])
        script = {0: iter([1.0, 0.1]), 1: iter([1.0, 0.1, 1.0, 0.1]), 2: iter([1.0, *last, 1.0, *last])}
        agent.distance = lambda z, index, script=script: next(script[index])
        frame = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        for _ in range(len(expected)):
            agent.act(frame, np.zeros(7))
        assert [log.subgoal for log in agent.log] == expected
    with pytest.raises(ValueError, match="retry_from needs"):
        MPCConfig(retry_from=1)  # without the stall rule


def test_a_gripper_that_closes_on_nothing_sends_the_chain_back_at_once(encoder):
    """A four-image chain (over, around, closed, lifted) whose *closed* and *lifted* hold the object: when the
    robot measures its gripper closed all the way there, the fingers met nothing, and it grasps again."""

    config = MPCConfig(advance_ratio=0.5, stall_steps=2, retry_from=0, retries=1, holding_subgoals=(2, 3))
    agent = MPCAgent(encoder, _ConstantModel(), CEM(CEMConfig(horizon=1, samples=4, topk=2, iterations=1)), config)
    rng = np.random.default_rng(0)
    agent.reset([rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(4)])
    script = {0: iter([1.0, 0.1, 1.0, 0.1]), 1: iter([1.0, 0.1, 1.0, 0.1]), 2: iter([1.0, 0.9, 0.9, 1.0, 0.9])}
    agent.distance = lambda z, index: next(script[index])  # 0 and 1 are reached at once, 2 is not
    frame = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    open_, on_cup, on_nothing = (np.array([0.5, 0, 0.2, 0, 0, 0, c]) for c in (0.0, 0.26, 1.0))
    for state in (open_, open_, open_, on_cup, on_nothing, open_, open_, on_nothing):
        agent.act(frame, state)
    # 0 -> 1 -> 2: holding the cup (0.26) it stays; fingers closed all the way: back to 0 -> 1 -> 2, where with no
    # retry left it stays
    assert [log.subgoal for log in agent.log] == [0, 1, 2, 2, 0, 1, 2, 2]
    assert agent.retried == 1
    with pytest.raises(ValueError, match="holding_subgoals need retry_from"):
        MPCConfig(holding_subgoals=(3,))
    with pytest.raises(ValueError, match="empty_closedness"):
        MPCConfig(stall_steps=2, retry_from=1, holding_subgoals=(3,), empty_closedness=0.0)


def test_the_close_is_left_as_soon_as_the_fingers_stop_on_the_object(encoder):
    """*closed* (sub-goal 1 here) is left when the measured closedness says the fingers met the object, not when
    its distance stalls; fingers open, or closed on nothing, leave it to the distance rules."""

    def run(config, closedness):
        agent = MPCAgent(encoder, _ConstantModel(), CEM(CEMConfig(horizon=1, samples=4, topk=2, iterations=1)), config)
        rng = np.random.default_rng(0)
        agent.reset([rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)])
        script = {0: iter([1.0, 0.1]), 1: iter([1.0, 0.9, 0.8, 0.7]), 2: iter([1.0, 1.0, 1.0])}
        agent.distance = lambda z, index: next(script[index])  # 0 is reached at once, 1 only slowly
        frame = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        for c in closedness:
            agent.act(frame, np.array([0.5, 0, 0.2, 0, 0, 0, c]))
        return [log.subgoal for log in agent.log]

    config = MPCConfig(advance_ratio=0.5, stall_steps=2, close_subgoal=1)
    assert run(config, [0.0, 0.0, 0.26, 0.26]) == [0, 1, 2, 2]  # closed on the cup (0.26): lift at once
    assert run(config, [0.0, 0.0, 0.0, 1.0]) == [0, 1, 1, 1]  # open, then closed on nothing: stays
    assert run(MPCConfig(advance_ratio=0.5, stall_steps=2), [0.0, 0.0, 0.26, 0.26]) == [0, 1, 1, 1]  # off
    with pytest.raises(ValueError, match="stopped_closedness < empty_closedness"):
        MPCConfig(close_subgoal=3, stopped_closedness=0.95)


def test_setting_down_is_left_as_soon_as_the_arm_stops_on_the_way_down(encoder):
    """*lowered* (sub-goal 0 here) is left when the measured tool height fell short of the descent commanded the
    step before (the object met the table), not when its distance stalls; small moves never count."""
    from jepa_sim.planning.base import Plan

    def run(config, heights, dz=-0.04):
        agent = MPCAgent(encoder, _ConstantModel(), CEM(CEMConfig(horizon=1, samples=4, topk=2, iterations=1)), config)
        rng = np.random.default_rng(0)
        agent.reset([rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(2)])
        agent.distance = lambda z, index: 1.0  # the distances alone never move on
        down = torch.tensor([[0.0, 0.0, dz, 0.0, 0.0, 0.0, 0.0]])
        agent._plan = lambda z, state: Plan(down, 1.0, torch.ones(1), 1)
        frame = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        for height in heights:
            agent.act(frame, np.array([0.5, 0, height, 0, 0, 0, 0.26]))
        return [log.subgoal for log in agent.log]

    config = MPCConfig(advance_ratio=0.1, set_down_subgoal=0)
    assert run(config, [0.20, 0.16, 0.12, 0.11]) == [0, 0, 0, 1]  # 4 cm commanded, 1 cm made: on the table
    assert run(config, [0.20, 0.16, 0.13, 0.10]) == [0, 0, 0, 0]  # 3 of 4 cm made: still in the air
    assert run(config, [0.20, 0.20, 0.20], dz=-0.005) == [0, 0, 0]  # a 5 mm nudge is not a descent
    assert run(MPCConfig(advance_ratio=0.1), [0.20, 0.16, 0.12, 0.11]) == [0, 0, 0, 0]  # off
    with pytest.raises(ValueError, match="set_down_fraction"):
        MPCConfig(set_down_subgoal=6, set_down_fraction=1.5)


def test_exterior_sub_goals_compare_the_exterior_view_alone():
    config = MPCConfig(views=("exterior", "wrist"), view_weights=(1.0, 3.0), exterior_subgoals=(5, 6))
    assert config.weights_on(5) == {"exterior": 1.0, "wrist": 0.0} == config.weights_on(6)
    assert config.weights_on(4) == pytest.approx({"exterior": 0.25, "wrist": 0.75})
    with pytest.raises(ValueError, match="exterior_subgoals need the exterior view"):
        MPCConfig(views=("wrist",), exterior_subgoals=(5,))
