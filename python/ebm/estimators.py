"""scikit-learn estimators over libebm: BernoulliRBM, a drop-in for sklearn.neural_network.BernoulliRBM whose
fit runs the library's PCD-k / CD-k trainer (ebm_rbm_trainer_new + ebm_run), and GaussianBernoulliRBM for
real-valued data.  Fitted state is plain NumPy arrays, so the estimators pickle and clone like any other."""
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _lib as L
from .core import GRBM, GRBM_NEG_INIT, GRBM_SAMPLERS, RBM, _Mat, set_threads, get_threads

_SEED_MAX = 2**62


def _dense32(X):
    """X (dense or sparse) as one C-contiguous float32 array."""
    if sp.issparse(X):
        return np.ascontiguousarray(X.astype(np.float32).toarray())
    return np.ascontiguousarray(X, dtype=np.float32)


class _Threads:
    def __init__(self, n):
        self.n, self.old = n, None

    def __enter__(self):
        if self.n:
            self.old = get_threads()
            set_threads(self.n)

    def __exit__(self, *exc):
        if self.old:
            set_threads(self.old)


def _check_int(name, v, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError("%s must be an integer >= %d, got %r" % (name, lo, v))


def _check_float(name, v, lo, strict=False):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v) or \
            (v <= lo if strict else v < lo):
        raise ValueError("%s must be a finite number %s %g, got %r" % (name, ">" if strict else ">=", lo, v))


def _keep_params(est, params):
    """est.name = value for every parameter of an estimator's __init__ (params: its locals())."""
    for name, value in params.items():
        if name != "self":
            setattr(est, name, value)


def _draw_seed(rng):
    return int(rng.randint(1, _SEED_MAX, dtype=np.int64))


class _RBMEstimator(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """What the two estimators share: parameter checks, input validation, the feature names out, the fitting
    run under n_threads with Ctrl-C kept, and the model files."""

    _model_class = None  # the ebm class of the fitted model (RBM or GRBM)

    def _check_common(self):
        _check_int("n_components", self.n_components, 1)
        _check_float("learning_rate", self.learning_rate, 0.0, strict=True)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("n_iter", self.n_iter, 0)
        _check_int("k", self.k, 1)

    def _check_threads(self):
        if self.n_threads is not None:
            _check_int("n_threads", self.n_threads, 1)

    def _input(self, X, reset):
        X = self._validate_data(X, accept_sparse=("csr", "csc", "coo"), dtype=(np.float64, np.float32),
                                reset=reset)
        return X, _dense32(X)

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def _more_tags(self):
        return {"preserves_dtype": [np.float64, np.float32]}

    def _train(self, m, **kw):
        """m.train(**kw) with n_threads threads: (its result or {}, the KeyboardInterrupt that stopped it or None)."""
        with _Threads(self.n_threads):
            try:
                return m.train(**kw), None
            except KeyboardInterrupt as e:
                return {}, e

    def _save_model(self, path, image_shape=None):
        check_is_fitted(self)
        m = self._model()
        if image_shape:
            m.image_shape = image_shape
        m.save(path, {"ebm.python.estimator": type(self).__name__})

    @classmethod
    def _load_model(cls, path, params):
        m = cls._model_class.load(path)
        est = cls(n_components=m.n_hid, **params)
        est._store(m, np.float64)
        est.n_features_in_ = m.n_vis
        return est, m


class BernoulliRBM(_RBMEstimator):
    """Bernoulli Restricted Boltzmann Machine trained by libebm; a drop-in for
    sklearn.neural_network.BernoulliRBM (same parameters, methods and fitted attributes).

    Beyond scikit-learn's: k (Gibbs sweeps per update), persistent (PCD, default, or CD), momentum,
    weight_decay, n_threads.  Differences: fit shuffles the rows every epoch; values outside [0, 1] are clipped
    (with a warning); score_samples is the exact pseudo-log-likelihood of each row (the sum over all features
    of log p(v_i | v_-i), which scikit-learn estimates from one random feature), so it is deterministic.
    """

    _parameter_names = ("n_components", "learning_rate", "batch_size", "n_iter", "verbose", "random_state", "k",
                        "persistent", "momentum", "weight_decay", "n_threads")

    def __init__(self, n_components=256, *, learning_rate=0.1, batch_size=10, n_iter=10, verbose=0,
                 random_state=None, k=1, persistent=True, momentum=0.0, weight_decay=0.0, n_threads=None):
        _keep_params(self, locals())

    _model_class = RBM

    # -- helpers -----------------------------------------------------------------------------------------
    def _check_params(self):
        self._check_common()
        _check_float("momentum", self.momentum, 0.0)
        if self.momentum >= 1:
            raise ValueError("momentum must be < 1, got %r" % (self.momentum,))
        _check_float("weight_decay", self.weight_decay, 0.0)
        self._check_threads()

    @staticmethod
    def _clip(x):
        bad = np.count_nonzero((x < 0) | (x > 1))
        if bad:
            warnings.warn("BernoulliRBM expects values in [0, 1]; %d values outside were clipped" % bad,
                          UserWarning)
            np.clip(x, 0, 1, out=x)
        return x

    def _model(self):
        m = RBM(self.components_.shape[1], self.components_.shape[0])
        m.set_params(self.components_.T, self.intercept_visible_, self.intercept_hidden_)
        return m

    def _store(self, m, dtype):
        self.components_ = np.ascontiguousarray(m.W.T, dtype=dtype)
        self.intercept_visible_ = m.a.astype(dtype)
        self.intercept_hidden_ = m.b.astype(dtype)

    def _key(self):
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        return _draw_seed(self.random_state_)

    # -- scikit-learn API --------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Fits the model to X (n_samples, n_features) by PCD-k (CD-k with persistent=False) through libebm's
        trainer: n_iter epochs of mini-batches of batch_size rows (at most n_samples), learning_rate,
        momentum, weight_decay; chains = batch_size.  Ctrl-C stops after the current update and raises
        KeyboardInterrupt with the model fitted as of that update."""
        self._check_params()
        X, x = self._input(X, reset=True)
        x = self._clip(x)
        n, d = x.shape
        self.random_state_ = rng = check_random_state(self.random_state)
        dtype = X.dtype
        self.components_ = np.asarray(rng.normal(0, 0.01, (self.n_components, d)), dtype=dtype, order="C")
        self.intercept_hidden_ = np.zeros(self.n_components, dtype=dtype)
        self.intercept_visible_ = np.zeros(d, dtype=dtype)
        self.h_samples_ = np.zeros((self.batch_size, self.n_components), dtype=dtype)
        seed = _draw_seed(rng)
        if self.n_iter == 0:
            return self
        m = self._model()
        data = _Mat(x)
        del x
        t0 = [time.time()]

        def on_epoch(p):
            if self.verbose:
                pll = m.pseudo_log_likelihood(np.round(data.view()[: min(n, 1000)]))
                print("[%s] Iteration %d, pseudo-likelihood = %.2f, time = %.2fs"
                      % (type(self).__name__, p["epoch"], pll, time.time() - t0[0]))
                t0[0] = time.time()
            return False

        out, interrupted = self._train(m, data=data, persistent=self.persistent, k=self.k, epochs=self.n_iter,
                                       batch=min(self.batch_size, n), chains=self.batch_size,
                                       lr=float(self.learning_rate), momentum=float(self.momentum),
                                       weight_decay=float(self.weight_decay), seed=seed, progress=on_epoch,
                                       describe=False)
        self._store(m, dtype)
        if out.get("chains_h") is not None:
            self.h_samples_ = out["chains_h"].astype(dtype)
        if interrupted is not None:
            raise interrupted
        return self

    def partial_fit(self, X, y=None):
        """One PCD-k update on the batch X with the persistent chains h_samples_ (scikit-learn's partial_fit:
        plain SGD at learning_rate with weight_decay, no momentum), through libebm's Gibbs half-steps."""
        first = not hasattr(self, "components_")
        if first:
            self._check_params()
        X, x = self._input(X, reset=first)
        x = self._clip(x)
        if first:
            self.random_state_ = rng = check_random_state(self.random_state)
            self.components_ = np.asarray(rng.normal(0, 0.01, (self.n_components, x.shape[1])), dtype=X.dtype,
                                          order="C")
            self.intercept_hidden_ = np.zeros(self.n_components, dtype=X.dtype)
            self.intercept_visible_ = np.zeros(x.shape[1], dtype=X.dtype)
            self.h_samples_ = np.zeros((self.batch_size, self.n_components), dtype=X.dtype)
        m = self._model()
        n = x.shape[0]
        h_pos = m.hidden_probs(x)
        h = np.ascontiguousarray(self.h_samples_, dtype=np.float32)
        for _ in range(self.k):
            _, v_neg = m.sample_visible(h, self._key())
            h_neg, h = m.sample_hidden(v_neg, self._key())
        c = v_neg.shape[0]
        lr = float(self.learning_rate)
        W = self.components_.astype(np.float64)
        W += lr * (h_pos.T.astype(np.float64) @ x / n - h_neg.T.astype(np.float64) @ v_neg / c)
        W -= lr * float(self.weight_decay) * self.components_
        self.components_ = W.astype(X.dtype)
        self.intercept_hidden_ = (self.intercept_hidden_ + lr * (h_pos.mean(0) - h_neg.mean(0))).astype(X.dtype)
        self.intercept_visible_ = (self.intercept_visible_ + lr * (x.mean(0) - v_neg.mean(0))).astype(X.dtype)
        self.h_samples_ = h.astype(X.dtype)
        return self

    def transform(self, X):
        """p(h = 1 | v) (n_samples, n_components), in X's dtype (float32 or float64)."""
        check_is_fitted(self)
        X, x = self._input(X, reset=False)
        return self._model().hidden_probs(np.clip(x, 0, 1)).astype(X.dtype, copy=False)

    def score_samples(self, X):
        """The pseudo-log-likelihood of each row: sum over features of log p(v_i | v_-i), exact."""
        check_is_fitted(self)
        X, x = self._input(X, reset=False)
        x = np.clip(x, 0, 1)
        m = self._model()
        W, a = self.components_.T.astype(np.float32), self.intercept_visible_.astype(np.float32)
        pre = x @ W + self.intercept_hidden_.astype(np.float32)  # (n, n_hid)
        sp_ = np.logaddexp(0, pre).sum(1)
        out = np.zeros(x.shape[0], np.float64)
        if np.all((x == 0) | (x == 1)) and x.shape[0] <= 100000:
            for r in range(x.shape[0]):  # the library's exact PLL, one row at a time
                out[r] = m.pseudo_log_likelihood(x[r:r + 1])
            return out
        for i in range(x.shape[1]):  # non-binary values: the same formula with the flip v_i -> 1 - v_i
            s = 1 - 2 * x[:, i]
            flip = np.logaddexp(0, pre + s[:, None] * W[i]).sum(1)
            dF = -a[i] * s - (flip - sp_)
            out += -np.logaddexp(0, -dF)
        return out

    def gibbs(self, v):
        """One Gibbs step from v: h ~ p(h | v), then v ~ p(v | h); a fresh draw on every call."""
        check_is_fitted(self)
        X, x = self._input(v, reset=False)
        m = self._model()
        _, h = m.sample_hidden(np.clip(x, 0, 1), self._key())
        _, v2 = m.sample_visible(h, self._key())
        return v2.astype(X.dtype, copy=False)

    # -- files -------------------------------------------------------------------------------------------
    def save(self, path, image_shape=None):
        """Writes the fitted model as an ebm model file (ebm sample / eval / info read it)."""
        self._save_model(path, image_shape)

    @classmethod
    def load(cls, path, **params):
        """An estimator fitted with the parameters of an RBM model file (from ebm train rbm or save)."""
        est, m = cls._load_model(path, params)
        est.h_samples_ = np.zeros((est.batch_size, m.n_hid))
        return est


class GaussianBernoulliRBM(_RBMEstimator):
    """Gaussian-Bernoulli RBM for real-valued data, trained by libebm (Liao et al. 2022's CD with
    Gibbs-Langevin negatives from noise by default).  fit standardises X (one global mean and std, or per
    feature) and stores that in the model; transform gives p(h = 1 | x) (n_samples, n_components);
    score_samples the unnormalised log density -F(x) in X's units; sample(n) draws new rows.
    Fitted attributes: components_ (n_components, n_features), intercept_hidden_, mu_, log_var_, mean_, scale_.
    """

    def __init__(self, n_components=64, *, learning_rate=0.01, batch_size=100, n_iter=10, k=10,
                 sampler="gibbs-langevin", neg_init="noise", momentum=0.0, weight_decay=0.0, grad_clip=10.0,
                 standardize="global", verbose=0, random_state=None, n_threads=None):
        _keep_params(self, locals())

    _model_class = GRBM

    def _check_params(self):
        self._check_common()
        if self.sampler not in GRBM_SAMPLERS:
            raise ValueError("sampler must be one of %s, got %r" % (", ".join(GRBM_SAMPLERS), self.sampler))
        if self.neg_init not in GRBM_NEG_INIT:
            raise ValueError("neg_init must be one of %s, got %r" % (", ".join(GRBM_NEG_INIT), self.neg_init))
        if self.standardize not in ("global", "feature"):
            raise ValueError("standardize must be 'global' or 'feature', got %r" % (self.standardize,))
        _check_float("momentum", self.momentum, 0.0)
        _check_float("weight_decay", self.weight_decay, 0.0)
        _check_float("grad_clip", self.grad_clip, 0.0)
        self._check_threads()

    def _model(self):
        m = GRBM(self.components_.shape[1], self.components_.shape[0])
        m.set_params(W=self.components_.T, b=self.intercept_hidden_, mu=self.mu_, log_var=self.log_var_,
                     data_mean=self.mean_, data_std=self.scale_)
        return m

    def _store(self, m, dtype):
        p = m.get_params()
        self.components_ = np.ascontiguousarray(p["W"].T, dtype=dtype)
        self.intercept_hidden_ = p["b"].astype(dtype)
        self.mu_, self.log_var_ = p["mu"].astype(dtype), p["log_var"].astype(dtype)
        self.mean_, self.scale_ = p["data_mean"].astype(dtype), p["data_std"].astype(dtype)

    def fit(self, X, y=None):
        self._check_params()
        X, x = self._input(X, reset=True)
        n, d = x.shape
        self.random_state_ = rng = check_random_state(self.random_state)
        seed = _draw_seed(rng)
        m = GRBM(d, self.n_components).init(seed)
        m.fit_standardization(x, self.standardize == "global")
        interrupted = None
        if self.n_iter > 0:
            def on_epoch(p):
                if self.verbose:
                    print("[%s] Iteration %d, reconstruction error = %.4f, time = %.2fs"
                          % (type(self).__name__, p["epoch"], m.recon_error(x[:1000]), p["seconds"]))
                return False
            _, interrupted = self._train(m, data=x, epochs=self.n_iter, batch=min(self.batch_size, n),
                                         lr=float(self.learning_rate), k=self.k, sampler=self.sampler,
                                         neg_init=self.neg_init, momentum=float(self.momentum),
                                         weight_decay=float(self.weight_decay), grad_clip=float(self.grad_clip),
                                         seed=seed, progress=on_epoch, describe=False)
        self._store(m, X.dtype)
        if interrupted is not None:
            raise interrupted
        return self

    def transform(self, X):
        check_is_fitted(self)
        X, x = self._input(X, reset=False)
        return self._model().hidden_probs(x).astype(X.dtype, copy=False)

    def score_samples(self, X):
        """-F(x) + log |d standardised / d x|: the log density of each row up to the constant -log Z."""
        check_is_fitted(self)
        X, x = self._input(X, reset=False)
        m = self._model()
        return -m.free_energy(x) + m.log_jacobian()

    def sample(self, n_samples=100, steps=100, random_state=None):
        """n_samples new rows (in X's units) from noise by the fitted sampler (the final mean W h + mu)."""
        check_is_fitted(self)
        seed = _draw_seed(check_random_state(random_state))
        return self._model().sample(n_samples, steps, sampler=self.sampler, seed=seed).astype(self.components_.dtype)

    def save(self, path):
        self._save_model(path)

    @classmethod
    def load(cls, path, **params):
        return cls._load_model(path, params)[0]
