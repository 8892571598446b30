"""``jepa-sim dataset info|validate DIR``: look at and check a collected dataset."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import tyro

if TYPE_CHECKING:
    from jepa_sim.data.dataset import EpisodeDataset


@dataclass(frozen=True)
class DatasetInfoArgs:
    """Counts, hours of video, success rates, policies and action-label statistics of a dataset.

    Example:
      jepa-sim dataset info data/sim --preview data/sim/preview.mp4
    """

    root: tyro.conf.Positional[Path]
    """the dataset folder"""
    preview: Path | None = None
    """also write an mp4 or gif of a few episodes (camera | goal image) here"""
    preview_episodes: int = 4
    """episodes shown in the preview (spread over the dataset)"""
    json_out: Path | None = None
    """also write the statistics as JSON here"""


@dataclass(frozen=True)
class DatasetValidateArgs:
    """Read every episode in full and check it: zip checksums, array shapes and dtypes, finite values,
    action labels equal to the achieved state change, and agreement with the manifest. Exit code 1 when
    anything is wrong, naming each bad file and the problem.

    Example:
      jepa-sim dataset validate data/sim
    """

    root: tyro.conf.Positional[Path]
    """the dataset folder"""


DatasetArgs = (
    Annotated[DatasetInfoArgs, tyro.conf.subcommand("info")]
    | Annotated[DatasetValidateArgs, tyro.conf.subcommand("validate")]
)

AXES = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "dgrip")


def _info_text(info_dict: dict[str, Any], manifest: dict[str, Any]) -> str:
    d = info_dict
    spec = manifest["spec"]
    lines = [
        f"dataset {d['root']}: {d['episodes']} episodes"
        + (f" ({d['missing']} of {d['expected']} requested are missing: rerun collect)" if d["missing"] else ""),
        f"  {d['frames']} frames, {d['hours'] * 60:.1f} min of video at {manifest['fps']:g} fps, "
        f"{spec['image_size']} px `{spec['render_preset']}`, policy mix {spec['policy']}, seed {spec['seed']}",
        f"  steps per episode: min {d['episode_steps']['min']}, mean {d['episode_steps']['mean']:.1f}, "
        f"max {d['episode_steps']['max']}; success {d['success_rate']:.0%}",
        "",
        "| task/object | episodes | success |",
        "|---|---|---|",
    ]
    for key, row in d["per_combo"].items():
        lines.append(f"| {key} | {row['episodes']} | {row['successes'] / max(row['episodes'], 1):.0%} |")
    lines += ["", "| policy | episodes |", "|---|---|"]
    lines += [f"| {name} | {n} |" for name, n in d["policies"].items()]
    if d["action_stats"]:
        lines += ["", "action labels (achieved state change per step):", "", "| stat | " + " | ".join(AXES) + " |"]
        lines.append("|---" * (len(AXES) + 1) + "|")
        for stat, values in d["action_stats"].items():
            lines.append(f"| {stat} | " + " | ".join(f"{v:+.4f}" for v in values) + " |")
    return "\n".join(lines)


def _write_preview(path: Path, dataset: EpisodeDataset, count: int, fps: float) -> int:
    import imageio.v2 as imageio

    from jepa_sim.atomic import atomic_write
    from jepa_sim.data.episode import read_arrays

    indices = dataset.indices
    chosen = [indices[int(i)] for i in np.linspace(0, len(indices) - 1, min(count, len(indices))).round()]
    frames: list[Any] = []
    for index in dict.fromkeys(chosen):
        arrays = read_arrays(dataset.path(index), ["frames", "goal_image"])
        goal = arrays["goal_image"]
        separator = np.full((goal.shape[0], 2, 3), 255, np.uint8)
        frames += [np.concatenate([f, separator, goal], axis=1) for f in arrays["frames"]]
        frames += [np.zeros_like(frames[-1])] * 2  # a short black gap between episodes
    with atomic_write(path) as tmp:
        if path.suffix.lower() == ".gif":
            imageio.mimsave(tmp, frames, duration=1000.0 / fps, loop=0)
        else:
            imageio.mimsave(tmp, frames, fps=fps, macro_block_size=1)
    return len(dict.fromkeys(chosen))


def run(args: DatasetInfoArgs | DatasetValidateArgs) -> int:
    from jepa_sim.data.dataset import EpisodeDataset
    from jepa_sim.data.episode import EpisodeFormatError
    from jepa_sim.data.manifest import DatasetError

    try:
        dataset = EpisodeDataset(args.root)
        if isinstance(args, DatasetValidateArgs):
            return _validate(dataset)
        info = dataset.info().to_dict()
        print(_info_text(info, dataset.manifest))
        if args.json_out is not None:
            args.json_out.write_text(json.dumps(info, indent=2) + "\n")
            print(f"\nwrote {args.json_out}")
        if args.preview is not None:
            if args.preview.suffix.lower() not in (".mp4", ".gif"):
                raise SystemExit(f"jepa-sim dataset info: --preview must end in .mp4 or .gif, got {args.preview}")
            if len(dataset) == 0:
                raise SystemExit("jepa-sim dataset info: no episodes to preview")
            shown = _write_preview(args.preview, dataset, args.preview_episodes, float(dataset.manifest["fps"]))
            print(f"wrote {args.preview} ({shown} episodes, camera | goal image)")
    except (DatasetError, EpisodeFormatError) as exc:
        raise SystemExit(f"jepa-sim dataset: {exc}") from exc
    return 0


def _validate(dataset: EpisodeDataset) -> int:
    from tqdm import tqdm

    bar = tqdm(total=len(dataset), desc="validate", unit="ep", mininterval=1.0)
    problems = dataset.validate(on_file=lambda index, problem: bar.update(1))
    bar.close()
    if problems:
        print(f"{dataset.root}: {len(problems)} problem(s):")
        for line in problems:
            print(f"  {line}")
        return 1
    print(f"{dataset.root}: all {len(dataset)} episodes are valid")
    return 0
