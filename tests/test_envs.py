"""The gymnasium contract of every registered env: check_env, vectorisation, determinism, spaces, goals."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.config import EnvConfig
from envs.expert import ScriptedExpert

ENV_IDS = list(envs.ENV_IDS.values())


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("obj", ["cup", "box"])
def test_check_env_passes(env_id, obj):
    env = gym.make(env_id, object=obj, image_size=64)
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reset_step_shapes_and_finite(env_id):
    env = gym.make(env_id, object="box", image_size=64, wrist_camera=True)
    obs, info = env.reset(seed=3)
    assert obs["image"].shape == (64, 64, 3) and obs["image"].dtype == np.uint8
    assert obs["wrist_image"].shape == (64, 64, 3)
    assert obs["state"].shape == (7,) and np.all(np.isfinite(obs["state"]))
    assert info["goal_image"].shape == (64, 64, 3)
    for _ in range(3):
        obs, reward, _, _, info = env.step(env.action_space.sample())
        assert np.all(np.isfinite(obs["state"])) and reward in (0.0, 1.0)
        assert obs["image"].std() > 5  # a real rendered scene, not a blank frame
    env.close()


def test_vector_env_of_two_runs():
    vec = gym.make_vec("JepaSim/FrankaGrasp-v0", num_envs=2, vectorization_mode="sync", image_size=64)
    obs, _ = vec.reset(seed=[0, 1])
    assert obs["image"].shape == (2, 64, 64, 3) and obs["state"].shape == (2, 7)
    assert not np.array_equal(obs["image"][0], obs["image"][1])  # different seeds, different scenes
    for _ in range(3):
        obs, reward, *_ = vec.step(vec.action_space.sample())
    assert reward.shape == (2,)
    vec.close()


def test_async_vector_env_of_two_runs():
    # An explicit spawn context works as well as the default (tests/test_rendering.py).
    vec = gym.make_vec(
        "JepaSim/FrankaReach-v0",
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"context": "spawn"},
        image_size=64,
    )
    obs, _ = vec.reset(seed=7)
    obs, *_ = vec.step(np.zeros((2, 7)))
    assert obs["image"].shape == (2, 64, 64, 3)
    vec.close()


def _episode(seed, steps=12):
    env = gym.make("JepaSim/FrankaPickAndPlace-v0", object="cup", image_size=64)
    obs, info = env.reset(seed=seed)
    expert = ScriptedExpert("pick_and_place", "cup", seed=seed)
    images, states = [obs["image"], *info["subgoal_images"]], [obs["state"]]
    for _ in range(steps):
        obs, _, _, _, info = env.step(expert.act(obs["state"], info))
        images.append(obs["image"])
        states.append(obs["state"])
    env.close()
    return np.stack(images), np.stack(states)


def test_same_seed_same_episode_images_included():
    images_a, states_a = _episode(seed=11)
    images_b, states_b = _episode(seed=11)
    assert np.array_equal(images_a, images_b)
    assert np.array_equal(states_a, states_b)
    images_c, _ = _episode(seed=12, steps=0)
    assert not np.array_equal(images_a[0], images_c[0])


def test_goal_images_and_subgoals():
    env = gym.make("JepaSim/FrankaPickAndPlace-v0", object="box", image_size=64)
    obs, info = env.reset(seed=0)
    state_before = obs["state"].copy()
    subgoals = info["subgoal_images"]
    assert len(subgoals) == 3  # grasped, carried, placed
    assert np.array_equal(subgoals[-1], info["goal_image"])
    assert not np.array_equal(subgoals[0], subgoals[1])
    assert not np.array_equal(obs["image"], info["goal_image"])
    # Rendering goals leaves the simulation where it was.
    again = env.unwrapped.render_goal_images()
    assert all(np.array_equal(a, b) for a, b in zip(again, subgoals, strict=True))
    np.testing.assert_array_equal(env.unwrapped.controller.state(env.unwrapped.data), state_before)
    env.close()


def test_preview_shows_the_frame_after_the_actions_and_leaves_the_simulation_as_it_was():
    env = gym.make("JepaSim/FrankaGrasp-v0", object="cup", image_size=64)
    obs, _ = env.reset(seed=3)
    sim = env.unwrapped
    actions = np.zeros((2, 7))
    actions[:, 2], actions[1, 6] = -0.05, 0.6  # down twice, closing on the second step
    state_before, time_before = obs["state"].copy(), sim.data.time
    preview = sim.preview(actions)
    assert np.array_equal(sim.controller.state(sim.data), state_before) and sim.data.time == time_before
    assert not np.array_equal(preview, obs["image"])
    for a in actions:  # the very same physics: executing the actions gives the previewed frame
        obs, *_ = env.step(a)
    assert np.array_equal(obs["image"], preview)
    # Previewing between steps leaves the episode bit-identical to one that never looked ahead.
    twin = gym.make("JepaSim/FrankaGrasp-v0", object="cup", image_size=64)
    twin.reset(seed=3)
    for a in actions:
        twin.step(a)
    for t in range(3):
        sim.preview(np.full((2, 7), 0.03))
        obs, *_ = env.step(actions[t % 2])
        obs_twin, *_ = twin.step(actions[t % 2])
        assert np.array_equal(obs["state"], obs_twin["state"]) and np.array_equal(obs["image"], obs_twin["image"])
    twin.close()
    with pytest.raises(ValueError, match=r"shape \(H, 7\)"):
        sim.preview(np.zeros(7))
    with pytest.raises(ValueError):
        sim.preview(np.full((1, 7), np.nan))
    env.close()


def test_render_rgb_array_is_last_observation():
    env = gym.make("JepaSim/FrankaReach-v0", image_size=64, render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    assert np.array_equal(env.render(), obs["image"])
    env.close()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"task": "juggle"}, "task='juggle'"),
        ({"object": "plate"}, "object='plate'"),
        ({"image_size": 32}, "image_size"),
        ({"render_preset": "ugly"}, "render_preset"),
    ],
)
def test_bad_config_names_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EnvConfig(**kwargs)


def test_termination_on_success_and_time_limit():
    env = gym.make("JepaSim/FrankaReach-v0", image_size=64)
    obs, info = env.reset(seed=0)
    expert = ScriptedExpert("reach", "cup")
    terminated = truncated = False
    steps = 0
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(expert.act(obs["state"], info))
        steps += 1
    assert terminated and reward == 1.0 and info["is_success"]
    env.reset(seed=0)
    for _ in range(env.spec.max_episode_steps):
        _, _, terminated, truncated, _ = env.step(np.zeros(7))
    assert truncated and not terminated
    env.close()


def test_pressing_a_knocked_over_cup_into_the_table_does_not_launch_it():
    """A finger pushed down onto a cup lying on its side: it may be shoved, never shot off the table."""
    env = gym.make("JepaSim/FrankaGrasp-v0", object="cup", image_size=64).unwrapped
    try:
        env.reset(seed=3)
        joint = env.model.joint("cup_joint")
        adr = joint.qposadr[0]
        env.data.qpos[adr : adr + 3] = (0.5, 0.0, 0.03)
        env.data.qpos[adr + 3 : adr + 7] = (np.cos(np.pi / 4), np.sin(np.pi / 4), 0.0, 0.0)  # lying along y
        env.data.qvel[joint.dofadr[0] : joint.dofadr[0] + 6] = 0.0
        state = env.controller.state(env.data)
        for _ in range(6):  # above the cup's axis, slightly off-centre, then straight down into it
            action = np.zeros(7)
            action[:3] = np.clip(np.array([0.51, 0.0, 0.2]) - state[:3], -0.075, 0.075)
            state = env.step(action)[0]["state"]
        previous = env.data.qpos[adr : adr + 3].copy()
        for _ in range(6):
            env.step(np.array([0.0, 0.0, -0.075, 0.0, 0.0, 0.0, 0.0]))
            pos = env.data.qpos[adr : adr + 3].copy()
            assert np.linalg.norm(pos - previous) < 0.1  # no more than a shove per 0.25 s step
            assert pos[2] > 0.02  # not pressed into the table
            cup = env.model.geom("cup_body").id
            depth = [-c.dist for c in env.data.contact[: env.data.ncon] if cup in (c.geom1, c.geom2)]
            assert max(depth, default=0.0) < 0.005  # stiff contacts: the soft default sank it 8 mm here
            previous = pos
    finally:
        env.close()
