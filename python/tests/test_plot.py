"""python3 -m ebm.plot draws any --log CSV."""
import subprocess
import sys
import os

import pytest

pytest.importorskip("matplotlib", reason="ebm.plot needs matplotlib (python3-matplotlib)")


def test_plot_command(tmp_path):
    log = tmp_path / "train.csv"
    log.write_text("iter,seconds,loss,e_pos,e_neg,accept\n1,0.1,2.0,1.0,3.0,\n2,0.2,1.5,0.5,2.5,\n3,0.3,1.2,0.2,2.2,\n")
    out = tmp_path / "c.png"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run([sys.executable, "-m", "ebm.plot", str(log), "-o", str(out)], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert "loss, e_pos, e_neg" in r.stdout and "accept" not in r.stdout  # an empty column is left out
    assert out.stat().st_size > 1000
    r = subprocess.run([sys.executable, "-m", "ebm.plot", str(tmp_path / "absent.csv"), "-o", str(out)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "absent.csv" in r.stderr


def test_show_grid():
    import numpy as np
    from ebm.plot import show_grid
    ax = show_grid(np.random.RandomState(0).rand(10, 16))
    assert ax.images[0].get_array().shape == (3 * 5 - 1, 4 * 5 - 1)  # 10 tiles: 3 rows of 4
