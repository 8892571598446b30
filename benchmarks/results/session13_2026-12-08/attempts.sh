#!/bin/bash
# Thirteenth session (2026-12-08): the commands behind this folder's figures, in the order they ran (2-core CPU,
# no GPU). Evaluations: one torch thread each, two at a time.
set -e
export MUJOCO_GL=egl

# 1. reach with a yaw search when the last goal stalls (an agent option tried and removed again: 97/100 vs 98/100)
#    results_yaw_reach_{cup,box}.json; the two failures of the shipped agent traced and their yaw scanned:
.venv/bin/python benchmarks/trial_trace.py --task reach --object cup --seed 1048   # trace_reach_cup_1048.txt
.venv/bin/python benchmarks/trial_trace.py --task reach --object box --seed 1019   # trace_reach_box_1019.txt
.venv/bin/python benchmarks/results/session13_2026-12-08/yaw_scan.py Reach cup 1048 0.379,-0.299,0.2
.venv/bin/python benchmarks/results/session13_2026-12-08/yaw_scan.py Reach box 1019 0.367,-0.168,0.142

# 2. the encoder pretrained further on both cameras, and the predictor warm-started on its tokens
.venv/bin/jepa-sim collect --env all --episodes 2000 --workers 2 --wrist-camera --seed 2 \
    --policy expert:0.3,imperfect:0.3,explore:0.2,hover:0.2 --out data/enc2v                      # 9.6 min
.venv/bin/jepa-sim pretrain --data data/enc2v --views exterior,wrist --init checkpoints/encoder --lr 2e-4 \
    --steps 2000 --device cpu --out runs/s19/enc2v                                                 # 24.2 min
.venv/bin/jepa-sim encode --data data/enc2v --encoder runs/s19/enc2v/encoder --views exterior,wrist --device cpu
.venv/bin/jepa-sim train --data data/enc2v --encoder runs/s19/enc2v/encoder --views exterior,wrist \
    --init two-view-hover --init-any-encoder --steps 1200 --batch-size 32 --lr 3e-4 --device cpu --out runs/s19/pred2v
OMP_NUM_THREADS=1 .venv/bin/python benchmarks/probe_table.py --data runs/s18/probe2v \
    --encoder runs/s19/enc2v/encoder --json-out probe_table_enc2v.json                              # probe_table_enc2v.txt
bash benchmarks/results/session13_2026-12-08/evals_enc2v.sh   # results_enc2v_*.json; pairs.md against the shipped agent

# 3. control: the same warm-start on the shipped encoder's tokens of the same data (is it the encoder or the
#    fine-tune that costs pick-and-place?)
.venv/bin/jepa-sim encode --data data/enc2v --encoder default --views exterior,wrist --device cpu
.venv/bin/jepa-sim train --data data/enc2v --encoder default --views exterior,wrist --init two-view-hover \
    --steps 1200 --batch-size 32 --lr 3e-4 --device cpu --out runs/s19/pred2v_ctrl                   # 9.7 min
bash benchmarks/results/session13_2026-12-08/evals_ctrl.sh     # results_ctrl_*.json
.venv/bin/jepa-sim predict-eval --data data/enc2v --predictor two-view-hover --device cpu   # the shipped one there
