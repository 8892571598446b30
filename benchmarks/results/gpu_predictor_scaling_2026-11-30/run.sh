# One device run: collect two-view data, encode on the GPU, train three predictor sizes side by side.
set -u
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
if [ -z "${LOCALTEST:-}" ]; then for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
mkdir -p /tmp/site && tar xzf .gpu/site.tgz -C /tmp/site || exit 1; SITE=/tmp/site; fi
export PYTHONPATH=$PWD:$SITE MUJOCO_GL=egl PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
PY=${PY:-python3}; P="$PY -m jepa_sim.cli.main"
nvidia-smi -L; nproc
$PY -c "import mujoco, dm_control.mjcf, gymnasium, tyro, torch; print('imports ok', torch.__version__, torch.cuda.is_available())" || exit 1
EPS=${EPS:-2000}; END=${END:-545}
arch() { case $1 in A) echo "--width 192 --depth 4";; B) echo "--width 192 --depth 8";; C) echo "--width 256 --depth 6";; esac; }
start() { for n in A B C; do $P train --data $1 --out runs/$2$n --steps $3 $COMMON $(arch $n) $4 > $OUT/$2$n.log 2>&1 & done; }
COMMON="--views exterior,wrist --device ${DEV:-cuda} --batch-size ${BS:-128} --lr 8e-4 --checkpoint-every 200"
el probe
$P collect --out data/gp --episodes 40 --wrist-camera --workers 15 > $OUT/probe_collect.log 2>&1 || { tail -30 $OUT/probe_collect.log; exit 1; }; tail -c 300 $OUT/probe_collect.log
$P encode --data data/gp --views exterior,wrist --device ${DEV:-cuda} --batch-size 256 > $OUT/probe_encode.log 2>&1 || { tail -30 $OUT/probe_encode.log; exit 1; }; tail -c 200 $OUT/probe_encode.log
start data/gp probe ${PSTEPS:-60} "--holdout 0.2"; wait
R=999; for n in A B C; do r=$($PY .gpu/rate.py runs/probe$n/metrics.jsonl) || { tail -20 $OUT/probe$n.log; exit 1; }; echo "probe $n: $r steps/s"; R=$($PY -c "print(min($R,$r))"); done
el collect main
$P collect --out data/g --episodes $EPS --wrist-camera --workers 16 2>&1 | tr '\r' '\n' | tail -2
el encode
$P encode --data data/g --views exterior,wrist --device ${DEV:-cuda} --batch-size 256 2>&1 | tr '\r' '\n' | tail -1
NOW=$(( $(date +%s) - T0 )); STEPS=$($PY -c "print(max(200, int($R * ($END - 45 - $NOW - 40) * 0.8) // 100 * 100))")
el "train $STEPS steps each (slowest probe rate $R/s)"
set -m; start data/g g $STEPS ""
while [ $(( $(date +%s) - T0 )) -lt $END ] && [ -n "$(jobs -r)" ]; do sleep 5; done
if [ -n "$(jobs -r)" ]; then el "deadline: interrupting"; pkill -INT -f "cli.main train"; sleep 15; fi
wait
el pack
for n in A B C; do tr '\r' '\n' < $OUT/g$n.log | grep -v "^train\|^load" | tail -12; $PY .gpu/pack.py runs/g$n $OUT/g$n.tar; done
rm -f $OUT/probe*.log
el end
