#!/bin/sh
# The AIS speed benchmark of issue 14: a 784 x 500 RBM trained for one epoch of CD-1 on binarised
# Fashion-MNIST (seed 1), then `ebm eval --ais` with the default schedule (100 runs x 14,500 steps) on the
# test set, timed by the AIS seconds `ebm` reports (the runs only: not the data loading, the free energies
# or the pseudo-likelihood).  Each given binary runs once per round, alternating, for ROUNDS rounds (3),
# quiet and then beside one busy process (`yes > /dev/null`, one of the two cores), with the kernels the
# environment selects; prints every run and each binary's best, with the log Z it estimated.
# usage: bench/ais_speed.sh EBM [EBM2 ...]   (needs the dataset-fashion-mnist package)
set -eu
[ $# -ge 1 ] || { echo "usage: $0 EBM [EBM2 ...]" >&2; exit 2; }
OUT=${OUT:-out/ais_speed}
ROUNDS=${ROUNDS:-3}
mkdir -p "$OUT"
M=$OUT/rbm784x500.safetensors
if [ ! -s "$M" ]; then
    "$1" --quiet train rbm --data fashion-mnist --binarize threshold --hidden 500 --epochs 1 --batch 100 \
        --lr 0.05 --seed 1 --out "$M"
fi
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
run() { # $1 label, $2 binary
    "$2" --quiet eval "$M" --data fashion-mnist:test --ais --seed 1 --json >"$OUT/run.json"
    /usr/bin/python3 - "$OUT/run.json" "$1" "$2" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["ais"]
print("%-6s %-40s AIS %7.2f s  log Z %.4f" % (sys.argv[2], sys.argv[3], a["seconds"], a["log_z"]))
PY
}
for mode in quiet busy; do
    pid=
    if [ $mode = busy ]; then
        yes >/dev/null &
        pid=$!
    fi
    r=1
    while [ $r -le "$ROUNDS" ]; do
        for b in "$@"; do run $mode "$b"; done
        r=$((r + 1))
    done
    [ -z "$pid" ] || kill "$pid"
done | tee "$OUT/runs.txt"
echo "# best of $ROUNDS:"
for mode in quiet busy; do
    for b in "$@"; do
        grep "^$mode *$b " "$OUT/runs.txt" | sort -k4 -n | head -1
    done
done
