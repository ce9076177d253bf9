"""A model trained in Python loads in the command line, and one trained by the command line loads in Python."""
import re

import numpy as np
import pytest

import ebm


def figure(text, name):
    m = re.search(r"^%s\s+(-?[0-9.]+)" % re.escape(name), text, re.M)
    assert m, "no %r in:\n%s" % (name, text)
    return float(m.group(1))


def test_python_model_in_the_cli(tmp_path, cli, binary_data):
    np.save(tmp_path / "x.npy", binary_data)
    r = ebm.BernoulliRBM(n_components=8, n_iter=10, learning_rate=0.05, random_state=0).fit(binary_data)
    r.save(tmp_path / "py.safetensors")
    out = cli("eval", tmp_path / "py.safetensors", "--data", tmp_path / "x.npy")
    m = ebm.RBM.load(tmp_path / "py.safetensors")
    assert figure(out, "free energy") == pytest.approx(m.free_energy(binary_data).mean(), abs=2e-4)
    assert figure(out, "pseudo-LL") == pytest.approx(r.score_samples(binary_data).mean(), abs=2e-4)
    assert figure(out, "log Z") == pytest.approx(m.log_z_exact(), abs=1e-5)
    cli("sample", tmp_path / "py.safetensors", "--n", 5, "--steps", 10, "--npy", tmp_path / "s.npy")
    s = np.load(tmp_path / "s.npy")
    assert s.shape == (5, 16) and s.min() >= 0 and s.max() <= 1  # the chains' p(v | h)
    info = cli("info", tmp_path / "py.safetensors")
    assert "16 visible x 8 hidden" in info and "BernoulliRBM" in info  # the estimator's name is in the metadata


def test_cli_model_in_python(tmp_path, cli, binary_data):
    np.save(tmp_path / "x.npy", binary_data)
    cli("train", "rbm", "--data", tmp_path / "x.npy", "--hidden", 8, "--epochs", 5, "--batch", 20, "--seed", 1,
        "--out", tmp_path / "cli.safetensors", "--log", tmp_path / "log.csv")
    out = cli("eval", tmp_path / "cli.safetensors", "--data", tmp_path / "x.npy")
    est = ebm.BernoulliRBM.load(tmp_path / "cli.safetensors")
    assert est.components_.shape == (8, 16)
    assert est.score_samples(binary_data).mean() == pytest.approx(figure(out, "pseudo-LL"), abs=2e-4)
    m = ebm.load(tmp_path / "cli.safetensors")
    assert m.meta["ebm.train.epochs"] == "5" and m.meta["ebm.model"] == "rbm"
    assert m.log_likelihood(binary_data, m.log_z_exact()) == pytest.approx(figure(out, "log-likelihood"), abs=2e-4)
    # the log draws
    from ebm.plot import plot_logs
    drawn = plot_logs([tmp_path / "log.csv"], tmp_path / "curves.png")
    assert "recon" in drawn and "pseudo_ll" in drawn and "lr" not in drawn
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_grbm_round_trip_with_the_cli(tmp_path, cli):
    r = np.random.RandomState(0)
    X = r.normal(0, 1, (200, 6)).astype(np.float32)
    g = ebm.GaussianBernoulliRBM(n_components=4, n_iter=3, batch_size=50, random_state=0).fit(X)
    g.save(tmp_path / "g.safetensors")
    assert ebm.model_kind(tmp_path / "g.safetensors") == "grbm"
    info = cli("info", tmp_path / "g.safetensors")
    assert "6 visible" in info or "6 x 4" in info or "6" in info
    back = ebm.GaussianBernoulliRBM.load(tmp_path / "g.safetensors")
    np.testing.assert_allclose(back.transform(X), g.transform(X), atol=1e-6)
