"""scikit-learn's BernoulliRBM (PCD-1, its only method) on the same data as bench_rbm: binarised
Fashion-MNIST, 784 x H, batch 100, float32.  Prints one RESULT line per hidden size with the median of
--epochs timed epochs (each a fit with n_iter=1 after one warm-up fit).
Run with Debian's interpreter: /usr/bin/python3 bench/peer_sklearn.py"""
import argparse
import gzip
import statistics
import time

import numpy as np
from sklearn.neural_network import BernoulliRBM


def load(path, limit):
    with gzip.open(path) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    if limit:
        x = x[:limit]
    return (x >= 128).astype(np.float32)  # same as ebm's --binarize threshold 0.5 after /255


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", default="256,512,1024")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    a = ap.parse_args()
    x = load(a.data, a.limit)
    for h in [int(v) for v in a.hidden.split(",")]:
        rbm = BernoulliRBM(n_components=h, learning_rate=0.05, batch_size=100, n_iter=1, random_state=0)
        rbm.fit(x)  # warm-up
        times = []
        for _ in range(a.epochs):
            t = time.perf_counter()
            rbm.fit(x)
            times.append(time.perf_counter() - t)
        t = statistics.median(times)
        print(f"RESULT impl=sklearn mode=pcd1 hidden={h} sec_per_epoch={t:.4f} samples_per_s={len(x) / t:.0f}",
              flush=True)


if __name__ == "__main__":
    main()
