"""The PyTorch-CPU counterpart of bench_net: an MLP energy 784-512-512-1 with SiLU, batch 128, float32.
  Langevin step  = dE/dx by autograd (torch.autograd.grad of E.sum() w.r.t. x only) + the ULA update
                   x <- x - eta dE/dx + sqrt(2 eta) xi, xi ~ N(0, I)
  training iter  = 20 Langevin steps on a persistent negative batch, then loss = mean E(x+) - mean E(x-),
                   backward into the parameters and an SGD step.
  CNN grad_x     = dE/dx of the CNN of docs/net.md (Conv2d 32, SiLU, AvgPool 2, Conv2d 64, SiLU, AvgPool 2,
                   Flatten, Linear 128, SiLU, Linear 1) on 1x28x28 images.
  JEM iteration  = one training iteration of JEM with that CNN ending in 10 logits (jem_iters below).
Prints "RESULT impl=torch ..." lines with the best and the median of --reps timed repetitions (10 Langevin
steps, or one training iteration, each) after a warm-up, as bench_net.
Run with Debian's interpreter: /usr/bin/python3 bench/peer_torch_net.py --threads 2"""
import argparse
import math
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    n, dim, eta, ksteps = a.batch, 784, 0.01, 20
    model = torch.nn.Sequential(torch.nn.Linear(dim, 512), torch.nn.SiLU(), torch.nn.Linear(512, 512),
                                torch.nn.SiLU(), torch.nn.Linear(512, 1))
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    pos = torch.rand(n, dim)
    x = torch.rand(n, dim)
    noise_scale = math.sqrt(2 * eta)

    def ula_step(x):
        x = x.detach().requires_grad_(True)
        e = model(x).sum()
        (g,) = torch.autograd.grad(e, x)
        with torch.no_grad():
            return x - eta * g + noise_scale * torch.randn_like(x)

    per_rep = 10
    for _ in range(10):
        x = ula_step(x)
    ts = []
    for _ in range(a.reps):
        t = time.perf_counter()
        for _ in range(per_rep):
            x = ula_step(x)
        ts.append((time.perf_counter() - t) / per_rep)
    t_step, t_step_med = min(ts), statistics.median(ts)

    ti = []
    for it in range(a.reps + 1):
        t = time.perf_counter()
        for _ in range(ksteps):
            x = ula_step(x)
        x = x.detach()
        loss = model(pos).mean() - model(x).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if it > 0:
            ti.append(time.perf_counter() - t)
    t_iter, t_iter_med = min(ti), statistics.median(ti)

    fwd = 2.0 * n * (784 * 512 + 512 * 512 + 512)
    dx_inner = 2.0 * n * (512 * 512 + 512)
    f_step = 2 * fwd
    f_iter = ksteps * f_step + 2 * (2 * fwd + dx_inner)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3, 1, 1), torch.nn.SiLU(), torch.nn.AvgPool2d(2),
                              torch.nn.Conv2d(32, 64, 3, 1, 1), torch.nn.SiLU(), torch.nn.AvgPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(3136, 128), torch.nn.SiLU(), torch.nn.Linear(128, 1))
    xc = torch.rand(n, 1, 28, 28)

    def cnn_grad_x():
        xx = xc.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(cnn(xx).sum(), xx)
        return g

    for _ in range(2):
        cnn_grad_x()
    tc = []
    for _ in range(a.reps):
        t = time.perf_counter()
        cnn_grad_x()
        tc.append(time.perf_counter() - t)
    t_cnn, t_cnn_med = min(tc), statistics.median(tc)
    cf = 2.0 * n * (784 * 32 * 9 + 196 * 64 * 288 + 3136 * 128 + 128)
    f_cnn = 2 * cf - 2.0 * n * 784 * 32 * 9

    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"RESULT impl=torch what=langevin_step per_s={1 / t_step:.2f} median_per_s={1 / t_step_med:.2f} "
          f"ms={1e3 * t_step:.4f} "
          f"gflops={f_step / t_step / 1e9:.2f}")
    print(f"RESULT impl=torch what=train_iter per_s={1 / t_iter:.3f} median_per_s={1 / t_iter_med:.3f} "
          f"ms={1e3 * t_iter:.3f} "
          f"gflops={f_iter / t_iter / 1e9:.2f}")

    print(f"RESULT impl=torch what=cnn_grad_x per_s={1 / t_cnn:.2f} median_per_s={1 / t_cnn_med:.2f} "
          f"ms={1e3 * t_cnn:.4f} gflops={f_cnn / t_cnn / 1e9:.2f}")

    t_jem, t_jem_med = jem_iters(a.reps, n)
    f_jem = ksteps * f_cnn + 2 * 3 * cf
    print(f"RESULT impl=torch what=jem_iter per_s={1 / t_jem:.3f} median_per_s={1 / t_jem_med:.3f} "
          f"ms={1e3 * t_jem:.3f} gflops={f_jem / t_jem / 1e9:.2f}")


def jem_iters(reps, n):
    """An idiomatic JEM training loop (Grathwohl et al. 2020, as in their reference code) with the defaults of
    `ebm train jem`: the CNN with 10 logits, E(x) = -logsumexp f(x), a replay buffer of 10,000 uniform [-1, 1)
    images with 5% restarts, 20 SGLD steps x <- x - step * dE/dx + noise * N(0, I) (step 1, noise 0.01), the
    loss CE(f(x+), y) + mean E(x+) - mean E(x-) + 0.1 (mean E(x+)^2 + mean E(x-)^2) and Adam (lr 1e-4).
    Returns the best and the median time of reps iterations after one warm-up."""
    f = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3, 1, 1), torch.nn.SiLU(), torch.nn.AvgPool2d(2),
                            torch.nn.Conv2d(32, 64, 3, 1, 1), torch.nn.SiLU(), torch.nn.AvgPool2d(2),
                            torch.nn.Flatten(), torch.nn.Linear(3136, 128), torch.nn.SiLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(f.parameters(), lr=1e-4)
    data = torch.rand(10 * n, 1, 28, 28) * 2 - 1
    labels = torch.arange(10 * n) % 10
    buffer = torch.rand(10000, 1, 28, 28) * 2 - 1

    def energy(x):
        return -torch.logsumexp(f(x), dim=1)

    times = []
    for it in range(reps + 1):
        t = time.perf_counter()
        idx = torch.randint(0, 10 * n, (n,))
        xp, yp = data[idx], labels[idx]
        slots = torch.randint(0, buffer.shape[0], (n,))
        x = buffer[slots]
        restart = torch.rand(n) < 0.05
        x[restart] = torch.rand(int(restart.sum()), 1, 28, 28) * 2 - 1
        f.eval()
        for _ in range(20):
            x = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(energy(x).sum(), x)
            x = x - 1.0 * g + 0.01 * torch.randn_like(x)
        x = x.detach()
        buffer[slots] = x
        f.train()
        ep, en = energy(xp), energy(x)
        loss = torch.nn.functional.cross_entropy(f(xp), yp) + ep.mean() - en.mean() + 0.1 * (
            (ep ** 2).mean() + (en ** 2).mean())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if it > 0:
            times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


if __name__ == "__main__":
    main()
