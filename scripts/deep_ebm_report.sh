#!/bin/sh
# A deep energy without labels on Fashion-MNIST (issue 16; docs/results.md): the default CNN energy of
# `ebm train ebm` trained by Langevin contrastive divergence twice with the same budget, negatives from the
# replay buffer (the default) and short-run (negatives from uniform noise at every update, Nijkamp et al. 2019,
# so that sampling from noise is what was trained); then 1,000 samples from uniform noise with the training's
# sampler and step count (and 3x as many steps), scored by FD-FMNIST (`ebm eval --samples`, docs/jem.md).
# Writes docs/results.json "deep_ebm" (other experiments' objects are kept).  Fixed seeds.
# usage: scripts/deep_ebm_report.sh [EBM] [OUT]
# Variables: ITERS (1000), STEPS (20), BATCH (64), RESULTS (docs/results.json).
set -eu
ebm=${1:-build/ebm}
out=${2:-out/deep_ebm_report}
: "${ITERS:=1000}" "${STEPS:=20}" "${BATCH:=64}" "${RESULTS:=docs/results.json}"
mkdir -p "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
fd() { "$ebm" --quiet eval --samples "$1" --json | sed 's/.*"fd": \([0-9.e+-]*\).*/\1/'; }
t0=$(date +%s)
figs=""
for neg in buffer short-run; do
    name=$(echo "$neg" | tr - _)
    ts=$(date +%s)
    "$ebm" train ebm --data fashion-mnist --negatives "$neg" --steps "$STEPS" --batch "$BATCH" --iters "$ITERS" \
        --seed 1 --every 100 --out "$out/$name.safetensors" --log "$out/$name.csv" --samples "$out/${name}_negatives.png"
    te=$(date +%s)
    for k in "$STEPS" $((3 * STEPS)); do
        "$ebm" --quiet sample "$out/$name.safetensors" --n 1000 --steps "$k" --seed 5 --npy "$out/${name}_k$k.npy" \
            --png "$out/${name}_k$k.png"
        f=$(fd "$out/${name}_k$k.npy")
        echo "$neg, $k steps from noise: FD-FMNIST $f" | tee -a "$out/fd.txt"
        figs="$figs${figs:+, }\"fd_${name}_k$k\": $f"
    done
    figs="$figs, \"train_seconds_$name\": $((te - ts))"
done
t1=$(date +%s)
/usr/bin/python3 - "$RESULTS" "$commit" $((t1 - t0)) <<PY
import json, os, sys
path, commit, wall = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(path)) if os.path.exists(path) else {}
e = {$figs}
e["fd_uncond"] = min(v for k, v in e.items() if k.startswith("fd_"))
e.update({"iters": int("$ITERS"), "steps": int("$STEPS"), "batch": int("$BATCH"), "seed": 1, "sample_seed": 5,
          "net": "the default CNN of train ebm", "commit": commit, "wall_seconds": wall,
          "load_avg_end": os.getloadavg()[0], "script": "scripts/deep_ebm_report.sh"})
r["deep_ebm"] = e
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
print(json.dumps(e, indent=1))
PY
