#!/bin/sh
# A deep energy without labels on Fashion-MNIST (issue 16; docs/results.md): the default CNN energy of
# `ebm train ebm`, trained by Langevin contrastive divergence, then 1,000 samples from uniform noise scored by
# FD-FMNIST (`ebm eval --samples`, docs/jem.md).  Fixed seeds (training 1, samples 5).
#
# RECIPE=prox (the default): short-run negatives (from uniform noise at every update, Nijkamp et al. 2019, so
#   that sampling from noise is what is trained) moved by proximal SGLD steps (--step-size 10 --prox 0.3
#   --noise 0.005: every pixel moves at most 0.3 per step), data noise 0.005, chains clipped to [-1, 1];
#   STEPS (40) steps, ITERS (5000) updates of BATCH (64).  The model is saved every CURVE (500) updates
#   (--checkpoint) and each of those is sampled too: the learning curve in FD (test images, and 10,000
#   training images with other samples); the snapshot with the lowest training-image FD is the "selected"
#   figure (the test set plays no part in the choice), the final model's is "fd_uncond".  Writes "deep_ebm";
#   with EMA=DECAY (e.g. 0.999) the model and every snapshot are the moving average of the weights (--ema) and
#   it writes "deep_ebm_ema".
# RECIPE=defaults: `ebm train ebm --data fashion-mnist` with nothing else but the seed (batch 128, 1,000
#   updates, the image defaults = the prox recipe's sampler), sampled with the model's defaults (40 steps).
#   Writes "deep_ebm_defaults".
# RECIPE=old: the first measurement (2026-12-01), the then defaults (SGLD step 1, noise 0.01) with negatives
#   from the replay buffer and short-run, STEPS (20) steps, ITERS (1000) updates each; samples with STEPS and
#   3 x STEPS steps.  Writes "deep_ebm_old".
# Other experiments' objects in docs/results.json are kept.
# usage: scripts/deep_ebm_report.sh [EBM] [OUT]
# Variables: RECIPE, ITERS, STEPS, BATCH (64; defaults: 128), CURVE, EMA (prox: 0 = off), RESULTS (docs/results.json).
set -eu
ebm=${1:-build/ebm}
out=${2:-out/deep_ebm_report}
: "${RECIPE:=prox}" "${RESULTS:=docs/results.json}" "${EMA:=0}"
case $RECIPE in
prox) : "${ITERS:=5000}" "${STEPS:=40}" "${CURVE:=500}" "${BATCH:=64}" ;;
old) : "${ITERS:=1000}" "${STEPS:=20}" "${BATCH:=64}" ;;
defaults) : "${ITERS:=1000}" "${STEPS:=40}" "${BATCH:=128}" ;;
*) echo "RECIPE must be prox, defaults or old" >&2; exit 2 ;;
esac
mkdir -p "$out"
rm -f "$out/fd.txt"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
# fd SAMPLES [EVAL OPTIONS]: the FD-FMNIST of SAMPLES (against the test images unless the options say else)
fd() {
    f=$1
    shift
    "$ebm" --quiet eval --samples "$f" --json "$@" | sed 's/.*"fd": \([0-9.e+-]*\).*/\1/'
}
# sample MODEL STEPS NAME: 1,000 samples from noise (seed 5), NPY and PNG; prints the FD
sample() {
    "$ebm" --quiet sample "$1" --n 1000 --steps "$2" --seed 5 --npy "$out/$3.npy" --png "$out/$3.png"
    fd "$out/$3.npy"
}
t0=$(date +%s)
figs=""
if [ "$RECIPE" = old ]; then
    for neg in buffer short-run; do
        name=$(echo "$neg" | tr - _)
        ts=$(date +%s)
        # the defaults of the time, written out: images now default to short-run proximal SGLD
        "$ebm" train ebm --data fashion-mnist --negatives "$neg" --sampler sgld --step-size 1 --noise 0.01 --prox 0 \
            --data-noise 0 --clip-lo 0 --clip-hi 0 --steps "$STEPS" --batch "$BATCH" --iters "$ITERS" --seed 1 --every 100 --out "$out/$name.safetensors" --log "$out/$name.csv" --samples "$out/${name}_negatives.png"
        te=$(date +%s)
        for k in "$STEPS" $((3 * STEPS)); do
            f=$(sample "$out/$name.safetensors" "$k" "${name}_k$k")
            echo "$neg, $k steps from noise: FD-FMNIST $f" | tee -a "$out/fd.txt"
            figs="$figs${figs:+, }\"fd_${name}_k$k\": $f"
        done
        figs="$figs, \"train_seconds_$name\": $((te - ts))"
    done
    key=deep_ebm_old
    extra='"net": "the default CNN of train ebm", "sampler": "sgld, step 1, noise 0.01 (the defaults before 2026-12-02)"'
elif [ "$RECIPE" = defaults ]; then
    ts=$(date +%s)
    "$ebm" train ebm --data fashion-mnist --seed 1 --iters "$ITERS" --batch "$BATCH" --out "$out/defaults.safetensors" \
        --log "$out/defaults.csv" --samples "$out/defaults_negatives.png"
    te=$(date +%s)
    f=$(sample "$out/defaults.safetensors" "$STEPS" "defaults_k$STEPS")
    echo "defaults, $ITERS updates of $BATCH, $STEPS steps from noise: FD-FMNIST $f" | tee -a "$out/fd.txt"
    figs="\"fd_uncond\": $f, \"train_seconds\": $((te - ts))"
    key=deep_ebm_defaults
    extra='"net": "the default CNN of train ebm", "options": "--data fashion-mnist --seed 1 (everything else the defaults)"'
else
    name=prox
    rm -f "$out/$name.partial.safetensors"
    ts=$(date +%s)
    "$ebm" train ebm --data fashion-mnist --negatives short-run --step-size 10 --prox 0.3 --noise 0.005 \
        --data-noise 0.005 --clip-lo -1 --clip-hi 1 --steps "$STEPS" --batch "$BATCH" --iters "$ITERS" --seed 1 \
        --ema "$EMA" --every 100 --checkpoint "$CURVE" --out "$out/$name.safetensors" --log "$out/$name.csv" \
        --samples "$out/${name}_negatives.png" &
    pid=$!
    # the partial model of every CURVE updates (written atomically, so a copy is whole), kept as NAME_atN
    last="" n=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 2
        [ -f "$out/$name.partial.safetensors" ] || continue
        m=$(stat -c %Y "$out/$name.partial.safetensors")
        [ "$m" = "$last" ] && continue
        last=$m n=$((n + CURVE))
        cp "$out/$name.partial.safetensors" "$out/${name}_at$n.safetensors"
    done
    wait "$pid"
    te=$(date +%s)
    cp "$out/$name.safetensors" "$out/${name}_at$ITERS.safetensors"
    # every snapshot: test FD (seed 5) and FD against 10,000 training images (seed 9); the snapshot chosen
    # is the one with the lowest training-image FD, so the test images play no part in the choice
    curve="" best="" bestft="" final=""
    for it in $(seq "$CURVE" "$CURVE" "$ITERS"); do
        f="$out/${name}_at$it.safetensors"
        [ -f "$f" ] || continue
        v=$(sample "$f" "$STEPS" "${name}_at${it}_k$STEPS")
        "$ebm" --quiet sample "$f" --n 1000 --steps "$STEPS" --seed 9 --npy "$out/sel.npy"
        ft=$(fd "$out/sel.npy" --data fashion-mnist:train --limit 10000 --floor-data none)
        echo "after $it updates, $STEPS steps from noise: FD-FMNIST $v (training images, seed 9: $ft)" | tee -a "$out/fd.txt"
        curve="$curve${curve:+, }[$it, $v, $ft]"
        [ "$it" = "$ITERS" ] && final=$v
        if [ -z "$bestft" ] || [ "$(echo "$ft < $bestft" | bc)" = 1 ]; then best=$it bestft=$ft bestfd=$v; fi
    done
    echo "chosen on training images: after $best updates, FD-FMNIST $bestfd" | tee -a "$out/fd.txt"
    for k in $((STEPS + STEPS / 2)) $((2 * STEPS)); do
        f=$(sample "$out/$name.safetensors" "$k" "${name}_k$k")
        echo "after $ITERS updates, $k steps from noise: FD-FMNIST $f" | tee -a "$out/fd.txt"
        figs="$figs${figs:+, }\"fd_k$k\": $f"
    done
    figs="$figs, \"fd_k$STEPS\": $final, \"fd_uncond\": $final, \"fd_selected\": $bestfd, \"selected_iters\": $best"
    figs="$figs, \"fd_curve\": [$curve], \"fd_curve_columns\": [\"updates\", \"fd_test\", \"fd_train_seed9\"]"
    figs="$figs, \"train_seconds\": $((te - ts))"
    key=deep_ebm
    extra='"net": "the default CNN of train ebm", "negatives": "short-run", "sampler": "sgld, step 10, prox 0.3, noise 0.005, clip [-1, 1]", "data_noise": 0.005'
    if [ "$EMA" != 0 ]; then key=deep_ebm_ema extra="$extra, \"ema\": $EMA"; fi
fi
t1=$(date +%s)
/usr/bin/python3 - "$RESULTS" "$commit" $((t1 - t0)) "$key" <<PY
import json, os, sys
path, commit, wall, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
r = json.load(open(path)) if os.path.exists(path) else {}
e = {$figs}
if "fd_uncond" not in e:
    e["fd_uncond"] = min(v for k, v in e.items() if k.startswith("fd_"))
e.update({$extra})
e.update({"iters": int("$ITERS"), "steps": int("$STEPS"), "batch": int("$BATCH"), "seed": 1, "sample_seed": 5,
          "commit": commit, "wall_seconds": wall, "load_avg_end": os.getloadavg()[0],
          "script": "scripts/deep_ebm_report.sh", "recipe": "$RECIPE"})
r[key] = e
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
print(json.dumps(e, indent=1))
PY
