#!/bin/sh
# GRBM training speed (issue 14): one epoch of `ebm train grbm` on the first 10,000 Fashion-MNIST images at
# the results' settings (784 x 1024, CD-10 from noise, Gibbs-Langevin negatives with 10 inner steps, batch
# 100), timed by the epoch seconds of the --log CSV (training only: not the data loading), for each given
# binary in fp32 and in bf16 (skipped for a binary without --precision on train grbm or without oneDNN),
# alternating, ROUNDS rounds (3), with the kernels the environment selects.  Prints every run, each
# configuration's best, and the GFLOP/s of the products an update makes in the current code, in units of
# u = 2 x 100 x 784 x 1024 flops: the batch's v W (1 u), two products with W per chain step (20 u) and two
# more for the chains' noise start (2 u), and one gradient product over the batch and all 10 chain states
# (11 u): 34 u = 5.46 GFLOP per update, 546 GFLOP per epoch of 10,000 rows.  Binaries from before the
# one-sum gradient made 55 u per update; their GFLOP/s column counts the same 546 GFLOP (useful work).
# usage: bench/grbm_speed.sh EBM [EBM2 ...]   (needs the dataset-fashion-mnist package)
set -eu
[ $# -ge 1 ] || { echo "usage: $0 EBM [EBM2 ...]" >&2; exit 2; }
OUT=${OUT:-out/grbm_speed}
ROUNDS=${ROUNDS:-3}
mkdir -p "$OUT"
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
run() { # $1 binary, $2 precision
    popt=""
    [ "$2" = fp32 ] || popt="--precision $2"
    # shellcheck disable=SC2086
    if ! "$1" --quiet train grbm --data fashion-mnist --limit 10000 --hidden 1024 --cd 10 --sampler gibbs-langevin \
        --langevin-steps 10 --eta 0.5 --epochs 1 --batch 100 --lr 0.05 --grad-clip 10 --seed 1 --monitor 0 \
        $popt --out "$OUT/g.safetensors" --log "$OUT/g.csv" 2>"$OUT/err"; then
        echo "$2 $1 skipped: $(head -c 120 "$OUT/err")"
        return 0
    fi
    s=$(tail -n 1 "$OUT/g.csv" | cut -d, -f2)
    awk -v s="$s" -v p="$2" -v b="$1" 'BEGIN { printf "%-5s %-36s epoch %7.2f s  %6.1f GFLOP/s\n", p, b, s, 545.9 / s }'
}
r=1
while [ $r -le "$ROUNDS" ]; do
    for b in "$@"; do
        for p in fp32 bf16; do run "$b" $p; done
    done
    r=$((r + 1))
done | tee "$OUT/runs.txt"
echo "# best of $ROUNDS:"
for b in "$@"; do
    for p in fp32 bf16; do
        grep "^$p *$b " "$OUT/runs.txt" | grep -v skipped | sort -k4 -n | head -1 || true
    done
done
