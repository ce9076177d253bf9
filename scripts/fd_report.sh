#!/bin/sh
# FD-FMNIST (docs/jem.md) of 1,000 samples from each model that exists under OUT: the demo RBM
# (make demo), the GRBM's four samplers (make demo-grbm), the CNN energy (make demo-ebm) and the JEM and
# classifier of scripts/jem_report.sh (from noise, and class-conditional with the classifier's accuracy on
# the intended classes).  Missing models are skipped with a message.
# usage: scripts/fd_report.sh [EBM] [OUT]
set -eu
ebm=${1:-build/ebm}
out=${2:-out}
mkdir -p "$out/fd"
res="$out/fd/fd.txt"
: >"$res"
fd() { # fd NAME SAMPLES [LABELS]
    if [ -n "${3:-}" ]; then lab="--labels $3"; else lab=""; fi
    # shellcheck disable=SC2086
    "$ebm" --quiet eval --samples "$2" $lab --json | sed "s/^/$1: /" | tee -a "$res"
}
if [ -s "$out/rbm.safetensors" ]; then
    "$ebm" --quiet sample "$out/rbm.safetensors" --n 1000 --steps 1000 --seed 5 --npy "$out/fd/rbm.npy"
    fd rbm_gibbs1000 "$out/fd/rbm.npy"
else echo "fd_report: no $out/rbm.safetensors (make demo); skipped" >&2; fi
for s in gibbs langevin gibbs_langevin gibbs_langevin_mh; do
    if [ -s "$out/grbm_$s.npy" ]; then fd "grbm_$s" "$out/grbm_$s.npy"
    else echo "fd_report: no $out/grbm_$s.npy (make demo-grbm); skipped" >&2; fi
done
if [ -s "$out/ebm/fmnist_cnn.safetensors" ]; then
    "$ebm" --quiet sample "$out/ebm/fmnist_cnn.safetensors" --n 1000 --steps 60 --seed 5 --npy "$out/fd/cnn.npy"
    fd cnn_sgld60 "$out/fd/cnn.npy"
else echo "fd_report: no $out/ebm/fmnist_cnn.safetensors (make demo-ebm); skipped" >&2; fi
for m in jem clf; do
    f="$out/jem/$m.safetensors"
    if [ -s "$f" ]; then
        "$ebm" --quiet sample "$f" --n 1000 --steps 100 --seed 5 --npy "$out/fd/$m.npy"
        fd "${m}_sgld100" "$out/fd/$m.npy"
        "$ebm" --quiet sample "$f" --class all --n 1000 --steps 100 --seed 6 --npy "$out/fd/${m}_cls.npy" \
            --labels "$out/fd/${m}_cls_y.npy" --png "$out/fd/${m}_cls.png"
        fd "${m}_class_sgld100" "$out/fd/${m}_cls.npy" "$out/fd/${m}_cls_y.npy"
    else echo "fd_report: no $f (scripts/jem_report.sh); skipped" >&2; fi
done
echo "results: $res"
