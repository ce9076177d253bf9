#!/bin/sh
# The Ising denoising report (docs/bm.md): pixel error before and after ICM, simulated annealing and
# Gibbs-MPM on 1000 binarised Fashion-MNIST test images with 10% and 50% salt-and-pepper noise.
# beta and eta are tuned per method and noise level on a separate slice, the first 500 *training* images,
# over a small grid; the chosen values are then run once on test images 0..999.  One thread, a few minutes.
# usage: scripts/ising_report.sh [PATH/TO/ebm] [OUTDIR]     (OUTDIR gets the tuning logs and picture grids)
set -eu
EBM=${1:-build/ebm}
OUT=${2:-ising_report}
mkdir -p "$OUT"
: >"$OUT/test.jsonl"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
BETAS="0.25 0.5 0.75 1 1.5"
ETAS="0.5 0.75 1 1.5 2 3"
for p in 0.1 0.5; do
    : >"$OUT/tune_$p.jsonl"
    for b in $BETAS; do
        for e in $ETAS; do
            "$EBM" --threads 1 --quiet denoise --model ising --data fashion-mnist:train --n 500 --noise "$p" \
                --beta "$b" --eta "$e" --seed 2 --json >>"$OUT/tune_$p.jsonl"
        done
    done
    for m in icm anneal gibbs; do
        best=$(python3 - "$OUT/tune_$p.jsonl" "$m" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = min(rows, key=lambda r: r["methods"][sys.argv[2]]["error"])
print(r["beta"], r["eta"])
PY
)
        set -- $best
        echo "noise $p, $m: tuned on fashion-mnist:train 0..499 -> beta $1, eta $2" >&2
        "$EBM" --threads 1 --quiet denoise --model ising --data fashion-mnist:test --n 1000 --noise "$p" \
            --method "$m" --beta "$1" --eta "$2" --seed 1 --json --png "$OUT/test_${p}_$m.png" --show 8 \
            >>"$OUT/test.jsonl"
    done
done
python3 - "$OUT/test.jsonl" <<'PY'
import json, sys
print("| noise p | pixel error before | method | beta | eta | pixel error after | seconds |")
print("|---|---|---|---|---|---|---|")
for l in open(sys.argv[1]):
    if not l.strip():
        continue
    r = json.loads(l)
    for m, v in r["methods"].items():
        print(f"| {r['noise']:g} | {100 * r['error_before']:.2f}% | {m} | {r['beta']:g} | {r['eta']:g} | "
              f"{100 * v['error']:.2f}% | {v['seconds']:.1f} |")
PY
