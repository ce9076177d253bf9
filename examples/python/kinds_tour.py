#!/usr/bin/python3
# %% [markdown]
# # Training every model kind from Python (notebook-style: each `# %%` is a cell; run whole with /usr/bin/python3)
# A Boltzmann machine with its exact log-likelihood, a deep belief net layer by layer, an energy network on the
# eight-Gaussians toy by Langevin contrastive divergence, a JEM classifier, and a structured predictor of label
# chains, each through the library's own trainer with a progress callback (Ctrl-C stops any of them cleanly).
# About ten seconds on 2 idle cores; models go to out/python/.
# %%
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import ebm  # noqa: E402

out = os.environ.get("OUT", "out/python")
os.makedirs(out, exist_ok=True)
r = np.random.RandomState(0)

# %% [markdown]
# ## A Boltzmann machine on two noisy prototypes: exact log-likelihood per epoch
# %%
protos = r.rand(2, 12) > 0.5
X = (protos[r.randint(0, 2, 500)] ^ (r.rand(500, 12) < 0.1)).astype(np.float32)
bm = ebm.BM(12).init(seed=1, data=X)
print("BM  exact LL before %.3f nats" % bm.log_likelihood(X))
bm.train(X, method="pcd", epochs=10, batch=50, lr=0.05, seed=1,
         progress=lambda p: p["epoch"] % 5 == 0 and print("  epoch %d  exact LL %.3f" % (p["epoch"], bm.log_likelihood(X))))
bm.save(os.path.join(out, "bm.safetensors"))  # ebm eval out/python/bm.safetensors --data ... reads it

# %% [markdown]
# ## A deep belief net, greedily: the progress dicts say which layer is training
# %%
dbn = ebm.DBN([12, 8, 4])
res = dbn.train(X, epochs=5, batch=50, seed=1,
                progress=lambda p: p["epoch"] == 5 and print("DBN layer %d done: recon %.4f" % (p["layer"], p["mean"]["recon"])))
print("DBN  bottom-layer reconstruction %.4f, %d layers trained" % (dbn.recon_error(X), res["layers_done"]))

# %% [markdown]
# ## An energy network on the eight Gaussians (replay buffer, ULA: the low-dimensional defaults)
# %%
x, y = ebm.toy("8gaussians", 5000, 1)
net = ebm.EnergyNet("linear:64,silu,linear:64,silu,linear:1", 2).init(seed=1)
net.train(x, iters=400, batch=64, seed=1, every=200,
          progress=lambda p: print("LCD it %d  E+ %.3f  E- %.3f" % (p["step"], p["last"]["e_pos"], p["last"]["e_neg"])))
s, _ = net.sample(2000, seed=2)  # the model's own sampler settings, as `ebm sample` would draw
print("samples within 0.5 of a mode: %.0f%%" % (100 * (np.linalg.norm(s[:, None] - x[None, :400], axis=2).min(1) < 0.5).mean()))
net.save(os.path.join(out, "toy_net.safetensors"))  # ebm sample out/python/toy_net.safetensors --png ...

# %% [markdown]
# ## The same network shape as a JEM classifier of the eight components
# %%
jem = ebm.EnergyNet("linear:64,silu,linear:64,silu,linear:8", 2, head="logsumexp").init(seed=1)
jem.train_jem(x, y, iters=200, batch=64, seed=1)
print("JEM accuracy %.3f" % (jem.classify(x)[0] == y).mean())

# %% [markdown]
# ## Label chains: Viterbi over a learnt pairwise energy beats reading each position alone
# %%
sp = ebm.Structured(8 * 4, 4, length=8).init(seed=1)
xs, ys = ebm.markov_toy(1000, 8, 4, seed=1, meta_of=sp)
sp.train(xs, ys, loss="nll", epochs=15, lr=1e-2, seed=1)
xt, yt = ebm.markov_toy(1000, 8, 4, seed=1 + 1000003)
print("chains: per-label accuracy %.3f (each position alone: %.3f)" % (
    sp.evaluate(xt, yt)["accuracy"], (xt.reshape(-1, 8, 4).argmax(2) == yt).mean()))
