#!/bin/sh
# The GRBM samplers on Fashion-MNIST (issue 16; docs/results.md, docs/grbm.md): trains a Gaussian-Bernoulli RBM
# by CD-10 from noise with Gibbs-Langevin negatives (scripts/demo_grbm.sh, larger than `make demo-grbm`), draws
# 1,000 samples from N(0, I) noise with each of the four samplers, and measures their FD-FMNIST
# (`ebm eval --samples`, docs/jem.md) and kernel MMD^2; writes the figures into docs/results.json under "grbm"
# (other experiments' objects are kept).  Fixed seeds.
# usage: scripts/grbm_report.sh [EBM] [OUT]
# Variables: GRBM_HIDDEN (1024), GRBM_EPOCHS (30), GRBM_LIMIT (0 = all 60,000 rows), RESULTS (docs/results.json).
set -eu
ebm=${1:-build/ebm}
out=${2:-out/grbm_report}
: "${GRBM_HIDDEN:=1024}" "${GRBM_EPOCHS:=30}" "${GRBM_LIMIT:=0}" "${RESULTS:=docs/results.json}"
export GRBM_HIDDEN GRBM_EPOCHS GRBM_LIMIT
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
t1=$(date +%s)
/usr/bin/python3 - "$RESULTS" "$commit" $((t1 - t0)) "$out/grbm_mmd.txt" <<PY
import json, os, re, sys
path, commit, wall, mmdfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
r = json.load(open(path)) if os.path.exists(path) else {}
e = {$fds}
for line in open(mmdfile):
    m = re.match(r"(\w+): .*?mmd2?[^0-9-]*([0-9.e+-]+)", line, re.I)
    if m: e["mmd2_" + m.group(1)] = float(m.group(2))
e["ratio_gibbs_to_best_gl"] = e["fd_gibbs"] / min(e["fd_gibbs_langevin"], e["fd_gibbs_langevin_mh"])
e.update({"hidden": int("$GRBM_HIDDEN"), "epochs": int("$GRBM_EPOCHS"), "limit": int("$GRBM_LIMIT"), "seed": 1,
          "sample_seed": 8, "commit": commit, "wall_seconds": wall, "script": "scripts/grbm_report.sh"})
r["grbm"] = e
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
print(json.dumps(e, indent=1))
PY
