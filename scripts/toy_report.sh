#!/bin/sh
# The six 2-D toy densities with `ebm train ebm`'s defaults (no option beyond --data): for each, the model is
# trained, 1,000 samples are drawn from noise with the model's own sampling defaults, and two figures are
# measured against 3,000 fresh data points (seed 7): the fraction of samples within 0.2 of a data point
# ("near") and the fraction of 500 data points within 0.2 of a sample ("covered").  Landscapes (density,
# data in white, samples in cyan) go to OUT/toy_NAME.png; the figures, seed, commit and wall seconds to
# docs/results.json under "toys" (with --json).  About 3 minutes on 2 quiet cores.
# usage: scripts/toy_report.sh [EBM] [OUT] [--json]
set -eu
ebm=${1:-build/ebm}
out=${2:-out/toys}
json=${3:-}
py=/usr/bin/python3
mkdir -p "$out"
t0=$(date +%s)
for toy in 8gaussians rings checkerboard moons swissroll pinwheel; do
    "$ebm" --quiet train ebm --data toy:$toy --out "$out/$toy.safetensors"
    "$ebm" --quiet sample "$out/$toy.safetensors" --n 1000 --csv "$out/$toy.csv"
    "$ebm" --quiet landscape "$out/$toy.safetensors" --png "$out/toy_$toy.png" --samples 1000
done
PYTHONPATH=python $py - "$out" "$(( $(date +%s) - t0 ))" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$json" <<'PY'
import json, sys, numpy as np, ebm
out, wall, commit, write = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "--json"
res = {"seed": 1, "data_seed": 7, "commit": commit, "wall_seconds": wall}
print("%-13s %6s %8s" % ("toy", "near", "covered"))
for toy in ebm.toy_names():
    d, _ = ebm.toy(toy, n=3000, seed=7)
    s = np.loadtxt("%s/%s.csv" % (out, toy), delimiter=",", ndmin=2)
    dist = lambda a, b: np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min(1)
    near, cov = float((dist(s, d) < 0.2).mean()), float((dist(d[:500], s) < 0.2).mean())
    res[toy] = {"near": round(near, 3), "covered": round(cov, 3)}
    print("%-13s %6.2f %8.2f" % (toy, near, cov))
print("wall %d s" % wall)
if write:
    try:
        with open("docs/results.json") as f:
            allr = json.load(f)
    except FileNotFoundError:
        allr = {}
    allr["toys"] = res
    with open("docs/results.json", "w") as f:
        json.dump(allr, f, indent=1, sort_keys=True)
        f.write("\n")
PY
