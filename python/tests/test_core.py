"""RBM, GRBM and Model objects against NumPy's arithmetic, exact enumeration and fixed seeds."""
import itertools
import os
import signal

import numpy as np
import pytest

import ebm


def small_rbm(nv=6, nh=4, seed=0):
    r = np.random.RandomState(seed)
    return ebm.RBM.from_arrays(r.normal(0, 0.8, (nv, nh)), r.normal(0, 0.5, nv), r.normal(0, 0.5, nh))


def np_free_energy(m, v):
    return -(v @ m.a) - np.logaddexp(0, v @ m.W + m.b).sum(1)


def test_rbm_energies_match_numpy():
    m = small_rbm()
    v = (np.random.RandomState(1).rand(20, 6) > 0.5).astype(np.float32)
    h = (np.random.RandomState(2).rand(20, 4) > 0.5).astype(np.float32)
    np.testing.assert_allclose(m.free_energy(v), np_free_energy(m, v), rtol=1e-5, atol=1e-5)
    E = -(v @ m.a) - (h @ m.b) - np.einsum("ni,ij,nj->n", v, m.W, h)
    np.testing.assert_allclose(m.energy(v, h), E, rtol=1e-5, atol=1e-5)
    ph = 1 / (1 + np.exp(-(v @ m.W + m.b)))
    np.testing.assert_allclose(m.hidden_probs(v), ph, rtol=1e-5, atol=1e-6)
    # temperature divides the pre-activations
    np.testing.assert_allclose(m.hidden_probs(v, T=2.0), 1 / (1 + np.exp(-(v @ m.W + m.b) / 2)), atol=1e-6)


def test_exact_log_z_and_ais_interval():
    m = small_rbm()
    states = np.array(list(itertools.product([0, 1], repeat=6)), np.float32)
    log_z = np.logaddexp.reduce(-np_free_energy(m, states))
    assert m.log_z_exact() == pytest.approx(log_z, abs=1e-4)
    r = m.ais(runs=200, steps=1000, seed=3)
    assert r["log_z_lo"] - 0.05 <= log_z <= r["log_z_hi"] + 0.05
    assert abs(r["log_z"] - log_z) < 0.1
    v = states[:5]
    assert m.log_likelihood(v, log_z) == pytest.approx(float(np.mean(-np_free_energy(m, v) - log_z)), abs=1e-4)


def test_gibbs_is_reproducible_and_matches_the_exact_marginals():
    m = small_rbm()
    a = m.sample(4000, steps=30, seed=7)
    b = m.sample(4000, steps=30, seed=7)
    c = m.sample(4000, steps=30, seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert len({r.tobytes() for r in a[:50]}) > 10  # chains differ from one another
    states = np.array(list(itertools.product([0, 1], repeat=6)), np.float32)
    p = np.exp(-np_free_energy(m, states) - m.log_z_exact())
    exact_mean = p @ states
    np.testing.assert_allclose(a.mean(0), exact_mean, atol=0.04)  # 4000 chains: sd of a mean < 0.008
    # clamping holds the masked units at their values
    mask = np.array([1, 1, 0, 0, 0, 0], bool)
    s = m.sample(50, steps=5, seed=1, clamp=(mask, np.array([1, 0, 0, 0, 0, 0], np.float32)))
    assert np.all(s[:, 0] == 1) and np.all(s[:, 1] == 0)


def test_rbm_training_learns_and_saves(tmp_path, binary_data):
    m = ebm.RBM(16, 8).init(seed=1, data=binary_data)
    before = m.pseudo_log_likelihood(binary_data)
    seen = []
    out = m.train(binary_data, epochs=30, batch=20, lr=0.1, seed=2, progress=lambda p: seen.append(p["epoch"]))
    assert seen == list(range(1, 31)) and out["epochs_done"] == 30 and out["steps_done"] == 30 * 20
    after = m.pseudo_log_likelihood(binary_data)
    assert after > before + 1.0  # two prototypes with 10% noise: the model must find them
    assert m.meta["ebm.train.trainer"] == "rbm-cd" and m.meta["ebm.train.epochs"] == "30"
    p = tmp_path / "m.safetensors"
    m.save(p, {"note": "from python"})
    back = ebm.load(p)
    assert isinstance(back, ebm.RBM) and back.meta["note"] == "from python"
    np.testing.assert_array_equal(back.W, m.W)
    tensors, meta = ebm.read_tensors(p)
    assert tensors["W"].shape == (16, 8) and meta["ebm.model"] == "rbm"
    assert ebm.model_kind(p) == "rbm" and ebm.read_meta(p)["note"] == "from python"
    # the same seed gives the same model, bit for bit
    m2 = ebm.RBM(16, 8).init(seed=1, data=binary_data)
    m2.train(binary_data, epochs=30, batch=20, lr=0.1, seed=2)
    np.testing.assert_array_equal(m2.W, m.W)


def test_rbm_training_in_bf16(binary_data):
    m = ebm.RBM(16, 8).init(seed=1, data=binary_data)
    before = m.pseudo_log_likelihood(binary_data)
    try:
        m.train(binary_data, epochs=30, batch=20, lr=0.1, seed=2, precision="bf16")
    except ebm.Error as e:  # a build without oneDNN
        assert "oneDNN" in str(e)
        return
    assert m.pseudo_log_likelihood(binary_data) > before + 1.0
    assert m.meta["ebm.train.precision"] == "bf16"
    with pytest.raises(ValueError):
        m.train(binary_data, epochs=1, precision="fp16")


def test_callback_stops_and_exceptions_propagate(binary_data):
    m = ebm.RBM(16, 8).init(seed=1)
    out = m.train(binary_data, epochs=5, batch=20, on_step=lambda p: p["step"] >= 3)
    assert out["interrupted"] and out["steps_done"] == 3

    def boom(p):
        raise RuntimeError("from the callback")
    with pytest.raises(RuntimeError, match="from the callback"):
        m.train(binary_data, epochs=5, batch=20, progress=boom)


def test_a_callback_that_is_not_a_function_is_refused_before_training(binary_data):
    m = ebm.RBM(16, 8).init(seed=1)
    W0 = m.W
    for kw in ({"progress": False}, {"on_step": 1}):
        with pytest.raises(TypeError, match=list(kw)[0] + " must be a function"):
            m.train(binary_data, epochs=1, batch=20, **kw)
    assert np.array_equal(m.W, W0)  # refused before the first update, not after it


def test_ctrl_c_stops_training_cleanly(binary_data):
    m = ebm.RBM(16, 8).init(seed=1)
    W0 = m.W
    steps = []

    def on_step(p):
        steps.append(p["step"])
        if p["step"] == 5:
            os.kill(os.getpid(), signal.SIGINT)  # as if the user pressed Ctrl-C during the run
    with pytest.raises(KeyboardInterrupt):
        m.train(binary_data, epochs=50, batch=20, on_step=on_step)
    assert 5 <= steps[-1] <= 6 and len(steps) < 50 * 20  # stopped at once, not after the 1000 updates
    assert not np.array_equal(m.W, W0)  # the updates made before the interrupt are kept
    m.train(binary_data, epochs=1, batch=20)  # and the library is usable afterwards


def test_grbm_sampling_training_and_exact_log_z():
    r = np.random.RandomState(0)
    x = np.concatenate([r.normal(-2, 0.5, (300, 3)), r.normal(2, 0.5, (300, 3))]).astype(np.float32)
    g = ebm.GRBM(3, 4).init(seed=1)
    g.fit_standardization(x, global_=True)
    assert g.get_params()["data_std"][0] == pytest.approx(x.std(), rel=1e-3)
    np.testing.assert_allclose(g.unstandardize(g.standardize(x)), x, atol=1e-5)
    z0 = g.log_z_exact()
    g0 = ebm.GRBM(3, 4).init(seed=1)
    g0.fit_standardization(x, global_=True)
    g5 = ebm.GRBM(3, 4).init(seed=1)
    g5.fit_standardization(x, global_=True)
    out = g.train(x, epochs=20, batch=50, lr=0.05, k=10, seed=1)
    assert out["epochs_done"] == 20 and g.meta["ebm.train.trainer"].startswith("grbm")
    # the default averages the later half of each chain (burn_in = k // 2), as `ebm train grbm` does
    assert g.meta["ebm.train.burn_in"] == "5"
    g5.train(x, epochs=20, batch=50, lr=0.05, k=10, seed=1, burn_in=5)
    g0.train(x, epochs=20, batch=50, lr=0.05, k=10, seed=1, burn_in=0)
    np.testing.assert_array_equal(g5.get_params()["W"], g.get_params()["W"])
    assert not np.array_equal(g0.get_params()["W"], g.get_params()["W"])
    z1 = g.log_z_exact()
    assert np.isfinite(z0) and np.isfinite(z1) and z1 != z0
    a = g.ais(runs=100, steps=500, seed=1)
    assert a["log_z_lo"] - 0.1 <= z1 <= a["log_z_hi"] + 0.1
    s = g.sample(500, steps=50, seed=3)
    assert s.shape == (500, 3) and np.all(np.isfinite(s))
    # both modes are visited: the model learnt the two clusters
    assert (s[:, 0] < -1).mean() > 0.15 and (s[:, 0] > 1).mean() > 0.15
    np.testing.assert_array_equal(s, g.sample(500, steps=50, seed=3))
    # bf16 products (where oneDNN is built in): other draws, the same two modes; the setting is recorded
    try:
        s16 = g.sample(500, steps=50, seed=3, precision="bf16")
    except ebm.Error as e:
        assert "oneDNN" in str(e)
        return
    assert not np.array_equal(s16, s) and (s16[:, 0] < -1).mean() > 0.15 and (s16[:, 0] > 1).mean() > 0.15
    g.train(x, epochs=2, batch=50, lr=0.05, k=10, seed=1, precision="bf16")
    assert g.meta["ebm.train.precision"] == "bf16"
    with pytest.raises(ValueError):
        g.sample(5, precision="fp16")


def test_model_energy_and_gradient_samplers(tmp_path):
    m = small_rbm()
    p = tmp_path / "rbm.safetensors"
    m.save(p)
    mod = ebm.Model(p)
    assert mod.kind == "rbm" and mod.dim == 6 and mod.rbm.n_hid == 4
    x = np.random.RandomState(0).rand(10, 6).astype(np.float32)
    np.testing.assert_allclose(mod.energy(x), np_free_energy(m, x), rtol=1e-4, atol=1e-4)
    # dF/dv = -a - W sigmoid(b + W'v)
    g = -m.a - (1 / (1 + np.exp(-(x @ m.W + m.b)))) @ m.W.T
    np.testing.assert_allclose(mod.grad_energy(x), g, rtol=1e-4, atol=1e-5)
    for kind in ebm.MCMC:
        s, acc = mod.mcmc(x, kind=kind, steps=20, step_size=0.01, seed=1)
        assert s.shape == x.shape and np.all(np.isfinite(s)) and 0 < acc <= 1 and not np.array_equal(s, x)
    mask = np.zeros(6, bool)
    mask[:2] = True
    s, _ = mod.mcmc(x, kind="ula", steps=10, clamp=mask, seed=1)
    np.testing.assert_array_equal(s[:, :2], x[:, :2])
    with pytest.raises(ebm.InvalidArgumentError):
        mod.mcmc(x, kind="nope")
    # data as the model reads it, and its anomaly score (ebm score's path): the free energy here
    np.savetxt(tmp_path / "rows.csv", x, delimiter=",", fmt="%.9g")
    xd, y = mod.data(str(tmp_path / "rows.csv"))
    assert y is None and xd.shape == (10, 6)
    np.testing.assert_allclose(xd, x, rtol=1e-6)
    np.testing.assert_allclose(mod.anomaly_score(xd), np_free_energy(m, xd), rtol=1e-4, atol=1e-4)
    assert mod.anomaly_score_name == "free energy F(v)"
    assert mod.data(str(tmp_path / "rows.csv"), limit=3)[0].shape == (3, 6)
    np.savetxt(tmp_path / "big.csv", 3 * x, delimiter=",", fmt="%.9g")
    with pytest.raises(ebm.InvalidArgumentError, match="training data were"):
        mod.data(str(tmp_path / "big.csv"))


def test_save_grid(tmp_path):
    p = tmp_path / "g.png"
    ebm.save_grid(p, np.random.RandomState(0).rand(6, 16), 4, 4)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
