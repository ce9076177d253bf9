"""The scikit-learn estimators: the estimator checks, pipelines and grid search, sparse input, partial_fit."""
import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="the estimator tests need scikit-learn (python3-sklearn)")
import scipy.sparse as sp  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import ebm  # noqa: E402


@pytest.mark.parametrize("est", [ebm.BernoulliRBM(n_components=8), ebm.GaussianBernoulliRBM(n_components=8)],
                         ids=["BernoulliRBM", "GaussianBernoulliRBM"])
def test_check_estimator(est):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(est)


def test_drop_in_signature_matches_scikit_learn():
    from sklearn.neural_network import BernoulliRBM as Sk
    ours, theirs = ebm.BernoulliRBM().get_params(), Sk().get_params()
    for k, v in theirs.items():
        assert ours[k] == v, k  # the same parameters with the same defaults
    assert {"k", "persistent", "momentum", "weight_decay", "n_threads"} <= set(ours)


def test_fit_attributes_and_reproducibility(binary_data):
    r = ebm.BernoulliRBM(n_components=8, n_iter=20, learning_rate=0.05, random_state=0).fit(binary_data)
    assert r.components_.shape == (8, 16) and r.intercept_hidden_.shape == (8,)
    assert r.intercept_visible_.shape == (16,) and r.h_samples_.shape == (10, 8) and r.n_features_in_ == 16
    assert set(np.unique(r.h_samples_)) <= {0.0, 1.0}
    r2 = ebm.BernoulliRBM(n_components=8, n_iter=20, learning_rate=0.05, random_state=0).fit(binary_data)
    np.testing.assert_array_equal(r.components_, r2.components_)
    # the exact pseudo-likelihood per row, and scikit-learn's one-feature estimate agrees with it on average
    ours = r.score_samples(binary_data).mean()
    from sklearn.neural_network import BernoulliRBM as Sk
    sk = Sk(n_components=8, random_state=0)
    sk.components_, sk.intercept_hidden_, sk.intercept_visible_ = r.components_, r.intercept_hidden_, r.intercept_visible_
    sk.n_features_in_ = 16
    sk.random_state_ = np.random.RandomState(0)
    est = np.mean([sk.score_samples(binary_data).mean() for _ in range(20)])
    assert abs(ours - est) < 0.5
    # gibbs draws afresh on every call
    a, b = r.gibbs(binary_data[:50]), r.gibbs(binary_data[:50])
    assert a.shape == (50, 16) and not np.array_equal(a, b)
    # pickling keeps everything
    r3 = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(r3.transform(binary_data), r.transform(binary_data))


def test_sparse_input_equals_dense(binary_data):
    r = ebm.BernoulliRBM(n_components=8, n_iter=5, random_state=1).fit(binary_data)
    s = ebm.BernoulliRBM(n_components=8, n_iter=5, random_state=1).fit(sp.csr_matrix(binary_data))
    np.testing.assert_array_equal(r.components_, s.components_)
    np.testing.assert_array_equal(r.transform(binary_data), s.transform(sp.csr_matrix(binary_data)))


def test_partial_fit_moves_towards_the_data(binary_data):
    r = ebm.BernoulliRBM(n_components=8, learning_rate=0.1, random_state=0)
    for i in range(0, 400, 10):
        r.partial_fit(binary_data[i:i + 10])
    assert r.h_samples_.shape == (10, 8)
    fresh = ebm.BernoulliRBM(n_components=8, random_state=0, n_iter=0).fit(binary_data)
    assert r.score_samples(binary_data).mean() > fresh.score_samples(binary_data).mean() + 0.5
    with pytest.raises(ValueError):
        r.partial_fit(binary_data[:10, :5])


def test_pipeline_and_grid_search_on_digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    pipe = Pipeline([("rbm", ebm.BernoulliRBM(n_components=64, learning_rate=0.06, n_iter=20, random_state=0)),
                     ("clf", LogisticRegression(C=10, max_iter=300))])
    gs = GridSearchCV(pipe, {"rbm__learning_rate": [0.02, 0.06]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs.fit(X[:1200], y[:1200])
    assert gs.best_params_["rbm__learning_rate"] in (0.02, 0.06)
    acc = gs.score(X[1200:], y[1200:])
    assert acc > 0.82, acc  # scikit-learn's own BernoulliRBM in this pipeline: 0.85-0.89


def test_gaussian_rbm_estimator():
    r = np.random.RandomState(0)
    X = np.concatenate([r.normal(-2, 0.5, (300, 4)), r.normal(2, 0.5, (300, 4))])
    g = ebm.GaussianBernoulliRBM(n_components=4, n_iter=20, learning_rate=0.05, batch_size=50, random_state=0).fit(X)
    assert g.components_.shape == (4, 4) and g.mean_.shape == (4,) and g.transform(X).shape == (600, 4)
    s = g.sample(400, steps=50, random_state=1)
    assert s.shape == (400, 4) and (s[:, 0] < -1).mean() > 0.15 and (s[:, 0] > 1).mean() > 0.15
    # points at the clusters are more likely than points between them
    assert g.score_samples(np.full((1, 4), 2.0))[0] > g.score_samples(np.zeros((1, 4)))[0]


def test_estimator_ctrl_c_keeps_a_fitted_model(binary_data, monkeypatch):
    import os
    import signal
    r = ebm.BernoulliRBM(n_components=8, n_iter=1000, verbose=1, random_state=0)
    calls = []
    real = ebm.core.RBM.pseudo_log_likelihood

    def pll(self, v):  # verbose prints every epoch: send Ctrl-C from the third
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, v)
    monkeypatch.setattr(ebm.core.RBM, "pseudo_log_likelihood", pll)
    with pytest.raises(KeyboardInterrupt):
        r.fit(binary_data)
    assert len(calls) < 10
    assert r.transform(binary_data).shape == (400, 8)  # fitted as of the last update
