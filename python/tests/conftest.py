import os
import subprocess
import sys

import pytest

np = pytest.importorskip("numpy", reason="the Python tests need NumPy (apt-get install python3-numpy)")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # python/, so `import ebm` finds the package of this tree
ROOT = os.path.dirname(os.path.dirname(HERE))


@pytest.fixture(scope="session")
def cli():
    """Runs the `ebm` command line of this build (EBM_CLI, else build/ebm): cli(args...) -> stdout."""
    exe = os.environ.get("EBM_CLI", os.path.join(ROOT, "build", "ebm"))
    if not os.path.exists(exe):
        pytest.skip("the ebm command line is not built (%s)" % exe)

    def call(*args, cwd=None):
        r = subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True, cwd=cwd)
        assert r.returncode == 0, "ebm %s failed (%d): %s" % (" ".join(map(str, args)), r.returncode, r.stderr)
        return r.stdout + r.stderr
    return call


@pytest.fixture
def binary_data():
    rng = np.random.RandomState(0)
    # two prototypes with 10% flipped bits: structure an RBM can learn
    protos = rng.rand(2, 16) > 0.5
    rows = protos[rng.randint(0, 2, 400)] ^ (rng.rand(400, 16) < 0.1)
    return rows.astype(np.float32)
