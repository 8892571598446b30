#!/bin/bash
# The shipped (grasp) agent of the ninth session (2026-12-01): 1-step plans of 4 cm steps, patient on lifted, carried
# and lowered (--patient-subgoals 4,5,6 --patient-stall 2 --patient-progress 0.03, the preset's defaults since), 50
# trials per cell, seeds 1000-1049; one thread per process, two processes sharing the 2 cores. (The grasp and
# pick-and-place runs gave those three flags explicitly, before they became the defaults: the same settings.)
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
E=".venv/bin/jepa-sim eval --methods mpc --device cpu --trials 50"
$E --tasks pick_and_place --objects cup --out runs/s15/pp3d_pnp_cup &
$E --tasks pick_and_place --objects box --out runs/s15/pp3d_pnp_box &
wait
$E --tasks grasp --objects cup --out runs/s15/q_grasp_cup &
$E --tasks grasp --objects box --out runs/s15/q_grasp_box &
wait
$E --tasks reach,reach_with_object --objects cup --out runs/s15/pp3_reach_rwo_cup &
$E --tasks reach,reach_with_object --objects box --out runs/s15/pp3_reach_rwo_box &
wait
.venv/bin/python benchmarks/eval_table.py runs/s15/pp3d_pnp_{cup,box} runs/s15/q_grasp_{cup,box} runs/s15/pp3_reach_rwo_{cup,box} --plot benchmarks/results/table50_2026-12-01c/table.png
for cell in grasp_cup grasp_box; do   # against the eighth session's agent (pairs.md)
  .venv/bin/python benchmarks/eval_pair.py runs/s14/h1_$cell runs/s15/q_$cell
done
for cell in pnp_cup pnp_box; do
  .venv/bin/python benchmarks/eval_pair.py runs/s14/h1_$cell runs/s15/pp3d_$cell
done
