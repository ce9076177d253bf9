"""Pictures: training curves from any `ebm train --log` CSV, and sample grids for notebooks.

    python3 -m ebm.plot LOG.csv [LOG2.csv ...] -o curves.png [--columns recon,pseudo_ll] [--x epoch]
"""
import argparse
import csv
import math
import sys

SKIP = {"seconds", "total_seconds", "lr"}


def read_log(path):
    """The log as (column names, dict of column -> list of floats, NaN for empty or non-numeric cells)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError("%s: empty log" % path)
    head = [h.strip() for h in rows[0]]
    cols = {h: [] for h in head}
    for r in rows[1:]:
        for h, v in zip(head, r):
            try:
                cols[h].append(float(v))
            except ValueError:
                cols[h].append(float("nan"))
    return head, cols


def plot_logs(paths, out, columns=None, x=None, title=None):
    """Draws one panel per figure of the logs (every numeric column but time and learning rate, or columns),
    each log a line, against x (default: the first column: epoch or iteration); writes out (PNG, PDF, SVG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    logs = [(p,) + read_log(p) for p in paths]
    xname = x or logs[0][1][0]
    want = columns or []
    if not want:
        for _, head, cols in logs:
            for h in head:
                if h != xname and h not in SKIP and h not in want and any(not math.isnan(v) for v in cols[h]):
                    want.append(h)
    if not want:
        raise ValueError("no column to draw in %s" % ", ".join(paths))
    ncol = min(3, len(want))
    nrow = (len(want) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    for i, name in enumerate(want):
        ax = axes[i // ncol][i % ncol]
        for p, head, cols in logs:
            if name not in cols:
                continue
            xs = cols.get(xname) or list(range(1, len(cols[name]) + 1))
            ax.plot(xs, cols[name], marker="o" if len(xs) < 30 else None, ms=3, label=p)
        ax.set_title(name)
        ax.set_xlabel(xname)
        ax.grid(alpha=0.3)
        if len(logs) > 1:
            ax.legend(fontsize=7)
    for j in range(len(want), nrow * ncol):
        axes[j // ncol][j % ncol].axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return want


def show_grid(images, shape=None, cols=None, ax=None, cmap="gray"):
    """Shows images (n, h*w) or (n, h, w) as one grid in a notebook (matplotlib); returns the axes."""
    import numpy as np
    import matplotlib.pyplot as plt
    x = np.asarray(images, dtype=np.float32)
    n = x.shape[0]
    if shape is None:
        if x.ndim == 3:
            shape = x.shape[1:]
        else:
            s = int(round(math.sqrt(x.shape[1])))
            if s * s != x.shape[1]:
                raise ValueError("give shape=(h, w) for rows of %d values" % x.shape[1])
            shape = (s, s)
    h, w = shape
    x = x.reshape(n, h, w)
    cols = cols or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    grid = np.ones((rows * (h + 1) - 1, cols * (w + 1) - 1), np.float32) * 0.5
    for i in range(n):
        r, c = divmod(i, cols)
        grid[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = x[i]
    if ax is None:
        _, ax = plt.subplots(figsize=(min(12, cols), min(12, rows)))
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    return ax


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m ebm.plot",
                                 description="Draws the training curves of `ebm train --log` CSV files.")
    ap.add_argument("logs", nargs="+", help="CSV logs (one line per log in every panel)")
    ap.add_argument("-o", "--out", default="curves.png", help="picture to write (.png, .pdf, .svg)")
    ap.add_argument("--columns", help="comma-separated columns to draw (default: every figure in the log)")
    ap.add_argument("--x", help="column for the x axis (default: the first, epoch or iteration)")
    ap.add_argument("--title")
    a = ap.parse_args(argv)
    try:
        drawn = plot_logs(a.logs, a.out, a.columns.split(",") if a.columns else None, a.x, a.title)
    except (OSError, ValueError) as e:
        print("ebm.plot: %s" % e, file=sys.stderr)
        return 1
    print("%s: %s" % (a.out, ", ".join(drawn)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
