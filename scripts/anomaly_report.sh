#!/bin/sh
# Held-out-class anomaly detection on Fashion-MNIST (docs/score.md): for each class K, a Bernoulli RBM is
# trained on the other nine classes (data spec fashion-mnist#LIST) and the test set is scored by free
# energy with class K as the anomaly; prints one AUROC per class.
# usage: scripts/anomaly_report.sh [EBM] [OUT] [EPOCHS] [HIDDEN]
set -eu
ebm=${1:-build/ebm}
out=${2:-out/anomaly}
epochs=${3:-5}
hidden=${4:-256}
mkdir -p "$out"
names="t-shirt trouser pullover dress coat sandal shirt sneaker bag ankle-boot"
printf "%-6s %-11s %s\n" class name AUROC | tee "$out/auroc.txt"
k=0
for name in $names; do
    if [ $k = 0 ]; then keep=1-9; elif [ $k = 9 ]; then keep=0-8; else keep="0-$((k - 1)),$((k + 1))-9"; fi
    "$ebm" --quiet train rbm --data "fashion-mnist#$keep" --binarize threshold --hidden "$hidden" --pcd 1 \
        --chains 100 --epochs "$epochs" --batch 100 --lr 0.01 --lr-final 0 --momentum 0.5 --weight-decay 1e-4 \
        --seed 1 --out "$out/no$k.safetensors" > /dev/null
    a=$("$ebm" --quiet score "$out/no$k.safetensors" --data fashion-mnist:test --anomaly-class $k --json |
        sed 's/.*"auroc": \([0-9.]*\).*/\1/')
    printf "%-6s %-11s %s\n" $k "$name" "$a" | tee -a "$out/auroc.txt"
    k=$((k + 1))
done
