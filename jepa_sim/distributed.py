"""Data-parallel training under ``torchrun`` with no change to the command: one process per rank, gloo on
CPU and nccl on GPUs. Without ``torchrun`` (no ``WORLD_SIZE`` > 1 in the environment) everything here is a
single-process no-op."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from jepa_sim.encoders.base import resolve_device


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        """the rank that writes files and prints"""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is True on any (so all ranks stop at the same step)."""
        if not self.active:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def mean(self, values: list[float]) -> list[float]:
        """The mean of each value over all ranks (for logging losses of the whole batch)."""
        if not self.active:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return [float(v) / self.world for v in tensor.tolist()]

    def gather_floats(self, value: float) -> list[float]:
        """``value`` of every rank, in rank order."""
        if not self.active:
            return [value]
        values = [torch.zeros(1, dtype=torch.float64, device=self.device) for _ in range(self.world)]
        dist.all_gather(values, torch.tensor([value], dtype=torch.float64, device=self.device))
        return [float(v.item()) for v in values]

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def setup(device: str = "auto") -> Dist:
    """Join the process group that ``torchrun`` describes in the environment (if any) and pick this rank's
    device: ``cuda:LOCAL_RANK`` on GPUs, else ``device`` as resolved by ``auto``/``cpu``/``cuda``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    resolved = resolve_device(device)
    if world <= 1:
        return Dist(0, 1, resolved)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if resolved.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"process {local_rank} has no GPU of its own ({torch.cuda.device_count()} visible): start at most "
                "that many processes per node, or pass --device cpu"
            )
        resolved = torch.device("cuda", local_rank)
        torch.cuda.set_device(resolved)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if resolved.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), resolved)


def teardown(ctx: Dist) -> None:
    if ctx.active and dist.is_initialized():
        dist.destroy_process_group()
