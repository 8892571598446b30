"""How large does the exterior camera show the work? Object widths in pixels and reach goals in view, per preset.

    .venv/bin/python benchmarks/camera_framing.py [--layouts 40] [--sizes 128,192]

For every exterior camera preset (``envs.scene.EXTERIOR_CAMERAS``) and image size, over seeded layouts of the
grasp task (the object anywhere in its region, any yaw), it renders MuJoCo's segmentation from the exterior
camera and measures the horizontal extent of the cup's and the box's silhouettes (pixels; handle included,
the other object's occlusion too). A V-JEPA patch is 16 px of the encoder's input, so an object narrower than
16 px at the encoder's resolution fits inside one token. It also poses the arm at the reach task's goal
configurations (the reach goal images) and checks the fingers are in the frame.

Prints one table row per preset and size (the encoder sees 128 px unless it is pretrained at another size).
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import mujoco
import numpy as np

import envs  # noqa: F401  (registers the ids, picks the GL backend)
from envs.franka_env import PREFIX, FrankaTableEnv
from envs.scene import EXTERIOR_CAMERA, EXTERIOR_CAMERAS


def _body_geoms(model: mujoco.MjModel, body: str) -> np.ndarray:
    return np.flatnonzero(model.geom_bodyid == model.body(body).id)


def _width(segmentation: np.ndarray, geoms: np.ndarray) -> int:
    mask = np.isin(segmentation[..., 0], geoms) & (segmentation[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM))
    columns = np.flatnonzero(mask.any(axis=0))
    return int(columns[-1] - columns[0] + 1) if len(columns) else 0


def measure(camera: str, size: int, layouts: int) -> dict[str, float]:
    widths: dict[str, list[int]] = {"cup": [], "box": []}
    fingers_seen, goals = 0, 0
    for obj in ("cup", "box"):
        env = gym.make("JepaSim/FrankaGrasp-v0", object=obj, image_size=size, exterior_camera=camera)
        sim: FrankaTableEnv = env.unwrapped  # type: ignore[assignment]
        renderer = mujoco.Renderer(sim.model, size, size)
        renderer.enable_segmentation_rendering()
        cup, box = _body_geoms(sim.model, "cup"), _body_geoms(sim.model, "box")
        for seed in range(layouts):
            env.reset(seed=seed)
            renderer.update_scene(sim.data, camera=EXTERIOR_CAMERA)
            seg = renderer.render()
            widths["cup"].append(_width(seg, cup))
            widths["box"].append(_width(seg, box))
        env.close()
        reach = gym.make("JepaSim/FrankaReach-v0", object=obj, image_size=size, exterior_camera=camera)
        rsim: FrankaTableEnv = reach.unwrapped  # type: ignore[assignment]
        fingers = np.concatenate(
            [_body_geoms(rsim.model, PREFIX + f"finger_{side}_body") for side in ("left", "right")]
        )
        goal_renderer = mujoco.Renderer(rsim.model, size, size)
        goal_renderer.enable_segmentation_rendering()
        for seed in range(layouts):
            reach.reset(seed=seed)
            saved = rsim.save_state()
            _, tool, _, closedness = rsim._goal_configurations()[-1]
            rsim._pose_arm(tool, 0.0, closedness)
            mujoco.mj_forward(rsim.model, rsim.data)
            goal_renderer.update_scene(rsim.data, camera=EXTERIOR_CAMERA)
            fingers_seen += int(_width(goal_renderer.render(), fingers) > 0)
            goals += 1
            rsim.restore_state(saved)
        goal_renderer.close()
        reach.close()
        renderer.close()
    cup_w, box_w = np.array(widths["cup"]), np.array(widths["box"])
    return {
        "cup_min": float(cup_w.min()), "cup_median": float(np.median(cup_w)),
        "box_min": float(box_w.min()), "box_median": float(np.median(box_w)),
        "fingers_in_view": fingers_seen / max(goals, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layouts", type=int, default=40)
    parser.add_argument("--sizes", default="128,192")
    args = parser.parse_args()
    print("| camera | image px | cup width min / median (px) | box width min / median (px) | "
          "reach goals with the fingers in view |")  # fmt: skip
    print("|---|---|---|---|---|")
    for camera, pose in EXTERIOR_CAMERAS.items():
        for size in (int(s) for s in args.sizes.split(",")):
            m = measure(camera, size, args.layouts)
            print(f"| {camera} {pose.pos} -> {pose.target}, fovy {pose.fovy} | {size} | {m['cup_min']:.0f} / "
                  f"{m['cup_median']:.0f} | {m['box_min']:.0f} / {m['box_median']:.0f} | "
                  f"{m['fingers_in_view']:.0%} |")  # fmt: skip


if __name__ == "__main__":
    main()
