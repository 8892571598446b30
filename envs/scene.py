"""The tabletop scene: table, Panda, a cup and a box, cameras and lights, composed with ``dm_control.mjcf``.

The robot base frame is the world frame: the table top is the plane z = 0 and the Panda stands at the origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mujoco
import numpy as np
from dm_control import mjcf

from envs.panda import build_panda

EXTERIOR_CAMERA = "exterior"
WRIST_CAMERA = "wrist"


@dataclass(frozen=True)
class CameraPose:
    """Where the exterior camera stands (m, base frame), what it looks at, and its vertical field of view."""

    pos: tuple[float, float, float]
    target: tuple[float, float, float]
    fovy: float


EXTERIOR_CAMERAS: dict[str, CameraPose] = {
    # DROID-like third-person view: beside and in front of the robot, looking down at the workspace.
    "droid": CameraPose((0.98, -0.5, 0.62), (0.46, 0.0, 0.14), 45.0),
    # Facing the robot from beyond the table, high: the view that makes the object region largest while every
    # reach goal stays in the frame (benchmarks/camera_framing.py searched it).
    "front": CameraPose((1.15, 0.0, 0.95), (0.5, 0.0, 0.05), 34.0),
}
"""exterior camera presets (``EnvConfig.exterior_camera``)"""
EXTERIOR_CAMERA_POS = EXTERIOR_CAMERAS["droid"].pos
EXTERIOR_CAMERA_TARGET = EXTERIOR_CAMERAS["droid"].target
EXTERIOR_CAMERA_FOVY = EXTERIOR_CAMERAS["droid"].fovy


@dataclass(frozen=True)
class ObjectSpec:
    """A graspable object: collision primitive, resting height and how the expert grasps it."""

    name: str
    half_height: float
    grasp_width: float
    """width between the finger pads when grasped (m)"""
    grasp_yaw_offset: float
    """tool yaw relative to the object yaw that closes the fingers across ``grasp_width``"""
    yaw_symmetry: float
    """the object looks the same after this rotation about z (rad)"""


OBJECT_SPECS: dict[str, ObjectSpec] = {
    # Cylinder of radius 3 cm: fingers close across the diameter, perpendicular to the handle (object +x).
    "cup": ObjectSpec("cup", half_height=0.045, grasp_width=0.06, grasp_yaw_offset=0.0, yaw_symmetry=np.pi),
    # A 9 x 5.6 x 6 cm box: fingers close across the short side (object y).
    "box": ObjectSpec("box", half_height=0.03, grasp_width=0.056, grasp_yaw_offset=0.0, yaw_symmetry=np.pi),
}


OBJECT_CONTACT: dict[str, tuple[float, ...]] = {"solref": (0.005, 1.0), "solimp": (0.95, 0.99, 0.001)}
"""stiff object contacts: with MuJoCo's default (soft) contact a finger pressing an object into the table sank
it 2 cm deep and the solver then shot it off the table at 2 m/s; stiff contacts keep penetration to ~1-4 mm"""


def _look_at_xyaxes(pos: tuple[float, ...], target: tuple[float, ...]) -> tuple[float, ...]:
    forward = np.asarray(target, dtype=float) - np.asarray(pos, dtype=float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return (*right.tolist(), *up.tolist())


def _add_cup(worldbody: mjcf.Element) -> None:
    cup = worldbody.add("body", name="cup", pos=(0.5, 0.15, 0.045))
    cup.add("freejoint", name="cup_joint")
    cup.add(
        "geom",
        name="cup_body",
        type="cylinder",
        size=(0.03, 0.045),
        mass=0.12,
        rgba=(0.85, 0.2, 0.15, 1),
        # condim 6 with rolling friction: a knocked-over cylinder would otherwise roll off the table, which
        # a real cup with a handle does not do.
        condim=6,
        friction=(1.0, 0.02, 0.005),
        priority=0,
        **OBJECT_CONTACT,
    )
    # Visual details: a dark inside seen from above and a handle on the +x side.
    cup.add(
        "geom",
        type="cylinder",
        size=(0.026, 0.001),
        pos=(0, 0, 0.045),
        rgba=(0.25, 0.05, 0.04, 1),
        contype=0,
        conaffinity=0,
        mass=0,
    )
    for fromto in (
        (0.03, 0, 0.03, 0.05, 0, 0.03),
        (0.05, 0, 0.03, 0.05, 0, -0.015),
        (0.05, 0, -0.015, 0.03, 0, -0.015),
    ):
        cup.add(
            "geom",
            type="capsule",
            size=(0.006,),
            fromto=fromto,
            rgba=(0.85, 0.2, 0.15, 1),
            contype=0,
            conaffinity=0,
            mass=0,
        )


def _add_box(worldbody: mjcf.Element) -> None:
    box = worldbody.add("body", name="box", pos=(0.5, -0.15, 0.03))
    box.add("freejoint", name="box_joint")
    box.add(
        "geom",
        name="box_body",
        type="box",
        size=(0.045, 0.028, 0.03),
        mass=0.15,
        rgba=(0.2, 0.4, 0.85, 1),
        condim=4,
        friction=(1.0, 0.02, 0.001),
        **OBJECT_CONTACT,
    )
    box.add(
        "geom",
        type="box",
        size=(0.0455, 0.0285, 0.004),
        pos=(0, 0, 0.018),
        rgba=(0.95, 0.8, 0.2, 1),
        contype=0,
        conaffinity=0,
        mass=0,
    )


def build_scene(pretty: bool, camera: str = "droid") -> mjcf.RootElement:
    """The whole scene as an MJCF model; ``pretty`` enables full meshes and shadows; ``camera`` names the
    exterior camera's preset (:data:`EXTERIOR_CAMERAS`)."""
    if camera not in EXTERIOR_CAMERAS:
        raise ValueError(f"unknown exterior camera {camera!r}; presets: {', '.join(EXTERIOR_CAMERAS)}")
    pose = EXTERIOR_CAMERAS[camera]
    root = mjcf.RootElement(model="jepa_sim_franka_table")
    root.compiler.angle = "radian"
    root.option.set_attributes(
        timestep=0.002, cone="elliptic", impratio=10, noslip_iterations=0, integrator="implicitfast"
    )
    root.visual.headlight.set_attributes(ambient=(0.35, 0.35, 0.35), diffuse=(0.4, 0.4, 0.4), specular=(0, 0, 0))
    root.visual.quality.shadowsize = 4096 if pretty else 0
    root.visual.map.znear = 0.01
    root.asset.add(
        "texture",
        name="floor_tex",
        type="2d",
        builtin="checker",
        rgb1=(0.3, 0.32, 0.35),
        rgb2=(0.25, 0.27, 0.3),
        width=256,
        height=256,
    )
    root.asset.add("material", name="floor_mat", texture="floor_tex", texrepeat=(8, 8))
    root.asset.add(
        "texture",
        name="wood_tex",
        type="2d",
        builtin="flat",
        rgb1=(0.6, 0.52, 0.42),
        width=64,
        height=64,
        mark="random",
        random=0.15,
        markrgb=(0.52, 0.45, 0.36),
    )
    root.asset.add("material", name="wood_mat", texture="wood_tex", texrepeat=(4, 4))

    wb = root.worldbody
    wb.add(
        "light",
        name="key",
        pos=(0.6, -0.4, 1.8),
        dir=(-0.1, 0.2, -1),
        directional=True,
        diffuse=(0.55, 0.55, 0.55),
        castshadow=pretty,
    )
    wb.add("geom", name="floor", type="plane", size=(3, 3, 0.1), pos=(0, 0, -0.76), material="floor_mat")
    wb.add(
        "geom",
        name="table",
        type="box",
        size=(0.55, 0.7, 0.02),
        pos=(0.4, 0, -0.02),
        material="wood_mat",
        condim=3,
        friction=(0.8, 0.02, 0.001),
    )
    for x in (-0.1, 0.9):
        for y in (-0.65, 0.65):
            wb.add(
                "geom",
                type="box",
                size=(0.025, 0.025, 0.37),
                pos=(x, y, -0.41),
                rgba=(0.3, 0.25, 0.2, 1),
                contype=0,
                conaffinity=0,
            )
    wb.add(
        "camera",
        name=EXTERIOR_CAMERA,
        pos=pose.pos,
        fovy=pose.fovy,
        xyaxes=_look_at_xyaxes(pose.pos, pose.target),
    )
    _add_cup(wb)
    _add_box(wb)

    panda = build_panda(pretty)
    site = wb.attach(panda)
    site.pos = (0, 0, 0)
    hand = panda.find("body", "link7")
    # Looks along the flange axis at the fingers from beside the hand (MuJoCo cameras look along their -z).
    hand.add("camera", name=WRIST_CAMERA, pos=(0.06, -0.06, 0.09), xyaxes=(0.707, 0.707, 0, 0.707, -0.707, 0), fovy=80)
    return root


@lru_cache(maxsize=8)
def _compiled_xml(pretty: bool, camera: str) -> tuple[str, tuple[tuple[str, bytes], ...]]:
    root = build_scene(pretty, camera)
    return root.to_xml_string(), tuple(sorted(root.get_assets().items()))


def load_model(pretty: bool, camera: str = "droid") -> mujoco.MjModel:
    """Compile the scene to a fresh ``MjModel`` (the MJCF text is built once per process, preset and camera)."""
    xml, assets = _compiled_xml(pretty, camera)
    return mujoco.MjModel.from_xml_string(xml, assets=dict(assets))
