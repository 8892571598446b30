#!/bin/bash
# The shipped (grasp) agent with 1-step plans of 4 cm steps, 50 trials per cell, seeds 1000-1049; one thread per
# process, two to four processes sharing the 2 cores (2026-12-01, eighth session). --horizon 1 is the grasp
# preset's default since then.
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
E=".venv/bin/jepa-sim eval --methods mpc --device cpu --trials 50 --horizon 1"
$E --tasks grasp --objects cup --out runs/s14/h1_grasp_cup &
$E --tasks pick_and_place --objects cup --out runs/s14/h1_pnp_cup &
$E --tasks grasp --objects box --out runs/s14/h1_grasp_box &
wait
$E --tasks pick_and_place --objects box --out runs/s14/h1_pnp_box &
$E --tasks reach,reach_with_object --objects cup,box --out runs/s14/h1_reach_rwo &
wait
.venv/bin/python benchmarks/eval_table.py runs/s14/h1_* --plot benchmarks/results/table50_2026-12-01b/table.png
for cell in grasp_cup grasp_box pnp_cup pnp_box reach_rwo; do   # against the 2-step agent (pairs.md)
  .venv/bin/python benchmarks/eval_pair.py runs/s13/xyz04_$cell runs/s14/h1_$cell
done
