"""The Franka Panda arm as an MJCF model, built on the meshes shipped in the gymnasium-robotics wheel.

The kinematic chain (body offsets, joint ranges, masses, actuator gains) follows the Apache-2.0 Franka model
of gymnasium-robotics' kitchen scene, whose mesh frames it has to match. The fingers get box-primitive pads
for stable grasps, the links gravity compensation (as the real robot's controller does) and the hand a
``tcp`` site between the finger pads: the tool frame of our state, rotated so that a gripper pointing
straight down with its fingers closing along the base y axis has Euler angles (0, 0, 0).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from dm_control import mjcf

ARM_JOINTS: tuple[str, ...] = tuple(f"joint{i}" for i in range(1, 8))
FINGER_JOINTS: tuple[str, ...] = ("finger_left", "finger_right")
TCP_SITE = "tcp"
FINGER_PADS: tuple[str, ...] = ("pad_left", "pad_right")
FINGER_MAX_OPENING = 0.04
"""travel of each finger (m); the gripper opens to 0.08 m"""

HOME_QPOS = np.array([0.0, -0.2835, 0.0, -2.4013, 0.0, 0.5478, 0.0])
"""Arm joints with the tool near (0.45, 0, 0.25) pointing down, Euler (0, 0, 0); refined by IK at env start."""
HOME_TOOL_POS = np.array([0.45, 0.0, 0.25])

# (name, parent offset pos, quat or euler, joint range, damping, armature, mass); from the kitchen Franka.
_LINKS: tuple[tuple[str, tuple[float, ...], str, tuple[float, ...], tuple[float, float], float, float], ...] = (
    ("link1", (0, 0, 0.333), "quat", (1, 0, 0, 0), (-2.8973, 2.8973), 100.0, 2.7063),
    ("link2", (0, 0, 0), "quat", (0.707107, -0.707107, 0, 0), (-1.7628, 1.7628), 100.0, 2.73046),
    ("link3", (0, -0.316, 0), "quat", (0.707107, 0.707107, 0, 0), (-2.8973, 2.8973), 100.0, 2.04104),
    ("link4", (0.0825, 0, 0), "quat", (0.707107, 0.707107, 0, 0), (-3.0718, -0.4), 100.0, 2.08129),
    ("link5", (-0.0825, 0.384, 0), "quat", (0.707107, -0.707107, 0, 0), (-2.8973, 2.8973), 10.0, 3.00049),
    ("link6", (0, 0, 0), "euler", (1.57, 0, 1.57), (-1.6573, 2.1127), 10.0, 1.3235),
    ("link7", (0.088, 0, 0), "euler", (1.57, 0, 0.7854), (-2.8973, 2.8973), 10.0, 0.2),
)
# Stiffer, critically damped joint servos than the kitchen model (whose heavy joint damping lags ~5 cm behind a
# 0.25 s step), within the real Panda's torque limits.
_KP = (4500.0, 4500.0, 4500.0, 4500.0, 1500.0, 1500.0, 1500.0)
_FORCE = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
_HAND_QUAT = (0.92388, 0, 0, -0.382683)
_HAND_Z = 0.107
_FINGER_Z = 0.1654
_PAD_CENTER_Z = 0.065
"""finger pad centre along the finger (m); the tcp sits between the pads"""


def franka_asset_dir() -> Path:
    """Folder of the Franka meshes inside the installed gymnasium-robotics package."""
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "gymnasium-robotics is not installed; it provides the Franka Panda meshes. "
            "Install it with `pip install gymnasium-robotics` (or run `make test`, which sets up .venv)."
        )
    folder = Path(spec.origin).parent / "envs" / "assets" / "kitchen_franka" / "franka_assets" / "meshes"
    if not (folder / "collision" / "link0.stl").is_file():
        raise FileNotFoundError(f"Franka meshes not found under {folder}; reinstall gymnasium-robotics")
    return folder


def build_panda(pretty: bool) -> mjcf.RootElement:
    """The Panda arm and gripper as an attachable MJCF model.

    ``pretty`` uses the high-poly visual meshes; otherwise the low-poly collision meshes double as visuals
    (about 30x faster to render on a CPU).
    """
    meshes = franka_asset_dir()
    model = mjcf.RootElement(model="panda")
    model.compiler.angle = "radian"
    kind = "visual" if pretty else "collision"
    for part in ("link0", "link1", "link2", "link3", "link4", "link5", "link6", "link7", "hand"):
        model.asset.add("mesh", name=f"{part}_col", file=str(meshes / "collision" / f"{part}.stl"))
        if pretty:
            model.asset.add("mesh", name=f"{part}_viz", file=str(meshes / kind / f"{part}.stl"))
    model.asset.add("mesh", name="finger_viz", file=str(meshes / "collision" / "finger.stl"), scale=(1.75, 1, 1.75))
    model.asset.add("material", name="panda_white", rgba=(0.93, 0.93, 0.9, 1), specular=0.3)
    model.asset.add("material", name="panda_dark", rgba=(0.2, 0.2, 0.22, 1), specular=0.3)

    viz = model.default.add("default", dclass="viz")
    viz.geom.set_attributes(contype=0, conaffinity=0, group=2, type="mesh", material="panda_white", mass=0)
    col = model.default.add("default", dclass="col")
    col.geom.set_attributes(contype=1, conaffinity=1, group=3, type="mesh", rgba=(0.5, 0.6, 0.7, 1))
    pad = model.default.add("default", dclass="pad")
    pad.geom.set_attributes(
        type="box",
        contype=1,
        conaffinity=1,
        condim=4,
        friction=(1.5, 0.05, 0.001),
        solref=(0.005, 1),
        solimp=(0.95, 0.99, 0.001),
        priority=1,
        group=3,
        rgba=(0.2, 0.2, 0.2, 1),
    )

    def add_link_geoms(body: mjcf.Element, part: str, mass: float, **pose: object) -> None:
        body.add("geom", dclass="viz", mesh=f"{part}_viz" if pretty else f"{part}_col", **pose)
        body.add("geom", dclass="col", mesh=f"{part}_col", mass=mass, **pose)

    parent = model.worldbody.add("body", name="link0")
    add_link_geoms(parent, "link0", 2.91242)
    for (name, pos, rot_kind, rot, jrange, damping, mass), kp, force in zip(_LINKS, _KP, _FORCE, strict=True):
        body = parent.add("body", name=name, pos=pos, gravcomp=1, **{rot_kind: rot})
        joint = body.add(
            "joint", name=f"joint{name[-1]}", axis=(0, 0, 1), range=jrange, damping=0.05 * damping, armature=0.1
        )
        add_link_geoms(body, name, mass)
        model.actuator.add(
            "position",
            name=f"act_{joint.name}",
            joint=joint,
            kp=kp,
            dampratio=1.0,
            forcerange=(-force, force),
            ctrlrange=jrange,
        )
        parent = body
    hand = parent  # link7 carries the hand
    # The hand mesh's convex hull reaches down between the finger pads, so it would push objects away before
    # the fingers could close; a box of the real hand's size (flange to finger base) collides instead.
    hand.add("geom", dclass="viz", mesh="hand_viz" if pretty else "hand_col", pos=(0, 0, _HAND_Z), quat=_HAND_QUAT)
    hand.add(
        "geom",
        dclass="col",
        type="box",
        size=(0.03, 0.1, 0.028),
        pos=(0, 0, _HAND_Z + 0.03),
        quat=_HAND_QUAT,
        mass=0.81909,
    )
    # Tool frame: z up when the gripper points down, fingers closing along its y axis.
    hand.add("site", name=TCP_SITE, pos=(0, 0, _FINGER_Z + _PAD_CENTER_Z), quat=_tcp_quat(), size=(0.005,), group=4)

    for side, sign in (("left", 1.0), ("right", -1.0)):
        finger = hand.add("body", name=f"finger_{side}_body", pos=(0, 0, _FINGER_Z), quat=_HAND_QUAT, gravcomp=1)
        finger.add("inertial", pos=(0, sign * 0.0119, 0.0434), mass=0.0927, diaginertia=(6.6e-5, 6.1e-5, 1.1e-5))
        finger.add(
            "joint",
            name=f"finger_{side}",
            type="slide",
            axis=(0, sign, 0),
            range=(0, FINGER_MAX_OPENING),
            damping=20,
            armature=0.5,
        )
        finger.add(
            "geom",
            dclass="viz",
            mesh="finger_viz",
            material="panda_dark",
            **({} if sign > 0 else {"quat": (0, 0, 0, 1)}),
        )
        finger.add(
            "geom", dclass="pad", name=f"pad_{side}", size=(0.011, 0.007, 0.022), pos=(0, sign * 0.007, _PAD_CENTER_Z)
        )
        # Upper finger body, so the fingers cannot pass through objects above the pads.
        finger.add("geom", dclass="pad", size=(0.011, 0.008, 0.02), pos=(0, sign * 0.012, 0.022))
        model.actuator.add(
            "position",
            name=f"act_finger_{side}",
            joint=f"finger_{side}",
            kp=1500,
            forcerange=(-40, 40),
            ctrlrange=(0, FINGER_MAX_OPENING),
        )
    return model


def _tcp_quat() -> tuple[float, float, float, float]:
    """Quaternion from link7 to the tool frame.

    Link7's z axis points out of the flange; the hand is turned -45 deg about it. The tool frame flips z
    (rotation by pi about x) so that Euler angles are near zero in the usual top-down grasp.
    """
    c, s = np.cos(-np.pi / 8), np.sin(-np.pi / 8)  # the hand's -45 deg about z
    q_hand = np.array([c, 0.0, 0.0, s])
    q_flip = np.array([0.0, 1.0, 0.0, 0.0])  # pi about x
    w1, x1, y1, z1 = q_hand
    w2, x2, y2, z2 = q_flip
    q = np.array(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ]
    )
    return (float(q[0]), float(q[1]), float(q[2]), float(q[3]))
