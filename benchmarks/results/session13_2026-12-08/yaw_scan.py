"""Ad-hoc (thirteenth session): the observed distance to a reach goal image over the tool yaw at one pose.

.venv/bin/python benchmarks/results/session13_2026-12-08/yaw_scan.py Reach cup 1048 0.379,-0.299,0.2
"""

import sys

import numpy as np
import torch

import envs  # noqa
from agents.drivers.sim import SimDriver
from agents.mpc import MPCAgent
from agents.planning_model import weighted_distance
from envs.tasks import grasp_yaw
from jepa_sim.cli.eval_cmd import EvalArgs
from jepa_sim.encoders import load_encoder
from jepa_sim.predictor.checkpoint import load_predictor

torch.set_num_threads(1)
d = EvalArgs()
enc = load_encoder("default", device="cpu")
pred, _ = load_predictor("two-view-hover", enc.id)
views = pred.config.views
agent = MPCAgent(enc, pred, d.build_planner(), d.agent_config(views))
task, obj, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
pose = np.array([float(x) for x in sys.argv[4].split(",")]) if len(sys.argv) > 4 else None
drv = SimDriver.make(f"JepaSim/Franka{task}-v0", obj, image_size=128, wrist_camera=True)
obs = drv.reset(seed)
sim = drv.simulator
_, oy = sim._object_pose(sim._obj_joint)
gy = grasp_yaw(oy, sim._obj.grasp_yaw_offset, sim._obj.yaw_symmetry, float(obs.state[5]))
agent.reset(drv.goal_views())


def wrap(x):
    return (x + np.pi) % (2 * np.pi) - np.pi


def goto(p, yaw, o):
    for _ in range(12):
        delta = p - o.state[:3]
        dy = wrap(yaw - o.state[5])
        if np.linalg.norm(delta) < 0.003 and abs(dy) < 0.01:
            break
        a = np.zeros(7)
        a[:3] = np.clip(delta, -0.04, 0.04)
        a[5] = np.clip(dy, -0.15, 0.15)
        drv.send_action(a)
        o = drv.get_observation()
    return o


def per_view(o):
    z = dict(zip(views, agent._encode(np.stack([o.image, o.wrist_image])), strict=True))
    g = agent._goal(0)
    return [float(weighted_distance(z, g, {v: 1.0})) for v in views], agent.distance(z, 0)


start = obs.state[:3].copy()
sy = float(obs.state[5])
p = pose if pose is not None else start
print(f"{task} {obj} {seed}: start yaw {sy:+.2f} goal yaw {gy:+.2f}; pose {p.round(3)}")
for y in np.arange(min(sy, gy) - 0.3, max(sy, gy) + 0.31, 0.1):
    obs = goto(p, y, obs)
    (e, w), dd = per_view(obs)
    print(f"yaw {obs.state[5]:+.2f} (goal {gy - obs.state[5]:+.2f} away): dist {dd:.3f} ext {e:.3f} wrist {w:.3f}")
