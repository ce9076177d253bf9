"""The binding itself: the library it found, the version check, the struct mirrors, errors."""
import ctypes
import os

import numpy as np
import pytest

import ebm
from ebm import _lib


def test_version_and_library():
    assert ebm.__version__ == "0.1.0"
    assert ebm.LIBRARY_VERSION.split(".")[:2] == ebm.__version__.split(".")[:2]
    assert ebm.LIBRARY_PATH.endswith(".so") or ".so." in ebm.LIBRARY_PATH


def test_struct_mirrors_match_the_header():
    assert _lib.layout_mismatches() == []
    # spot checks against numbers the header fixes on LP64: ebm_mat is two size_t and a pointer
    assert _lib.lib.ebm_abi_layout(b"ebm_mat", None) == 24 == ctypes.sizeof(_lib.Mat)
    assert _lib.lib.ebm_abi_layout(b"ebm_cd_opts", b"lr") == _lib.CdOpts.lr.offset
    assert _lib.lib.ebm_abi_layout(b"ebm_nothing", None) == -1
    assert _lib.lib.ebm_abi_layout(b"ebm_mat", b"nothing") == -1


def test_defaults_read_back_through_the_mirrors():
    o = _lib.CdOpts()
    _lib.lib.ebm_cd_opts_default(ctypes.byref(o))
    assert (o.mode, o.k, o.epochs, o.batch, o.shuffle, o.seed) == (0, 1, 10, 100, 1, 1)
    assert o.lr == pytest.approx(0.05) and o.momentum == pytest.approx(0.5) and o.weight_decay == pytest.approx(1e-4)
    g = _lib.GrbmTrainOpts()
    _lib.lib.ebm_grbm_train_opts_default(ctypes.byref(g))
    assert (g.k, g.epochs, g.batch, g.cosine) == (10, 10, 100, 1)
    assert g.grad_clip == pytest.approx(10.0) and g.sampler.langevin_steps == 10 and g.sampler.eta == pytest.approx(0.5)
    m = _lib.McmcOpts()
    _lib.lib.ebm_mcmc_opts_default(ctypes.byref(m))
    assert (m.steps, m.leapfrog, m.seed) == (100, 10, 1) and m.noise == pytest.approx(0.005)


def test_errors_carry_the_library_message(tmp_path):
    missing = tmp_path / "absent.safetensors"
    with pytest.raises(ebm.FileError) as e:
        ebm.RBM.load(missing)
    assert "absent.safetensors" in str(e.value) and isinstance(e.value, OSError)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(ebm.FormatError) as e:
        ebm.load(bad)
    assert "bad.safetensors" in str(e.value) and isinstance(e.value, ValueError)
    m = ebm.RBM(4, 3)
    with pytest.raises(ebm.ShapeError):
        m.free_energy(np.zeros((2, 5)))
    with pytest.raises(ebm.InvalidArgumentError) as e:  # the trainer refuses data outside [0, 1]
        m.train(np.full((10, 4), 2.0), epochs=1, batch=5)
    assert "[0, 1]" in str(e.value) or "outside" in str(e.value)


def test_threads_round_trip():
    old = ebm.get_threads()
    ebm.set_threads(1)
    assert ebm.get_threads() == 1
    ebm.set_threads(old)
    assert ebm.get_threads() == old


@pytest.mark.parametrize("text", ["0.52 0.58 0.59 1/211 4242\n", "1.52 1.58 1.59 2/211 4242\n", "garbage\n", None])
def test_wait_choice_matches_the_library(tmp_path, monkeypatch, text):
    # import ebm chooses the OpenMP wait before libebm loads, by the rule of ebm_omp_better_spincount: a brief spin
    # only when no other task runs (and there are two CPUs or more), else passive
    path = tmp_path / "loadavg"
    if text is not None:
        path.write_text(text)
    monkeypatch.setenv("EBM_LOADAVG_FILE", str(path))
    f = _lib.lib.ebm_omp_better_spincount
    f.restype = ctypes.c_char_p
    c = f()
    assert _lib._spincount() == (c.decode() if c else None)
    quiet = text is not None and text.startswith("0.52") and len(os.sched_getaffinity(0)) >= 2
    assert _lib._spincount() == ("1000" if quiet else None)
