"""The other model kinds of libebm from Python, each trained through the library's own trainer and its one run
loop (ebm_run), with the progress callbacks and the clean Ctrl-C of RBM.train (core.run):

    BM          fully visible Boltzmann machine / Ising model: CD-k, PCD-k or maximum pseudo-likelihood
    DBN         deep belief net, trained greedily layer by layer (one ebm_run per layer)
    EnergyNet   a network energy E(x) (any ebm_net spec) trained by Langevin contrastive divergence (replay
                buffer, short-run or persistent chains), or a classifier trained as a JEM
    Structured  structured-prediction energies E(x, y) (K classes or label chains) with the ten losses of
                LeCun et al. 2006

Every trainer's settings default to the library's (the `ebm train KIND` defaults), and a model built, initialised
and trained here with the command line's seed and options holds the same numbers as the command line's: the
initialisations draw from the stream (seed, 100) as `ebm train` does.  Files saved here load in the command line
(ebm info / eval / sample / score) and the other way round."""
import ctypes
import os
import time
from ctypes import POINTER, byref, c_double, c_float, c_int, c_int32, c_size_t, c_void_p

import numpy as np

from . import _lib as L
from ._lib import check, lib
from .core import (RBM, RunResult, _chunks, _Mat, _ModelObject, _Owned, _get_image_shape, _meta_update,
                   _net_energy, _new_handle, _rng, _set_image_shape, _softmax_classes, _take_dataset, _train_run,
                   as_f32, check_callbacks, dptr, fptr, run)

CANCELED = 8  # EBM_ECANCELED
INIT_STREAM = 100  # the random stream `ebm train` initialises models from: (seed, 100)


def _choice(name, value, choices):
    if value not in choices:
        raise L.InvalidArgumentError("%s must be one of %s, got %r" % (name, ", ".join(map(str, choices)), value))
    return choices.index(value)


def _optim(o, optimizer=None, lr=None, momentum=None, weight_decay=None, grad_clip=None, betas=None, eps=None):
    """Fills an ebm_optim_opts: only what is given replaces the trainer's default."""
    if optimizer is not None:
        o.kind = _choice("optimizer", optimizer, ("sgd", "adam"))
    for field, v in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay), ("clip", grad_clip),
                     ("eps", eps)):
        if v is not None:
            setattr(o, field, float(v))
    if betas is not None:
        o.beta1, o.beta2 = map(float, betas)


def _set(o, **kw):
    """o.field = value for every value that is not None."""
    for k, v in kw.items():
        if v is not None:
            setattr(o, k, v)


def _labels(y, rows, per_row=1, what="y"):
    y = np.ascontiguousarray(np.asarray(y), dtype=np.int32)
    if y.size != rows * per_row:
        raise L.ShapeError("%s has %d labels but the data has %d rows of %d label%s" %
                           (what, y.size, rows, per_row, "" if per_row == 1 else "s"))
    return y.reshape(rows, per_row) if per_row > 1 else y.reshape(rows)


def _i32p(a):
    return a.ctypes.data_as(POINTER(ctypes.c_int32))


# --------------------------------------------------------------------------------------------------------
# Fully visible Boltzmann machines
# --------------------------------------------------------------------------------------------------------
BM_SPINS = ("01", "pm1")
BM_SCANS = ("systematic", "random")
BM_METHODS = ("cd", "pcd", "pl")


class BM(_ModelObject):
    """A fully visible Boltzmann machine (Ising model) E(x) = -(1/2 x'Wx + b'x), x in {0,1}^n (spins="01") or
    {-1,+1}^n ("pm1"), W symmetric with a zero diagonal (docs/bm.md).  States are in the model's convention:
    0 or -1 for "off" (BM.to_spins maps 0/1 data there)."""
    _free, _load, _save = staticmethod(lib.ebm_bm_free), staticmethod(lib.ebm_bm_load), staticmethod(lib.ebm_bm_save)

    def __init__(self, n=None, spins="01", *, _ptr=None, _owner=None):
        if _ptr is None:
            _ptr = self._handle(lib.ebm_bm_new, int(n), _choice("spins", spins, BM_SPINS))
        self._p, self._owner = _ptr, _owner

    @classmethod
    def from_arrays(cls, W, b=None, spins="01"):
        """A BM with couplings W (n, n; symmetrised, diagonal zeroed) and biases b (n)."""
        W = np.asarray(W, np.float32)
        m = cls(W.shape[0], spins)
        m.set_params(W, b)
        return m

    def _meta_ptr(self):
        return lib.ebm_bm_meta(self._p)

    @property
    def n(self):
        return lib.ebm_bm_units(self._p)

    @property
    def spins(self):
        return BM_SPINS[lib.ebm_bm_spin_kind(self._p)]

    @property
    def off(self):
        """The value of an "off" unit: 0 or -1."""
        return lib.ebm_bm_off_value(self._p)

    @property
    def image_shape(self):
        h, w = c_size_t(), c_size_t()
        lib.ebm_bm_image_shape(self._p, byref(h), byref(w))
        return (h.value, w.value) if h.value else None

    @image_shape.setter
    def image_shape(self, hw):
        lib.ebm_bm_set_image_shape(self._p, *(hw if hw else (0, 0)))

    def _params(self):
        k = c_size_t()
        p = lib.ebm_bm_params(self._p, byref(k))
        return np.ctypeslib.as_array(p, shape=(k.value,))

    @property
    def W(self):
        n = self.n
        return self._params()[: n * n].reshape(n, n).copy()

    @property
    def b(self):
        n = self.n
        return self._params()[n * n:].copy()

    def set_params(self, W=None, b=None):
        n, p = self.n, self._params()
        if W is not None:
            p[: n * n] = np.asarray(W, np.float32).reshape(n * n)
            lib.ebm_bm_symmetrize(self._p)
        if b is not None:
            p[n * n:] = np.asarray(b, np.float32).reshape(n)

    def to_spins(self, x):
        """0/1 data (any array) as states of this model: 0 becomes the model's off value."""
        x = (np.asarray(x) > 0.5).astype(np.float32)
        if self.off != 0:
            x[x == 0] = self.off
        return x

    def init(self, seed=1, weight_std=0.01, data=None):
        """W_ij = W_ji ~ N(0, weight_std^2), b = the logit of data's unit means (or 0); from the stream
        (seed, 100), as `ebm train bm --seed` does."""
        r = _rng(seed, INIT_STREAM)
        d = _Mat(as_f32(data, self.n, "data")) if data is not None else None
        check(lib.ebm_bm_init(self._p, byref(r), float(weight_std), d.ptr if d else None))
        _meta_update(self._meta_ptr(), {"ebm.train.init_std": "%g" % np.float32(weight_std)})
        return self

    def energy(self, x):
        x = as_f32(x, self.n, "x")
        E = np.empty(x.shape[0], np.float64)
        check(lib.ebm_bm_energy(self._p, fptr(x), x.shape[0], dptr(E)))
        return E

    def cond_prob(self, x, T=1.0):
        """p(x_i = on | x_-i) (rows, n) at temperature T."""
        x = as_f32(x, self.n, "x")
        out = np.empty_like(x)
        check(lib.ebm_bm_cond_prob(self._p, fptr(x), x.shape[0], T, fptr(out)))
        return out

    def log_z_exact(self, T=1.0):
        """Exact log Z_T by enumerating the 2^n states (n <= 30)."""
        z = c_double()
        check(lib.ebm_bm_log_z_exact(self._p, T, byref(z)))
        return z.value

    def log_likelihood(self, x, log_z=None):
        """Mean log-likelihood (nats per row) of x; log Z exact when not given."""
        x = as_f32(x, self.n, "x")
        ll = c_double()
        check(lib.ebm_bm_log_likelihood(self._p, fptr(x), x.shape[0],
                                        self.log_z_exact() if log_z is None else float(log_z), byref(ll)))
        return ll.value

    def pseudo_log_likelihood(self, x):
        """Mean over rows of sum_i log p(x_i | x_-i)."""
        return self._figure(lib.ebm_bm_pseudo_ll, x, self.n, "x")

    def evaluate(self, x, exact=None):
        """dict of energy_mean, pseudo_ll and (exact, default for n <= 25 units) log_z and log_likelihood:
        the figures of `ebm eval`."""
        x = as_f32(x, self.n, "x")
        e = L.BmEval()
        exact = self.n <= 25 if exact is None else exact
        check(lib.ebm_bm_evaluate(self._p, fptr(x), x.shape[0], int(bool(exact)), byref(e)))
        return {n: getattr(e, n) for n, _ in e._fields_}

    def sample(self, n=100, steps=1000, T=1.0, scan="systematic", seed=1, init=None):
        """n chains of sequential Gibbs sampling (ebm_bm_gibbs) for steps sweeps at T, started from uniform noise
        or from random rows of init (drawn with replacement): the states `ebm sample MODEL --seed` writes, bit
        for bit.  Ctrl-C stops between blocks of 10 sweeps (KeyboardInterrupt)."""
        r = _rng(seed, 0)
        nu, off = self.n, self.off
        if init is None:
            u = np.fromiter((lib.ebm_rng_uniform(byref(r)) for _ in range(n * nu)), np.float64, n * nu)
            x = np.where(u < 0.5, 1.0, off).astype(np.float32).reshape(n, nu)
        else:
            init = as_f32(init, nu, "init")
            x = np.ascontiguousarray(init[[lib.ebm_rng_below(byref(r), init.shape[0]) for _ in range(n)]])
        sc = _choice("scan", scan, BM_SCANS)
        for done in range(0, int(steps), 10):  # the command line's blocks: each draws its key from r
            check(lib.ebm_bm_gibbs(self._p, fptr(x), n, min(10, int(steps) - done), T, sc, byref(r)))
        return x

    def train(self, data, *, method="cd", k=None, scan="systematic", epochs=None, batch=None, chains=None,
              optimizer="sgd", lr=None, momentum=None, weight_decay=None, grad_clip=None, shuffle=True, seed=None,
              progress=None, on_step=None, describe=True):
        """Trains by CD-k, PCD-k (k sequential Gibbs sweeps, scan order) or maximum pseudo-likelihood ("pl")
        through ebm_bm_trainer_new + ebm_run; data (rows, n) in the model's convention (to_spins).  Defaults
        are the library's (`ebm train bm`'s): k 1, 10 epochs, batch 100, SGD lr 0.05 momentum 0.5, seed 1.
        Callbacks, Ctrl-C and the result as RBM.train; describe writes the run's provenance and the sampling
        defaults to meta as the command line does."""
        o = L.BmTrainOpts()
        lib.ebm_bm_train_opts_default(byref(o))
        o.method, o.scan = _choice("method", method, BM_METHODS), _choice("scan", scan, BM_SCANS)
        _set(o, k=k, epochs=epochs, batch=batch, chains=chains, seed=seed)
        o.shuffle = int(bool(shuffle))
        _optim(o.optim, optimizer, lr, momentum, weight_decay, grad_clip)
        d = _Mat(as_f32(data, self.n, "data"))
        meta = self._meta_ptr()

        def sample_defaults():
            check(lib.ebm_meta_set_sample_defaults(meta, 1000, 1.0, None))
            _meta_update(meta, {"ebm.sample.scan": scan})
        return _train_run(lib.ebm_bm_trainer_new, self._p, o, lib.ebm_bm_run_opts, d, progress, on_step, describe,
                          meta, before_describe=sample_defaults)


# --------------------------------------------------------------------------------------------------------
# Deep belief nets
# --------------------------------------------------------------------------------------------------------
class DBN(_ModelObject):
    """A deep belief net: a stack of Bernoulli RBMs, level 0 the data (docs/dbn.md).  DBN([784, 500, 500])
    makes one with those level sizes (parameters zero until trained); DBN.load(path) reads a DBN file (or an
    RBM file as one layer)."""
    _ptr_type = POINTER(L.DBN)
    _free, _load = staticmethod(lib.ebm_dbn_free), staticmethod(lib.ebm_dbn_load_stack)
    _save = staticmethod(lib.ebm_dbn_save)

    def __init__(self, sizes=None, *, _ptr=None, _owner=None):
        if _ptr is None:
            sizes = [int(s) for s in sizes]
            _ptr = self._handle(lib.ebm_dbn_new, (c_size_t * len(sizes))(*sizes), len(sizes))
        self._p, self._owner = _ptr, _owner

    @property
    def n_layers(self):
        return self._p.contents.n_layers

    @property
    def sizes(self):
        return [lib.ebm_dbn_units(self._p, l) for l in range(self.n_layers + 1)]

    @property
    def image_shape(self):
        return _get_image_shape(self._p.contents)

    @image_shape.setter
    def image_shape(self, hw):
        c = self._p.contents
        _set_image_shape(c, hw)
        bottom = c.layers[0].contents
        bottom.height, bottom.width = c.height, c.width

    def layer(self, l):
        """Layer l (levels l -> l + 1) as an RBM object that shares the DBN's memory."""
        if not 0 <= l < self.n_layers:
            raise IndexError("layer %d of a %d-layer DBN" % (l, self.n_layers))
        return RBM(_ptr=self._p.contents.layers[l], _owner=self)

    @property
    def layers(self):
        return [self.layer(l) for l in range(self.n_layers)]

    def up(self, v, level=None):
        """p(level | v): the up pass of probabilities to level (default the top)."""
        level = self.n_layers if level is None else int(level)
        v = as_f32(v, self.sizes[0], "v")
        out = np.empty((v.shape[0], self.sizes[level]), np.float32)
        check(lib.ebm_dbn_up(self._p, fptr(v), v.shape[0], level, fptr(out)))
        return out

    def down(self, h, level=None):
        """Mean-field pixels from states h at level (default the top)."""
        level = self.n_layers if level is None else int(level)
        h = as_f32(h, self.sizes[level], "h")
        out = np.empty((h.shape[0], self.sizes[0]), np.float32)
        check(lib.ebm_dbn_down(self._p, fptr(h), h.shape[0], level, fptr(out)))
        return out

    def free_energy(self, v):
        """The bottom RBM's free energy of each row (the DBN's anomaly score)."""
        v = as_f32(v, self.sizes[0], "v")
        F = np.empty(v.shape[0], np.float64)
        check(lib.ebm_dbn_free_energy(self._p, fptr(v), v.shape[0], dptr(F)))
        return F

    def recon_error(self, v):
        return self._figure(lib.ebm_dbn_recon_error, v, self.sizes[0], "v")

    def sample(self, n=100, steps=1000, T=1.0, noise_p=0.5, init=None, seed=1):
        """Gibbs in the top RBM then the down pass (ebm_dbn_sample): (n, units(0)) in [0, 1]."""
        o = L.DbnSampleOpts()
        lib.ebm_dbn_sample_opts_default(byref(o))
        o.steps, o.T, o.noise_p = int(steps), T, noise_p
        d = _Mat(as_f32(init, self.sizes[0], "init")) if init is not None else None
        out = np.empty((n, self.sizes[0]), np.float32)
        r = _rng(seed, 0)
        check(lib.ebm_dbn_sample(self._p, n, d.ptr if d else None, byref(o), byref(r), fptr(out)))
        return out

    def train(self, data, *, persistent=False, k=None, epochs=None, batch=None, chains=None, lr=None, lr_final=None,
              momentum=None, weight_decay=None, grad_clip=None, shuffle=True, seed=None, init_std=None,
              progress=None, on_step=None, on_layer=None, describe=True):
        """Greedy layer-wise training (ebm_dbn_train_run): layer l is initialised from the stream (seed, 100 + l)
        and trained by CD-k (or PCD-k with persistent) with seed + l, one ebm_run per layer, on the data (layer
        0, values in [0, 1]) or the layer below's p(h | v).  Defaults are `ebm train dbn`'s (the library's
        ebm_cd_opts: CD-1, 10 epochs per layer, batch 100, lr 0.05, momentum 0.5, weight decay 1e-4, seed 1).
        on_layer(layer, rbm) is called before each layer (True stops); progress / on_step dicts carry "layer"
        and "layers".  Ctrl-C stops within the layer under way (its last update kept, the layers above
        untrained) and raises KeyboardInterrupt.  Returns a RunResult with layers (each layer's RunResult, with
        its "layer"), layers_done, interrupted (a callback or on_layer stopped it) and seconds."""
        o = L.DbnTrainOpts()
        lib.ebm_dbn_train_opts_default(byref(o))
        c = o.cd
        c.mode = int(bool(persistent))
        _set(c, k=k, epochs=epochs, batch=batch, chains=chains, lr=lr, momentum=momentum, weight_decay=weight_decay,
             grad_clip=grad_clip, seed=seed)
        if lr_final is not None:
            c.lr_final = lr_final
        c.shuffle = int(bool(shuffle))
        _set(o, init_std=init_std)
        check_callbacks(progress=progress, on_step=on_step, on_layer=on_layer)
        d = _Mat(as_f32(data, self.sizes[0], "data"))
        state = {"exc": None, "results": [], "stopped": False}
        meta = self._meta_ptr()

        def hook(Lp, _user):
            try:
                Lr = Lp.contents
                layer = Lr.layer
                if on_layer is not None and on_layer(layer, RBM(_ptr=Lr.rbm, _owner=self)):
                    state["stopped"] = True
                    return CANCELED
                out, res = run(Lr.trainer, Lr.input, Lr.run, progress, on_step,
                               extra={"layer": layer, "layers": Lr.n_layers})
                out["layer"] = layer
                state["results"].append(out)
                if describe:
                    check(lib.ebm_run_describe(Lr.trainer, byref(Lr.run), byref(res), meta))
                if out["interrupted"]:
                    state["stopped"] = True
                    return CANCELED
                return 0
            except BaseException as e:  # Ctrl-C, a callback's exception or a library error: stop, raise later
                state["exc"] = e
                return CANCELED
        fn = L.DBN_RUN_FN(hook)
        t0 = time.time()
        st = lib.ebm_dbn_train_run(self._p, d.ptr, byref(o), fn, None)
        if describe:  # the whole run's seed and time, as `ebm train dbn` records them
            _meta_update(meta, {"ebm.train.seed": o.cd.seed, "ebm.train.seconds": "%.2f" % (time.time() - t0)})
        if state["exc"] is not None:
            raise state["exc"]
        if not (st == CANCELED and state["stopped"]):
            check(st)
        done = [r for r in state["results"] if not r["interrupted"]]
        return RunResult(layers=state["results"], layers_done=len(done), interrupted=state["stopped"],
                         seconds=sum(r["seconds"] for r in state["results"]))


# --------------------------------------------------------------------------------------------------------
# Network energies: LCD and JEM
# --------------------------------------------------------------------------------------------------------
NEGATIVES = ("buffer", "short-run", "persistent")
MCMC_KINDS = ("ula", "sgld", "mala", "hmc", "rwm")
CHAIN_INITS = ("noise", "gaussian")  # ebm_chain_init
HEADS = ("scalar", "logsumexp")


def _shape3(input_shape):
    if isinstance(input_shape, (int, np.integer)):
        return int(input_shape), 1, 1
    s = tuple(int(v) for v in input_shape)
    if len(s) == 1:
        return s[0], 1, 1
    if len(s) == 2:
        return 1, s[0], s[1]
    if len(s) == 3:
        return s
    raise L.ShapeError("input_shape must be dim, (H, W) or (C, H, W), got %r" % (input_shape,))


class FeatureGaussian:
    """Gaussians fitted to a network's penultimate features (EnergyNet.fit_features); holds the network."""

    def __init__(self, net, ptr):
        self.net, self._p = net, ptr

    def __del__(self):
        if getattr(self, "_p", None):
            lib.ebm_feature_gauss_free(self._p)
            self._p = None

    @property
    def means(self):
        """The number of class means."""
        return lib.ebm_feature_gauss_means(self._p)

    @property
    def width(self):
        """Features per row."""
        return lib.ebm_feature_gauss_width(self._p)

    def score(self, x, return_nearest=False):
        """The squared Mahalanobis distance (n) of each row's features to the nearest mean; with return_nearest
        also that mean's class (n)."""
        x = as_f32(x, self.net.input_size, "x")
        out, near = np.empty(x.shape[0]), np.empty(x.shape[0], np.int32)
        check(lib.ebm_feature_gauss_score(self._p, self.net._p, fptr(x), x.shape[0],
                                          out.ctypes.data_as(POINTER(c_double)), near.ctypes.data_as(POINTER(c_int32))))
        return (out, near) if return_nearest else out


class EnergyNet(_ModelObject):
    """A network (docs/net.md: any spec such as "linear:64,silu,linear:1" or "conv:16:3:1,silu,pool:2,flatten,
    linear:1") for inputs of input_shape (dim, (H, W) for grey images or (C, H, W)), as an energy E(x) = f(x)
    (head "scalar", one output) or a classifier whose energy is -log sum_y exp f(x)[y] (head "logsumexp", a JEM).
    train() runs Langevin contrastive divergence (ebm_lcd_trainer_new), train_jem() the JEM hybrid
    (ebm_jem_trainer_new); save() writes a "net" or "jem" file the command line samples, scores and classifies."""
    _free = staticmethod(lib.ebm_net_free)

    def __init__(self, spec=None, input_shape=None, head="scalar", *, _ptr=None, _meta=None):
        self._owner, self._energy, self._meta = None, None, None
        _choice("head", head, HEADS)
        if _ptr is None:
            c, h, w = _shape3(input_shape)
            self._p = self._handle(lib.ebm_net_new, str(spec).encode(), c, h, w, what="spec %r" % spec)
            self.input_shape = (c, h, w)
            self._meta = m = _new_handle(c_void_p, lib.ebm_meta_new)
            if head == "logsumexp" and self.output_size < 2:
                raise L.InvalidArgumentError("a classifier (head logsumexp) needs a network of several outputs")
            if head == "scalar" and self.output_size != 1:
                raise L.InvalidArgumentError("an energy network must end in a layer of width 1 (e.g. ...,linear:1); "
                                             "this one has %d outputs (a classifier: head=\"logsumexp\")"
                                             % self.output_size)
            _meta_update(m, {"ebm.model": "jem" if head == "logsumexp" else "net", "ebm.net.head": head})
        else:  # a loaded file: its own metadata says what it is
            self._p, self._meta = _ptr, _meta
            c, h, w = c_size_t(), c_size_t(), c_size_t()
            lib.ebm_net_input_shape(_meta, self.input_size, byref(c), byref(h), byref(w))
            self.input_shape = (c.value, h.value, w.value)
            if "ebm.net.head" not in self.meta:
                _meta_update(_meta, {"ebm.net.head": "logsumexp" if self.meta.get("ebm.model") == "jem" else "scalar"})

    def __del__(self):
        self._free_energy()
        if getattr(self, "_meta", None):
            lib.ebm_meta_free(self._meta)
            self._meta = None
        _Owned.__del__(self)

    @classmethod
    def load(cls, path):
        """A "net" or "jem" file, with its metadata (for further training, sampling or saving)."""
        p, m = c_void_p(), c_void_p()
        check(lib.ebm_net_load(os.fsencode(path), byref(p), byref(m)))
        return cls(_ptr=p, _meta=m)

    @classmethod
    def for_data(cls, x, spec=None, classes=None, image_shape=None):
        """The network `ebm train ebm` (classes None) or `ebm train jem` (classes K) builds for data x: spec,
        else a small CNN for images (image_shape (H, W)), an MLP otherwise, ending in 1 output or K logits."""
        dim = as_f32(x, None, "x").shape[1]
        if spec is None:
            spec = ("conv:32:3:1,silu,pool:2,conv:64:3:1,silu,pool:2,flatten,linear:128,silu,linear:1" if image_shape
                    else "linear:128,silu,linear:128,silu,linear:128,silu,linear:1")
            if classes:
                spec = spec[: spec.rfind(":") + 1] + str(int(classes))
        return cls(spec, tuple(image_shape) if image_shape else dim, "logsumexp" if classes else "scalar")

    def _meta_ptr(self):
        return self._meta

    def _write(self, path):
        return lib.ebm_net_save(self._p, self._meta, path)

    @property
    def head(self):
        return self.meta.get("ebm.net.head", "scalar")

    @property
    def spec(self):
        return lib.ebm_net_spec(self._p).decode()

    @property
    def input_size(self):
        return lib.ebm_net_input_size(self._p)

    @property
    def output_size(self):
        return lib.ebm_net_output_size(self._p)

    @property
    def classes(self):
        return self.output_size if self.head == "logsumexp" else 0

    def describe(self):
        buf = ctypes.create_string_buffer(8192)
        lib.ebm_net_describe(self._p, buf, len(buf))
        return buf.value.decode()

    def _flat(self, fn):
        k = c_size_t()
        p = fn(self._p, byref(k))
        return np.ctypeslib.as_array(p, shape=(k.value,)) if k.value else np.zeros(0, np.float32)

    @property
    def params(self):
        """A copy of the flat parameter array (layer by layer, weight then bias)."""
        return self._flat(lib.ebm_net_params).copy()

    def set_params(self, flat):
        self._flat(lib.ebm_net_params)[:] = np.asarray(flat, np.float32).reshape(-1)

    def init(self, seed=1):
        """PyTorch's default initialisation from the stream (seed, 100), as `ebm train ebm --seed` does."""
        r = _rng(seed, INIT_STREAM)
        check(lib.ebm_net_init(self._p, byref(r)))
        return self

    def forward(self, x):
        """f(x) (n, output_size): the energy (scalar head) or the logits, through ebm_net_logits as `ebm classify`
        computes them (256 rows at a time: memory stays bounded, a forward keeps every layer's activations)."""
        x = as_f32(x, self.input_size, "x")
        if x.shape[0] == 0:
            return np.empty((0, self.output_size), np.float32)
        p = POINTER(c_float)()
        check(lib.ebm_net_logits(self._p, fptr(x), x.shape[0], byref(p)))
        try:
            return np.ctypeslib.as_array(p, shape=(x.shape[0], self.output_size)).copy()
        finally:
            L.libc.free(ctypes.cast(p, c_void_p))

    logits = forward

    @property
    def n_layers(self):
        """The number of layers (tokens of the spec: linear, conv, activations, pool, flatten, ...)."""
        return lib.ebm_net_layers(self._p)

    @property
    def penultimate(self):
        """The index of the last weighted (linear or conv) layer: features() default, the representation that
        fit_features(), `ebm score --score mahalanobis` and the FD-FMNIST metric use."""
        return lib.ebm_net_penultimate(self._p, None)

    def features(self, x, layer=None, batch=256):
        """The activations entering layer `layer` (n, width): 0 = x itself, n_layers = the outputs, default
        penultimate (the features before the last weighted layer: an embedding of each row), computed `batch`
        (256) rows at a time (ebm_net_features)."""
        x = as_f32(x, self.input_size, "x")
        at = self.penultimate if layer is None else int(layer)
        if not 0 <= at <= self.n_layers:
            raise L.InvalidArgumentError("layer %d of a %d-layer network (0..%d)" % (at, self.n_layers, self.n_layers))
        if batch < 1:
            raise L.InvalidArgumentError("batch must be at least 1")
        out = np.empty((x.shape[0], lib.ebm_net_feature_width(self._p, at)), np.float32)
        for i, j in _chunks(x.shape[0], batch):
            check(lib.ebm_net_features(self._p, fptr(x[i:j]), j - i, at, fptr(out[i:j])))
        return out

    def _e(self):
        return self._cached_energy(lib.ebm_net_energy, self._p, HEADS.index(self.head))

    def energy(self, x):
        """E(x) (n): f(x) for a scalar head, -log sum_y exp f(x)[y] for a classifier."""
        return _net_energy(self._e(), x)

    @property
    def temperature(self):
        """The softmax temperature classify() uses: the one calibrate() (or `ebm calibrate`) stored, else 1."""
        return float(np.float32(self.meta.get("ebm.classify.temperature", 1.0)))  # a float32, as the CLI reads it

    def classify(self, x, temperature=None):
        """(predicted class (n), softmax probabilities (n, classes)) of softmax(f(x) / T), T = temperature, else
        the model's (calibrate(), `ebm calibrate`; 1 if none), as `ebm classify` computes them."""
        t = self.temperature if temperature is None else float(temperature)
        z = self.forward(x)
        check(lib.ebm_logits_scale(fptr(z), z.shape[0], z.shape[1], t))  # z / T in place; T outside [0.01, 100] refused
        return _softmax_classes(z)

    def calibrate(self, x, labels):
        """Temperature scaling (Guo et al. 2017) on held-out labelled rows: fits the T that minimises the NLL of
        softmax(f(x) / T) (ebm_metric_fit_temperature) and stores it in the model (ebm.classify.temperature,
        saved with it), as `ebm calibrate` does.  Returns (T, NLL before, NLL after)."""
        if self.output_size < 2:
            raise L.InvalidArgumentError("calibrate needs a classifier (head logsumexp), this network has one output")
        z = self.forward(x)
        y = np.ascontiguousarray(labels, dtype=np.int32)
        if y.shape != (z.shape[0],):
            raise L.InvalidArgumentError("labels must be (%d,), got %s" % (z.shape[0], y.shape))
        t, b, a = c_double(), c_double(), c_double()
        check(lib.ebm_metric_fit_temperature(fptr(z), y.ctypes.data_as(POINTER(c_int32)), z.shape[0], z.shape[1],
                                             byref(t), byref(b), byref(a)))
        t32 = float(np.float32(t.value))  # as the file stores it
        _meta_update(self._meta, {"ebm.classify.temperature": "%.9g" % t32,
                                  "ebm.classify.calibration_rows": str(z.shape[0])})
        return t32, b.value, a.value

    def trim_outputs(self, k):
        """A copy that keeps the first k outputs of the last layer (linear, without spectral normalisation;
        ebm_net_trim_outputs): f(x)[:k] exactly.  After training on rotations() joint labels, trim_outputs(classes)
        is the classifier of upright images `ebm train jem --rotations` saves."""
        p = c_void_p()
        check(lib.ebm_net_trim_outputs(self._p, int(k), byref(p)))
        m = _new_handle(c_void_p, lib.ebm_meta_new)
        meta = self.meta
        meta["ebm.net.spec"] = lib.ebm_net_spec(p).decode()
        if "ebm.jem.classes" in meta:
            meta["ebm.jem.classes"] = int(k)
        _meta_update(m, meta)
        out = EnergyNet(_ptr=p, _meta=m)
        out.input_shape = self.input_shape
        return out

    def fit_features(self, x, labels=None, ridge=1e-6):
        """Gaussians in the network's penultimate features (Lee et al. 2018; ebm_feature_gauss_fit): one mean per
        class of labels (one mean without them) and a shared covariance, fitted to the rows of x, with ridge x
        the mean eigenvalue added to its eigenvalues.  Returns a FeatureGaussian whose score(x) is the squared
        Mahalanobis distance to the nearest mean (higher = more anomalous), as `ebm score --score mahalanobis`."""
        x = as_f32(x, self.input_size, "x")
        y = None
        if labels is not None:
            y = np.ascontiguousarray(labels, dtype=np.int32)
            if y.shape != (x.shape[0],):
                raise L.InvalidArgumentError("labels must be (%d,), got %s" % (x.shape[0], y.shape))
        g = c_void_p()
        check(lib.ebm_feature_gauss_fit(self._p, fptr(x), None if y is None else y.ctypes.data_as(POINTER(c_int32)),
                                        x.shape[0], float(ridge), byref(g)))
        return FeatureGaussian(self, g)

    def sample(self, n=64, steps=None, sampler=None, step_size=None, noise=None, leapfrog=None, T=1.0,
               init_range=None, seed=1, x0=None, classes=None, init_data=None):
        """n chains of the sampler the model was trained with (its ebm.sample.* metadata, else SGLD 20 steps of
        size 1, noise 0.01) from uniform noise on init_range (default: the training range) or from x0, as
        `ebm sample MODEL --seed` draws them (the same numbers).  classes (a list) samples a classifier's
        p(x | y) ∝ exp f(x)[y], chain i of class classes[i mod len].  init_data, x or (x, labels) in the
        model's input scale: the chains start from Gaussians fitted to it instead (JEM++; one per class given
        labels, chain i from class classes[i mod len] when classes are given), as `ebm sample
        --init-chains gaussian --data` draws them; `ebm sample` does so by default for a model trained from
        Gaussian starts that records its data.  Returns (samples, acceptance rate)."""
        m = self.meta
        o = L.McmcOpts()
        lib.ebm_mcmc_opts_default(byref(o))
        kind = c_int()
        check(lib.ebm_mcmc_parse((sampler or m.get("ebm.sample.sampler", "sgld")).encode(), byref(kind)))
        o.kind = kind.value
        o.steps = int(steps if steps is not None else m.get("ebm.sample.steps", 20))
        o.step_size = float(step_size if step_size is not None else m.get("ebm.sample.step_size", 1.0))
        o.noise = float(noise if noise is not None else m.get("ebm.sample.noise", 0.01))
        o.leapfrog = int(leapfrog if leapfrog is not None else m.get("ebm.sample.leapfrog", 10))
        lo_c, hi_c = float(m.get("ebm.sample.clip_lo", 0)), float(m.get("ebm.sample.clip_hi", 0))
        if kind.value in (0, 1) and lo_c < hi_c:
            o.clip_lo, o.clip_hi = lo_c, hi_c
        if kind.value in (0, 1) and sampler is None:  # trained with proximal steps: `ebm sample` keeps them
            o.prox = float(m.get("ebm.sample.prox", 0))
        o.temperature, o.seed = T, int(seed)
        if x0 is not None and init_data is not None:
            raise L.InvalidArgumentError("give x0 (the starts themselves) or init_data (data to fit them to), not both")
        if init_data is not None:
            x = self._gauss_starts(n, seed, init_data, classes)
        elif x0 is None:
            z = L.Noise()
            lib.ebm_noise_default(byref(z))
            z.lo, z.hi = init_range or (float(m.get("ebm.sample.init_lo", -1)), float(m.get("ebm.sample.init_hi", 1)))
            x = np.empty((n, self.input_size), np.float32)
            r = _rng(seed, 0x6e6f697365)  # the command line's noise stream ("noise")
            check(lib.ebm_noise_fill(byref(z), lib.ebm_rng_u64(byref(r)), fptr(x), n, self.input_size))
        else:
            x = np.array(as_f32(x0, self.input_size, "x0"), copy=True)
        e, owned = self._e(), None
        if classes is not None:
            cls = np.ascontiguousarray(np.asarray(classes).reshape(-1), np.int32)
            owned = POINTER(L.Energy)()
            check(lib.ebm_net_energy_class(self._p, _i32p(cls), cls.size, byref(owned)))
            e = owned
        try:
            st = L.McmcStats()
            check(lib.ebm_mcmc_run(e, fptr(x), x.shape[0], byref(o), byref(st)))
        finally:
            if owned:
                lib.ebm_energy_free(owned)
        return x, st.accept_rate

    def _gauss_starts(self, n, seed, init_data, classes):
        """(n, input_size) chain starts from Gaussians fitted to init_data, as the command line draws them."""
        xd, yd = init_data if isinstance(init_data, tuple) else (init_data, None)
        data = _Mat(as_f32(xd, self.input_size, "init_data"))
        per_class = yd is not None  # as training fits them: one per class when labelled
        if classes is not None and not per_class:
            raise L.InvalidArgumentError("classes with init_data need labels: init_data=(x, labels)")
        lab = np.ascontiguousarray(np.asarray(yd).reshape(-1), np.int32) if per_class else None
        if lab is not None and lab.size != data.ptr.contents.rows:
            raise L.ShapeError("init_data: %d labels for %d rows" % (lab.size, data.ptr.contents.rows))
        lo, hi = c_float(), c_float()
        lib.ebm_lcd_data_range(data.ptr, byref(lo), byref(hi))
        g = c_void_p()
        check(lib.ebm_gauss_start_fit(data.ptr, _i32p(lab) if lab is not None else None, lo, hi, byref(g)))
        try:
            x = np.empty((n, self.input_size), np.float32)
            key = lib.ebm_rng_u64(byref(_rng(seed, 0x6761757373)))  # the command line's stream ("gauss")
            if classes is not None:
                c = np.ascontiguousarray(np.asarray(classes).reshape(-1), np.int32)
                cls = np.ascontiguousarray(np.resize(c, n), np.int32)  # chain i: classes[i mod len]
                check(lib.ebm_gauss_start_fill_classes(g, key, 0, fptr(x), n, _i32p(cls)))
            else:
                check(lib.ebm_gauss_start_fill(g, key, 0, fptr(x), n, None))
        finally:
            lib.ebm_gauss_start_free(g)
        return x

    def _lcd_opts(self, data, negatives, sampler, steps, step_size, noise, leapfrog, clip, init_range, buffer, reinit,
                  alpha, data_noise, optimizer, lr, momentum, weight_decay, grad_clip, batch, iters, seed, image,
                  init_chains="noise", prox=None, ema=None, gen_weight=None, jem=False, class_negatives=False):
        """The ebm_lcd_opts `ebm train ebm` builds from the same options (net_prepare in src/cli/kind_net.c)."""
        o = L.LcdOpts()
        lib.ebm_lcd_opts_default(byref(o))
        if init_range is None:
            lo, hi = c_float(), c_float()
            lib.ebm_lcd_data_range(data.ptr, byref(lo), byref(hi))
            init_range = (lo.value, hi.value)
        o.noise.lo, o.noise.hi = map(float, init_range)
        low = L.LcdOpts.from_buffer_copy(o)
        lib.ebm_lcd_opts_for_data(byref(low), self.input_size, int(bool(image)))
        pics = bool(image)  # images: short-run proximal SGLD; a JEM's also class negatives from Gaussian starts
        if pics and jem:
            lib.ebm_lcd_opts_for_image_jem(byref(low))
        elif pics:
            lib.ebm_lcd_opts_for_image_energy(byref(low))
        o.mode = _choice("negatives", negatives, NEGATIVES) if negatives is not None else low.mode
        o.mcmc.kind = _choice("sampler", sampler, MCMC_KINDS) if sampler is not None else low.mcmc.kind
        o.mcmc.step_size = float(step_size) if step_size is not None else low.mcmc.step_size
        o.mcmc.steps = int(steps) if steps is not None else low.mcmc.steps
        o.mcmc.noise = low.mcmc.noise
        o.optim.lr = float(lr) if lr is not None else low.optim.lr
        clf = jem and gen_weight == 0  # the plain classifier takes the image JEM's learning rate alone
        o.data_noise = 0 if clf else low.data_noise
        langevin = o.mcmc.kind == 0 or (pics and o.mcmc.kind == 1)  # ula, or sgld on images
        if clip is None and langevin:  # the data box, as `ebm train ebm` clips
            o.mcmc.clip_lo, o.mcmc.clip_hi = low.mcmc.clip_lo, low.mcmc.clip_hi
        if prox is None and langevin:
            o.mcmc.prox = low.mcmc.prox
        _set(o.mcmc, noise=noise, leapfrog=leapfrog, prox=prox)
        jpics = pics and jem and not clf  # ebm_lcd_opts_for_image_jem's where none was given, as `ebm train jem`
        o.init = _choice("init_chains", init_chains, CHAIN_INITS) if init_chains is not None else (low.init if jpics else 0)
        _set(o, ema=ema)
        if class_negatives is None:  # not with a replay buffer given
            class_negatives = jpics and low.class_negatives and o.mode != NEGATIVES.index("buffer")
        o.class_negatives = int(bool(class_negatives))
        if gen_weight is None and jpics:
            gen_weight = low.gen_weight
        _set(o, buffer=buffer, reinit=reinit, alpha=alpha, data_noise=data_noise, batch=batch, iters=iters,
             gen_weight=gen_weight)
        _optim(o.optim, optimizer, None, momentum, weight_decay, grad_clip)
        if clip is not None:
            if o.mcmc.kind not in (0, 1):
                raise L.InvalidArgumentError("clip goes with ula or sgld: clipping would break the Metropolis "
                                             "correction of %s" % MCMC_KINDS[o.mcmc.kind])
            o.mcmc.clip_lo, o.mcmc.clip_hi = map(float, clip)
        if seed is not None:
            o.seed = int(seed)
        o.mcmc.seed = o.seed
        o.sn_net = self._p.value
        return o

    def _train(self, jem, data, labels, progress, on_step, describe, every, kw):
        check_callbacks(progress=progress, on_step=on_step)
        x = as_f32(data, self.input_size, "data")
        d = _Mat(x)
        o = self._lcd_opts(d, jem=jem, **kw)
        lab = None
        if jem:
            if self.head != "logsumexp":
                raise L.InvalidArgumentError("train_jem needs a classifier network (head logsumexp)")
            lab = _labels(labels, x.shape[0])
            if lab.size and (lab.min() < 0 or lab.max() >= self.output_size):
                raise L.InvalidArgumentError("labels must lie in 0..%d (the network's outputs)" % (self.output_size - 1))
        elif self.head != "scalar":
            raise L.InvalidArgumentError("train (LCD) needs a scalar energy; a classifier trains with train_jem")
        e = POINTER(L.Energy)()
        step_cb = on_step
        if progress is not None:  # an iteration run has no epochs: progress every `every` updates
            def step_cb(p):
                stop = on_step(p) if on_step is not None else False
                if p["step"] % every == 0 or p["step"] == p["steps"]:
                    stop = progress(p) or stop
                return stop

        def negatives(t, out):
            if o.ema > 0:  # the moving average becomes the model, as `ebm train ebm --ema` saves it
                check(lib.ebm_lcd_trainer_swap_ema(t))
            n = c_size_t()
            neg = lib.ebm_lcd_trainer_negatives(t, byref(n))
            out["negatives"] = (np.ctypeslib.as_array(neg, shape=(n.value, self.input_size)).copy() if n.value
                                else None)

        def data_meta():
            _meta_update(self._meta, {"ebm.data.scale": "none", "ebm.data.rows": x.shape[0]})
        try:
            if jem:
                new, trained = lib.ebm_jem_trainer_new, self._p
            else:
                check(lib.ebm_net_energy(self._p, 0, byref(e)))
                new, trained = lib.ebm_lcd_trainer_new, e
            return _train_run(new, trained, o, lib.ebm_lcd_run_opts, d, None, step_cb, describe, self._meta,
                              labels=lab, before_describe=data_meta, after=negatives)
        finally:
            if e:
                lib.ebm_energy_free(e)

    def train(self, data, *, negatives=None, iters=None, batch=None, sampler=None, steps=None, step_size=None,
              noise=None, leapfrog=None, clip=None, init_range=None, buffer=None, reinit=None, alpha=None,
              data_noise=None, optimizer=None, lr=None, momentum=None, weight_decay=None, grad_clip=None, seed=None,
              image=None, init_chains="noise", prox=None, ema=None, progress=None, on_step=None, every=100,
              describe=True):
        """Langevin contrastive divergence (ebm_lcd_trainer_new + ebm_run, an iteration run of iters updates):
        negatives from a replay buffer ("buffer"), from noise each time ("short-run") or from persistent chains,
        moved by sampler (ula, sgld, mala, hmc, rwm) for steps steps.  Defaults are `ebm train ebm`'s: the
        library's (SGLD 20 steps of size 1, noise 0.01, buffer 10,000 with 5% restarts, alpha 0.1, Adam lr 1e-4,
        batch 128, 1,000 iterations, seed 1), with ULA step 0.01, 40 steps, lr 3e-3 and chains clipped to the
        data's box widened by 5% for data of at most 16 values per row that is not an image, and for images
        (image: whether the input is a picture, default: an input of several rows and columns) short-run
        negatives, 40 proximal SGLD steps of size 10 (prox 0.3, noise 0.005), data noise 0.005 and chains
        clipped to the data's range (ebm_lcd_opts_for_image_energy); chains start uniform on the data's range
        (init_range).  on_step(dict) after every update,
        progress(dict) every `every` updates; True stops.  Ctrl-C stops after the update under way and raises
        KeyboardInterrupt.  The result has the last negatives ("negatives").  JEM++'s options (docs/ebm.md):
        init_chains "gaussian" starts chains from Gaussians fitted to the data (`--init-chains`), prox clips each
        Langevin move to +-prox (`--prox`), ema keeps a moving average of the weights that becomes the model at
        the end (`--ema`)."""
        kw = dict(negatives=negatives, sampler=sampler, steps=steps, step_size=step_size, noise=noise,
                  leapfrog=leapfrog, clip=clip, init_range=init_range, buffer=buffer, reinit=reinit, alpha=alpha,
                  data_noise=data_noise, optimizer=optimizer, lr=lr, momentum=momentum, weight_decay=weight_decay,
                  grad_clip=grad_clip, batch=batch, iters=iters, seed=seed, image=self._image(image),
                  init_chains=init_chains, prox=prox, ema=ema)
        return self._train(False, data, None, progress, on_step, describe, every, kw)

    def train_jem(self, data, labels, *, objective="jem", gen_weight=None, negatives=None, iters=None,
                  batch=None, sampler=None, steps=None, step_size=None, noise=None, leapfrog=None, clip=None,
                  init_range=None, buffer=None, reinit=None, alpha=None, data_noise=None, optimizer=None, lr=None,
                  momentum=None, weight_decay=None, grad_clip=None, seed=None, image=None, init_chains=None,
                  prox=None, ema=None, class_negatives=None, progress=None, on_step=None, every=100, describe=True):
        """JEM (ebm_jem_trainer_new + ebm_run): each update adds the batch's cross-entropy on labels (rows, in
        0..classes-1) to gen_weight (default 1) times the contrastive divergence of E(x) = -log sum_y exp f(x)[y];
        objective "clf" trains the classifier alone (gen_weight 0, no sampling).  class_negatives samples each
        negative from p(x | y), y cycling over the classes the labels have (negatives "short-run" or "persistent";
        `--class-negatives`).  Other settings, callbacks and Ctrl-C as train, with `ebm train jem`'s defaults:
        for images (ebm_lcd_opts_for_image_jem) train's image sampler with class negatives from Gaussian starts,
        gen_weight 0.05 and lr 1e-3 (the classifier too); otherwise the paper's replay buffer (negatives
        "buffer", noise starts, gen_weight 1)."""
        _choice("objective", objective, ("jem", "clf"))
        if objective == "clf":
            if gen_weight not in (None, 0):
                raise L.InvalidArgumentError("objective clf trains without the generative term (gen_weight 0)")
            gen_weight = 0.0
        kw = dict(negatives=negatives, sampler=sampler, steps=steps, step_size=step_size, noise=noise,
                  leapfrog=leapfrog, clip=clip, init_range=init_range, buffer=buffer, reinit=reinit, alpha=alpha,
                  data_noise=data_noise, optimizer=optimizer, lr=lr, momentum=momentum, weight_decay=weight_decay,
                  grad_clip=grad_clip, batch=batch, iters=iters, seed=seed, image=self._image(image),
                  init_chains=init_chains, prox=prox, ema=ema, gen_weight=gen_weight,
                  class_negatives=class_negatives)
        return self._train(True, data, labels, progress, on_step, describe, every, kw)

    def _image(self, image):
        """Whether the input is a picture (the command line's test: height and width above 1)."""
        return bool(image) if image is not None else self.input_shape[1] > 1 and self.input_shape[2] > 1


# --------------------------------------------------------------------------------------------------------
# Structured prediction
# --------------------------------------------------------------------------------------------------------
LOSSES = ("energy", "perceptron", "hinge", "log", "lvq2", "mce", "sqsq", "sqexp", "nll", "mee")
OUTPUTS = ("raw", "softplus", "square")


class Structured(_ModelObject):
    """A structured-prediction energy E(x, y) (docs/structured.md): K classes (length 0), E(x, y) = s(g(x)[y]),
    or label chains of `length` positions of K labels, E(x, y) = sum_t U[t, y_t] + sum_t P[y_t, y_t+1] with
    Viterbi inference.  Structured(cols, classes, ...) builds the model `ebm train structured` builds for data
    of cols columns (image_shape (H, W) for pictures; spec None: linear:128,silu,linear:K, chains linear:K)."""
    _ptr_type = POINTER(L.Structured)
    _free, _load = staticmethod(lib.ebm_structured_free), staticmethod(lib.ebm_structured_load)
    _save = staticmethod(lib.ebm_structured_save)

    def __init__(self, cols=None, classes=None, *, length=0, spec=None, output="softplus", image_shape=None,
                 _ptr=None, _owner=None):
        if _ptr is None:
            h, w = image_shape or (0, 0)
            _ptr = self._handle(lib.ebm_structured_new_for_data, spec.encode() if spec else None, int(cols), h, w,
                                int(classes), int(length), _choice("output", output, OUTPUTS))
        self._p, self._owner = _ptr, _owner

    classes = property(lambda self: self._p.contents.k)
    length = property(lambda self: self._p.contents.len)
    output = property(lambda self: OUTPUTS[self._p.contents.out])
    row_size = property(lambda self: lib.ebm_structured_row_size(self._p))
    labels_per_row = property(lambda self: lib.ebm_structured_labels_per_row(self._p))
    n_params = property(lambda self: lib.ebm_structured_n_params(self._p))

    @property
    def spec(self):
        return lib.ebm_net_spec(self._p.contents.net).decode()

    @property
    def params(self):
        """A copy of the network's flat parameters."""
        k = c_size_t()
        p = lib.ebm_net_params(self._p.contents.net, byref(k))
        return np.ctypeslib.as_array(p, shape=(k.value,)).copy()

    @property
    def pair(self):
        """The raw pairwise table P_raw (K, K) of a chain model (a copy), else None."""
        c = self._p.contents
        return np.ctypeslib.as_array(c.pair, shape=(c.k, c.k)).copy() if c.pair else None

    def init(self, seed=1):
        """The network's initialisation and P_raw = 0, from the stream (seed, 100) as `ebm train structured`."""
        r = _rng(seed, INIT_STREAM)
        check(lib.ebm_structured_init(self._p, byref(r)))
        return self

    def energies(self, x):
        """(U (n, max(length, 1), K) unary energies, P (K, K) pairwise energies or None)."""
        x = as_f32(x, self.row_size, "x")
        n, k, ln = x.shape[0], self.classes, max(self.length, 1)
        U = np.empty((n, ln, k), np.float32)
        P = np.empty((k, k), np.float32) if self.length else None
        check(lib.ebm_structured_energies(self._p, fptr(x), n, fptr(U), fptr(P) if P is not None else None))
        return (U[:, 0, :] if not self.length else U), P

    def predict(self, x, return_energy=False):
        """argmin_y E(x, y): (n,) classes or (n, length) label chains (Viterbi); with its energy when asked."""
        x = as_f32(x, self.row_size, "x")
        n, per = x.shape[0], self.labels_per_row
        y = np.empty((n, per), np.int32)
        E = np.empty(n, np.float64)
        check(lib.ebm_structured_predict(self._p, fptr(x), n, _i32p(y), dptr(E)))
        y = y.reshape(n) if per == 1 else y
        return (y, E) if return_energy else y

    def free_energy(self, x):
        """-log sum_y exp(-E(x, y)) of a K-class model."""
        x = as_f32(x, self.row_size, "x")
        F = np.empty(x.shape[0], np.float64)
        check(lib.ebm_structured_free_energy(self._p, fptr(x), x.shape[0], dptr(F)))
        return F

    def _loss_opts(self, loss=None, margin=None, beta=None, gamma=None, lvq2_max=None):
        o = L.StructuredLossOpts()
        lib.ebm_structured_loss_opts_from_meta(self._p.contents.meta, byref(o))
        if loss is not None:
            o.loss = _choice("loss", loss, LOSSES)
        _set(o, margin=margin, beta=beta, gamma=gamma, lvq2_max=lvq2_max)
        return o

    def evaluate(self, x, y, **loss):
        """`ebm eval`'s figures on labelled rows: accuracy, seq_accuracy, loss (the training loss unless given),
        e_correct, e_offending, gap, spread, top_share, collapsed."""
        x = as_f32(x, self.row_size, "x")
        y = _labels(y, x.shape[0], self.labels_per_row)
        o = self._loss_opts(**loss)
        r = L.StructuredEval()
        check(lib.ebm_structured_evaluate(self._p, byref(o), fptr(x), _i32p(y), x.shape[0], byref(r)))
        return r.as_dict()

    def train(self, x, y, *, loss="hinge", margin=None, beta=None, gamma=None, lvq2_max=None, epochs=None,
              batch=None, optimizer=None, lr=None, momentum=None, weight_decay=None, grad_clip=None, seed=None,
              progress=None, on_step=None, describe=True):
        """Trains with one of the ten losses (energy, perceptron, hinge, log, lvq2, mce, sqsq, sqexp, nll, mee)
        through ebm_structured_trainer_new + ebm_run on x (n, row size) with labels y (n) or (n, length).
        Defaults are `ebm train structured`'s (the library's: margin 1, beta 1, gamma 1, lvq2_max 1, 3 epochs,
        batch 64, Adam lr 1e-3, seed 1).  Callbacks, Ctrl-C and the result as RBM.train."""
        o = L.StructuredTrainOpts()
        lib.ebm_structured_train_opts_default(byref(o))
        o.loss.loss = _choice("loss", loss, LOSSES)
        if lib.ebm_structured_loss_needs_nonneg(o.loss.loss) and self.output == "raw":
            raise L.InvalidArgumentError("the %s loss assumes non-negative energies: use output softplus or square"
                                         % loss)
        _set(o.loss, margin=margin, beta=beta, gamma=gamma, lvq2_max=lvq2_max)
        _set(o, epochs=epochs, batch=batch, seed=seed)
        _optim(o.optim, optimizer, lr, momentum, weight_decay, grad_clip)
        x = as_f32(x, self.row_size, "x")
        lab = _labels(y, x.shape[0], self.labels_per_row)
        d = _Mat(x)
        return _train_run(lib.ebm_structured_trainer_new, self._p, o, lib.ebm_structured_run_opts, d, progress, on_step,
                          describe, self._meta_ptr(), labels=lab)


def markov_toy(n=2000, length=10, classes=4, stay=0.8, noise=1.0, seed=1, meta_of=None):
    """The library's sequence toy (ebm_structured_markov_toy, `--data markov`): labels y (n, length) of a sticky
    Markov chain and observations x (n, length * classes) = one-hot(y_t) + noise N(0, 1).  meta_of: a Structured
    model whose metadata gets the toy's settings (for `ebm eval --data markov:test`)."""
    xp, yp = POINTER(L.Mat)(), POINTER(ctypes.c_int32)()
    check(lib.ebm_structured_markov_toy(int(n), int(length), int(classes), stay, noise, int(seed), byref(xp),
                                        byref(yp)))
    try:
        m = xp.contents
        x = np.ctypeslib.as_array(m.data, shape=(m.rows, m.cols)).copy()
        y = np.ctypeslib.as_array(yp, shape=(int(n), int(length))).copy()
    finally:
        lib.ebm_mat_free(xp)
        L.libc.free(ctypes.cast(yp, c_void_p))
    if meta_of is not None:
        o = L.StructuredMarkov(int(n), int(length), int(classes), stay, noise, int(seed))
        check(lib.ebm_structured_markov_to_meta(byref(o), meta_of._p.contents.meta))
    return x, y


def rotations(x, labels=None, classes=None):
    """Every square image of x (n, side*side) or (n, side, side) turned 0, 1, 2 and 3 quarter-turns anticlockwise
    (numpy.rot90), row 4i + r for image i turned r times, as (4n, side*side) float32; with labels (each in
    0..classes-1; classes default max + 1) also the joint labels labels[i] + classes r (ebm_rotations; what
    `ebm train jem --rotations` trains on).  Returns x4 or (x4, y4)."""
    x = np.asarray(x)
    n = x.shape[0]
    side = int(round(np.sqrt(np.prod(x.shape[1:])))) if x.ndim > 1 else 0
    if x.ndim not in (2, 3) or side * side != int(np.prod(x.shape[1:])) or (x.ndim == 3 and x.shape[1] != x.shape[2]):
        raise L.ShapeError("rotations: x must hold square images, (n, side*side) or (n, side, side), not %s"
                           % (x.shape,))
    x = as_f32(x.reshape(n, side * side), side * side, "x")
    xo = np.empty((4 * n, side * side), np.float32)
    if labels is None:
        check(lib.ebm_rotations(fptr(x), None, n, side, 0, fptr(xo), None))
        return xo
    y = np.ascontiguousarray(labels, dtype=np.int32)
    if y.shape != (n,):
        raise L.InvalidArgumentError("labels must be (%d,), got %s" % (n, y.shape))
    k = int(classes) if classes is not None else (int(y.max()) + 1 if n else 1)
    yo = np.empty(4 * n, np.int32)
    check(lib.ebm_rotations(fptr(x), y.ctypes.data_as(POINTER(c_int32)), n, side, k, fptr(xo),
                            yo.ctypes.data_as(POINTER(c_int32))))
    return xo, yo


def toy(name, n=10000, seed=1):
    """(x (n, 2), labels (n)) of the library's 2-D toy density name (ebm.toy_names(); `--data toy:NAME --limit n
    --seed seed` in the command line gives the same rows); labels are mixture components (0 where none)."""
    d = POINTER(L.Dataset)()
    check(lib.ebm_toy_generate(str(name).encode(), int(n), int(seed), byref(d)))
    x, y = _take_dataset(d)
    return x, y if y is not None else np.zeros(x.shape[0], np.int32)


def toy_names():
    """The 2-D toy densities of toy()."""
    return lib.ebm_toy_names().decode().replace(",", " ").split()
