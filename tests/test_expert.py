"""The scripted expert solves every task: a quick check here, the 100-seed statistic under `make test-slow`."""

import gymnasium as gym
import pytest

import envs
from envs.rollout import RandomPolicy, make_policy, run_episode

COMBOS = [(task, obj) for task in envs.ENV_IDS for obj in ("cup", "box")]


def _success_rate(task, obj, seeds):
    env = gym.make(envs.ENV_IDS[task], object=obj, image_size=64)
    control = env.unwrapped.config.control
    wins = sum(run_episode(env, make_policy("expert", task, obj, control, s), seed=s).success for s in seeds)
    env.close()
    return wins / len(seeds)


@pytest.mark.parametrize("task,obj", COMBOS)
def test_expert_solves_every_task(task, obj):
    assert _success_rate(task, obj, range(1000, 1004)) == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("task,obj", COMBOS)
def test_expert_succeeds_in_95_percent_of_100_seeds(task, obj):
    assert _success_rate(task, obj, range(100)) >= 0.95


def test_random_policy_rarely_grasps():
    """The tasks are not trivially solved: random actions fail the grasp task."""
    env = gym.make("JepaSim/FrankaGrasp-v0", object="box", image_size=64)
    results = [run_episode(env, RandomPolicy(seed=s), seed=s).success for s in range(3)]
    env.close()
    assert not any(results)


def test_unknown_policy_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown policy 'teleop'; available: expert, random"):
        make_policy("teleop", "reach", "cup", envs.ControlConfig(), 0)
