"""Where does grasping break? The energy along expert grasps, and the gripper's contrast, per view.

    .venv/bin/python benchmarks/grasp_diagnostic.py [--views exterior,wrist] [--seeds 1000,1001,1002]
        [--tasks grasp,pick_and_place] [--objects cup,box] [--encoder default] [--out runs/grasp_diagnostic]

Prints two tables and writes ``OUT/traces.png`` (one panel per task, object and the first seed: the energy of
every expert frame to every image of the goal chain, the expert's phases along the bottom) and
``OUT/diagnostic.json`` (every number).

1. **Gripper contrast** (``agents.diagnostics.gripper_contrast``): at the expert's grasp pose, the latent
   distance one closing step moves, over the mean of one 2 cm step along +-x and +-y, per view and with the
   energy's weights. A ratio >= 1 means closing the gripper moves the energy at least as much as a 2 cm miss.
2. **Chain traces** (``agents.diagnostics.chain_traces``): for each sub-goal, the frame at which the expert's
   trace comes closest to it, its distance there, and its distance at the start. A chain a planner can follow
   has these lows in chain order, each well below its start.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import envs  # noqa: F401  (registers the ids, picks the GL backend)
from agents.diagnostics import ChainTrace, chain_traces, gripper_contrast
from agents.mpc import MPCConfig, advance_points
from jepa_sim.encoders import load_encoder


def plot(traces: list[ChainTrace], path: Path, config: MPCConfig) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(traces), figsize=(4.2 * len(traces), 3.4), squeeze=False)
    for ax, trace in zip(axes[0], traces, strict=True):
        for k, name in enumerate(trace.names):
            ax.plot(trace.distances[:, k], label=f"{k}: {name}", lw=1.6)
            ax.scatter([trace.minima[k]], [trace.distances[trace.minima[k], k]], s=14)
        for k, t in enumerate(advance_points(trace.distances, config)):
            ax.annotate(f"->{k + 1}", (t, trace.distances[t, k]), fontsize=7, xytext=(2, 6), textcoords="offset points")
        changes = [0] + [t for t in range(1, len(trace.phases)) if trace.phases[t] != trace.phases[t - 1]]
        for t in changes:
            ax.axvline(t, color="0.8", lw=0.8, zorder=0)
            ax.text(t + 0.2, 0.02, trace.phases[t], transform=ax.get_xaxis_transform(), fontsize=7, rotation=90)
        ax.set_title(f"{trace.task} {trace.object} (seed {trace.seed})", fontsize=9)
        ax.set_xlabel("expert step")
        ax.set_ylabel("energy to sub-goal")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--views", default="exterior,wrist")
    parser.add_argument("--weights", default="", help="comma-separated view weights (default: equal)")
    parser.add_argument("--seeds", default="1000,1001,1002")
    parser.add_argument("--tasks", default="grasp,pick_and_place")
    parser.add_argument("--objects", default="cup,box")
    parser.add_argument("--goal-chain", default="grasp")
    parser.add_argument("--encoder", default="default")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--advance-ratio", type=float, default=0.5)
    parser.add_argument("--stall-steps", type=int, default=2)
    parser.add_argument("--max-steps-per-subgoal", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("runs/grasp_diagnostic"))
    args = parser.parse_args()
    rule = MPCConfig(advance_ratio=args.advance_ratio, stall_steps=args.stall_steps,
                     max_steps_per_subgoal=args.max_steps_per_subgoal)  # fmt: skip

    views = [v for v in args.views.split(",") if v]
    raw = [float(w) for w in args.weights.split(",")] if args.weights else [1.0] * len(views)
    weights = {v: w / sum(raw) for v, w in zip(views, raw, strict=True)}
    seeds = [int(s) for s in args.seeds.split(",")]
    objects = args.objects.split(",")
    encoder = load_encoder(args.encoder, device="cpu")
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {"encoder": encoder.id, "weights": weights, "seeds": seeds}

    print(f"encoder {encoder.id}; energy weights {weights}\n")
    print("## Gripper contrast at the grasp pose: latent moved by one closing step / by one 2 cm step\n")
    columns = [*views, "weighted"]
    print("| object | seed | " + " | ".join(f"{c} close / 2 cm" for c in columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    contrasts = []
    for obj in objects:
        for c in gripper_contrast(encoder, obj, seeds, weights, args.image_size):
            contrasts.append(c)
            cells = [f"{c.close[v]:.3f} / {c.sidestep[v]:.3f} = **{c.ratio(v):.2f}**" for v in columns]
            print(f"| {obj} | {c.seed} | " + " | ".join(cells) + " |")
    report["contrast"] = [c.__dict__ for c in contrasts]

    print("\n## Energy along the expert's grasps, per sub-goal: start -> lowest (at frame t)\n")
    print(f"The advance rule (ratio {rule.advance_ratio}, stall {rule.stall_steps}, at most "
          f"{rule.max_steps_per_subgoal} steps) applied to the expert's own trajectory: it should leave each "
          "sub-goal at or after the frame where the expert is nearest it.\n")  # fmt: skip
    print("| task | object | seed | expert success | lows in chain order | sub-goals | rule leaves them at |")
    print("|---|---|---|---|---|---|---|")
    traces, first = [], []
    for task in args.tasks.split(","):
        for obj in objects:
            these = chain_traces(encoder, task, obj, seeds, weights, args.image_size, args.goal_chain)
            traces += these
            first.append(these[0])
            for t in these:
                cells = ", ".join(
                    f"{name} {t.distances[0, k]:.3f}->{t.distances[t.minima[k], k]:.3f} (t={t.minima[k]})"
                    for k, name in enumerate(t.names)
                )
                leaves = advance_points(t.distances, rule)
                print(f"| {task} | {obj} | {t.seed} | {t.success} | {t.ordered} | {cells} | {leaves} |")
    report["traces"] = [
        {"task": t.task, "object": t.object, "seed": t.seed, "names": t.names, "phases": t.phases,
         "success": t.success, "minima": t.minima, "rule_leaves": advance_points(t.distances, rule),
         "distances": np.round(t.distances, 5).tolist(),
         "per_view": {v: np.round(d, 5).tolist() for v, d in t.per_view.items()}}
        for t in traces
    ]  # fmt: skip
    plot(first, args.out / "traces.png", rule)
    (args.out / "diagnostic.json").write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.out}/traces.png and diagnostic.json")


if __name__ == "__main__":
    main()
