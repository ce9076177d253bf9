#!/usr/bin/python3
# %% [markdown]
# # A tour of `import ebm` (notebook-style: each `# %%` is a cell; run whole with /usr/bin/python3)
# Trains a Bernoulli RBM on binarised Fashion-MNIST with the scikit-learn drop-in, looks at its filters and
# samples, estimates the test log-likelihood with AIS, uses its features in a scikit-learn pipeline and
# hands the model to the `ebm` command line.  About a minute on 2 cores; pictures go to out/python/.
# %%
import gzip
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import ebm  # noqa: E402

out = os.environ.get("OUT", "out/python")
os.makedirs(out, exist_ok=True)
d = "/usr/share/datasets/fashion-mnist"


def images(name, n):
    with gzip.open(os.path.join(d, name)) as f:
        return (np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:n] >= 128).astype(np.float32)


def labels(name, n):
    with gzip.open(os.path.join(d, name)) as f:
        return np.frombuffer(f.read(), np.uint8, offset=8)[:n]


X, Xt = images("train-images-idx3-ubyte.gz", 20000), images("t10k-images-idx3-ubyte.gz", 2000)
y, yt = labels("train-labels-idx1-ubyte.gz", 20000), labels("t10k-labels-idx1-ubyte.gz", 2000)

# %% Train: scikit-learn's parameters, plus momentum and weight decay; one line per epoch with verbose
rbm = ebm.BernoulliRBM(n_components=256, learning_rate=0.01, batch_size=100, n_iter=5, momentum=0.5,
                       weight_decay=1e-4, random_state=0, verbose=1).fit(X)

# %% Filters and samples (in a notebook: ebm.plot.show_grid(rbm.components_[:64]))
ebm.save_grid(os.path.join(out, "filters.png"), 1 / (1 + np.exp(-4 * rbm.components_[:64])), 28, 28)
m = ebm.RBM.from_arrays(rbm.components_.T, rbm.intercept_visible_, rbm.intercept_hidden_)
samples = m.sample(64, steps=1000, seed=1, mean=True)
ebm.save_grid(os.path.join(out, "samples.png"), samples, 28, 28)

# %% Likelihood: AIS log Z with its interval, then the test log-likelihood in nats
z = m.ais(runs=100, steps=2000, seed=1, base_data=X)
ll = -m.free_energy(Xt).mean() - z["log_z"]
print("log Z = %.2f in [%.2f, %.2f]; test log-likelihood %.2f nats" % (z["log_z"], z["log_z_lo"], z["log_z_hi"], ll))

# %% Features for a classifier
from sklearn.linear_model import LogisticRegression  # noqa: E402
clf = LogisticRegression(max_iter=300).fit(rbm.transform(X[:5000]), y[:5000])
print("logistic regression on RBM features: test accuracy %.3f" % clf.score(rbm.transform(Xt), yt))

# %% The same model in the command line: ebm sample / eval / info read it
rbm.save(os.path.join(out, "rbm.safetensors"), image_shape=(28, 28))
print("next: build/ebm eval %s/rbm.safetensors --data fashion-mnist:test --ais" % out)
