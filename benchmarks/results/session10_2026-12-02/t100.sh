#!/bin/bash
# the shipped agent (defaults), extended from the 50 trials of table50_2026-12-01c to 100 (seeds 1000-1099)
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
E=".venv/bin/jepa-sim eval --methods mpc --device cpu --trials 100"
$E --tasks pick_and_place --objects cup --out runs/s16/t100_pnp_cup > runs/s16/t100_pnp_cup.log 2>&1 &
$E --tasks pick_and_place --objects box --out runs/s16/t100_pnp_box > runs/s16/t100_pnp_box.log 2>&1 &
wait
$E --tasks grasp --objects cup --out runs/s16/t100_grasp_cup > runs/s16/t100_grasp_cup.log 2>&1 &
$E --tasks grasp --objects box --out runs/s16/t100_grasp_box > runs/s16/t100_grasp_box.log 2>&1 &
wait
