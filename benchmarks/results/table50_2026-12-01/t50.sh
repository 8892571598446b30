#!/bin/bash
# The shipped (grasp) agent with 4 cm steps, 50 trials per cell, seeds 1000-1049; one thread per process, two to
# three processes sharing the 2 cores (2026-12-01). The flag --max-xyz 0.04 is the grasp preset's default now.
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
E=".venv/bin/jepa-sim eval --methods mpc --max-xyz 0.04 --device cpu --trials 50"
$E --tasks grasp --objects cup --out runs/s13/xyz04_grasp_cup &
$E --tasks grasp --objects box --out runs/s13/xyz04_grasp_box &
wait
$E --tasks pick_and_place --objects cup --out runs/s13/xyz04_pnp_cup &
$E --tasks pick_and_place --objects box --out runs/s13/xyz04_pnp_box &
$E --tasks reach,reach_with_object --objects cup,box --out runs/s13/xyz04_reach_rwo &
wait
.venv/bin/python benchmarks/eval_table.py runs/s13/xyz04_* --plot benchmarks/results/table50_2026-12-01/table.png
# seed by seed against the 7.5 cm agent of 2026-11-30 (benchmarks/results/table50_2026-11-30)
for cell in grasp_cup grasp_box pnp_cup pnp_box; do
  .venv/bin/python benchmarks/eval_pair.py runs/s12/t50_${cell#*_} runs/s13/xyz04_$cell
done
