"""An idiomatic PyTorch-CPU RBM training loop (CD-1 and PCD-1, SGD with momentum 0.5 and weight decay,
batch 100, float32, no autograd) on the same data as bench_rbm: binarised Fashion-MNIST, 784 x H.
Prints one RESULT line per method and hidden size with the median of --epochs timed epochs after a
warm-up epoch.  Run with Debian's interpreter: /usr/bin/python3 bench/peer_torch.py"""
import argparse
import gzip
import statistics
import time

import numpy as np
import torch


def load(path, limit):
    with gzip.open(path) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    if limit:
        x = x[:limit]
    return torch.from_numpy((x >= 128).astype(np.float32))


@torch.no_grad()
def epoch(x, W, a, b, vel, state, pcd, lr=0.05, mom=0.5, wd=1e-4, batch=100):
    vW, va, vb = vel
    perm = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], batch):
        v0 = x[perm[i:i + batch]]
        ph0 = torch.sigmoid(v0 @ W + b)
        if pcd:
            h = state["h"]
        else:
            h = torch.bernoulli(ph0)
        v1 = torch.bernoulli(torch.sigmoid(h @ W.t() + a))
        ph1 = torch.sigmoid(v1 @ W + b)
        if pcd:
            state["h"] = torch.bernoulli(ph1)
        n = v0.shape[0]
        gW = (v0.t() @ ph0 - v1.t() @ ph1) / n
        vW.mul_(mom).add_(lr * (gW - wd * W))
        va.mul_(mom).add_(lr * (v0.mean(0) - v1.mean(0)))
        vb.mul_(mom).add_(lr * (ph0.mean(0) - ph1.mean(0)))
        W.add_(vW)
        a.add_(va)
        b.add_(vb)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", default="256,512,1024")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = load(a.data, a.limit)
    for h in [int(v) for v in a.hidden.split(",")]:
        for pcd in (False, True):
            W = torch.randn(784, h) * 0.01
            va, vb = torch.zeros(784), torch.zeros(h)
            vel = (torch.zeros_like(W), va, vb)
            a_, b_ = torch.zeros(784), torch.zeros(h)
            state = {"h": torch.bernoulli(torch.full((100, h), 0.5))}
            epoch(x, W, a_, b_, vel, state, pcd)  # warm-up
            times = []
            for _ in range(a.epochs):
                t = time.perf_counter()
                epoch(x, W, a_, b_, vel, state, pcd)
                times.append(time.perf_counter() - t)
            t = statistics.median(times)
            mode = "pcd1" if pcd else "cd1"
            print(f"RESULT impl=torch mode={mode} hidden={h} sec_per_epoch={t:.4f} samples_per_s={len(x) / t:.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
