#!/bin/sh
# The AIS report: RBMs with 20, 100 and 500 hidden units trained by CD-1 and CD-10 on binarised
# Fashion-MNIST (threshold 0.5, 20 epochs each), then `ebm eval --ais` on the 10,000 test images with the
# default schedule (100 runs x 14,500 steps).  Prints one table row per model: AIS test log-likelihood with
# its interval, the conservative figure, ESS, AIS seconds, and the exact value where a layer has <= 20 units.
# usage: bench/ais_table.sh [BUILD-DIR [OUT-DIR]]   (needs the dataset-fashion-mnist package)
set -eu
BUILD=${1:-build}
OUT=${2:-out/ais}
EPOCHS=${EPOCHS:-20}
EBM=$BUILD/ebm
mkdir -p "$OUT"
printf '%-8s %6s %14s %22s %12s %6s %7s %7s %12s\n' method hidden "AIS test LL" "interval" conservative ESS "sd(lw)" "AIS s" "exact LL"
for k in 1 10; do
    for h in 20 100 500; do
        m=$OUT/rbm-cd$k-h$h.safetensors
        if [ ! -s "$m" ]; then
            "$EBM" --quiet train rbm --data fashion-mnist --binarize threshold --hidden "$h" --cd "$k" --epochs "$EPOCHS" \
                --batch 100 --lr 0.05 --lr-final 0 --momentum 0.5 --weight-decay 1e-4 --seed 1 \
                --out "$m" --log "$OUT/rbm-cd$k-h$h.csv"
        fi
        "$EBM" --quiet eval "$m" --data fashion-mnist:test --ais --ais-betas "${BETAS:-14500}" --seed 1 --json \
            >"$OUT/rbm-cd$k-h$h.json"
        /usr/bin/python3 - "$OUT/rbm-cd$k-h$h.json" "CD-$k" "$h" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); a = r["ais"]
f = lambda v, inf: "%.2f" % v if v is not None else inf   # JSON null: the interval reached -inf / +inf
ex = r["log_likelihood"]
print("%-8s %6s %14.2f %22s %12s %6.1f %7.2f %7.1f %12s" % (sys.argv[2], sys.argv[3], a["log_likelihood"],
      "[%s, %s]" % (f(a["log_likelihood_lo"], "-inf"), f(a["log_likelihood_hi"], "+inf")),
      f(a["log_likelihood_lo"], "-inf"), a["ess"], a["log_w_sd"], a["seconds"], f(ex, "-")))
PY
    done
done
