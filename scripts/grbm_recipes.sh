#!/bin/sh
# GRBM training recipes compared without the test set (issue 16; docs/results.md): trains the GRBM of
# scripts/grbm_report.sh (1,024 hidden, CD-10 from noise with Gibbs-Langevin negatives, all 60,000 images,
# seed 1) under each recipe of RECIPES (the epochs and the learning rate, or any other `train grbm` options),
# draws 1,000 samples from N(0, I) noise with Gibbs (10 steps) and Gibbs-Langevin + MH (10 + 50 steps, eta
# 0.1: the fixed protocol of grbm_report.sh) with seed 9, and scores them by FD against 10,000 *training*
# images.  The recipe whose Gibbs-Langevin + MH samples score best there is then measured once on the test
# images with the report's sampling seed (8); with TEST_ALL=1 every recipe is (about 40 s each).  Writes
# "grbm_recipes" (or KEY) into docs/results.json (other experiments' objects are kept).  About 5-10 minutes per recipe on 2 quiet cores with the SkylakeX kernels
# (the Metropolis-adjusted one 25 minutes on busy cores); 36 minutes for the default five, measured beside
# other work.
# REUSE=1 keeps a model already in OUT (training is bit-reproducible).
# usage: scripts/grbm_recipes.sh [EBM] [OUT]
# Variables: RECIPES (space-separated NAME:OPTIONS with commas for spaces), GRBM_HIDDEN (1024), RESULTS, REUSE,
# TEST_ALL, KEY.
set -eu
ebm=${1:-build/ebm}
out=${2:-out/grbm_recipes}
# The default recipes: the 30-epoch one of grbm_report.sh with every chain state averaged (--burn-in 0, the
# paper's code and train grbm's default until 2026-12-02), shorter or slower ones, the later half of each
# chain averaged (--burn-in 5, now the default), and Metropolis-adjusted negatives.
: "${RECIPES:=e30_lr0.05:--epochs,30,--lr,0.05,--burn-in,0 e15_lr0.05:--epochs,15,--lr,0.05,--burn-in,0 e20_lr0.03:--epochs,20,--lr,0.03,--burn-in,0 e30_burnin5:--epochs,30,--lr,0.05,--burn-in,5 e30_mh:--epochs,30,--lr,0.05,--burn-in,0,--mh}"
: "${GRBM_HIDDEN:=1024}" "${RESULTS:=docs/results.json}" "${REUSE:=0}" "${TEST_ALL:=0}" "${KEY:=grbm_recipes}"
mkdir -p "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
gibbs="--sampler gibbs --steps 10"
mh="--sampler gibbs-langevin --mh --mh-after 10 --eta 0.1 --steps 60"
# fd MODEL SAMPLER-OPTIONS SEED DATA: the FD of 1,000 samples against DATA
fd() {
    # shellcheck disable=SC2086 # $2 is a list of options
    "$ebm" --quiet sample "$1" $2 --n 1000 --seed "$3" --npy "$out/sel.npy" >/dev/null
    "$ebm" --quiet eval --samples "$out/sel.npy" --data "$4" --limit 10000 --floor-data none --json |
        sed 's/.*"fd": \([0-9.e+-]*\).*/\1/'
}
t0=$(date +%s)
: >"$out/recipes.txt"
for r in $RECIPES; do
    name=${r%%:*}
    opts=$(echo "${r#*:}" | tr ',' ' ')
    m="$out/grbm_$name.safetensors"
    if [ "$REUSE" != 1 ] || [ ! -s "$m" ]; then
        # shellcheck disable=SC2086 # $opts is a list of options
        "$ebm" --quiet train grbm --data fashion-mnist --hidden "$GRBM_HIDDEN" --cd 10 --sampler gibbs-langevin \
            --langevin-steps 10 --eta 0.5 --batch 100 --grad-clip 10 --seed 1 $opts --out "$m" \
            --log "$out/grbm_$name.csv"
    fi
    secs=$(tail -n 1 "$out/grbm_$name.csv" | cut -d, -f3) # the training's own total_seconds
    fg=$(fd "$m" "$gibbs" 9 fashion-mnist:train)
    fm=$(fd "$m" "$mh" 9 fashion-mnist:train)
    tg="" tm=""
    if [ "$TEST_ALL" = 1 ]; then
        tg=$(fd "$m" "$gibbs" 8 fashion-mnist:test)
        tm=$(fd "$m" "$mh" 8 fashion-mnist:test)
    fi
    echo "$name|$opts|$fg|$fm|$secs|$tg|$tm" | tee -a "$out/recipes.txt"
done
best=$(sort -t'|' -k4 -g "$out/recipes.txt" | head -n 1)
bname=$(echo "$best" | cut -d'|' -f1)
tg=$(fd "$out/grbm_$bname.safetensors" "$gibbs" 8 fashion-mnist:test)
tm=$(fd "$out/grbm_$bname.safetensors" "$mh" 8 fashion-mnist:test)
echo "chosen on training images: $bname; test FD-FMNIST: Gibbs $tg, Gibbs-Langevin + MH $tm" | tee -a "$out/recipes.txt"
t3=$(date +%s)
/usr/bin/python3 - "$RESULTS" "$commit" $((t3 - t0)) "$out/recipes.txt" "$bname" "$tg" "$tm" "$GRBM_HIDDEN" "$KEY" <<'PY'
import json, os, sys
path, commit, wall, table, bname, tg, tm, hidden, key = sys.argv[1:10]
r = json.load(open(path)) if os.path.exists(path) else {}
rec = {}
for line in open(table):
    f = line.rstrip("\n").split("|")
    if len(f) == 7:
        rec[f[0]] = {"options": f[1], "train_fd_gibbs": float(f[2]), "train_fd_gibbs_langevin_mh": float(f[3]),
                     "train_seconds": float(f[4])}
        if f[5]:
            rec[f[0]].update({"test_fd_gibbs": float(f[5]), "test_fd_gibbs_langevin_mh": float(f[6])})
e = {"recipes": rec, "chosen": bname, "fd_gibbs": float(tg), "fd_gibbs_langevin_mh": float(tm),
     "ratio_gibbs_to_gibbs_langevin_mh": float(tg) / float(tm), "hidden": int(hidden), "seed": 1,
     "sample_seed_select": 9, "sample_seed_test": 8, "commit": commit, "wall_seconds": int(wall),
     "script": "scripts/grbm_recipes.sh"}
r[key] = e
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
print(json.dumps(e, indent=1))
PY
