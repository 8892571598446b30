"""``jepa-sim envs``: list the registered simulated environments."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EnvsArgs:
    """List the registered JepaSim gymnasium environments, their tasks and time limits."""


def run(args: EnvsArgs) -> int:
    import gymnasium as gym

    import envs
    from envs.config import OBJECTS

    print(f"{'id':36s} {'task':18s} {'max steps':>9s}  objects")
    for task, env_id in envs.ENV_IDS.items():
        spec = gym.spec(env_id)
        print(f"{env_id:36s} {task:18s} {spec.max_episode_steps!s:>9s}  {', '.join(OBJECTS)}")
    print('\nExample: gym.make("JepaSim/FrankaGrasp-v0", object="box", image_size=128, render_preset="fast")')
    return 0
