#!/bin/bash
# The paper's layout (one view, one goal image, the paper's CEM), 50 trials per cell
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
.venv/bin/jepa-sim eval --agent paper --methods mpc --device cpu --videos 1 \
  --tasks reach,grasp,reach_with_object,pick_and_place --objects cup,box --trials 50 --out runs/s12/paper50
