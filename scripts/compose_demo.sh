#!/bin/sh
# Composition demo (docs/compose.md) on the JEM of scripts/jem_report.sh: class-conditional samples of
# "trouser", "dress", "trouser AND NOT dress" (E_trouser - 0.5 E_dress) and "bag OR sneaker", each a PNG
# and each scored by the FD-FMNIST classifier (which classes it sees in the samples).
# usage: scripts/compose_demo.sh [EBM] [JEM_MODEL] [OUT]
set -eu
ebm=${1:-build/ebm}
jem=${2:-out/jem/jem.safetensors}
out=${3:-out/compose}
[ -s "$jem" ] || { echo "compose_demo: no $jem (run scripts/jem_report.sh first)" >&2; exit 1; }
mkdir -p "$out"
"$ebm" --quiet compose --out "$out/trouser.safetensors" "$jem#trouser"
"$ebm" --quiet compose --out "$out/dress.safetensors" "$jem#dress"
"$ebm" --quiet compose --out "$out/trouser_not_dress.safetensors" "$jem#trouser" "$jem#dress@-0.5"
"$ebm" --quiet compose --out "$out/bag_or_sneaker.safetensors" --op or "$jem#bag" "$jem#sneaker"
for m in trouser dress trouser_not_dress bag_or_sneaker; do
    "$ebm" --quiet sample "$out/$m.safetensors" --n 200 --steps 100 --seed 3 --png "$out/$m.png" --npy "$out/$m.npy"
    printf "%-18s " "$m"
    "$ebm" --quiet eval --samples "$out/$m.npy" --floor-data none | grep "predicted classes"
done
echo "pictures: $out/*.png (predicted-class counts are in the order t-shirt trouser pullover dress coat sandal shirt sneaker bag ankle-boot)"
