"""The MPC agent in closed loop with the simulator, on tiny random models."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from test_encoders import tiny_vjepa2

from agents.mpc import MPCAgent, MPCConfig
from jepa_sim.encoders import load_encoder
from jepa_sim.planning import CEM, CEMConfig
from jepa_sim.predictor import ACPredictor, PredictorConfig


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    folder = tmp_path_factory.mktemp("enc")
    tiny_vjepa2(folder)
    encoder = load_encoder(str(folder), device="cpu")
    torch.manual_seed(0)
    predictor = ACPredictor(PredictorConfig(token_dim=32, grid=(4, 4), width=32, depth=2, heads=2, merge=2))
    planner = CEM(CEMConfig(horizon=2, samples=16, topk=4, iterations=2))
    return MPCAgent(encoder, predictor, planner, MPCConfig(max_steps_per_subgoal=1))


def test_the_agent_runs_closed_loop_steps_in_the_simulator_within_bounds(agent):
    env = gym.make("JepaSim/FrankaPickAndPlace-v0", object="cup", image_size=64)
    obs, info = env.reset(seed=0)
    agent.reset(info["subgoal_images"])
    for _ in range(3):
        action = agent.act(obs["image"], obs["state"])
        assert action.shape == (7,) and np.all(np.isfinite(action))
        assert np.abs(action[:3]).max() <= 0.075 + 1e-6 and np.all(action[3:6] == 0)
        assert abs(action[6]) <= 0.75 + 1e-6
        obs, _, _, _, info = env.step(action)
    assert [log.subgoal for log in agent.log] == [0, 1, 2]  # one step per sub-goal, then the last one stays
    assert all(log.seconds > 0 and np.isfinite(log.energy) for log in agent.log)
    env.close()


def test_images_of_the_wrong_size_or_type_are_named(agent):
    goal = np.zeros((64, 64, 3), np.uint8)
    agent.reset([goal])
    with pytest.raises(ValueError, match="frame the goal images like the camera"):
        agent.act(np.zeros((32, 32, 3), np.uint8), np.zeros(7))
    with pytest.raises(ValueError, match="7 finite floats"):
        agent.act(goal, np.full(7, np.nan))
    with pytest.raises(ValueError, match="must be uint8"):
        agent.reset([goal.astype(np.float32)])
    with pytest.raises(ValueError, match="differ in size"):
        agent.reset([goal, np.zeros((32, 32, 3), np.uint8)])


def test_an_encoder_and_predictor_of_different_shapes_are_refused(agent):
    other = ACPredictor(PredictorConfig(token_dim=16, grid=(4, 4), width=16, depth=1, heads=2))
    with pytest.raises(ValueError, match="predictor expects"):
        MPCAgent(agent.encoder, other, agent.planner)


def test_the_simulator_model_scores_candidates_by_their_real_outcome(agent):
    from agents.drivers.sim import SimDriver
    from agents.sim_model import SimulatorModel

    driver = SimDriver.make("JepaSim/FrankaReach-v0", "cup", image_size=64)
    obs = driver.reset(seed=1)
    sim = driver.simulator
    actions = torch.zeros(3, 2, 7)
    actions[1, :, 0] = 0.05  # forward twice
    actions[2, :, 1] = 0.05  # left twice
    goal = agent.encoder.encode(sim.preview(actions[1].double().numpy())[None])[0]
    model = SimulatorModel(sim, agent.encoder)
    ext, goal = {"exterior": 1.0}, {"exterior": goal}
    costs = model.energy(goal, torch.as_tensor(obs.state, dtype=torch.float32), goal, ext)(actions)
    assert costs.shape == (3,) and float(costs[1]) == pytest.approx(0.0, abs=1e-6)
    assert float(costs[0]) > 0 and float(costs[2]) > 0
    np.testing.assert_array_equal(driver.get_observation().state, obs.state)  # looking ahead moved nothing
    with pytest.raises(ValueError, match="give the model the env the agent acts in"):
        model.energy(goal, torch.as_tensor(obs.state + 0.1, dtype=torch.float32), goal, ext)
    mpc = MPCAgent(agent.encoder, model, CEM(CEMConfig(horizon=1, samples=8, topk=2, iterations=1)))
    mpc.reset([driver.goal_images()[0]])
    action = mpc.act(obs.image, obs.state)
    assert action.shape == (7,) and np.abs(action[:3]).max() <= 0.075 + 1e-6
    with pytest.raises(ValueError, match=r"path_weight 1\.0 needs a model that scores the predicted path"):
        MPCAgent(agent.encoder, model, CEM(CEMConfig(horizon=1, samples=8, topk=2, iterations=1)),
                 MPCConfig(path_weight=1.0))  # fmt: skip
    with pytest.raises(ValueError, match=r"path_weight must be in \[0, 10\]"):
        MPCConfig(path_weight=-1.0)
    driver.close()


def test_fine_sub_goals_plan_and_execute_shorter_steps(agent):
    """fine_subgoals=(0,): on sub-goal 0 every planned translation is scaled by fine_scale, in what is scored and
    in what is executed; on the next sub-goal the planner's full bound again."""
    from dataclasses import replace

    env = gym.make("JepaSim/FrankaPickAndPlace-v0", object="cup", image_size=64)
    obs, info = env.reset(seed=0)
    fine = MPCAgent(agent.encoder, agent.model.predictor, agent.planner,
                    replace(agent.config, fine_subgoals=(0,), fine_scale=0.5))  # fmt: skip
    fine.reset(info["subgoal_images"])
    for expected_subgoal, scale in ((0, 0.5), (1, 1.0)):
        action = fine.act(obs["image"], obs["state"])
        assert fine.log[-1].subgoal == expected_subgoal and fine.previous is not None
        planned = fine.previous.actions[0].double().numpy()
        np.testing.assert_allclose(action[:3], scale * planned[:3], rtol=1e-6)
        np.testing.assert_allclose(action[3:6], planned[3:6], rtol=1e-6)
    with pytest.raises(ValueError, match="fine_scale"):
        MPCConfig(fine_subgoals=(1,), fine_scale=1.5)
    env.close()


class _RecordingModel:
    """A planning model that scores every candidate by its (negated) gripper change and keeps what it scored."""

    views = ("exterior",)
    device = torch.device("cpu")
    actions_are_commands = False

    def __init__(self) -> None:
        self.scored: list[torch.Tensor] = []

    def energy(self, z, state, goal, weights):
        def cost(actions):
            self.scored.append(actions.clone())
            return -actions[:, 0, 6]  # the planner wants the largest gripper change it may have

        return cost


def test_descent_and_no_open_sub_goals_shape_what_is_scored_and_executed(agent):
    """descent_subgoals=(0,): horizontal translations times descent_scale, the vertical one whole;
    no_open_subgoals=(0,): a planned opening is scored and executed as no change. Sub-goal 1 gets the planner's own
    bounds again."""
    config = MPCConfig(max_steps_per_subgoal=1, descent_subgoals=(0,), descent_scale=0.25, no_open_subgoals=(0,))
    model = _RecordingModel()
    planner = CEM(CEMConfig(horizon=1, samples=16, topk=4, iterations=2))
    mpc = MPCAgent(agent.encoder, model, planner, config)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    mpc.reset([frame, frame])
    action = mpc.act(frame, np.zeros(7))
    assert mpc.log[-1].subgoal == 0 and mpc.previous is not None
    planned = mpc.previous.actions[0].double().numpy()
    np.testing.assert_allclose(action[:2], 0.25 * planned[:2], rtol=1e-6)
    np.testing.assert_allclose(action[2], planned[2], rtol=1e-6)
    scored = torch.cat(model.scored)
    assert float(scored[..., 6].min()) >= 0.0  # no opening was ever scored
    assert float(scored[..., :2].abs().max()) <= 0.25 * 0.075 + 1e-6
    model.scored.clear()
    mpc.act(frame, np.zeros(7))
    assert mpc.log[-1].subgoal == 1
    scored = torch.cat(model.scored)
    assert float(scored[..., 6].min()) < 0.0 and float(scored[..., :2].abs().max()) > 0.25 * 0.075
    with pytest.raises(ValueError, match="descent_scale"):
        MPCConfig(descent_subgoals=(2,), descent_scale=0.0)
    with pytest.raises(ValueError, match="no_open_subgoals"):
        MPCConfig(no_open_subgoals=(-1,))


class _NoisyFlatModel(_RecordingModel):
    """Every candidate scores 1 plus noise of 1e-4: a flat energy, as the predictor's is near the object."""

    def energy(self, z, state, goal, weights):
        generator = torch.Generator().manual_seed(0)
        return lambda actions: 1.0 + 1e-4 * torch.randn(len(actions), generator=generator)


def test_the_effort_term_keeps_the_arm_still_where_the_energy_is_flat(agent):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    moves = {}
    for weight in (0.0, 0.5):
        planner = CEM(CEMConfig(horizon=1, samples=64, topk=10, iterations=3))
        mpc = MPCAgent(agent.encoder, _NoisyFlatModel(), planner, MPCConfig(effort_weight=weight))
        mpc.reset([frame])
        moves[weight] = float(np.linalg.norm(mpc.act(frame, np.zeros(7))[:3]))
        assert mpc.previous is not None and mpc.previous.cost >= 1.0 - 1e-3 + weight * moves[weight] - 1e-3
    assert moves[0.0] > 0.01 and moves[0.5] < 0.1 * moves[0.0]  # noise picked a cm-long move; the term did not
    with pytest.raises(ValueError, match="effort_weight"):
        MPCConfig(effort_weight=-1.0)
