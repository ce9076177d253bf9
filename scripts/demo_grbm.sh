#!/bin/sh
# Gaussian-Bernoulli RBM demo (Liao et al. 2022): trains a GRBM on continuous Fashion-MNIST pixels by CD-10
# from noise with Gibbs-Langevin negative chains, then samples from pure N(0, I) noise with the four
# samplers and reports, for each, the kernel MMD^2 between 1,000 samples and the first 1,000 test images
# (Gaussian kernel, bandwidth 11.44 in pixel units = the median pairwise distance of those test images,
# fixed so the four figures are comparable).  About 2 minutes on 2 idle cores.
# usage: scripts/demo_grbm.sh [EBM] [OUT]   (GRBM_EPOCHS, GRBM_LIMIT, GRBM_HIDDEN: the training run's size;
#        GRBM_TRAIN_OPTS: more `train grbm` options, e.g. "--burn-in 5")
set -eu
EBM=${1:-build/ebm}
OUT=${2:-out}
EPOCHS=${GRBM_EPOCHS:-8}
LIMIT=${GRBM_LIMIT:-20000}
HIDDEN=${GRBM_HIDDEN:-256}
BW=11.44
mkdir -p "$OUT"
start=$(date +%s)
# GRBM_SKIP_TRAIN=1 reuses an existing $OUT/grbm.safetensors (to redo only the sampling)
# shellcheck disable=SC2086 # GRBM_TRAIN_OPTS is a list of options
[ "${GRBM_SKIP_TRAIN:-0}" = 1 ] && [ -s "$OUT/grbm.safetensors" ] ||
"$EBM" train grbm --data fashion-mnist --limit "$LIMIT" --hidden "$HIDDEN" --cd 10 --sampler gibbs-langevin \
    --langevin-steps 10 --eta 0.5 --epochs "$EPOCHS" --batch 100 --lr 0.05 --grad-clip 10 --seed 1 \
    ${GRBM_TRAIN_OPTS:-} --out "$OUT/grbm.safetensors" --log "$OUT/grbm_train.csv"
trained=$(date +%s)
: >"$OUT/grbm_mmd.txt"
# name | sampler options | steps: Gibbs and Gibbs-Langevin take the 10 steps the model was trained with;
# Langevin gets 100 steps, as many gradient evaluations as Gibbs-Langevin's 10 x 10 inner steps;
# Gibbs-Langevin + MH runs 10 unadjusted steps from noise (the paper's adjust_step: from pure noise almost
# every Metropolis test fails) and then 50 Metropolis-adjusted steps with a smaller step (eta 0.1)
for spec in "gibbs|--sampler gibbs|10" "langevin|--sampler langevin|100" \
            "gibbs_langevin|--sampler gibbs-langevin|10" "gibbs_langevin_mh|--sampler gibbs-langevin --mh --mh-after 10 --eta 0.1|60"; do
    name=${spec%%|*}; rest=${spec#*|}; opts=${rest%%|*}; steps=${rest#*|}
    # shellcheck disable=SC2086
    "$EBM" sample "$OUT/grbm.safetensors" $opts --steps "$steps" --n 100 --seed 7 --png "$OUT/grbm_$name.png"
    # shellcheck disable=SC2086
    "$EBM" --quiet sample "$OUT/grbm.safetensors" $opts --steps "$steps" --n 1000 --seed 8 \
        --npy "$OUT/grbm_$name.npy" --mmd-data fashion-mnist:test --mmd-n 1000 --bandwidth "$BW" |
        sed "s/^/$name: /" | tee -a "$OUT/grbm_mmd.txt"
done
end=$(date +%s)
echo
echo "GRBM demo: training $((trained - start)) s, sampling $((end - trained)) s"
echo "  samples from noise: $OUT/grbm_gibbs.png $OUT/grbm_langevin.png $OUT/grbm_gibbs_langevin.png $OUT/grbm_gibbs_langevin_mh.png"
echo "  MMD^2 (1,000 samples vs 1,000 test images, Gaussian kernel, bandwidth $BW): $OUT/grbm_mmd.txt"
