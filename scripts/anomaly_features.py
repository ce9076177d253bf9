#!/usr/bin/python3
"""Other anomaly scores in a held-out-class classifier's features (docs/results.md, "Scores tried beside
energy + Mahalanobis"): for each class K in CLASSES, the nine-class classifier DIR/heldoutK.safetensors that
`OBJECTIVE=clf ITERS=6000 scripts/anomaly_jem.sh` trains scores the 10,000 Fashion-MNIST test images, class K's
being the anomalies, by
  energy       -log sum_y exp f(x)[y]                              (what `ebm score` ranks)
  maha_pen     squared Mahalanobis distance of the penultimate features to the nearest class mean (Lee et al.
               2018; `ebm score --score mahalanobis`)
  maha_c2/c1   the same in the second / first convolution block's output averaged over positions (Lee et al.'s
               feature ensemble over layers)
  knn1/10/50   the distance of the L2-normalised penultimate features to the k-th nearest training row (Sun et
               al. 2022, "deep nearest neighbours")
and sums of these scores' distribution functions over 5,000 training rows drawn with seed SEED (a row's own
distance is left out of its k-NN), as `--score energy+mahalanobis` adds the two.  With ROTATIONS=1 it also
trains, for each class, a classifier of the 36 joint labels y + 10 r of the nine classes' images turned r
quarter-turns (`ebm train jem --rotations`'s objective and defaults, 6,000 updates, seed SEED) and keeps all
its outputs (the command line keeps the upright ones), to score by the self-supervised label augmentation's
aggregate (Lee, Hwang & Shin 2020): sla = sum over r of -log sum_y exp f(rot_r x)[y + 10 r].  Writes
docs/results.json "anomaly_features" (other objects are kept).  About 40 minutes on 2 cores with ROTATIONS=1.
usage: scripts/anomaly_features.py [DIR]   (default out/anomaly_clf6000; EBM_LIBRARY names libebm.so)"""
import json
import os
import subprocess
import sys
import time

import numpy as np
from scipy.stats import rankdata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import ebm  # noqa: E402

d = sys.argv[1] if len(sys.argv) > 1 else "out/anomaly_clf6000"
classes = [int(k) for k in os.environ.get("CLASSES", "0 1 2 3 4 5 6 7 8 9").split()]
seed = int(os.environ.get("SEED", "1"))
rotations = os.environ.get("ROTATIONS", "0") == "1"
results = os.environ.get("RESULTS", "docs/results.json")
K = 10


def auroc(labels, s):
    """Mann-Whitney AUROC of s (higher = anomalous), ties one half (mid-ranks, as anomaly_alternatives.sh)."""
    r, pos = rankdata(s), labels.astype(bool)
    n1, n0 = pos.sum(), (~pos).sum()
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def maha(f, y):
    """The squared Mahalanobis distance to the nearest class mean, shared covariance (float64), ridge 1e-6."""
    f = f.astype(np.float64)
    cls = np.unique(y)
    mu = np.stack([f[y == c].mean(0) for c in cls])
    r = f - mu[np.searchsorted(cls, y)]
    lam, vec = np.linalg.eigh(r.T @ r / len(f))
    w = vec / np.sqrt(np.maximum(lam, 0) + 1e-6 * np.maximum(lam, 0).mean())
    mw = mu @ w
    return lambda g: np.min([((g.astype(np.float64) @ w - m) ** 2).sum(1) for m in mw], axis=0)


def knn(bank, q, ks, skip_self=False):
    """(len(ks), len(q)): the distance of each row of q to its k-th nearest row of bank (rows L2-normalised)."""
    out = np.empty((len(ks), len(q)))
    kk = [k + skip_self - 1 for k in ks]
    for i in range(0, len(q), 1000):
        sim = q[i:i + 1000] @ bank.T  # cosine similarity; distance^2 = 2 - 2 sim
        part = -np.partition(-sim, kk, axis=1)
        out[:, i:i + 1000] = np.sqrt(np.maximum(2 - 2 * part[:, kk].T, 0))
    return out


def ecdf(ref, s):
    return np.searchsorted(np.sort(ref), s, side="right") / len(ref)


def lse(z):
    m = z.max(1, keepdims=True)
    return (np.log(np.exp(z - m).sum(1, keepdims=True)) + m)[:, 0]


def rot(x, r):
    return np.ascontiguousarray(np.rot90(x.reshape(-1, 28, 28), r, axes=(1, 2)).reshape(len(x), -1))


def nrm(f):
    return (f / np.linalg.norm(f, axis=1, keepdims=True)).astype(np.float32)


COMBOS = {"energy+maha_pen": ["energy", "maha_pen"], "energy+maha_pen+maha_c2": ["energy", "maha_pen", "maha_c2"],
          "energy+maha_pen+maha_c2+maha_c1": ["energy", "maha_pen", "maha_c2", "maha_c1"],
          "energy+knn50": ["energy", "knn50"], "energy+maha_pen+knn50": ["energy", "maha_pen", "knn50"]}
ROT_COMBOS = {"sla+maha_rot": ["sla", "maha_rot"], "energy+maha_pen+sla": ["energy", "maha_pen", "sla"],
              "energy+maha_pen+sla+maha_rot": ["energy", "maha_pen", "sla", "maha_rot"]}
t0 = time.time()
per = {}
for k in classes:
    path = os.path.join(d, "heldout%d.safetensors" % k)
    net, model = ebm.EnergyNet.load(path), ebm.load(path)
    xtr, ytr = model.data("fashion-mnist")
    keep = ytr != k
    xtr, ytr = xtr[keep], ytr[keep]
    xte, yte = model.data("fashion-mnist:test")
    anomalous = (yte == k).astype(int)
    cal = np.random.default_rng(seed).choice(len(ytr), 5000, replace=False)
    fit, test = {}, {}  # score name -> scores of the 5,000 fit rows / of the test rows

    def feats(x):
        """logits, penultimate features, conv blocks 2 and 1 averaged over positions (the image CNN)."""
        out = []
        for i in range(0, len(x), 2000):  # a convolution layer's activations are 6,272 floats a row
            b = x[i:i + 2000]
            out.append((net.forward(b), net.features(b), net.features(b, layer=6).reshape(len(b), 64, 49).mean(2),
                        net.features(b, layer=3).reshape(len(b), 32, 196).mean(2)))
        return [np.concatenate(a) for a in zip(*out)]
    (ztr, ptr, c2tr, c1tr), (zte, pte, c2te, c1te) = feats(xtr), feats(xte)
    fit["energy"], test["energy"] = -lse(ztr[cal]), -lse(zte)
    for name, ftr, fte in (("maha_pen", ptr, pte), ("maha_c2", c2tr, c2te), ("maha_c1", c1tr, c1te)):
        m = maha(ftr, ytr)
        fit[name], test[name] = m(ftr[cal]), m(fte)
    bank = nrm(ptr)
    kf, kt = knn(bank, bank[cal], (1, 10, 50), skip_self=True), knn(bank, nrm(pte), (1, 10, 50))
    for i, n in enumerate((1, 10, 50)):
        fit["knn%d" % n], test["knn%d" % n] = kf[i], kt[i]
    combos = dict(COMBOS)
    if rotations:
        rpath = os.path.join(d, "rotations%d.safetensors" % k)
        if not os.path.exists(rpath):
            x4, y4 = ebm.rotations(xtr, ytr, classes=K)
            rn = ebm.EnergyNet.for_data(x4, classes=4 * K, image_shape=(28, 28)).init(seed)
            rn.train_jem(x4, y4, objective="clf", iters=6000, seed=seed)
            del x4, y4
            rn.save(rpath)
        rn = ebm.EnergyNet.load(rpath)

        def sla_feats(x):
            out = []
            for i in range(0, len(x), 2000):  # as feats(): a forward keeps every layer's activations
                b = [rot(x[i:i + 2000], r) for r in range(4)]
                out.append((-sum(lse(rn.forward(b[r])[:, K * r:K * r + K]) for r in range(4)),
                            np.concatenate([rn.features(b[r]) for r in range(4)], 1)))
            return [np.concatenate(a) for a in zip(*out)]
        (str_, ftr4), (ste, fte4) = sla_feats(xtr), sla_feats(xte)
        fit["sla"], test["sla"] = str_[cal], ste
        m = maha(ftr4, ytr)  # the four turns' features side by side
        fit["maha_rot"], test["maha_rot"] = m(ftr4[cal]), m(fte4)
        combos.update(ROT_COMBOS)
    for n, parts in combos.items():
        fit[n], test[n] = None, sum(ecdf(fit[p], test[p]) for p in parts)
    for n in test:
        per.setdefault(n, []).append(auroc(anomalous, test[n]))
    print("class %d: %s" % (k, " ".join("%s %.3f" % (n, v[-1]) for n, v in per.items())), flush=True)
wall = int(time.time() - t0)
e = {"classes": classes, "models": d + "/heldoutK.safetensors", "seed": seed, "wall_seconds": wall,
     "script": "scripts/anomaly_features.py", "rotations": rotations}
try:
    e["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                 check=True).stdout.strip()
except (OSError, subprocess.CalledProcessError):
    e["commit"] = "unknown"
for n, v in per.items():
    e["auroc_per_class_" + n], e["mean_" + n], e["min_" + n] = v, float(np.mean(v)), float(np.min(v))
    print("%-34s mean %.3f min %.3f  %s" % (n, np.mean(v), np.min(v), " ".join("%.3f" % a for a in v)))
r = json.load(open(results)) if os.path.exists(results) else {}
r["anomaly_features"] = e
with open(results, "w") as f:
    json.dump(r, f, indent=1, sort_keys=True)
    f.write("\n")
print("wall %d s" % wall)
