#!/bin/sh
# The GRBM samplers on Fashion-MNIST (issue 16; docs/results.md, docs/grbm.md): trains a Gaussian-Bernoulli RBM
# by CD-10 from noise with Gibbs-Langevin negatives (scripts/demo_grbm.sh, larger than `make demo-grbm`), draws
# 1,000 samples from N(0, I) noise with each of the four samplers, and measures their FD-FMNIST
# (`ebm eval --samples`, docs/jem.md) and kernel MMD^2 at fixed settings (the demo's); then chooses each
# sampler's settings from a small grid by the FD of 1,000 samples (seed 9) against 10,000 *training* images and
# measures the chosen ones on the test images (seed 8), so that no sampler is judged at a step count that
# suits another; writes the figures into docs/results.json under "grbm" (other experiments' objects are
# kept).  Fixed seeds.  GRBM_SKIP_TRAIN=1 reuses OUT/grbm.safetensors (training is bit-reproducible).
# usage: scripts/grbm_report.sh [EBM] [OUT]
# Variables: GRBM_HIDDEN (1024), GRBM_EPOCHS (30), GRBM_LIMIT (0 = all 60,000 rows), GRBM_TRAIN_OPTS (more
# `train grbm` options, e.g. "--burn-in 5"), RESULTS (docs/results.json), KEY (the results.json object: grbm).
set -eu
ebm=${1:-build/ebm}
out=${2:-out/grbm_report}
: "${GRBM_HIDDEN:=1024}" "${GRBM_EPOCHS:=30}" "${GRBM_LIMIT:=0}" "${RESULTS:=docs/results.json}" "${KEY:=grbm}"
: "${GRBM_TRAIN_OPTS:=}"
export GRBM_HIDDEN GRBM_EPOCHS GRBM_LIMIT GRBM_TRAIN_OPTS
mkdir -p "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
t0=$(date +%s)
scripts/demo_grbm.sh "$ebm" "$out"
fds=""
for s in gibbs langevin gibbs_langevin gibbs_langevin_mh; do
    fd=$("$ebm" --quiet eval --samples "$out/grbm_$s.npy" --json | sed 's/.*"fd": \([0-9.e+-]*\).*/\1/')
    echo "$s: FD-FMNIST $fd" | tee -a "$out/grbm_fd.txt"
    fds="$fds${fds:+, }\"fd_$s\": $fd"
done
# the settings chosen on training images: "sampler|options" candidates, the FD of each against the training set
train_fd() {
    # shellcheck disable=SC2086
    "$ebm" --quiet sample "$out/grbm.safetensors" $1 --n 1000 --seed 9 --npy "$out/sel.npy" >/dev/null
    "$ebm" --quiet eval --samples "$out/sel.npy" --data fashion-mnist:train --limit 10000 --floor-data none --json |
        sed 's/.*"fd": \([0-9.e+-]*\).*/\1/'
}
cands=""
for k in 2 3 4 5 6 8 10; do cands="$cands gibbs|--sampler=gibbs,--steps=$k gibbs_langevin|--sampler=gibbs-langevin,--steps=$k"; done
for k in 10 25 50 100 200; do cands="$cands langevin|--sampler=langevin,--steps=$k"; done
for u in 4 10; do for e in 0.05 0.07 0.1; do for a in 10 50; do
    cands="$cands gibbs_langevin_mh|--sampler=gibbs-langevin,--mh,--mh-after=$u,--eta=$e,--steps=$((u + a))"
done; done; done
: >"$out/grbm_select.txt"
for c in $cands; do
    s=${c%%|*}; o=$(echo "${c#*|}" | tr ',=' '  ')
    echo "$s|$o|$(train_fd "$o")" | tee -a "$out/grbm_select.txt"
done
sel=""
for s in gibbs langevin gibbs_langevin gibbs_langevin_mh; do
    best=$(grep "^$s|" "$out/grbm_select.txt" | sort -t'|' -k3 -g | head -n 1)
    o=$(echo "$best" | cut -d'|' -f2); ft=$(echo "$best" | cut -d'|' -f3)
    # shellcheck disable=SC2086
    "$ebm" --quiet sample "$out/grbm.safetensors" $o --n 1000 --seed 8 --npy "$out/grbm_sel_$s.npy" >/dev/null
    fd=$("$ebm" --quiet eval --samples "$out/grbm_sel_$s.npy" --json | sed 's/.*"fd": \([0-9.e+-]*\).*/\1/')
    echo "$s, chosen on training images ($o; train FD $ft): test FD-FMNIST $fd" | tee -a "$out/grbm_fd.txt"
    sel="$sel${sel:+, }\"fd_selected_$s\": $fd, \"fd_train_selected_$s\": $ft, \"selected_$s\": \"$o\""
done
t1=$(date +%s)
/usr/bin/python3 - "$RESULTS" "$commit" $((t1 - t0)) "$out/grbm_mmd.txt" <<PY
import json, os, re, sys
path, commit, wall, mmdfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
r = json.load(open(path)) if os.path.exists(path) else {}
e = {$fds, $sel}
for line in open(mmdfile):
    m = re.match(r"(\w+): .*?mmd2?[^0-9-]*([0-9.e+-]+)", line, re.I)
    if m: e["mmd2_" + m.group(1)] = float(m.group(2))
e["ratio_gibbs_to_best_gl"] = e["fd_gibbs"] / min(e["fd_gibbs_langevin"], e["fd_gibbs_langevin_mh"])
e["ratio_gibbs_to_best_gl_selected"] = e["fd_selected_gibbs"] / min(e["fd_selected_gibbs_langevin"],
                                                                    e["fd_selected_gibbs_langevin_mh"])
e.update({"hidden": int("$GRBM_HIDDEN"), "epochs": int("$GRBM_EPOCHS"), "limit": int("$GRBM_LIMIT"),
          "train_options": "$GRBM_TRAIN_OPTS", "seed": 1,
          "sample_seed": 8, "commit": commit, "wall_seconds": wall, "script": "scripts/grbm_report.sh"})
r["$KEY"] = e
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
print(json.dumps(e, indent=1))
PY
