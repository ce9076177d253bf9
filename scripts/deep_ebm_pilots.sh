#!/bin/sh
# The short pilots that chose the image defaults of `ebm train ebm` (docs/results.md, "Proximal short-run"):
# the default CNN on Fashion-MNIST, 600 updates of batch 64, seed 1, chains clipped to [-1, 1], one thread
# per run; then 1,000 samples from uniform noise (seed 5) at several step counts, FD-FMNIST against the test
# images.  Each pilot prints "NAME: k=K FD ..." lines into OUT/pilots.txt.  About 5 minutes per 20-step pilot
# on one core (10 for 40 steps, 18 for 60); run two at a time on two cores with PARALLEL=2.
# usage: scripts/deep_ebm_pilots.sh [EBM] [OUT]      Variables: PILOTS (names, default all), PARALLEL (1)
set -eu
ebm=${1:-build/ebm}
out=${2:-out/deep_ebm_pilots}
: "${PILOTS:=old buffer_prox buffer_prox_reinit short20 short20_dnoise short20_lr short40 short60}" "${PARALLEL:=1}"
mkdir -p "$out"
P="--step-size 10 --noise 0.005 --prox 0.3 --data-noise 0.005"
opts() { # the training options of pilot $1, then the step counts to sample with
    case $1 in
    old) echo "--negatives buffer --sampler sgld --step-size 1 --noise 0.01 --prox 0 --data-noise 0 --steps 20|20 60 200" ;;
    buffer_prox) echo "--negatives buffer $P --steps 20|20 60 200" ;;
    buffer_prox_reinit) echo "--negatives buffer $P --reinit 0.2 --steps 20|20 60 200" ;;
    short20) echo "--negatives short-run $P --steps 20|20 60 200" ;;
    short20_dnoise) echo "--negatives short-run $P --data-noise 0.03 --steps 20|20 60 200" ;;
    short20_lr) echo "--negatives short-run $P --lr 3e-4 --steps 20|20 60" ;;
    short40) echo "--negatives short-run $P --steps 40|20 40 50 60 200" ;;
    short60) echo "--negatives short-run $P --steps 60|20 60 200" ;;
    *) echo "unknown pilot $1" >&2; exit 2 ;;
    esac
}
pilot() {
    o=$(opts "$1"); train=${o%%|*}; ks=${o#*|}
    # shellcheck disable=SC2086
    "$ebm" --threads 1 --quiet train ebm --data fashion-mnist --batch 64 --iters 600 --seed 1 --clip-lo -1 --clip-hi 1 \
        $train --out "$out/$1.safetensors" --log "$out/$1.csv" >/dev/null
    for k in $ks; do
        "$ebm" --threads 1 --quiet sample "$out/$1.safetensors" --n 1000 --steps "$k" --seed 5 --npy "$out/$1_k$k.npy"
        f=$("$ebm" --quiet eval --samples "$out/$1_k$k.npy" --json | sed 's/.*"fd": \([0-9.e+-]*\).*/\1/')
        echo "$1: k=$k FD $f" | tee -a "$out/pilots.txt"
    done
}
n=0
for p in $PILOTS; do
    opts "$p" >/dev/null
    pilot "$p" &
    n=$((n + 1))
    if [ "$n" -ge "$PARALLEL" ]; then wait; n=0; fi
done
wait
