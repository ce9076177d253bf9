#!/bin/sh
# Deep belief net report on Fashion-MNIST.  Trains two 784-500-500 DBNs greedily on all 60,000 threshold-binarised
# training images, 10 epochs per layer: one by CD-1 (lr 0.05, momentum 0.5) and one by PCD-1 (lr decaying linearly
# from 0.01 to 0).  For each: 100 samples (1,000 Gibbs sweeps in the top RBM from noise, then the down pass) and the
# linear probe (softmax regression by L-BFGS, L2 1e-3) on the first 10,000 training images' raw pixels, level-1 and
# level-2 features, scored on the 10,000 test images.  One thread; about 5 minutes on an idle core.
# usage: scripts/dbn_report.sh [EBM] [OUT]     (DBN_LIMIT, DBN_EPOCHS, DBN_LAYERS override the sizes)
set -eu
EBM=${1:-build/ebm}
OUT=${2:-out}
LIMIT=${DBN_LIMIT:-0}
EPOCHS=${DBN_EPOCHS:-10}
LAYERS=${DBN_LAYERS:-500,500}
mkdir -p "$OUT"

# report NAME TRAINING-OPTIONS...: train, sample, probe, eval
report() {
    name=$1
    shift
    start=$(date +%s)
    "$EBM" --threads 1 train dbn --data fashion-mnist --limit "$LIMIT" --binarize threshold --layers "$LAYERS" \
        --epochs "$EPOCHS" --batch 100 --seed 1 "$@" --out "$OUT/$name.safetensors"
    trained=$(date +%s)
    "$EBM" --threads 1 sample "$OUT/$name.safetensors" --n 100 --steps 1000 --seed 1 --png "$OUT/${name}_samples.png"
    "$EBM" --threads 1 eval "$OUT/$name.safetensors" --probe --data fashion-mnist --limit 10000 \
        --test fashion-mnist:test --layer all | tee "$OUT/${name}_probe.txt"
    "$EBM" --threads 1 eval "$OUT/$name.safetensors" --data fashion-mnist:test | tee "$OUT/${name}_eval.txt"
    echo "$name: training $((trained - start)) s, sampling, probes and eval $(($(date +%s) - trained)) s"
}

report dbn_cd1 --cd 1 --lr 0.05 --momentum 0.5
report dbn_pcd1 --pcd 1 --lr 0.01 --lr-final 0
