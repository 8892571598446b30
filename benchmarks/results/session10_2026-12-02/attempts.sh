#!/bin/bash
# Tenth session (2026-12-02): attempts at the grasp and pick-and-place cells, each one flag set against the shipped
# agent (the grasp preset's defaults; its 50-trial results are benchmarks/results/table50_2026-12-01c/), seeds
# 1000-1049, one thread per evaluation, two sharing the 2 cores. pairs.md compares each with the shipped agent seed
# by seed (benchmarks/eval_pair.py). None was adopted.
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
E=".venv/bin/jepa-sim eval --methods mpc --device cpu --trials 50"
G="--tasks grasp --objects cup"
$E $G --descent-subgoals 2,3 --descent-xy 0.01 --out runs/s16/d23_grasp_cup
$E --tasks pick_and_place --objects cup --descent-subgoals 2,3 --descent-xy 0.01 --out runs/s16/d23_pnp_cup
$E $G --view-weights 1,2 --out runs/s16/vw12_grasp_cup
for o in cup box; do
  P="--tasks pick_and_place --objects $o"
  $E $P --no-open-subgoals 3,4,5,6 --fine-subgoals 6 --fine-xyz 0.02 --out runs/s16/nf_pnp_$o
  $E $P --descent-subgoals 2,3 --descent-xy 0.01 --no-open-subgoals 3,4,5,6 --out runs/s16/dn_pnp_$o
  $E $P --descent-subgoals 2,3,6,7 --descent-xy 0.01 --no-open-subgoals 3,4,5,6 --out runs/s16/dn67_pnp_$o
  $E $P --view-weights 2,1 --out runs/s16/vw21_pnp_$o
done
$E $G --chain-over 0.08 --out runs/s16/o8_grasp_cup
$E $G --chain-over 0.08 --descent-subgoals 2,3 --descent-xy 0.01 --out runs/s16/o8d_grasp_cup
$E $G --chain-over 0.04 --out runs/s16/o4_grasp_cup
$E $G --chain-over 0.03 --out runs/s16/o3_grasp_cup
$E $G --effort-weight 0.5 --out runs/s16/e5_grasp_cup
$E $G --effort-weight 0.5 --descent-subgoals 2,3 --descent-xy 0.01 --out runs/s16/e5d_grasp_cup
$E $G --execute mean --out runs/s16/mean_grasp_cup
$E $G --execute mean-move --out runs/s16/mm_grasp_cup
$E $G --patient-subgoals 1,4,5,6 --out runs/s16/p1_grasp_cup
$E $G --patient-subgoals 1,2,4,5,6 --descent-subgoals 2,3 --descent-xy 0.01 --out runs/s16/p12d_grasp_cup
# the shipped agent over 100 seeds (1000-1099): the 50 trials of table50_2026-12-01c extended (t100.sh)
# the paper's layout with the official CEM's executed mean, against benchmarks/results/table50_2026-11-30/
E2=".venv/bin/jepa-sim eval --agent paper --execute mean --methods mpc --device cpu --trials 50"
$E2 --tasks reach,grasp --objects cup --out runs/s16/paper_mean_cup
$E2 --tasks reach --objects box --out runs/s16/paper_mean_box
# the best grasp cup setting (effort and straight descent, 42/50) on pick-and-place
for o in cup box; do
  $E --tasks pick_and_place --objects $o --effort-weight 0.5 --descent-subgoals 2,3 --descent-xy 0.01 --out runs/s16/e5d_pnp_$o
done
