#!/bin/sh
# Held-out-class anomaly detection on Fashion-MNIST with a JEM (docs/results.md): for each class K in CLASSES a
# JEM trained with `train jem`'s image defaults (class negatives from Gaussian starts over the nine classes the
# data have, gen-weight 0.05, Adam 1e-3) on the nine other classes ('fashion-mnist#LIST'), ITERS (1000) updates,
# seed SEED (1), PRECISION (bf16); then `ebm classify` of the nine classes' test images with class K's test
# images as the out-of-distribution set: the AUROC of telling them apart by log p(x) (the JEM's energy, as
# `ebm score --anomaly-class K` ranks), by the largest softmax probability and by the gradient norm; and
# `ebm score --score mahalanobis --anomaly-class K`: the squared Mahalanobis distance of the JEM's penultimate
# features to the nearest of nine class means, Gaussians fitted to the model's own training rows (Lee et al.
# 2018); and `--score energy+mahalanobis`, the sum of the energy's and that distance's distribution functions
# over the training rows.  A model already in OUT is scored, not trained again.  OBJECTIVE=clf trains plain
# nine-class classifiers instead (`--objective clf`, the same budget and learning rate; no sampling, so about
# 30 times faster).  ROTATIONS=1 trains with `--rotations` (every image also turned 90/180/270 degrees as
# classes of their own; the saved model keeps the upright classes' outputs).  WITH="DIR..." also scores
# energy+mahalanobis with each DIR/heldoutK.safetensors added (`--with`: the models' scores summed, an ensemble).
# Writes docs/results.json "anomaly_jem" (KEY; other objects are kept).  About 4 minutes a class at 500
# updates on 2 quiet cores.
# usage: scripts/anomaly_jem.sh [EBM] [OUT]
set -eu
ebm=${1:-build/ebm}
out=${2:-out/anomaly_jem}
: "${CLASSES:=0 1 2 3 4 5 6 7 8 9}" "${ITERS:=1000}" "${SEED:=1}" "${PRECISION:=bf16}" "${OBJECTIVE:=jem}" "${ROTATIONS:=0}" "${WITH:=}"
: "${RESULTS:=docs/results.json}" "${KEY:=anomaly_jem}"
mkdir -p "$out"
# shellcheck source=scripts/jem_lib.sh
. "$(dirname "$0")/jem_lib.sh" # commit, ood
t0=$(date +%s)
for k in $CLASSES; do
    keep=$(echo 0 1 2 3 4 5 6 7 8 9 | tr ' ' '\n' | grep -vx "$k" | paste -sd, -)
    m="$out/heldout$k.safetensors"
    [ -s "$m" ] || "$ebm" --quiet train jem --data "fashion-mnist#$keep" --iters "$ITERS" --seed "$SEED" \
        --precision "$PRECISION" --objective "$OBJECTIVE" $([ "$ROTATIONS" = 1 ] && echo --rotations) --out "$m" --log "$out/heldout$k.csv"
    "$ebm" --quiet classify "$m" --data "fashion-mnist:test#$keep" --ood "fashion-mnist:test#$k" --json \
        >"$out/heldout$k.json"
    "$ebm" --quiet score "$m" --data fashion-mnist:test --anomaly-class "$k" --score mahalanobis --json \
        >"$out/heldout$k-mahalanobis.json"
    "$ebm" --quiet score "$m" --data fashion-mnist:test --anomaly-class "$k" --score energy+mahalanobis --json \
        >"$out/heldout$k-energy+mahalanobis.json"
    cat "$out/heldout$k.json" "$out/heldout$k-mahalanobis.json" "$out/heldout$k-energy+mahalanobis.json"
    if [ -n "$WITH" ]; then
        "$ebm" --quiet score "$m" --data fashion-mnist:test --anomaly-class "$k" --score energy+mahalanobis \
            --with "$(for d in $WITH; do printf '%s,' "$d/heldout$k.safetensors"; done | sed 's/,$//')" \
            --json >"$out/heldout$k-with.json"
        cat "$out/heldout$k-with.json"
    fi
done
t1=$(date +%s)
/usr/bin/python3 - "$RESULTS" "$commit" $((t1 - t0)) "$out" "$CLASSES" "$KEY" "$ITERS" "$SEED" "$PRECISION" "$OBJECTIVE" \
    "$ROTATIONS" "$WITH" <<'PY'
import json, os, sys
path, commit, wall, out, classes, key, iters, seed, precision, objective, rotations, with_ = sys.argv[1:13]
e = {"classes": [int(k) for k in classes.split()]}
for k in e["classes"]:
    c = json.load(open(os.path.join(out, "heldout%d.json" % k)))
    o = c["ood"][0]
    for s in ("log_px", "max_softmax", "grad_norm"):
        e.setdefault("auroc_per_class_" + s, []).append(o["auroc_" + s])
    e.setdefault("accuracy_nine", []).append(c["accuracy"])
    for s in ("mahalanobis", "energy+mahalanobis"):
        e.setdefault("auroc_per_class_" + s, []).append(
            json.load(open(os.path.join(out, "heldout%d-%s.json" % (k, s))))["auroc"])
    if with_:
        e.setdefault("auroc_per_class_energy+mahalanobis_with", []).append(
            json.load(open(os.path.join(out, "heldout%d-with.json" % k)))["auroc"])
for s in ("log_px", "max_softmax", "grad_norm", "mahalanobis", "energy+mahalanobis") + (
        ("energy+mahalanobis_with",) if with_ else ()):
    v = e["auroc_per_class_" + s]
    e["mean_" + s], e["min_" + s] = sum(v) / len(v), min(v)
e.update({"settings": "train jem --data 'fashion-mnist#<the nine others>' --iters %s --seed %s --precision %s "
                      "--objective %s%s (the image defaults); ebm classify --data 'fashion-mnist:test#<nine>' --ood 'fashion-mnist:test#K'; ebm score "
                      "--data fashion-mnist:test --anomaly-class K --score mahalanobis|energy+mahalanobis%s" % (
                          iters, seed, precision, objective, " --rotations" if rotations == "1" else "",
                          "; energy+mahalanobis_with: --with " + ",".join(d + "/heldoutK.safetensors" for d in with_.split())
                          if with_ else ""),
          "script": "scripts/anomaly_jem.sh", "seed": int(seed), "commit": commit, "wall_seconds": int(wall)})
r = json.load(open(path)) if os.path.exists(path) else {}
r[key] = e
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
print(json.dumps(e, indent=1))
PY
