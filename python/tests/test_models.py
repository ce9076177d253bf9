"""Training every other model kind from Python through the library's trainers (BM, DBN, energy networks by LCD,
JEM, structured prediction): real figures (exact log-likelihood, accuracy), the same numbers as `ebm train KIND`
with the same seed and options (the saved tensors compared bit for bit), Ctrl-C, and files the command line
reads."""
import json
import os
import re
import signal

import numpy as np
import pytest

import ebm


def figure(text, name):
    m = re.search(r"^%s\s+(-?[0-9.]+)" % re.escape(name), text, re.M)
    assert m, "no %r in:\n%s" % (name, text)
    return float(m.group(1))


def same_tensors(a, b):
    """The tensors of two model files, equal bit for bit; returns their metadata."""
    ta, ma = ebm.read_tensors(a)
    tb, mb = ebm.read_tensors(b)
    assert sorted(ta) == sorted(tb)
    for k in ta:
        assert ta[k].dtype == tb[k].dtype and ta[k].shape == tb[k].shape, k
        assert np.array_equal(ta[k].view(np.uint8), tb[k].view(np.uint8)), "%s differs by %g" % (
            k, np.abs(ta[k].astype(np.float64) - tb[k]).max())
    return ma, mb


def interrupt_at(step, seen):
    """An on_step that presses Ctrl-C (SIGINT to this process) at update `step`."""
    def on_step(p):
        seen.append(p)
        if p["step"] == step:
            os.kill(os.getpid(), signal.SIGINT)
    return on_step


@pytest.fixture(scope="module")
def bits10():
    r = np.random.RandomState(0)
    protos = r.rand(2, 10) > 0.5
    return (protos[r.randint(0, 2, 200)] ^ (r.rand(200, 10) < 0.1)).astype(np.float32)


# ---- Boltzmann machines ----

def test_bm_exact_likelihood_improves_as_in_the_cli(tmp_path, cli, bits10):
    np.save(tmp_path / "x.npy", bits10)
    m = ebm.BM(10).init(seed=3, data=bits10)
    ll0 = m.log_likelihood(bits10)
    epochs = []
    out = m.train(bits10, method="pcd", k=1, epochs=10, batch=20, lr=0.05, seed=3,
                  progress=lambda p: epochs.append(p["epoch"]))
    assert epochs == list(range(1, 11)) and out["steps_done"] == 100 and not out["interrupted"]
    ll1 = m.log_likelihood(bits10)
    assert ll1 > ll0 + 0.15  # exact log-likelihood (2^10 states), nats per row
    assert m.log_likelihood(bits10, m.log_z_exact()) == ll1
    W = m.W
    assert np.array_equal(W, W.T) and not W.diagonal().any()
    m.save(tmp_path / "py.safetensors")
    # the command line, same data, seed and options: the same model bit for bit
    cli("train", "bm", "--data", tmp_path / "x.npy", "--method", "pcd", "--k", 1, "--epochs", 10, "--batch", 20,
        "--lr", 0.05, "--seed", 3, "--out", tmp_path / "cli.safetensors")
    mp, mc = same_tensors(tmp_path / "py.safetensors", tmp_path / "cli.safetensors")
    for key in ("ebm.train.trainer", "ebm.train.method", "ebm.train.seed", "ebm.sample.scan", "ebm.train.init_std"):
        assert mp[key] == mc[key], key
    # and the command line reads the Python model: the same exact log-likelihood
    out = cli("eval", tmp_path / "py.safetensors", "--data", tmp_path / "x.npy")
    assert figure(out, "log-likelihood") == pytest.approx(ll1, abs=1e-4)
    assert figure(out, "log Z") == pytest.approx(m.log_z_exact(), abs=1e-5)
    assert figure(out, "pseudo-LL") == pytest.approx(m.pseudo_log_likelihood(bits10), abs=1e-4)
    assert "Boltzmann" in cli("info", tmp_path / "py.safetensors")
    cli("sample", tmp_path / "py.safetensors", "--n", 4, "--steps", 25, "--seed", 7, "--npy", tmp_path / "s.npy")
    np.testing.assert_array_equal(m.sample(4, steps=25, seed=7), np.load(tmp_path / "s.npy"))  # the same chains
    cli("sample", tmp_path / "py.safetensors", "--n", 3, "--steps", 5, "--init", "data", "--data", tmp_path / "x.npy",
        "--npy", tmp_path / "s.npy")
    np.testing.assert_array_equal(m.sample(3, steps=5, init=bits10), np.load(tmp_path / "s.npy"))
    back = ebm.load(tmp_path / "cli.safetensors")
    assert isinstance(back, ebm.BM) and np.array_equal(back.W, W) and ebm.Model(tmp_path / "py.safetensors").bm.n == 10


def test_bm_pseudo_likelihood_spins_and_stops(bits10):
    m = ebm.BM(10, spins="pm1").init(seed=1)
    x = m.to_spins(bits10)
    assert set(np.unique(x)) == {-1.0, 1.0} and m.off == -1
    p0 = m.pseudo_log_likelihood(x)
    out = m.train(x, method="pl", optimizer="adam", lr=0.05, epochs=5, batch=50, seed=1)
    assert out["epochs_done"] == 5 and m.meta["ebm.train.method"] == "pl"
    ev = m.evaluate(x)
    assert ev["pseudo_ll"] == pytest.approx(m.pseudo_log_likelihood(x)) and ev["pseudo_ll"] > p0 + 1.0
    assert ev["log_likelihood"] == pytest.approx(m.log_likelihood(x))
    s = m.sample(50, steps=20, seed=2)
    assert s.shape == (50, 10) and set(np.unique(s)) <= {-1.0, 1.0}
    # a callback stops it; Ctrl-C stops it after the update under way and keeps the updates made
    out = m.train(x, epochs=5, batch=20, on_step=lambda p: p["step"] == 3)
    assert out["interrupted"] and out["steps_done"] == 3
    W0, seen = m.W, []
    with pytest.raises(KeyboardInterrupt):
        m.train(x, epochs=50, batch=20, on_step=interrupt_at(4, seen))
    assert 4 <= seen[-1]["step"] <= 5 and not np.array_equal(m.W, W0)


# ---- deep belief nets ----

def test_dbn_layer_by_layer_as_in_the_cli(tmp_path, cli, binary_data):
    np.save(tmp_path / "x.npy", binary_data)
    d = ebm.DBN([16, 8, 4])
    seen = []
    out = d.train(binary_data, epochs=4, batch=20, seed=2, progress=lambda p: seen.append((p["layer"], p["epoch"])))
    assert seen == [(l, e) for l in (0, 1) for e in range(1, 5)]
    assert out["layers_done"] == 2 and not out["interrupted"] and [r["layer"] for r in out["layers"]] == [0, 1]
    d.save(tmp_path / "py.safetensors")
    cli("train", "dbn", "--data", tmp_path / "x.npy", "--layers", "8,4", "--epochs", 4, "--batch", 20, "--seed", 2,
        "--out", tmp_path / "cli.safetensors")
    mp, mc = same_tensors(tmp_path / "py.safetensors", tmp_path / "cli.safetensors")
    for key in ("ebm.dbn.sizes", "ebm.train.seed", "ebm.train.layer.1.seed", "ebm.train.method", "ebm.sample.steps"):
        assert mp[key] == mc[key], key
    out = cli("eval", tmp_path / "py.safetensors", "--data", tmp_path / "x.npy")
    assert figure(out, "score") == pytest.approx(d.free_energy(binary_data).mean(), abs=1e-3)
    assert figure(out, "reconstruction") == pytest.approx(d.recon_error(binary_data), abs=1e-5)
    assert "16,8,4" in cli("info", tmp_path / "py.safetensors")
    cli("sample", tmp_path / "py.safetensors", "--n", 3, "--steps", 5, "--npy", tmp_path / "s.npy")
    assert np.load(tmp_path / "s.npy").shape == (3, 16)
    back = ebm.load(tmp_path / "cli.safetensors")
    assert isinstance(back, ebm.DBN) and back.sizes == [16, 8, 4]
    assert back.up(binary_data).shape == (len(binary_data), 4) and d.sample(5, steps=10).shape == (5, 16)
    np.testing.assert_array_equal(back.layer(1).W, d.layers[1].W)


def test_dbn_stops_cleanly(binary_data):
    d = ebm.DBN([16, 8, 4])
    out = d.train(binary_data, epochs=1, batch=20, on_layer=lambda layer, rbm: layer == 1)
    # layer 1 was initialised (hidden biases 0) but never updated
    assert out["interrupted"] and out["layers_done"] == 1 and np.any(d.layer(0).b) and not np.any(d.layer(1).b)
    d = ebm.DBN([16, 8, 4])
    seen = []
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in the second layer: the first stays trained
        d.train(binary_data, epochs=20, batch=20, on_step=lambda p: p["layer"] == 1 and interrupt_at(3, seen)(p))
    assert 3 <= seen[-1]["step"] <= 4 and seen[-1]["layer"] == 1 and np.any(d.layer(0).b) and np.any(d.layer(1).b)

    def boom(p):
        raise RuntimeError("from the callback")
    with pytest.raises(RuntimeError, match="from the callback"):
        ebm.DBN([16, 8]).train(binary_data, epochs=2, batch=20, progress=boom)
    d = ebm.DBN([16, 8])
    with pytest.raises(TypeError, match="on_layer must be a function"):
        d.train(binary_data, epochs=1, batch=20, on_layer=True)
    assert not np.any(d.layer(0).b)  # refused before the first layer trained


# ---- energy networks: Langevin contrastive divergence ----

@pytest.fixture(scope="module")
def gaussians():
    x, y = ebm.toy("8gaussians", 2000, 4)
    return x, y


@pytest.mark.parametrize("spec, opts", [
    ("linear:32,silu,linear:32,silu,linear:1", {}),  # replay buffer; low-dimensional defaults (ULA, lr 3e-3)
    ("linear:32:sn,silu,linear:1:sn", {"negatives": "persistent", "sampler": "mala", "steps": 10}),
    ("linear:16,silu,linear:1", {"negatives": "short-run", "sampler": "hmc", "leapfrog": 3, "steps": 5,
                                 "alpha": 0.5, "optimizer": "sgd", "lr": 0.01}),
    ("linear:16,silu,linear:1", {"init_chains": "gaussian", "prox": 0.05, "ema": 0.9}),  # JEM++'s options
])
def test_lcd_network_bit_identical_to_the_cli(tmp_path, cli, gaussians, spec, opts):
    x, _ = gaussians
    np.save(tmp_path / "x.npy", x)
    net = ebm.EnergyNet(spec, 2).init(seed=4)
    steps = []
    out = net.train(x, iters=30, batch=32, seed=4, on_step=lambda p: steps.append(p["step"]), **opts)
    assert steps == list(range(1, 31)) and out["negatives"].shape == (32, 2)
    net.save(tmp_path / "py.safetensors")
    flags = []
    for k, v in opts.items():
        flags += ["--" + k.replace("_", "-"), v]
    cli("train", "ebm", "--data", tmp_path / "x.npy", "--scale", "none", "--net", spec, "--iters", 30, "--batch", 32,
        "--seed", 4, "--out", tmp_path / "cli.safetensors", *flags)
    mp, mc = same_tensors(tmp_path / "py.safetensors", tmp_path / "cli.safetensors")
    for key in ("ebm.model", "ebm.net.head", "ebm.train.trainer", "ebm.sample.sampler", "ebm.sample.steps",
                "ebm.sample.step_size", "ebm.sample.init_lo", "ebm.sample.init_hi"):
        assert mp[key] == mc[key], key
    for key in ("ebm.sample.clip_lo", "ebm.sample.clip_hi", "ebm.sample.prox", "ebm.train.ema", "ebm.train.init"):
        assert mp.get(key) == mc.get(key), key
    # sampling the Python model: the command line's samples, bit for bit
    cli("sample", tmp_path / "py.safetensors", "--n", 8, "--seed", 5, "--npy", tmp_path / "s.npy")
    s, _ = net.sample(8, seed=5)
    np.testing.assert_array_equal(s, np.load(tmp_path / "s.npy"))
    back = ebm.EnergyNet.load(tmp_path / "cli.safetensors")
    np.testing.assert_array_equal(back.params, net.params)
    np.testing.assert_array_equal(back.energy(x[:50]), ebm.Model(tmp_path / "py.safetensors").energy(x[:50]))


def test_image_energy_defaults_bit_identical_to_the_cli(tmp_path, cli):
    """Images get short-run proximal SGLD (ebm_lcd_opts_for_image_energy) in Python as on the command line."""
    rng = np.random.default_rng(3)
    x = np.where(rng.random((120, 1, 1, 1)) < 0.5, np.tile(np.arange(8) % 4 < 2, (8, 1)),
                 np.tile(np.arange(8) % 4 < 2, (8, 1)).T).reshape(120, 64).astype(np.float32) * 1.6 - 0.8
    np.save(tmp_path / "x.npy", x.reshape(120, 8, 8))
    spec = "flatten,linear:16,silu,linear:1"
    net = ebm.EnergyNet(spec, (1, 8, 8)).init(seed=4)
    net.train(x, iters=6, batch=16, steps=3, seed=4)
    net.save(tmp_path / "py.safetensors")
    cli("train", "ebm", "--data", tmp_path / "x.npy", "--scale", "none", "--net", spec, "--iters", 6, "--batch", 16,
        "--steps", 3, "--seed", 4, "--out", tmp_path / "cli.safetensors")
    mp, mc = same_tensors(tmp_path / "py.safetensors", tmp_path / "cli.safetensors")
    assert mp["ebm.train.method"] == mc["ebm.train.method"] == "lcd-short-run"
    for key, want in (("ebm.train.step_size", "10"), ("ebm.train.noise", "0.005"), ("ebm.train.prox", "0.3"),
                      ("ebm.train.data_noise", "0.005"), ("ebm.sample.clip_lo", "-0.8"), ("ebm.sample.clip_hi", "0.8")):
        assert mp.get(key) == mc.get(key) == want, key


def test_image_jem_defaults_bit_identical_to_the_cli(tmp_path, cli, monkeypatch):
    """A JEM of images gets class negatives from Gaussian starts, gen_weight 0.05 and lr 1e-3 on top of the image
    sampler (ebm_lcd_opts_for_image_jem) in Python as on the command line (fashion-mnist faked by 8x8 files)."""
    rng = np.random.default_rng(5)
    y = (rng.random(120) < 0.5).astype(np.uint8)
    bars = np.tile(np.arange(8) % 4 < 2, (8, 1))
    img = np.where(y[:, None, None] == 1, bars, bars.T).astype(np.uint8) * 180 + 30
    img = img + rng.integers(0, 20, img.shape).astype(np.uint8)  # no two rows alike: the Gaussians are proper
    (tmp_path / "fm").mkdir()
    with open(tmp_path / "fm" / "train-images-idx3-ubyte", "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + (120).to_bytes(4, "big") + (8).to_bytes(4, "big") * 2 + img.tobytes())
    with open(tmp_path / "fm" / "train-labels-idx1-ubyte", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (120).to_bytes(4, "big") + y.tobytes())
    monkeypatch.setenv("EBM_FASHION_MNIST_DIR", str(tmp_path / "fm"))
    x = img.reshape(120, 64).astype(np.float32)
    spec = "flatten,linear:16,silu,linear:2"
    net = ebm.EnergyNet(spec, (1, 8, 8), head="logsumexp").init(seed=4)
    net.train_jem(x, y, iters=4, batch=16, steps=2, seed=4)
    net.save(tmp_path / "py.safetensors")
    cli("train", "jem", "--data", "fashion-mnist", "--scale", "none", "--net", spec, "--iters", 4, "--batch", 16,
        "--steps", 2, "--seed", 4, "--out", tmp_path / "cli.safetensors")
    mp, mc = same_tensors(tmp_path / "py.safetensors", tmp_path / "cli.safetensors")
    for key, want in (("ebm.train.method", "lcd-short-run"), ("ebm.train.init", "gaussian"),
                      ("ebm.jem.negatives", "class"), ("ebm.jem.gen_weight", "0.05"), ("ebm.train.lr", "0.001"),
                      ("ebm.train.prox", "0.3")):
        assert mp.get(key) == mc.get(key) == want, key
    clf = ebm.EnergyNet(spec, (1, 8, 8), head="logsumexp").init(seed=4)  # the classifier: the learning rate alone
    clf.train_jem(x, y, objective="clf", iters=4, batch=16, seed=4)
    clf.save(tmp_path / "pyc.safetensors")
    cli("train", "jem", "--data", "fashion-mnist", "--scale", "none", "--net", spec, "--objective", "clf", "--iters", 4,
        "--batch", 16, "--seed", 4, "--out", tmp_path / "clic.safetensors")
    mp, mc = same_tensors(tmp_path / "pyc.safetensors", tmp_path / "clic.safetensors")
    assert mp["ebm.train.lr"] == mc["ebm.train.lr"] == "0.001"
    assert not any(k in m for m in (mp, mc) for k in ("ebm.jem.negatives", "ebm.train.init", "ebm.train.data_noise"))
    buf = ebm.EnergyNet(spec, (1, 8, 8), head="logsumexp").init(seed=4)
    buf.train_jem(x, y, iters=2, batch=16, steps=2, seed=4, negatives="buffer")  # a buffer given: no class negatives
    assert "ebm.jem.negatives" not in buf.meta and buf.meta["ebm.train.init"] == "gaussian"


def test_lcd_learns_where_the_data_is_and_stops_on_ctrl_c(gaussians):
    x, _ = gaussians
    net = ebm.EnergyNet("linear:32,silu,linear:32,silu,linear:1", 2).init(seed=1)
    shown = []
    net.train(x, iters=300, batch=64, seed=1, progress=lambda p: shown.append(p["step"]), every=100)
    assert shown == [100, 200, 300]
    box = np.random.RandomState(0).uniform(-4, 4, (2000, 2))
    far = np.linalg.norm(box[:, None, :] - x[None, :500, :], axis=2).min(axis=1) > 1.5  # away from every mode
    assert net.energy(x).mean() < net.energy(box[far]).mean() - 0.5  # low energy on the data, high off it
    p0, seen = net.params, []
    with pytest.raises(KeyboardInterrupt):
        net.train(x, iters=500, batch=64, on_step=interrupt_at(5, seen))
    assert 5 <= seen[-1]["step"] <= 6 and not np.array_equal(net.params, p0)
    with pytest.raises(ebm.InvalidArgumentError):
        ebm.EnergyNet("linear:8,silu,linear:3", 2)  # an energy needs one output
    with pytest.raises(ebm.InvalidArgumentError):
        net.train(x, negatives="nope")


# ---- JEM ----

def test_jem_classifies_and_matches_the_cli(tmp_path, cli, gaussians):
    x, y = gaussians
    spec = "linear:32,silu,linear:32,silu,linear:8"
    net = ebm.EnergyNet(spec, 2, head="logsumexp").init(seed=4)
    assert net.classes == 8
    p0 = net.params
    with pytest.raises(TypeError, match="progress must be a function"):
        net.train_jem(x, y, iters=150, progress=False)
    assert np.array_equal(net.params, p0)  # refused before the first update
    ce = []
    out = net.train_jem(x, y, iters=150, batch=64, seed=4, progress=lambda p: ce.append(p["last"]["extra"]),
                        every=50)
    assert len(ce) == 3 and ce[-1] < ce[0] and np.isfinite(out["last"]["e_neg"])
    pred, prob = net.classify(x)
    assert (pred == y).mean() > 0.95 and np.allclose(prob.sum(axis=1), 1)
    net.save(tmp_path / "py.safetensors")
    cli("train", "jem", "--data", "toy:8gaussians", "--limit", 2000, "--net", spec, "--iters", 150, "--batch", 64,
        "--seed", 4, "--out", tmp_path / "cli.safetensors")
    mp, mc = same_tensors(tmp_path / "py.safetensors", tmp_path / "cli.safetensors")
    assert mp["ebm.model"] == mc["ebm.model"] == "jem" and mp["ebm.jem.objective"] == "jem"
    assert figure(cli("classify", tmp_path / "py.safetensors", "--data", "toy:8gaussians"), "accuracy") > 0.95
    mod = ebm.load(tmp_path / "py.safetensors")
    assert mod.kind == "jem" and mod.classes == 8
    np.testing.assert_array_equal(mod.classify(x[:100])[0], pred[:100])
    # temperature scaling: the same T as `ebm calibrate` on the same rows (the CLI's toy:8gaussians, seed 1)
    xv, yv = ebm.toy("8gaussians", 10000, 1)
    cal = ebm.EnergyNet.load(tmp_path / "py.safetensors")
    assert cal.temperature == 1.0
    t, before, after = cal.calibrate(xv, yv)
    assert 0.01 <= t <= 100 and t != 1 and after <= before
    np.testing.assert_array_equal(cal.classify(xv)[0], cal.classify(xv, 1)[0])  # the arg max stays
    p1, pt = cal.classify(xv, 1)[1], cal.classify(xv)[1]
    assert not np.allclose(p1, pt) and np.allclose(pt.sum(axis=1), 1)
    cal.save(tmp_path / "cal.safetensors")
    assert ebm.EnergyNet.load(tmp_path / "cal.safetensors").temperature == t
    cli("calibrate", tmp_path / "py.safetensors", "--data", "toy:8gaussians", "--out", tmp_path / "cli_cal.safetensors")
    assert ebm.EnergyNet.load(tmp_path / "cli_cal.safetensors").temperature == t
    with pytest.raises(ebm.InvalidArgumentError):
        cal.classify(xv, 0)
    with pytest.raises(ebm.InvalidArgumentError):
        cal.calibrate(xv, yv[:10])
    # Gaussians in the penultimate features (the second SiLU's 32 outputs): numpy's Mahalanobis distance, and the
    # CLI's --score mahalanobis on the same rows
    fg = cal.fit_features(xv[:2000], yv[:2000])
    assert fg.means == 8 and fg.width == 32
    sc, near = fg.score(xv[:300], return_nearest=True)
    w = cal.params.astype(np.float64)
    w1, b1, w2, b2 = w[:64].reshape(32, 2), w[64:96], w[96:1120].reshape(32, 32), w[1120:1152]
    silu = lambda z: z / (1 + np.exp(-z))
    feats = lambda v: silu(silu(v.astype(np.float64) @ w1.T + b1) @ w2.T + b2)
    f, yf = feats(xv[:2000]), yv[:2000]
    mu = np.stack([f[yf == c].mean(axis=0) for c in range(8)])
    lam, vec = np.linalg.eigh(np.cov((f - mu[yf]).T, bias=True))
    white = vec / np.sqrt(np.maximum(lam, 0) + 1e-6 * np.maximum(lam, 0).mean())
    d = (((feats(xv[:300]) @ white)[:, None, :] - (mu @ white)[None]) ** 2).sum(axis=2)
    np.testing.assert_allclose(sc, d.min(axis=1), rtol=5e-4)  # float32 features against float64
    # the features themselves: layer by layer against numpy, default the penultimate, any batch size
    assert cal.n_layers == 5 and cal.penultimate == 4
    v = xv[:300]
    np.testing.assert_allclose(cal.features(v), feats(v), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cal.features(v, layer=1), v @ w1.T + b1, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(cal.features(v, layer=0), v)
    np.testing.assert_allclose(cal.features(v, layer=5), cal.forward(v), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cal.features(v, batch=7), cal.features(v), rtol=1e-5, atol=1e-6)
    assert cal.features(v, layer=3).shape == (300, 32) and cal.features(v[:0]).shape == (0, 32)
    for bad in ({"layer": 6}, {"layer": -1}, {"batch": 0}):
        with pytest.raises(ebm.InvalidArgumentError):
            cal.features(v, **bad)
    assert (near == d.argmin(axis=1)).mean() > 0.99 and (near == yv[:300]).mean() > 0.95
    cli("score", tmp_path / "py.safetensors", "--score", "mahalanobis", "--fit-data", "toy:8gaussians", "--fit-limit",
        2000, "--data", "toy:8gaussians", "--limit", 300, "--out", tmp_path / "maha.csv")
    np.testing.assert_allclose(np.loadtxt(tmp_path / "maha.csv", delimiter=",", skiprows=1)[:, 1], sc, rtol=1e-6)
    with pytest.raises(ebm.InvalidArgumentError):
        cal.fit_features(xv[:1])
    with pytest.raises(ebm.InvalidArgumentError):
        cal.fit_features(xv[:10], yv[:5])
    s, _ = net.sample(16, classes=[3], seed=1, steps=100)  # p(x | y = 3): near that mode
    assert np.linalg.norm(s.mean(axis=0) - x[y == 3].mean(axis=0)) < 1.0
    # the discriminative baseline trains without sampling
    clf = ebm.EnergyNet(spec, 2, head="logsumexp").init(seed=4)
    out = clf.train_jem(x, y, objective="clf", iters=100, batch=64, lr=0.01)
    assert np.isnan(out["last"]["e_neg"]) and (clf.classify(x)[0] == y).mean() > 0.95


def test_jem_class_negatives_as_the_cli(tmp_path, cli, gaussians):
    x, y = gaussians
    spec = "linear:32,silu,linear:32,silu,linear:8"
    net = ebm.EnergyNet(spec, 2, head="logsumexp").init(seed=4)  # seed 4: the CLI's toy data are the fixture's
    out = net.train_jem(x, y, iters=60, batch=64, seed=4, negatives="short-run", class_negatives=True)
    assert np.isfinite(out["last"]["e_neg"])
    net.save(tmp_path / "py.safetensors")
    cli("train", "jem", "--data", "toy:8gaussians", "--limit", 2000, "--net", spec, "--iters", 60, "--batch", 64,
        "--seed", 4, "--negatives", "short-run", "--class-negatives", "--out", tmp_path / "cli.safetensors")
    mp, mc = same_tensors(tmp_path / "py.safetensors", tmp_path / "cli.safetensors")
    assert mp["ebm.jem.negatives"] == mc["ebm.jem.negatives"] == "class"
    # from Gaussian starts, each chain from its class's: the same model, and the same samples as `ebm sample`
    # (which starts such a model's chains from Gaussians fitted to its training data by default)
    g = ebm.EnergyNet(spec, 2, head="logsumexp").init(seed=4)
    g.train_jem(x, y, iters=30, batch=64, seed=4, negatives="short-run", class_negatives=True, init_chains="gaussian")
    g.save(tmp_path / "pyg.safetensors")
    cli("train", "jem", "--data", "toy:8gaussians", "--limit", 2000, "--net", spec, "--iters", 30, "--batch", 64,
        "--seed", 4, "--negatives", "short-run", "--class-negatives", "--init-chains", "gaussian",
        "--out", tmp_path / "clig.safetensors")
    same_tensors(tmp_path / "pyg.safetensors", tmp_path / "clig.safetensors")
    cli("sample", tmp_path / "clig.safetensors", "--class", "all", "--n", 16, "--steps", 3, "--seed", 5,
        "--npy", tmp_path / "sg.npy")
    x1, y1 = ebm.toy("8gaussians", 2000, 1)  # what the command line loads as a toy model's data: seed 1
    s, _ = g.sample(16, steps=3, seed=5, classes=list(range(8)), init_data=(x1, y1))
    np.testing.assert_array_equal(s, np.load(tmp_path / "sg.npy"))
    s0, _ = g.sample(16, steps=1, step_size=1e-30, noise=0, seed=5, classes=[2], init_data=(x, y))
    assert np.linalg.norm(s0.mean(axis=0) - x[y == 2].mean(axis=0)) < 0.5  # class 2's starts
    with pytest.raises(ebm.InvalidArgumentError):
        g.sample(4, classes=[1], init_data=x)  # classes need labels
    with pytest.raises(ebm.InvalidArgumentError):
        g.sample(4, x0=x[:4], init_data=(x, y))  # two kinds of start
    with pytest.raises(ebm.InvalidArgumentError):
        net.train_jem(x, y, iters=5, class_negatives=True)  # a replay buffer


# ---- structured prediction ----

def test_structured_chain_learns_the_markov_structure_as_the_cli(tmp_path, cli):
    m = ebm.Structured(6 * 3, 3, length=6).init(seed=2)
    x, y = ebm.markov_toy(300, 6, 3, seed=2, meta_of=m)
    assert x.shape == (300, 18) and y.shape == (300, 6)
    out = m.train(x, y, loss="nll", epochs=3, seed=2)
    assert out["epochs_done"] == 3 and out["steps_done"] == 15
    m.save(tmp_path / "py.safetensors")
    cli("train", "structured", "--data", "markov", "--limit", 300, "--length", 6, "--classes", 3, "--loss", "nll",
        "--epochs", 3, "--seed", 2, "--out", tmp_path / "cli.safetensors")
    same_tensors(tmp_path / "py.safetensors", tmp_path / "cli.safetensors")
    res = json.loads(cli("eval", tmp_path / "py.safetensors", "--data", "markov:test", "--limit", 300,
                         "--json").strip().splitlines()[-1])
    xt, yt = ebm.markov_toy(300, 6, 3, seed=2 + 1000003)
    ev = m.evaluate(xt, yt)
    assert res["accuracy"] == pytest.approx(ev["accuracy"], abs=1e-9) and res["loss_value"] == pytest.approx(ev["loss"])
    # trained longer, Viterbi beats reading each position alone: the pairwise term learnt the chain's stickiness
    m = ebm.Structured(8 * 4, 4, length=8).init(seed=1)
    x, y = ebm.markov_toy(1000, 8, 4, seed=1)
    m.train(x, y, loss="nll", epochs=15, lr=1e-2, seed=1)
    xt, yt = ebm.markov_toy(1000, 8, 4, seed=1 + 1000003)
    alone = (xt.reshape(-1, 8, 4).argmax(axis=2) == yt).mean()
    assert (m.predict(xt) == yt).mean() > alone + 0.08
    P = m.pair
    assert P.shape == (4, 4) and np.all(np.diag(P) < P.mean())  # staying costs less energy than moving


def test_structured_classes_with_the_cli_and_callbacks(tmp_path, cli, gaussians):
    x, y = ebm.toy("8gaussians", 2000, 3)
    k = ebm.Structured(2, 8).init(seed=3)
    out = k.train(x, y, loss="hinge", epochs=3, seed=3)
    assert (k.predict(x) == y).mean() > 0.95 and k.evaluate(x, y)["accuracy"] == (k.predict(x) == y).mean()
    k.save(tmp_path / "py.safetensors")
    cli("train", "structured", "--data", "toy:8gaussians", "--limit", 2000, "--loss", "hinge", "--epochs", 3,
        "--seed", 3, "--out", tmp_path / "cli.safetensors")
    same_tensors(tmp_path / "py.safetensors", tmp_path / "cli.safetensors")
    assert figure(cli("eval", tmp_path / "py.safetensors", "--data", "toy:8gaussians"), "accuracy") > 0.95
    back = ebm.load(tmp_path / "py.safetensors")
    assert isinstance(back, ebm.Structured) and back.classes == 8 and ebm.Model(tmp_path / "py.safetensors").structured
    U, P = back.energies(x[:5])
    assert U.shape == (5, 8) and P is None and np.all(U >= 0)  # softplus energies
    np.testing.assert_array_equal(U.argmin(axis=1), back.predict(x[:5]))
    for loss in ebm.LOSSES:  # every loss trains a step
        m = ebm.Structured(2, 8).init(seed=1)
        out = m.train(x[:200], y[:200], loss=loss, epochs=1, on_step=lambda p: p["step"] == 2)
        assert out["interrupted"] and out["steps_done"] == 2 and np.isfinite(out["last"]["loss"])
    with pytest.raises(ebm.InvalidArgumentError):
        ebm.Structured(2, 8, output="raw").train(x, y, loss="sqsq")
    seen = []
    with pytest.raises(KeyboardInterrupt):
        ebm.Structured(2, 8).init(seed=1).train(x, y, epochs=50, batch=16, on_step=interrupt_at(4, seen))
    assert 4 <= seen[-1]["step"] <= 5


def _write_fmnist(d, images, labels):
    """A fake Fashion-MNIST training set (IDX, u8) in directory d."""
    os.makedirs(d, exist_ok=True)
    n, h, w = images.shape
    with open(os.path.join(d, "train-images-idx3-ubyte"), "wb") as f:
        f.write(np.array([0x803, n, h, w], ">u4").tobytes() + images.astype(np.uint8).tobytes())
    with open(os.path.join(d, "train-labels-idx1-ubyte"), "wb") as f:
        f.write(np.array([0x801, n], ">u4").tobytes() + labels.astype(np.uint8).tobytes())


def test_rotations_are_numpy_rot90():
    rng = np.random.RandomState(5)
    x = rng.rand(7, 5, 5).astype(np.float32)
    y = rng.randint(0, 3, 7)
    x4, y4 = ebm.rotations(x, y, classes=4)
    want = np.stack([np.rot90(x, r, axes=(1, 2)) for r in range(4)], 1).reshape(28, 25)
    assert np.array_equal(x4, want)
    assert np.array_equal(y4, (y[:, None] + 4 * np.arange(4)[None]).reshape(-1))
    assert np.array_equal(ebm.rotations(x.reshape(7, 25)), want)  # flat rows, no labels
    with pytest.raises(ebm.ShapeError):
        ebm.rotations(np.zeros((3, 12), np.float32))
    with pytest.raises(ebm.InvalidArgumentError):
        ebm.rotations(x, y, classes=2)  # a label 2 is not a class of 2


def test_trim_outputs_keeps_the_first_logits():
    net = ebm.EnergyNet("flatten,linear:6,silu,linear:8", (4, 4), head="logsumexp")
    net.init(seed=3)
    x = np.random.RandomState(1).rand(5, 16).astype(np.float32)
    t = net.trim_outputs(3)
    assert t.output_size == 3 and t.spec.endswith("linear:3") and t.input_shape == net.input_shape
    assert np.array_equal(t.forward(x), net.forward(x)[:, :3])
    with pytest.raises(ebm.InvalidArgumentError):
        net.trim_outputs(9)


def test_train_jem_rotations_is_training_on_turned_images(tmp_path, cli, monkeypatch):
    """`train jem --rotations` trains exactly what a run on the turned images (numpy.rot90, rows 4i + r) with
    joint labels y + K r trains, and saves its first K outputs: every tensor equal bit for bit."""
    rng = np.random.RandomState(3)
    n, side, k = 48, 6, 3
    x = rng.randint(0, 256, (n, side, side))
    y = rng.randint(0, k, n)
    y[:k] = np.arange(k)  # every class present
    _write_fmnist(tmp_path / "up", x, y)
    x4 = np.stack([np.rot90(x, r, axes=(1, 2)) for r in range(4)], 1).reshape(4 * n, side, side)
    _write_fmnist(tmp_path / "turned", x4, (y[:, None] + k * np.arange(4)[None]).reshape(-1))
    common = ["--data", "fashion-mnist", "--iters", 12, "--batch", 16, "--seed", 2]
    for objective, extra in (("clf", []), ("jem", ["--steps", 2])):
        monkeypatch.setenv("EBM_FASHION_MNIST_DIR", str(tmp_path / "up"))
        cli("train", "jem", "--objective", objective, "--rotations", "--net", "flatten,linear:8,silu,linear:%d" % (4 * k),
            *common, *extra, "--out", tmp_path / "rot.safetensors")
        monkeypatch.setenv("EBM_FASHION_MNIST_DIR", str(tmp_path / "turned"))
        cli("train", "jem", "--objective", objective, "--net", "flatten,linear:8,silu,linear:%d" % (4 * k), *common,
            *extra, "--out", tmp_path / "full.safetensors")
        tr, mr = ebm.read_tensors(tmp_path / "rot.safetensors")
        tf, _ = ebm.read_tensors(tmp_path / "full.safetensors")
        assert sorted(tr) == sorted(tf)
        for name in tr:
            want = tf[name][:k] if name.startswith("layers.3.") else tf[name]
            assert np.array_equal(tr[name], want), name
        assert tr["layers.3.weight"].shape == (k, 8)
        assert mr["ebm.jem.rotations"] == "4" and mr["ebm.jem.classes"] == str(k) and mr["ebm.data.rows"] == str(n)
        assert mr["ebm.net.spec"].endswith("linear:%d" % k)


def test_energies_and_scores_equal_the_command_lines_in_chunks(tmp_path, cli, monkeypatch):
    """A CNN's energies through Python equal `ebm score`'s CSV bit for bit on more rows than one chunk (Python
    goes 512 rows at a time as the command line does, so memory stays bounded on large data), and forward()
    gives the same outputs whatever the rows around them."""
    rng = np.random.RandomState(4)
    n, side = 1100, 8
    x = rng.randint(0, 256, (n, side, side))
    y = rng.randint(0, 3, n)
    _write_fmnist(tmp_path, x, y)
    monkeypatch.setenv("EBM_FASHION_MNIST_DIR", str(tmp_path))
    m = tmp_path / "cnn.safetensors"
    cli("train", "jem", "--objective", "clf", "--net", "conv:4:3:1:1,silu,pool:2,flatten,linear:16,silu,linear:3",
        "--data", "fashion-mnist", "--iters", 5, "--batch", 32, "--out", m)
    cli("score", m, "--data", "fashion-mnist", "--out", tmp_path / "s.csv")
    want = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)[:, 1]
    model, net = ebm.load(m), ebm.EnergyNet.load(m)
    xs, _ = model.data("fashion-mnist")
    assert xs.shape == (n, side * side)
    np.testing.assert_array_equal(model.anomaly_score(xs).astype(np.float32), want.astype(np.float32))
    np.testing.assert_array_equal(net.energy(xs).astype(np.float32), want.astype(np.float32))
    z = net.forward(xs)
    np.testing.assert_array_equal(net.forward(xs[256:512]), z[256:512])  # one chunk of the full call, alone
    np.testing.assert_allclose(-np.log(np.exp(z.astype(np.float64)).sum(1)), want, rtol=1e-5, atol=1e-5)
