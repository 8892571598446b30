#!/usr/bin/env bash
# Twelfth session (2026-12-07): the commands behind results_*.json, pairs.md and the traces in this folder.
# One thread per evaluation, two evaluations at a time on the 2-core CPU machine. Seeds 1000-1049 unless --seed.
set -euo pipefail
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
E=".venv/bin/jepa-sim eval --methods mpc --device cpu --trials 50"
T=".venv/bin/python benchmarks/trial_trace.py --task pick_and_place --object cup"

# Where the default agent's pick-and-place cup releases off target (trace_default_*): the distance to *carried*
# falls below 0.25 of its start with the held cup still 11 cm off (seeds 1001, 1011)
$T --seed 1001 > trace_default_pnp_cup_1001.txt
$T --seed 1011 > trace_default_pnp_cup_1011.txt
# F1: the ratio rule at 0.1 on lifted/carried/lowered plus straight lowering. Run as `--patient-ratio 0.1` (the first
# form of the option, recorded so in results_f1_*.json); today's equivalent: --precise-subgoals 4,5,6
$T --seed 1001 --precise-subgoals 4,5,6 --descent-subgoals 2,3,6 > trace_precise_descent_pnp_cup_1001.txt
$T --seed 1011 --precise-subgoals 4,5,6 --descent-subgoals 2,3,6 > trace_precise_descent_pnp_cup_1011.txt
$E --tasks pick_and_place --objects cup --precise-subgoals 4,5,6 --descent-subgoals 2,3,6 --out runs/s18/f1_pnp_cup
$E --tasks pick_and_place --objects box --precise-subgoals 4,5,6 --descent-subgoals 2,3,6 --out runs/s18/f1_pnp_box
$T --seed 1002 --precise-subgoals 4,5,6 --descent-subgoals 2,3,6 > trace_f1_pnp_cup_1002.txt   # lost while lowered
# F2: precise on *carried* only
$E --tasks pick_and_place --objects cup --precise-subgoals 5 --descent-subgoals 2,3,6 --out runs/s18/f2_pnp_cup
$E --tasks pick_and_place --objects box --precise-subgoals 5 --descent-subgoals 2,3,6 --out runs/s18/f2_pnp_box
# F3: + release in place (steps of 5 mm on *placed*) + leave *lowered* when the arm is stopped on its way down
F3="--precise-subgoals 5 --descent-subgoals 2,3,6 --fine-subgoals 3,7 --set-down-subgoal 6"
$T --seed 1010 $F3 > trace_f3_pnp_cup_1010.txt
$T --seed 1025 $F3 > trace_f3_pnp_cup_1025.txt
.venv/bin/python benchmarks/trial_trace.py --task pick_and_place --object box --seed 1060 $F3 > trace_f3_pnp_box_1060.txt
$E --tasks pick_and_place --objects cup $F3 --out runs/s18/f3_pnp_cup
$E --tasks pick_and_place --objects box $F3 --out runs/s18/f3_pnp_box
$E --tasks pick_and_place --objects cup $F3 --seed 1050 --out runs/s18/f3_pnp_cup_b   # results_f3_pnp_cup_1050.json
$E --tasks pick_and_place --objects cup $F3 --seed 1100 --out runs/s18/f3_pnp_cup_c   # results_f3_pnp_cup_1100.json
$E --tasks pick_and_place --objects box $F3 --seed 1050 --out runs/s18/f3_pnp_box_b   # results_f3_pnp_box_1050.json
# F4: F3 without the set-down rule
$E --tasks pick_and_place --objects cup --precise-subgoals 5 --descent-subgoals 2,3,6 --fine-subgoals 3,7 --out runs/s18/f4_pnp_cup
# Grasp cup: patient on *above* too (G1); the servo on the wrist view alone (SW, stopped after 41 trials)
$E --tasks grasp --objects cup --patient-subgoals 0,4,5,6 --out runs/s18/g1_grasp_cup
$E --tasks grasp --objects cup --servo-view wrist --out runs/s18/sw_grasp_cup
# GS: the grid servo (3 x 3 grid, then the bottom of the fitted quadratic), after trace_nh_pnp_cup_1104.txt
$T --seed 1104 > trace_nh_pnp_cup_1104.txt   # the shipped agent (sub-goals 0-3 as in the eleventh session)
$E --tasks grasp --objects cup --servo-method grid --out runs/s18/gs_grasp_cup
# Reach, the shipped agent re-run on today's code (its cells in the README are the ninth session's runs)
$E --tasks reach --objects cup --out runs/s18/reach_cup
$E --tasks reach --objects box --out runs/s18/reach_box
# Seed-by-seed comparisons against the shipped agent (../session11_2026-12-07/results_e5_*.json, results_grasp_cup.json)
# .venv/bin/python benchmarks/eval_pair.py BASE NEW > pairs.md
# The encoder probes (probe_table.txt): a fresh two-camera dataset, then every probe on one encoding
.venv/bin/jepa-sim collect --env all --episodes 400 --workers 1 --wrist-camera --seed 1 --out runs/s18/probe2v
.venv/bin/python benchmarks/probe_table.py --data runs/s18/probe2v --json-out probe_table.json > probe_table.txt
.venv/bin/python benchmarks/probe_table.py --data runs/s18/probe2v --only-attentive --epochs 100 --lr 3e-3 --json-out probe_table_attentive100.json > probe_table_attentive100.txt
# Every cell of the shipped agent re-run on today's code (results_now_*.json)
$E --tasks grasp --objects cup --out runs/s18/now_grasp_cup
$E --tasks grasp --objects box --out runs/s18/now_grasp_box
$E --tasks reach_with_object --objects cup --out runs/s18/now_rwo_cup
$E --tasks reach_with_object --objects box --out runs/s18/now_rwo_box
