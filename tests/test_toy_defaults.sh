#!/bin/sh
# `ebm train ebm` with no options beyond --data (and --out) learns the toy densities: samples drawn from uniform
# noise with the model's own sampling defaults show the density.  Usage: test_toy_defaults.sh EBM
#  - 8gaussians (modes of sd 0.35 on a circle of radius 2.83): at least 58% of 1,000 samples within 1.0 of the
#    circle and 11.25 degrees of a mode's angle, at least 1.5 times as many there as in the gaps between the
#    modes, and every mode at least 4% (measured 62% and 1.75; the data 88% and 7.6; the flat ring that the
#    image defaults learn 53% and 1.13, uniform noise about 28% and 1.0).
#  - rings (four rings of radius 0.75, 1.5, 2.25, 3 and sd 0.08): at least 45% of 1,000 samples within 0.16
#    (2 sd) of a ring, every ring at least 5% (measured 60%, the data 96%; before the chains were clipped to the
#    data's box the samples drifted out of it: 2%, and with the old step 0.05 inside the box 22%).
set -eu
EBM=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
for toy in 8gaussians rings; do
    "$EBM" --quiet train ebm --data toy:$toy --out "$T/$toy.safetensors"
    "$EBM" --quiet sample "$T/$toy.safetensors" --n 1000 --csv "$T/$toy.csv"
done
awk -F, 'BEGIN { c = 4 / sqrt(2); pi = 3.14159265358979 }
    { r = sqrt($1 * $1 + $2 * $2); a = atan2($2, $1) * 180 / pi; if (a < 0) a += 360
      k = int(a / 45 + 0.5) % 8; off = a - 45 * k; if (off > 180) off -= 360; if (off < 0) off = -off
      n++; if (r > c - 1 && r < c + 1) { if (off < 11.25) { near++; cnt[k]++ } else gap++ } }
    END { printf "8gaussians: %d of %d samples in a mode sector of the circle, %d in the gaps; per mode:", near, n, gap
          ok = near >= 0.58 * n && near >= 1.5 * gap
          for (k = 0; k < 8; k++) { printf " %d", cnt[k]; if (cnt[k] < 0.04 * n) ok = 0 }
          printf "\n"; exit ok ? 0 : 1 }' "$T/8gaussians.csv" || fail=1
awk -F, '{ r = sqrt($1 * $1 + $2 * $2); k = int(r / 0.75 + 0.5); d = r - 0.75 * k; if (d < 0) d = -d
           n++; if (k >= 1 && k <= 4 && d < 0.16) { near++; cnt[k]++ } }
    END { printf "rings: %d of %d samples within 0.16 of a ring; per ring:", near, n; ok = near >= 0.45 * n
          for (k = 1; k <= 4; k++) { printf " %d", cnt[k]; if (cnt[k] < 0.05 * n) ok = 0 }
          printf "\n"; exit ok ? 0 : 1 }' "$T/rings.csv" || fail=1
[ "$fail" = 0 ] && echo "toy defaults: PASS" || echo "toy defaults: FAIL"
exit "$fail"
