#!/bin/bash
# Eleventh session (2026-12-07): visual servoing at *over* (agents/servo.py) with a straight descent and a close in
# place, against the shipped agent of table50_2026-12-01c (seeds 1000-1049) and, on fresh seeds 1050-1099, against
# session10_2026-12-02's 100-seed runs. One thread per evaluation, two sharing the 2 cores. pairs.md: seed by seed.
# C1 and then --exterior-subgoals 5,6 (E5, at the end) became the grasp preset's defaults this session.
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
E=".venv/bin/jepa-sim eval --methods mpc --device cpu --trials 50"
# (the runs below gave the C1 flags explicitly; they are defaults now, and --exterior-subgoals '' undoes the last
# default, which the pick-and-place runs before E5 did not have)
G="--tasks grasp --objects cup"
# with the tenth session's defaults (no descent, no fine close):
#   $E $G --servo-subgoals 1 --out runs/s17/sv1_grasp_cup
#   $E $G --servo-subgoals 1 --descent-subgoals 2,3 --descent-xy 0.01 --out runs/s17/sv1d_grasp_cup
#   $E $G --servo-subgoals 1 --servo-method axis --servo-min-step 0.01 --servo-steps 6 \
#       --descent-subgoals 2,3 --descent-xy 0.002 --fine-subgoals 3 --fine-xyz 0.005 --out runs/s17/c2_grasp_cup
# C1 = --servo-subgoals 1 --descent-subgoals 2,3 --descent-xy 0.002 --fine-subgoals 3 --fine-xyz 0.005 (now the default)
$E $G --out runs/s17/c1_grasp_cup
$E $G --seed 1050 --out runs/s17/c1_grasp_cup_b
$E --tasks grasp --objects box --out runs/s17/c1_grasp_box
$E --tasks pick_and_place --exterior-subgoals '' --objects cup --out runs/s17/c1_pnp_cup
$E --tasks pick_and_place --exterior-subgoals '' --objects cup --seed 1050 --out runs/s17/c1_pnp_cup_b
$E --tasks pick_and_place --exterior-subgoals '' --objects box --out runs/s17/c1_pnp_box
$E --tasks pick_and_place --exterior-subgoals '' --objects box --seed 1050 --out runs/s17/new_pnp_box_b
# Tried on top of the new default, not adopted (pick-and-place, seeds 1000-1049):
$E --tasks pick_and_place --exterior-subgoals '' --objects cup --servo-subgoals 1,5 --descent-subgoals 2,3,6 --out runs/s17/e1_pnp_cup
$E --tasks pick_and_place --exterior-subgoals '' --objects box --servo-subgoals 1,5 --descent-subgoals 2,3,6 --out runs/s17/e1_pnp_box
$E --tasks pick_and_place --exterior-subgoals '' --objects cup --descent-subgoals 2,3,6 --out runs/s17/e3_pnp_cup
$E --tasks pick_and_place --exterior-subgoals '' --objects box --descent-subgoals 2,3,6 --out runs/s17/e3_pnp_box
$E --tasks pick_and_place --exterior-subgoals '' --objects cup --descent-subgoals 2,3,6 --fine-subgoals 3,6 --fine-xyz 0.015 --out runs/s17/e4_pnp_cup
# Where the grasp is decided: the offset at the first close, seeds 1000-1029 (close_offsets_*.txt)
.venv/bin/python benchmarks/close_offsets.py --object cup --seeds 1000-1029 --servo-subgoals "" --descent-subgoals "" \
    --fine-subgoals ""                                                  # the ninth session's agent
.venv/bin/python benchmarks/close_offsets.py --object cup --seeds 1000-1029   # the default
$E --tasks grasp --objects box --seed 1050 --out runs/s17/new_grasp_box_b
# The exterior view alone on carried and lowered (adopted: the grasp preset's default since; seeds 1000-1049 and 1050-1099)
$E --tasks pick_and_place --objects cup --exterior-subgoals 5,6 --out runs/s17/e5_pnp_cup
$E --tasks pick_and_place --objects box --exterior-subgoals 5,6 --out runs/s17/e5_pnp_box
$E --tasks pick_and_place --objects cup --exterior-subgoals 5,6 --seed 1050 --out runs/s17/e5_pnp_cup_b
$E --tasks pick_and_place --objects box --exterior-subgoals 5,6 --seed 1050 --out runs/s17/e5_pnp_box_b
$E --tasks pick_and_place --objects cup --exterior-subgoals 5,6 --seed 1100 --out runs/s17/e5_pnp_cup_c   # a third set of seeds
