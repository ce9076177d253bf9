#!/bin/sh
# Deep belief net report on Fashion-MNIST: trains a 784-500-500 DBN greedily (PCD-1 with the learning rate decaying
# linearly from 0.01 to 0, 10 epochs per layer over all 60,000 threshold-binarised training images), draws 100
# samples (1,000 Gibbs sweeps in the top RBM from noise, then the down pass), and fits the linear probe (softmax regression by L-BFGS) on the first 10,000 training images'
# raw pixels, level-1 and level-2 features, scored on the 10,000 test images.  One thread; a few minutes.
# usage: scripts/dbn_report.sh [EBM] [OUT]     (DBN_LIMIT, DBN_EPOCHS, DBN_LAYERS override the sizes)
set -eu
EBM=${1:-build/ebm}
OUT=${2:-out}
LIMIT=${DBN_LIMIT:-0}
EPOCHS=${DBN_EPOCHS:-10}
LAYERS=${DBN_LAYERS:-500,500}
mkdir -p "$OUT"
start=$(date +%s)
"$EBM" --threads 1 train dbn --data fashion-mnist --limit "$LIMIT" --binarize threshold --layers "$LAYERS" \
    --epochs "$EPOCHS" --batch 100 --pcd 1 --lr 0.01 --lr-final 0 --seed 1 --out "$OUT/dbn.safetensors"
trained=$(date +%s)
"$EBM" --threads 1 sample "$OUT/dbn.safetensors" --n 100 --steps 1000 --seed 1 --png "$OUT/dbn_samples.png" \
    --npy "$OUT/dbn_samples.npy"
sampled=$(date +%s)
"$EBM" --threads 1 eval "$OUT/dbn.safetensors" --probe --data fashion-mnist --limit 10000 --test fashion-mnist:test \
    --layer all | tee "$OUT/dbn_probe.txt"
"$EBM" --threads 1 eval "$OUT/dbn.safetensors" --data fashion-mnist:test | tee "$OUT/dbn_eval.txt"
end=$(date +%s)
echo "train $((trained - start)) s, sample $((sampled - trained)) s, probe and eval $((end - sampled)) s"
