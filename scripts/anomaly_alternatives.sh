#!/bin/sh
# Two more anomaly scores for the held-out-class experiment of scripts/report_anomaly.sh (issue 16;
# docs/results.md), measured to see whether they beat the RBM's free energy:
#   "features": a Gaussian fitted to the RBM's hidden features p(h | v) of its training rows (`ebm encode`);
#       the score is the Mahalanobis distance (covariance + 1e-3 I) and, as a check, the mean squared distance
#       to the 10th nearest of 5,000 training feature rows (kNN); the RBM is report_anomaly.sh's recipe on
#       binarised rows of the nine other classes (written as NPY, so the test set is binarised alike);
#   "classifier": the energy -log sum_y exp f(x)[y] of a CNN classifier trained on the nine other classes
#       (`ebm train jem --objective clf`, 1,000 iterations of batch 64; Liu et al. 2020's energy score).
# Writes docs/results.json "anomaly_alternatives" (other experiments' objects are kept).  Fixed seeds.
# About 25 minutes on 2 busy cores.  usage: scripts/anomaly_alternatives.sh [EBM] [OUT]
set -eu
ebm=${1:-build/ebm}
out=${2:-out/anomaly_alternatives}
: "${CLASSES:=0 1 2 3 4 5 6 7 8 9}" "${RESULTS:=docs/results.json}"
mkdir -p "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
py=/usr/bin/python3
t0=$(date +%s)
# the binarised test set and its labels
$py - "$out" <<'PY'
import gzip, sys, numpy as np
def idx(p):
    b = gzip.open(p).read(); nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)
d = "/usr/share/datasets/fashion-mnist/"
np.save(sys.argv[1] + "/test.npy", (idx(d + "t10k-images-idx3-ubyte.gz").reshape(-1, 784) >= 128).astype(np.float32))
np.save(sys.argv[1] + "/test_y.npy", idx(d + "t10k-labels-idx1-ubyte.gz").astype(np.int32))
PY
maha="" knn="" clf="" ks=""
for k in $CLASSES; do
    if [ "$k" = 0 ]; then keep=1-9; elif [ "$k" = 9 ]; then keep=0-8; else keep="0-$((k - 1)),$((k + 1))-9"; fi
    $py - "$out" "$k" <<'PY'
import gzip, sys, numpy as np
def idx(p):
    b = gzip.open(p).read(); nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)
d = "/usr/share/datasets/fashion-mnist/"
X = idx(d + "train-images-idx3-ubyte.gz").reshape(-1, 784); Y = idx(d + "train-labels-idx1-ubyte.gz")
np.save(sys.argv[1] + "/train.npy", (X[Y != int(sys.argv[2])] >= 128).astype(np.float32))
PY
    "$ebm" --quiet train rbm --data "$out/train.npy" --hidden 256 --pcd 1 --chains 100 --epochs 5 --batch 100 --lr 0.01 \
        --lr-final 0 --momentum 0.5 --weight-decay 1e-4 --seed 1 --out "$out/rbm$k.safetensors" >/dev/null
    "$ebm" --quiet encode "$out/rbm$k.safetensors" --data "$out/train.npy" --out "$out/ftrain.npy"
    "$ebm" --quiet encode "$out/rbm$k.safetensors" --data "$out/test.npy" --out "$out/ftest.npy"
    fig=$($py - "$out" "$k" <<'PY'
import sys, numpy as np
from scipy.stats import rankdata
o, k = sys.argv[1], int(sys.argv[2])
y = np.load(o + "/test_y.npy"); Ft = np.load(o + "/ftrain.npy").astype(np.float64); F = np.load(o + "/ftest.npy").astype(np.float64)
def auroc(s, lab):
    r = rankdata(s); n1 = lab.sum(); n0 = len(lab) - n1
    return (r[lab].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
mu = Ft.mean(0); Ci = np.linalg.inv(np.cov(Ft.T) + 1e-3 * np.eye(Ft.shape[1])); dd = F - mu
maha = auroc(np.einsum("ij,jk,ik->i", dd, Ci, dd), y == k)
R = Ft[np.random.default_rng(0).choice(len(Ft), 5000, replace=False)]
D = (F ** 2).sum(1)[:, None] + (R ** 2).sum(1)[None] - 2 * F @ R.T
print("%.4f %.4f" % (maha, auroc(np.sort(D, 1)[:, 9], y == k)))
PY
)
    "$ebm" --quiet train jem --objective clf --data "fashion-mnist#$keep" --iters 1000 --batch 64 --seed 1 \
        --lr 1e-4 --out "$out/clf$k.safetensors" >/dev/null
    c=$("$ebm" --quiet score "$out/clf$k.safetensors" --data fashion-mnist:test --anomaly-class "$k" --json |
        sed 's/.*"auroc": \([0-9.]*\).*/\1/')
    echo "class $k: features (Mahalanobis, kNN) $fig, classifier energy $c" | tee -a "$out/anomaly_alternatives.txt"
    maha="$maha${maha:+, }${fig% *}" knn="$knn${knn:+, }${fig#* }" clf="$clf${clf:+, }$c" ks="$ks${ks:+, }$k"
done
t1=$(date +%s)
$py - "$RESULTS" "$commit" $((t1 - t0)) <<PY
import json, os, sys
path, commit, wall = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(path)) if os.path.exists(path) else {}
m, kn, c = [$maha], [$knn], [$clf]
r["anomaly_alternatives"] = {"classes": [$ks], "auroc_features_mahalanobis": m, "auroc_features_knn10": kn,
    "auroc_classifier_energy": c, "mean_features_mahalanobis": sum(m) / len(m), "mean_features_knn10": sum(kn) / len(kn),
    "mean_classifier_energy": sum(c) / len(c), "seed": 1, "commit": commit, "wall_seconds": wall,
    "script": "scripts/anomaly_alternatives.sh"}
json.dump(r, open(path, "w"), indent=1, sort_keys=True)
open(path, "a").write("\n")
print(json.dumps(r["anomaly_alternatives"], indent=1))
PY
