"""The simulated Franka world: MuJoCo scenes, Cartesian control, tasks and a scripted expert.

Importing this package registers the ``JepaSim/`` gymnasium ids (the gymnasium convention), e.g.::

    import gymnasium as gym
    import envs
    env = gym.make("JepaSim/FrankaGrasp-v0", object="cup", image_size=128)
"""

from envs.gl import ensure_gl_backend

ensure_gl_backend()  # MuJoCo picks its GL backend at import: default to headless EGL before that happens.

from envs.config import ControlConfig  # noqa: E402, EnvConfig, SuccessConfig
from envs.franka_env import FrankaTableEnv  # noqa: E402
from envs.registration import ENV_IDS, register_envs  # noqa: E402

register_envs()

__all__ = ["ENV_IDS", "ControlConfig", "EnvConfig", "FrankaTableEnv", "SuccessConfig", "register_envs"]
