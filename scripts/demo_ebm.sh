#!/bin/sh
# The energy-network demo: an MLP energy on the 2-D toy density 8gaussians (density picture with data and
# samples), then a small CNN energy on Fashion-MNIST ([-1, 1] pixels) trained by Langevin contrastive
# divergence with a replay buffer, sampled from noise, used to inpaint the bottom half of test images and to
# denoise them.  About 6 minutes on 2 cores.  usage: scripts/demo_ebm.sh [PATH/TO/ebm [OUT-DIR]]
# (pictures go to OUT-DIR/ebm; EBM_DEMO_ITERS sets the CNN's iterations, default 1500)
set -eu
EBM=${1:-build/ebm}
OUT=${2:-out}/ebm
ITERS=${EBM_DEMO_ITERS:-1500}
mkdir -p "$OUT"
"$EBM" train ebm --data toy:8gaussians --net linear:64,silu,linear:64,silu,linear:1 --sampler ula --step-size 0.05 \
    --steps 20 --iters 3000 --lr 3e-3 --every 500 --out "$OUT/toy.safetensors" --samples "$OUT/toy_negatives.png"
"$EBM" landscape "$OUT/toy.safetensors" --png "$OUT/toy_density.png" --samples 1000
"$EBM" train ebm --data fashion-mnist --net conv:16:3:1,silu,pool:2,conv:32:3:1,silu,pool:2,flatten,linear:64,silu,linear:1 \
    --batch 64 --iters "$ITERS" --lr 3e-4 --steps 20 --step-size 1 --noise 0.01 --clip-lo -1 --clip-hi 1 --alpha 0.1 \
    --every 100 --checkpoint 500 --out "$OUT/fmnist_cnn.safetensors" --log "$OUT/fmnist_cnn.csv" \
    --samples "$OUT/fmnist_buffer.png"
"$EBM" sample "$OUT/fmnist_cnn.safetensors" --n 64 --png "$OUT/fmnist_samples.png"
"$EBM" inpaint "$OUT/fmnist_cnn.safetensors" --data fashion-mnist:test --mask bottom --n 10 --steps 200 \
    --png "$OUT/fmnist_inpaint.png" | tee "$OUT/fmnist_inpaint.txt"
"$EBM" denoise "$OUT/fmnist_cnn.safetensors" --data fashion-mnist:test --sigma 0.3 --n 10 \
    --png "$OUT/fmnist_denoise.png" | tee "$OUT/fmnist_denoise.txt"
echo
echo "energy-network demo done:"
echo "  toy density with data and samples:       $OUT/toy_density.png"
echo "  replay-buffer negatives after training:  $OUT/fmnist_buffer.png"
echo "  samples from noise:                      $OUT/fmnist_samples.png"
echo "  inpainting (originals, masked, filled):  $OUT/fmnist_inpaint.png"
echo "  denoising (clean, noisy, denoised):      $OUT/fmnist_denoise.png"
