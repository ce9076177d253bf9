#!/usr/bin/python3
"""ebm.BernoulliRBM.fit against scikit-learn's BernoulliRBM.fit on the same data in the same run: binarised
Fashion-MNIST (60,000 x 784, threshold 0.5), 512 components, batch 100, learning rate 0.01, PCD-1 in both.
Times whole fit calls (the binding's overhead included: validation, the float32 copy, parameter copies) and
reports seconds per epoch and the ratio.

    /usr/bin/python3 bench/python_rbm.py [--epochs 2] [--rows 60000] [--threads N]
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import ebm  # noqa: E402
from sklearn.neural_network import BernoulliRBM as SkRBM  # noqa: E402


def fashion_mnist(rows):
    d = os.environ.get("EBM_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:rows]
    return (x >= 128).astype(np.float64)  # scikit-learn's usual float64 input; ebm converts it once


def per_epoch(make, X, epochs, repeats):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        make(epochs).fit(X)
        best = min(best, (time.perf_counter() - t) / epochs)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="library threads (default: its own choice)")
    a = ap.parse_args()
    X = fashion_mnist(a.rows)
    kw = dict(n_components=512, batch_size=100, learning_rate=0.01, random_state=0)
    if a.threads:
        ebm.set_threads(a.threads)
    ours = per_epoch(lambda e: ebm.BernoulliRBM(n_iter=e, **kw), X, a.epochs, a.repeats)
    theirs = per_epoch(lambda e: SkRBM(n_iter=e, **kw), X, a.epochs, a.repeats)
    print("binarised Fashion-MNIST %d x 784, 512 components, batch 100, PCD-1, %d epochs, threads %d"
          % (X.shape[0], a.epochs, ebm.get_threads()))
    print("ebm.BernoulliRBM.fit      %8.3f s/epoch" % ours)
    print("sklearn BernoulliRBM.fit  %8.3f s/epoch" % theirs)
    print("ratio                     %8.2fx" % (theirs / ours))


if __name__ == "__main__":
    main()
