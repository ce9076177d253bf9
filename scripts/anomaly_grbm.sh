#!/bin/sh
# Anomaly detection on Fashion-MNIST with a Gaussian-Bernoulli RBM on grey levels (docs/results.md), under both
# protocols, by free energy and by the complexity-corrected score:
#   oneclass: for each class K a GRBM trained on class K alone (fashion-mnist#K, 6,000 images); AUROC of the
#             nine other classes (anomalies) against class K in the 10,000 test images (`--normal-class K`);
#   heldout:  for each class K a GRBM trained on the nine other classes (54,000 images); AUROC of class K
#             (anomaly) against the other nine in the test set (`--anomaly-class K`).
# The GRBM is `ebm train grbm` at its defaults (CD-10 from noise with Gibbs-Langevin negatives, 10 epochs,
# global standardisation) with 256 hidden units; nothing was tuned on the test set.  Writes "anomaly_grbm" into
# docs/results.json (per protocol: the figures, seed, commit, wall seconds; other objects are kept; other HIDDEN or
# EPOCHS than the defaults are written under PROTOCOL_<H>h_<E>e).
# About 2 minutes for oneclass and 15 for heldout on 2 cores.
# usage: scripts/anomaly_grbm.sh [EBM] [OUT]
# Variables: PROTOCOLS ("oneclass heldout"), CLASSES, EPOCHS (10), HIDDEN (256), SEED (1), RESULTS (the JSON file).
set -eu
ebm=${1:-build/ebm}
out=${2:-out/anomaly_grbm}
: "${PROTOCOLS:=oneclass heldout}" "${CLASSES:=0 1 2 3 4 5 6 7 8 9}" "${EPOCHS:=10}" "${HIDDEN:=256}" "${SEED:=1}"
: "${RESULTS:=docs/results.json}"
mkdir -p "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
# shellcheck source=scripts/anomaly_lib.sh
. "$(dirname "$0")/anomaly_lib.sh" # auroc, score_both (sets a, c)
for p in $PROTOCOLS; do
    case $p in
        oneclass) flag=--normal-class ;;
        heldout) flag=--anomaly-class ;;
        *) echo "anomaly_grbm.sh: unknown protocol '$p' (oneclass or heldout)" >&2; exit 2 ;;
    esac
    t0=$(date +%s)
    printf "%-8s %-6s %-8s %s\n" protocol class energy complexity | tee "$out/auroc-$p.txt"
    e_list="" c_list="" k_list=""
    for k in $CLASSES; do
        if [ "$p" = oneclass ]; then spec="fashion-mnist#$k"
        else spec="fashion-mnist#$(echo 0 1 2 3 4 5 6 7 8 9 | tr ' ' '\n' | grep -vx "$k" | paste -sd, -)"; fi
        model="$out/$p$k.safetensors"
        "$ebm" --quiet train grbm --data "$spec" --hidden "$HIDDEN" --epochs "$EPOCHS" --seed "$SEED" --out "$model" >/dev/null
        score_both "$ebm" "$model" "$flag" "$k"
        printf "%-8s %-6s %-8s %s\n" "$p" "$k" "$a" "$c" | tee -a "$out/auroc-$p.txt"
    done
    t1=$(date +%s)
    python3 - "$RESULTS" "$p" "$SEED" "$commit" $((t1 - t0)) <<EOF
import json, os, sys
path, p, seed, commit, wall = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
e, c = [$e_list], [$c_list]
r = json.load(open(path)) if os.path.exists(path) else {}
protocol = {"oneclass": "one-class: train on class K, AUROC of the other nine classes (anomalies) against K",
            "heldout": "held-out class: train on the nine other classes, AUROC of class K (anomaly) against them"}[p]
key = p if ($HIDDEN, $EPOCHS) == (256, 10) else "%s_%dh_%de" % (p, $HIDDEN, $EPOCHS)  # other sizes beside
r.setdefault("anomaly_grbm", {})[key] = {"classes": [$k_list], "auroc_per_class": e,
    "auroc_per_class_complexity": c, "mean": sum(e) / len(e), "min": min(e),
    "mean_complexity": sum(c) / len(c), "min_complexity": min(c),
    "model": "grbm $HIDDEN hidden, train grbm defaults (CD-10 from noise, gibbs-langevin), $EPOCHS epochs, grey levels",
    "protocol": protocol, "script": "scripts/anomaly_grbm.sh", "seed": seed, "commit": commit, "wall_seconds": wall}
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
EOF
    echo "$p mean: energy $(python3 -c "e=[$e_list]; print(round(sum(e)/len(e), 4), min(e))"), complexity $(python3 -c "c=[$c_list]; print(round(sum(c)/len(c), 4), min(c))"); $((t1 - t0)) s"
done
