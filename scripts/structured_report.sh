#!/bin/sh
# Fashion-MNIST test accuracy of the same network (an MLP 784-128-10, E(x, y) = softplus(g(x)[y])) trained with
# each of the ten losses of LeCun et al. 2006 (3 epochs on the 60,000 training images, Adam lr 1e-3, batch 64,
# 1 thread), plus the energy loss with the raw and the square output maps, to show when it collapses.
# usage: scripts/structured_report.sh [PATH/TO/ebm] [OUTDIR]   (about two minutes)
set -eu
EBM=${1:-build/ebm}
OUT=${2:-/tmp/ebm-structured-report}
mkdir -p "$OUT"
EPOCHS=${EPOCHS:-3}
printf '%-22s %9s %9s %9s %9s %9s  %s\n' loss accuracy E Ebar gap spread collapsed
run() { # NAME OPTIONS...
    name=$1; shift
    "$EBM" --threads 1 --quiet train structured --data fashion-mnist --net linear:128,silu,linear:10 \
        --epochs "$EPOCHS" --batch 64 --lr 1e-3 --seed 1 --out "$OUT/$name.safetensors" "$@"
    "$EBM" --threads 1 --quiet eval "$OUT/$name.safetensors" --data fashion-mnist:test --json >"$OUT/$name.json"
    python3 - "$name" "$OUT/$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
f = lambda v: "%9.4g" % v if v is not None else "      n/a"
print("%-22s %9.4f %s %s %s %s  %s" % (sys.argv[1], r["accuracy"], f(r["energy_correct"]), f(r["energy_offending"]),
      f(r["gap"]), f(r["spread"]), "COLLAPSED" if r["collapsed"] else "no"))
PY
}
for loss in energy perceptron hinge log lvq2 mce sqsq sqexp nll mee; do
    run "$loss" --loss "$loss"
done
run energy-raw --loss energy --energy raw
run energy-square-wd --loss energy --energy square --weight-decay 1e-3
run hinge-square-wd --loss hinge --energy square --weight-decay 1e-3
