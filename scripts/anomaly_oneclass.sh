#!/bin/sh
# One-class anomaly detection on Fashion-MNIST, the usual protocol of the deep anomaly-detection literature
# (Ruff et al. 2018 on MNIST and CIFAR-10; docs/results.md): for each class K, an RBM is trained on class K alone
# (data spec fashion-mnist#K, 6,000 images) and scores the 10,000 test images by free energy and by the
# complexity-corrected score; AUROC of the nine other classes (anomalies) against class K (normal),
# `ebm score --normal-class K`.  Writes "anomaly_oneclass" into docs/results.json (figures, seed, commit,
# wall seconds; other experiments' objects are kept).  About 1 minute on 2 cores.
# usage: scripts/anomaly_oneclass.sh [EBM] [OUT]
# Variables: CLASSES, EPOCHS (10), HIDDEN (256), BINARIZE (threshold), SEED (1), RESULTS (the JSON file).
set -eu
ebm=${1:-build/ebm}
out=${2:-out/anomaly_oneclass}
: "${CLASSES:=0 1 2 3 4 5 6 7 8 9}" "${BINARIZE:=threshold}" "${EPOCHS:=10}" "${HIDDEN:=256}" "${SEED:=1}" "${RESULTS:=docs/results.json}"
mkdir -p "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
# shellcheck source=scripts/anomaly_lib.sh
. "$(dirname "$0")/anomaly_lib.sh" # auroc, score_both (sets a, c)
t0=$(date +%s)
printf "%-6s %-8s %s\n" normal energy complexity | tee "$out/auroc.txt"
e_list="" c_list="" k_list=""
for k in $CLASSES; do
    "$ebm" --quiet train rbm --data "fashion-mnist#$k" --binarize "$BINARIZE" --hidden "$HIDDEN" --pcd 1 --chains 100 \
        --epochs "$EPOCHS" --batch 100 --lr 0.01 --lr-final 0 --momentum 0.5 --weight-decay 1e-4 --seed "$SEED" \
        --out "$out/only$k.safetensors" >/dev/null
    score_both "$ebm" "$out/only$k.safetensors" --normal-class "$k"
    printf "%-6s %-8s %s\n" "$k" "$a" "$c" | tee -a "$out/auroc.txt"
done
t1=$(date +%s)
python3 - "$RESULTS" "$SEED" "$commit" $((t1 - t0)) <<EOF
import json, os, sys
path, seed, commit, wall = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
e, c = [$e_list], [$c_list]
r = json.load(open(path)) if os.path.exists(path) else {}
r["anomaly_oneclass"] = {"classes": [$k_list], "auroc_per_class_energy": e, "auroc_per_class_complexity": c,
    "mean_energy": sum(e) / len(e), "min_energy": min(e), "mean_complexity": sum(c) / len(c),
    "min_complexity": min(c), "model": "rbm $HIDDEN hidden, PCD-1, $EPOCHS epochs on one class, binarize $BINARIZE",
    "protocol": "one-class: train on class K, AUROC of the other nine classes (anomalies) against K",
    "script": "scripts/anomaly_oneclass.sh", "seed": seed, "commit": commit, "wall_seconds": wall}
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
EOF
echo "mean: energy $(python3 -c "e=[$e_list]; print(round(sum(e)/len(e), 4))"), complexity $(python3 -c "c=[$c_list]; print(round(sum(c)/len(c), 4))"); $((t1 - t0)) s"
