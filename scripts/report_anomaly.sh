#!/bin/sh
# The JEM++ options and the complexity-corrected anomaly score on Fashion-MNIST (issue 16; docs/results.md,
# docs/jem.md, docs/score.md), with fixed seeds, writing its figures into docs/results.json (one object per
# experiment: figures, seed, commit, wall seconds; other experiments' objects are kept):
#   "anomaly_complexity": for each held-out class K, a Bernoulli RBM trained on the nine other classes (the
#       recipe of scripts/anomaly_report.sh) scores the test set; AUROC of class K by free energy and by the
#       complexity-corrected score F(v) / ln 2 - PNG bits (ebm score --score complexity);
#   "jempp": the default CNN trained as a JEM with noise-started chains (JEM's recipe) and with JEM++'s
#       options (--init-chains gaussian --prox DELTA --ema DECAY), the same iterations and SGLD steps, and
#       the plain classifier; accuracy, ECE and OOD AUROCs of log p(x) (ebm classify).
# usage: scripts/report_anomaly.sh [EBM] [OUT] [full|short]
#   full (default): 10 classes, RBM 5 epochs; JEMs 1,000 iterations of batch 128, SGLD 10 steps.
#       Not yet timed as a whole: from the short run on 2 cores shared with about three other jobs (a JEM
#       iteration with 10 SGLD steps 2.3 s, an RBM epoch on 12,000 rows 8 s) an estimated 40 minutes on 2
#       quiet cores and up to 1.5 hours on a busy machine; each experiment's wall_seconds are recorded.
#       Override the sizes with the variables below.
#   short: a few minutes, to prove the pipeline (2 classes, 1 epoch on 12,000 rows; JEMs of 30 iterations
#       with EMA 0.9); its figures are not results.  Written under "<name>_short" keys.
# Variables: CLASSES, EPOCHS, HIDDEN, RBM_LIMIT, ITERS, STEPS, PROX, EMA, SEED, RESULTS (the JSON file).
set -eu
ebm=${1:-build/ebm}
out=${2:-out/report_anomaly}
scale=${3:-full}
case $scale in
full) suffix=""; : "${CLASSES:=0 1 2 3 4 5 6 7 8 9}" "${EPOCHS:=5}" "${RBM_LIMIT:=0}" "${ITERS:=1000}" "${EMA:=0.999}" ;;
short) suffix="_short"; : "${CLASSES:=7 9}" "${EPOCHS:=1}" "${RBM_LIMIT:=12000}" "${ITERS:=30}" "${EMA:=0.9}" ;;
*) echo "report_anomaly: scale must be full or short, not '$scale'" >&2; exit 2 ;;
esac
: "${HIDDEN:=256}" "${STEPS:=10}" "${PROX:=0.03}" "${SEED:=1}" "${RESULTS:=docs/results.json}"
mkdir -p "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
# shellcheck source=scripts/anomaly_lib.sh
. "$(dirname "$0")/anomaly_lib.sh" # auroc, score_both (sets a, c)
field() { sed "s/.*\"$1\": \([0-9.]*\).*/\1/"; }
# the AUROC of log p(x) for OOD set $1 in classify JSON on stdin
ood() { tr '{' '\n' | grep "\"set\": \"$1\"" | field auroc_log_px; }

# ---- held-out-class anomaly detection: free energy vs complexity-corrected ----
t0=$(date +%s)
printf "%-6s %-8s %s\n" class energy complexity | tee "$out/anomaly.txt"
e_list="" c_list="" k_list=""
for k in $CLASSES; do
    if [ "$k" = 0 ]; then keep=1-9; elif [ "$k" = 9 ]; then keep=0-8; else keep="0-$((k - 1)),$((k + 1))-9"; fi
    "$ebm" --quiet train rbm --data "fashion-mnist#$keep" --limit "$RBM_LIMIT" --binarize threshold --hidden "$HIDDEN" \
        --pcd 1 --chains 100 --epochs "$EPOCHS" --batch 100 --lr 0.01 --lr-final 0 --momentum 0.5 --weight-decay 1e-4 \
        --seed "$SEED" --out "$out/no$k.safetensors" >/dev/null
    score_both "$ebm" "$out/no$k.safetensors" --anomaly-class "$k"
    printf "%-6s %-8s %s\n" "$k" "$a" "$c" | tee -a "$out/anomaly.txt"
done
t1=$(date +%s)
python3 - "$RESULTS" "anomaly_complexity$suffix" "$SEED" "$commit" $((t1 - t0)) <<EOF
import json, os, sys
path, key, seed, commit, wall = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
e, c = [$e_list], [$c_list]
r = json.load(open(path)) if os.path.exists(path) else {}
r[key] = {"classes": [$k_list], "auroc_per_class_energy": e, "auroc_per_class_complexity": c,
          "mean_energy": sum(e) / len(e), "mean_complexity": sum(c) / len(c), "min_complexity": min(c),
          "model": "rbm $HIDDEN hidden, PCD-1, $EPOCHS epochs, binarised, limit $RBM_LIMIT",
          "script": "scripts/report_anomaly.sh $scale", "seed": seed, "commit": commit, "wall_seconds": wall}
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
EOF

# ---- JEM with noise starts vs JEM++ options vs the classifier ----
t0=$(date +%s)
# the settings of the time (train jem's defaults until 2026-12-03): the paper's replay buffer, SGLD of size 1
common="--data fashion-mnist --negatives buffer --step-size 1 --noise 0.01 --prox 0 --data-noise 0 --init-chains noise --gen-weight 1 --lr 1e-4 --iters $ITERS --steps $STEPS --clip-lo -1 --clip-hi 1 --seed $SEED"
"$ebm" train jem $common --out "$out/jem.safetensors" --log "$out/jem.csv"
"$ebm" train jem $common --init-chains gaussian --prox "$PROX" --ema "$EMA" --out "$out/jempp.safetensors" \
    --log "$out/jempp.csv"
"$ebm" train jem --data fashion-mnist --objective clf --iters "$ITERS" --seed "$SEED" --lr 1e-4 --out "$out/clf.safetensors" \
    --log "$out/clf.csv"
for m in jem jempp clf; do
    "$ebm" --quiet classify "$out/$m.safetensors" --data fashion-mnist:test --ood uniform,inverted --json \
        >"$out/$m-classify.json"
    cat "$out/$m-classify.json"
done
t1=$(date +%s)
python3 - "$RESULTS" "jempp$suffix" "$SEED" "$commit" $((t1 - t0)) "$out" <<EOF
import json, os, sys
path, key, seed, commit, wall, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6]
fig = {}
for m in ("jem", "jempp", "clf"):
    c = json.load(open(os.path.join(out, m + "-classify.json")))
    fig["acc_" + m] = c["accuracy"]
    fig["ece_" + m] = c["ece"]
    for o in c["ood"]:
        fig["auroc_%s_%s" % (o["set"], m)] = o["auroc_log_px"]
r = json.load(open(path)) if os.path.exists(path) else {}
fig.update({"settings": "iters $ITERS, SGLD $STEPS steps; jempp: --init-chains gaussian --prox $PROX --ema $EMA",
            "script": "scripts/report_anomaly.sh $scale", "seed": seed, "commit": commit, "wall_seconds": wall})
r[key] = fig
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
EOF
echo "report_anomaly: figures in $RESULTS under anomaly_complexity$suffix and jempp$suffix" >&2
