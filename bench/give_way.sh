#!/bin/sh
# Giving way to other work (ebm_run_opts.give_way, the default of every training run) against keeping the
# thread count (--fixed-threads), when a busy process (`yes > /dev/null`) arrives DELAY seconds after the start:
# the case the wait policy chosen at start cannot handle (docs/benchmarks.md, "Beside other processes").
# Two training runs through the `ebm` tool, each timed by its own log (training seconds, data loading left
# out): the MLP energy of bench_net (784-512-512-1 SiLU, bf16 products, batch 128, 20 ULA steps per update) on
# Fashion-MNIST, and an RBM 784x512 by PCD-1 (fp32).  Each run quiet, then with the late busy process, with
# and without giving way; slowdown = busy time / quiet time of the same round.  About 6 minutes on 2 cores.
# usage: bench/give_way.sh [EBM] [ROUNDS] [DELAY]
set -eu
ebm=${1:-build/ebm}
ROUNDS=${2:-2}
DELAY=${3:-3}
unset OMP_WAIT_POLICY GOMP_SPINCOUNT EBM_NO_REEXEC EBM_FIXED_THREADS
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE_BENCH:-SkylakeX}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# seconds of training: the last log row's total_seconds (column 2 of train ebm's log, 3 of train rbm's)
mlp() {
    "$ebm" --quiet "$@" train ebm --data fashion-mnist --net "flatten,linear:512,silu,linear:512,silu,linear:1" \
        --precision bf16 --sampler ula --steps 20 --iters 600 --seed 1 --out "$T/mlp.safetensors" --log "$T/mlp.csv"
    tail -n 1 "$T/mlp.csv" | cut -d, -f2
}
rbm() {
    "$ebm" --quiet "$@" train rbm --data fashion-mnist --hidden 512 --pcd 1 --epochs 12 --seed 1 \
        --out "$T/rbm.safetensors" --log "$T/rbm.csv"
    tail -n 1 "$T/rbm.csv" | cut -d, -f3
}
"$ebm" --version | grep BLAS
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for w in mlp rbm; do
        q=$($w)
        echo "round $r $w quiet: $q s (load $(cut -d' ' -f1-4 /proc/loadavg))"
        for mode in give-way fixed; do
            opt=""
            [ "$mode" = fixed ] && opt=--fixed-threads
            (sleep "$DELAY"; exec yes >/dev/null) &
            yp=$!
            # shellcheck disable=SC2086 # $opt is empty or one option
            b=$($w $opt)
            kill "$yp" 2>/dev/null || true
            wait "$yp" 2>/dev/null || true
            echo "round $r $w busy after ${DELAY}s, $mode: $b s, slowdown $(echo "$b $q" | awk '{printf "%.2f", $1 / $2}')x"
            echo "RESULT what=$w mode=$mode round=$r quiet_s=$q busy_s=$b"
        done
    done
    r=$((r + 1))
done
