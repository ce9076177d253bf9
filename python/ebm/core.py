"""The NumPy-level API over libebm: model files, RBMs and GRBMs, energies of any model, samplers, log Z and
training through the library's trainers and its one run loop (ebm_run).  Arrays go in and come out as float32
(converted once when they are not already C-contiguous float32); the library's random streams are seeded
explicitly, so every result is reproducible from its seed whatever the thread count."""
import ctypes
import os
from ctypes import POINTER, byref, c_char_p, c_double, c_float, c_int, c_uint8, c_void_p

import numpy as np

from . import _lib as L
from ._lib import check, lib

KINDS = ("rbm", "grbm", "bm", "dbn", "net", "jem", "structured", "compose")


# --------------------------------------------------------------------------------------------------------
# Arrays
# --------------------------------------------------------------------------------------------------------
def as_f32(x, cols=None, what="x"):
    """x as a C-contiguous 2-D float32 array (no copy when it already is one)."""
    x = np.asarray(x)
    if x.dtype != np.float32 or not x.flags.c_contiguous:
        x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim == 1 and cols is not None and x.size == cols:
        x = x.reshape(1, cols)
    if x.ndim != 2:
        raise L.ShapeError("%s must be 2-D (rows, %s), got shape %s" % (what, cols if cols else "cols", x.shape))
    if cols is not None and x.shape[1] != cols:
        raise L.ShapeError("%s has %d columns but the model has %d" % (what, x.shape[1], cols))
    return x


def fptr(a):
    return a.ctypes.data_as(POINTER(c_float))


def dptr(a):
    return a.ctypes.data_as(POINTER(c_double))



def _precision(p):
    """"fp32" | "bf16" | "auto" as an ebm_precision value."""
    names = {"fp32": 0, "bf16": 1, "auto": 2}
    if p not in names:
        raise ValueError("precision must be fp32, bf16 or auto, got %r" % (p,))
    return names[p]


class _Mat:
    """An ebm_mat owned by Python, filled from a NumPy array (one copy)."""

    def __init__(self, x):
        x = np.asarray(x)
        if x.ndim != 2:
            raise L.ShapeError("data must be 2-D, got shape %s" % (x.shape,))
        self.ptr = POINTER(L.Mat)()
        check(lib.ebm_mat_new(x.shape[0], x.shape[1], byref(self.ptr)))
        self.view()[...] = x

    def view(self):
        m = self.ptr.contents
        if m.rows * m.cols == 0:
            return np.zeros((m.rows, m.cols), np.float32)
        return np.ctypeslib.as_array(m.data, shape=(m.rows, m.cols))

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.ebm_mat_free(self.ptr)
            self.ptr = None


def _rng(seed, stream=0):
    r = L.Rng()
    lib.ebm_rng_seed(byref(r), int(seed) & (2**64 - 1), int(stream))
    return r


def set_threads(n):
    """Threads of the library's OpenMP loops and of OpenBLAS (results do not depend on it)."""
    lib.ebm_set_threads(int(n))


def get_threads():
    return lib.ebm_get_threads()


def _meta_dict(meta_ptr):
    out = {}
    if not meta_ptr:
        return out
    k, v = c_char_p(), c_char_p()
    for i in range(lib.ebm_meta_count(meta_ptr)):
        lib.ebm_meta_at(meta_ptr, i, byref(k), byref(v))
        out[k.value.decode()] = v.value.decode()
    return out


def _meta_update(meta_ptr, d):
    for key, val in (d or {}).items():
        check(lib.ebm_meta_set(meta_ptr, str(key).encode(), str(val).encode()))


def read_meta(path):
    """The metadata of a safetensors model file, from its header alone, as a dict."""
    m = c_void_p()
    check(lib.ebm_safetensors_read_meta(os.fsencode(path), byref(m)))
    try:
        return _meta_dict(m)
    finally:
        lib.ebm_meta_free(m)


def read_tensors(path):
    """(tensors, metadata) of any safetensors file: a dict of NumPy arrays (copies) and a dict of strings."""
    t = c_void_p()
    check(lib.ebm_safetensors_read(os.fsencode(path), byref(t)))
    dtypes = [np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, None, np.float32, np.float64]
    try:
        out = {}
        for i in range(lib.ebm_tensors_count(t)):
            name = lib.ebm_tensors_name(t, i)
            a = lib.ebm_tensors_get(t, name).contents
            shape = tuple(a.shape[j] for j in range(a.ndim))
            dt = dtypes[a.dtype]
            n = int(np.prod(shape)) if shape else 1
            if dt is None:  # bf16: the upper half of a float32
                raw = np.ctypeslib.as_array(ctypes.cast(a.data, POINTER(ctypes.c_uint16)), shape=(n,))
                arr = (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)
            else:
                buf = (ctypes.c_char * (n * np.dtype(dt).itemsize)).from_address(a.data) if n else b""
                arr = np.frombuffer(bytes(buf), dtype=dt).reshape(shape)
            out[name.decode()] = arr.copy()
        return out, _meta_dict(lib.ebm_tensors_meta(t))
    finally:
        lib.ebm_tensors_free(t)


def model_kind(path):
    """The kind of a model file ("rbm", "grbm", "bm", "dbn", "net", "jem", "structured", "compose")."""
    k = c_int()
    check(lib.ebm_model_kind(os.fsencode(path), byref(k)))
    return KINDS[k.value]


def save_grid(path, images, height, width, cols=0, zoom=2, pad=1):
    """Writes images (n, height * width) in [0, 1] as a PNG grid (ebm_png_grid)."""
    x = as_f32(np.asarray(images).reshape(len(images), -1), height * width, "images")

    class GridOpts(ctypes.Structure):
        _fields_ = [("cols", ctypes.c_size_t), ("pad", ctypes.c_size_t), ("zoom", ctypes.c_size_t),
                    ("norm", c_int), ("background", c_uint8)]
    o = GridOpts(cols, pad, zoom, 0, 128)
    check(lib.ebm_png_grid(os.fsencode(path), fptr(x), x.shape[0], height, width, ctypes.cast(byref(o), c_void_p)))


# --------------------------------------------------------------------------------------------------------
# Training: one call of ebm_run with Python callbacks; Ctrl-C stops it cleanly
# --------------------------------------------------------------------------------------------------------
class RunResult(dict):
    """What a training run did: epochs_done, steps_done, seconds, last and epoch_mean (dicts of figures),
    interrupted (True when Ctrl-C or a callback stopped it)."""


def _progress_dict(p):
    p = p.contents
    return {"epoch": p.epoch, "epochs": p.epochs, "batch": p.batch, "batches": p.batches, "step": p.step,
            "steps": p.steps, "lr": p.lr, "seconds": p.seconds, "total_seconds": p.total_seconds,
            "last": p.last.as_dict(), "mean": p.mean.as_dict(), "threads": p.threads, "threads_max": p.threads_max}


def check_callbacks(**fns):
    """TypeError now, before any training, for a callback (progress, on_step, ...) that is neither None nor
    callable (progress=False, say), rather than when the run first calls it."""
    for name, fn in fns.items():
        if fn is not None and not callable(fn):
            raise TypeError("%s must be a function (or None), not %r" % (name, fn))


def run(trainer, data, run_opts, progress=None, on_step=None, labels=None, extra=None):
    """Runs ebm_run on trainer (a handle) over data (an ebm_mat wrapper).  progress(dict) after every epoch and
    on_step(dict) after every update may return True to stop.  KeyboardInterrupt inside the run stops it after
    the current update (parameters of the last update kept) and is raised again once the library has returned;
    an exception raised by a callback stops the run likewise and is raised again.  data: an object with .ptr
    (an ebm_mat) or the pointer itself; extra: entries added to every progress dict (e.g. a DBN's layer)."""
    check_callbacks(progress=progress, on_step=on_step)
    state = {"exc": None}

    def guard(fn):
        def cb(p, _user):
            try:
                d = _progress_dict(p)
                if extra:
                    d.update(extra)
                if fn is not None and fn(d):
                    return 1
                return 0
            except BaseException as e:  # KeyboardInterrupt arrives here while the run is under way
                state["exc"] = e
                return 1
        return L.RUN_CB(cb)

    step_cb, epoch_cb = guard(on_step), guard(progress)
    run_opts.on_step, run_opts.on_epoch = step_cb, epoch_cb
    res = L.RunResult()
    lab = None
    if labels is not None:
        lab = np.ascontiguousarray(labels, dtype=np.int32)
    st = lib.ebm_run(trainer, getattr(data, "ptr", data), lab.ctypes.data_as(POINTER(ctypes.c_int32)) if lab is not None else None,
                     byref(run_opts), byref(res))
    out = RunResult(epochs_done=res.epochs_done, steps_done=res.steps_done, seconds=res.seconds,
                    last=res.last.as_dict(), epoch_mean=res.epoch_mean.as_dict(), interrupted=st == 8)
    if state["exc"] is not None:
        raise state["exc"]
    if st != 8:
        check(st)
    return out, res


def _train_run(trainer_new, model, opts, run_opts, data, progress, on_step, describe, meta, labels=None,
               before_describe=None, after=None):
    """One training run: a trainer from trainer_new(model, &opts, &t), ebm_run over data with the run settings
    run_opts(&opts, &ro) gives (callbacks, labels and Ctrl-C as run), with describe the run's provenance written
    to meta (before_describe() first), then after(t, out) to add what it reads from the trainer; the trainer is
    freed however the run ends.  Returns the RunResult."""
    t = c_void_p()
    check(trainer_new(model, byref(opts), byref(t)))
    try:
        ro = L.RunOpts()
        run_opts(byref(opts), byref(ro))
        out, res = run(t, data, ro, progress, on_step, labels=labels)
        if describe:
            if before_describe is not None:
                before_describe()
            check(lib.ebm_run_describe(t, byref(ro), byref(res), meta))
        if after is not None:
            after(t, out)
        return out
    finally:
        lib.ebm_trainer_free(t)


# --------------------------------------------------------------------------------------------------------
# Library objects held from Python
# --------------------------------------------------------------------------------------------------------
def _take_dataset(d):
    """(x (n, d) float32, labels (n) int32 or None) copied out of an ebm_dataset *d, which is freed."""
    try:
        c = d.contents
        m = c.x.contents
        x = np.ctypeslib.as_array(m.data, shape=(m.rows, m.cols)).copy()
        y = np.ctypeslib.as_array(c.labels, shape=(m.rows,)).copy() if c.labels else None
        return x, y
    finally:
        lib.ebm_dataset_free(d)


def _new_handle(ptr_type, fn, *args, what=None):
    """A ptr_type() filled by fn(*args, &handle) (an error raised with what)."""
    p = ptr_type()
    check(fn(*args, byref(p)), what)
    return p


class _Owned:
    """A library object owned by Python (freed with _free) or borrowed from an owner that keeps it alive
    (_owner), with the energy view it may cache (_energy, freed first)."""
    _ptr_type = c_void_p  # the ctypes type of the handle
    _free = None
    _owner = None
    _energy = None

    @classmethod
    def _handle(cls, fn, *args, what=None):
        """A new handle of the class's type, filled by fn(*args, &handle)."""
        return _new_handle(cls._ptr_type, fn, *args, what=what)

    def _cached_energy(self, fn, *args, what=None):
        """The energy view fn(*args, &e) of the object, made once and kept."""
        if self._energy is None:
            self._energy = _new_handle(POINTER(L.Energy), fn, *args, what=what)
        return self._energy

    def _free_energy(self):
        if getattr(self, "_energy", None):
            lib.ebm_energy_free(self._energy)
            self._energy = None

    def _figure(self, fn, x, cols, what, *args):
        """One figure over the rows of x: fn(handle, x, rows, *args, &r) gives r."""
        x = as_f32(x, cols, what)
        r = c_double()
        check(fn(self._p, fptr(x), x.shape[0], *args, byref(r)))
        return r.value

    def __del__(self):
        self._free_energy()
        p = getattr(self, "_p", None)
        if p and getattr(self, "_owner", None) is None and self._free is not None:
            self._free(p)
        self._p = None


class _ModelObject(_Owned):
    """A model of one kind with its own file: load and save through the library's _load and _save, metadata
    in the meta of the struct behind the handle (_meta_ptr)."""
    _load = _save = None

    @classmethod
    def load(cls, path):
        return cls(_ptr=cls._handle(cls._load, os.fsencode(path)))

    def save(self, path, meta=None):
        """Writes the model file (safetensors, ebm.model its kind) with meta (a dict) added to its metadata."""
        _meta_update(self._meta_ptr(), meta)
        check(self._write(os.fsencode(path)))

    def _write(self, path):
        return self._save(self._p, path)

    def _meta_ptr(self):
        return self._p.contents.meta

    @property
    def meta(self):
        return _meta_dict(self._meta_ptr())


def _get_image_shape(c):
    return (c.height, c.width) if c.height else None


def _set_image_shape(c, hw):
    c.height, c.width = (hw if hw else (0, 0))


# Rows per library call for energies and scores, as `ebm score` takes them: a network keeps every layer's
# activations for the rows it is given (a CNN on 28 x 28 images: about 350 KB a row), so memory stays bounded,
# and the figures equal the command line's bit for bit.  (Outputs go through ebm_net_logits, which chunks.)
SCORE_ROWS = 512


def _chunks(n, rows):
    return ((i, min(n, i + rows)) for i in range(0, n, rows))


def _net_energy(e, x):
    """E(x) (n, float64) of the rows of x through an ebm_energy e, SCORE_ROWS at a time."""
    x = as_f32(x, e.contents.dim, "x")
    E = np.empty(x.shape[0], np.float32)
    for i, j in _chunks(x.shape[0], SCORE_ROWS):
        check(e.contents.energy(e, fptr(x[i:j]), j - i, fptr(E[i:j])))
    return E.astype(np.float64)


def _softmax_classes(z):
    """(predicted class (n), softmax probabilities (n, classes)) of logits z."""
    z = z.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return p.argmax(axis=1), p


# --------------------------------------------------------------------------------------------------------
# Bernoulli RBM
# --------------------------------------------------------------------------------------------------------
class RBM(_ModelObject):
    """A Bernoulli RBM held by libebm (ebm_rbm): E(v, h) = -a'v - b'h - v'Wh.  W is (n_vis, n_hid).
    Build one with RBM(n_vis, n_hid), RBM.from_arrays(W, a, b) or RBM.load(path)."""
    _ptr_type = POINTER(L.RBM)
    _free, _load, _save = staticmethod(lib.ebm_rbm_free), staticmethod(lib.ebm_rbm_load), staticmethod(lib.ebm_rbm_save)

    def __init__(self, n_vis=None, n_hid=None, *, _ptr=None, _owner=None):
        if _ptr is None:
            _ptr = self._handle(lib.ebm_rbm_new, int(n_vis), int(n_hid))
        self._p = _ptr
        self._owner = _owner  # a Model that owns the pointer, or None when we do

    @classmethod
    def from_arrays(cls, W, a=None, b=None):
        W = np.asarray(W, np.float32)
        m = cls(W.shape[0], W.shape[1])
        m.set_params(W, a, b)
        return m

    @property
    def n_vis(self):
        return self._p.contents.n_vis

    @property
    def n_hid(self):
        return self._p.contents.n_hid

    @property
    def image_shape(self):
        return _get_image_shape(self._p.contents)

    @image_shape.setter
    def image_shape(self, hw):
        _set_image_shape(self._p.contents, hw)

    def _params(self):
        c = self._p.contents
        return np.ctypeslib.as_array(c.params, shape=(c.n_params,))

    @property
    def W(self):
        return self._params()[: self.n_vis * self.n_hid].reshape(self.n_vis, self.n_hid).copy()

    @property
    def a(self):
        nv, nh = self.n_vis, self.n_hid
        return self._params()[nv * nh: nv * nh + nv].copy()

    @property
    def b(self):
        nv, nh = self.n_vis, self.n_hid
        return self._params()[nv * nh + nv:].copy()

    def set_params(self, W=None, a=None, b=None):
        nv, nh = self.n_vis, self.n_hid
        p = self._params()
        if W is not None:
            p[: nv * nh] = np.asarray(W, np.float32).reshape(nv, nh).ravel()
        if a is not None:
            p[nv * nh: nv * nh + nv] = np.asarray(a, np.float32).reshape(nv)
        if b is not None:
            p[nv * nh + nv:] = np.asarray(b, np.float32).reshape(nh)

    def init(self, seed=1, weight_std=0.01, data=None):
        """W ~ N(0, weight_std^2), b = 0, a = logit of data's column means (or 0)."""
        r = _rng(seed, 0)
        d = _Mat(as_f32(data, self.n_vis, "data")) if data is not None else None
        check(lib.ebm_rbm_init(self._p, byref(r), weight_std, d.ptr if d else None))
        return self

    def free_energy(self, v, T=1.0):
        v = as_f32(v, self.n_vis, "v")
        F = np.empty(v.shape[0], np.float64)
        check(lib.ebm_rbm_free_energy(self._p, fptr(v), v.shape[0], T, dptr(F)))
        return F

    def energy(self, v, h):
        v, h = as_f32(v, self.n_vis, "v"), as_f32(h, self.n_hid, "h")
        if v.shape[0] != h.shape[0]:
            raise L.ShapeError("v has %d rows but h has %d" % (v.shape[0], h.shape[0]))
        E = np.empty(v.shape[0], np.float64)
        check(lib.ebm_rbm_energy(self._p, fptr(v), fptr(h), v.shape[0], dptr(E)))
        return E

    def hidden_probs(self, v, T=1.0, out=None):
        v = as_f32(v, self.n_vis, "v")
        out = np.empty((v.shape[0], self.n_hid), np.float32) if out is None else out
        check(lib.ebm_rbm_hidden_probs(self._p, fptr(v), v.shape[0], T, fptr(out)))
        return out

    def visible_probs(self, h, T=1.0):
        h = as_f32(h, self.n_hid, "h")
        out = np.empty((h.shape[0], self.n_vis), np.float32)
        check(lib.ebm_rbm_visible_probs(self._p, fptr(h), h.shape[0], T, fptr(out)))
        return out

    def _sample_layer(self, fn, x, cols, what, out_cols, key, T):
        x = as_f32(x, cols, what)
        p = np.empty((x.shape[0], out_cols), np.float32)
        s = np.empty_like(p)
        fn(self._p, fptr(x), x.shape[0], T, int(key), fptr(p), fptr(s))
        return p, s

    def sample_hidden(self, v, key, T=1.0):
        """(p(h | v), a draw of h); row r draws from the stream (key, r)."""
        return self._sample_layer(lib.ebm_rbm_sample_hidden, v, self.n_vis, "v", self.n_hid, key, T)

    def sample_visible(self, h, key, T=1.0):
        return self._sample_layer(lib.ebm_rbm_sample_visible, h, self.n_hid, "h", self.n_vis, key, T)

    def sample(self, n=100, steps=1000, T=1.0, seed=1, init=None, clamp=None, mean=False):
        """n block-Gibbs chains (ebm_gibbs) run for steps sweeps at temperature T, started from noise or from
        rows of init (an array: drawn with replacement).  clamp = (mask (n_vis) bool, values (n, n_vis)) holds
        the masked units (inpainting).  Returns the visible samples (n, n_vis), or p(v | h) with mean=True."""
        g = c_void_p()
        check(lib.ebm_gibbs_new(self._p, int(n), byref(g)))
        try:
            r = _rng(seed, 0)
            if init is None:
                check(lib.ebm_gibbs_init_noise(g, 0.5, byref(r)))
            else:
                d = _Mat(as_f32(init, self.n_vis, "init"))
                check(lib.ebm_gibbs_init_data(g, d.ptr, byref(r)))
            if clamp is not None:
                mask = np.ascontiguousarray(np.asarray(clamp[0]).reshape(self.n_vis) != 0, np.uint8)
                vals = as_f32(np.broadcast_to(np.asarray(clamp[1], np.float32), (n, self.n_vis)), self.n_vis)
                check(lib.ebm_gibbs_clamp(g, mask.ctypes.data_as(POINTER(c_uint8)), fptr(vals)))
            check(lib.ebm_gibbs_run(g, int(steps), T, byref(r)))
            src = lib.ebm_gibbs_visible_mean(g) if mean else lib.ebm_gibbs_visible(g)
            return np.ctypeslib.as_array(src, shape=(n, self.n_vis)).copy()
        finally:
            lib.ebm_gibbs_free(g)

    def sample_exact(self, n, seed=1):
        """n exact draws of v by enumerating the smaller layer (at most 20 units)."""
        v = np.empty((n, self.n_vis), np.float32)
        r = _rng(seed, 0)
        check(lib.ebm_rbm_sample_exact(self._p, n, byref(r), fptr(v)))
        return v

    def log_z_exact(self, T=1.0):
        z = c_double()
        check(lib.ebm_rbm_log_z_exact(self._p, T, byref(z)))
        return z.value

    def ais(self, runs=100, steps=14500, seed=1, base_data=None, reverse=False):
        """AIS estimate of log Z: a dict with log_z, log_z_lo, log_z_hi (3-standard-error interval), ess, ...
        base_data: data whose pixel marginals make the base model; reverse: reverse AIS from exact samples."""
        o = L.AisOpts()
        lib.ebm_ais_opts_default(byref(o))
        o.runs, o.steps, o.seed = int(runs), int(steps), int(seed)
        if base_data is not None:
            base = np.empty(self.n_vis, np.float32)
            d = _Mat(as_f32(base_data, self.n_vis, "base_data"))
            check(lib.ebm_ais_base_bias(d.ptr, fptr(base)))
            o.base_bias = fptr(base)
        r = L.AisResult()
        if reverse:
            v0 = self.sample_exact(runs, seed)
            check(lib.ebm_rbm_ais_reverse(self._p, fptr(v0), byref(o), byref(r), None))
        else:
            check(lib.ebm_rbm_ais(self._p, byref(o), byref(r), None))
        return r.as_dict()

    def log_likelihood(self, v, log_z):
        return self._figure(lib.ebm_rbm_log_likelihood, v, self.n_vis, "v", log_z)

    def pseudo_log_likelihood(self, v):
        """Mean over rows of sum_i log p(v_i | v_-i), exact (binary v)."""
        return self._figure(lib.ebm_rbm_pseudo_ll, v, self.n_vis, "v")

    def recon_error(self, v):
        return self._figure(lib.ebm_rbm_recon_error, v, self.n_vis, "v")

    def train(self, data, *, persistent=True, k=1, epochs=10, batch=100, chains=0, lr=0.05, lr_final=None,
              momentum=0.5, weight_decay=1e-4, grad_clip=0.0, shuffle=True, seed=1, progress=None, on_step=None,
              describe=True, precision="fp32"):
        """Trains by CD-k or PCD-k (ebm_rbm_trainer_new + ebm_run).  data (n, n_vis) in [0, 1].
        precision "fp32", "bf16" or "auto": of the matrix products (ebm_cd_opts.precision, docs/train.md).
        progress(dict) is called after every epoch, on_step(dict) after every update; either may return True to
        stop.  Ctrl-C stops after the current update and raises KeyboardInterrupt (the parameters are those
        of the last update).  Returns a RunResult dict; with describe, the run's provenance goes to meta."""
        o = L.CdOpts()
        lib.ebm_cd_opts_default(byref(o))
        o.mode, o.k, o.epochs, o.batch, o.chains = int(bool(persistent)), int(k), int(epochs), int(batch), int(chains)
        o.lr, o.lr_final = lr, (-1.0 if lr_final is None else lr_final)
        o.momentum, o.weight_decay, o.grad_clip, o.shuffle, o.seed = momentum, weight_decay, grad_clip, int(shuffle), int(seed)
        o.precision = _precision(precision)
        d = data if isinstance(data, _Mat) else _Mat(as_f32(data, self.n_vis, "data"))

        def chains_h(t, out):
            if persistent:
                out["chains_h"] = _trainer_tensor(t, "train.chains.h")
        return _train_run(lib.ebm_rbm_trainer_new, self._p, o, lib.ebm_cd_run_opts, d, progress, on_step, describe,
                          self._meta_ptr(), after=chains_h)


def _trainer_tensor(t, name):
    ts = c_void_p()
    check(lib.ebm_tensors_new(byref(ts)))
    try:
        if lib.ebm_trainer_save_state(t, ts) != 0:
            return None
        a = lib.ebm_tensors_get(ts, name.encode())
        if not a:
            return None
        a = a.contents
        shape = tuple(a.shape[j] for j in range(a.ndim))
        return np.ctypeslib.as_array(ctypes.cast(a.data, POINTER(c_float)), shape=shape).copy()
    finally:
        lib.ebm_tensors_free(ts)


# --------------------------------------------------------------------------------------------------------
# Gaussian-Bernoulli RBM
# --------------------------------------------------------------------------------------------------------
GRBM_SAMPLERS = ("gibbs", "langevin", "gibbs-langevin")
GRBM_NEG_INIT = ("noise", "data", "persistent")


class GRBM(_ModelObject):
    """A Gaussian-Bernoulli RBM held by libebm (ebm_grbm), with the data standardisation stored in the model.
    Methods taking pixels (free_energy, hidden_probs, sample, train) standardise with it unless told the
    data are already standardised (standardized=True)."""
    _ptr_type = POINTER(L.GRBM)
    _free, _load = staticmethod(lib.ebm_grbm_free), staticmethod(lib.ebm_grbm_load)
    _save = staticmethod(lib.ebm_grbm_save)

    def __init__(self, n_vis=None, n_hid=None, *, _ptr=None, _owner=None):
        if _ptr is None:
            _ptr = self._handle(lib.ebm_grbm_new, int(n_vis), int(n_hid))
        self._p = _ptr
        self._owner = _owner

    n_vis = property(lambda self: self._p.contents.n_vis)
    n_hid = property(lambda self: self._p.contents.n_hid)

    def _vec(self, name, n):
        return np.ctypeslib.as_array(getattr(self._p.contents, name), shape=(n,))

    def get_params(self):
        """dict of copies: W (n_vis, n_hid), b (n_hid), mu (n_vis), log_var (n_vis), data_mean, data_std."""
        nv, nh = self.n_vis, self.n_hid
        return {"W": self._vec("W", nv * nh).reshape(nv, nh).copy(), "b": self._vec("b", nh).copy(),
                "mu": self._vec("mu", nv).copy(), "log_var": self._vec("log_var", nv).copy(),
                "data_mean": self._vec("data_mean", nv).copy(), "data_std": self._vec("data_std", nv).copy()}

    def set_params(self, **kw):
        nv, nh = self.n_vis, self.n_hid
        sizes = {"W": nv * nh, "b": nh, "mu": nv, "log_var": nv, "data_mean": nv, "data_std": nv}
        for k, v in kw.items():
            if k not in sizes:
                raise L.InvalidArgumentError("unknown GRBM parameter %r (one of %s)" % (k, ", ".join(sizes)))
            if v is not None:
                self._vec(k, sizes[k])[:] = np.asarray(v, np.float32).reshape(-1)

    def init(self, seed=1, init_var=1.0):
        r = _rng(seed, 0)
        check(lib.ebm_grbm_init(self._p, byref(r), init_var))
        return self

    def fit_standardization(self, x, global_=True):
        d = _Mat(as_f32(x, self.n_vis, "x"))
        check(lib.ebm_grbm_fit_standardization(self._p, d.ptr, int(bool(global_))))

    def standardize(self, x):
        x = as_f32(x, self.n_vis, "x")
        out = np.empty_like(x)
        lib.ebm_grbm_standardize(self._p, fptr(x), x.shape[0], fptr(out))
        return out

    def unstandardize(self, x):
        x = as_f32(x, self.n_vis, "x")
        out = np.empty_like(x)
        lib.ebm_grbm_unstandardize(self._p, fptr(x), x.shape[0], fptr(out))
        return out

    def log_jacobian(self):
        return lib.ebm_grbm_log_jacobian(self._p)

    def _std(self, x, standardized):
        return as_f32(x, self.n_vis, "x") if standardized else self.standardize(x)

    def free_energy(self, x, T=1.0, standardized=False):
        v = self._std(x, standardized)
        F = np.empty(v.shape[0], np.float64)
        check(lib.ebm_grbm_free_energy(self._p, fptr(v), v.shape[0], T, dptr(F)))
        return F

    def hidden_probs(self, x, T=1.0, standardized=False):
        v = self._std(x, standardized)
        out = np.empty((v.shape[0], self.n_hid), np.float32)
        check(lib.ebm_grbm_hidden_probs(self._p, fptr(v), v.shape[0], T, fptr(out)))
        return out

    def visible_mean(self, h):
        h = as_f32(h, self.n_hid, "h")
        out = np.empty((h.shape[0], self.n_vis), np.float32)
        check(lib.ebm_grbm_visible_mean(self._p, fptr(h), h.shape[0], fptr(out)))
        return out

    def recon_error(self, x, standardized=False):
        v = self._std(x, standardized)
        r = c_double()
        check(lib.ebm_grbm_recon_error(self._p, fptr(v), v.shape[0], byref(r)))
        return r.value

    def log_z_exact(self, T=1.0):
        z = c_double()
        check(lib.ebm_grbm_log_z_exact(self._p, T, byref(z)))
        return z.value

    def ais(self, runs=100, steps=14500, seed=1):
        o = L.AisOpts()
        lib.ebm_ais_opts_default(byref(o))
        o.runs, o.steps, o.seed = int(runs), int(steps), int(seed)
        r = L.AisResult()
        check(lib.ebm_grbm_ais(self._p, None, None, byref(o), byref(r), None))
        return r.as_dict()

    @staticmethod
    def _sample_opts(sampler="gibbs-langevin", mh=False, T=1.0, eta=0.5, langevin_steps=10, anneal=True,
                     precision="fp32"):
        o = L.GrbmSampleOpts()
        lib.ebm_grbm_sample_opts_default(byref(o))
        k = c_int()
        check(lib.ebm_grbm_sampler_parse(str(sampler).encode(), byref(k)))
        o.sampler, o.mh, o.T, o.eta, o.langevin_steps, o.anneal = k.value, int(mh), T, eta, int(langevin_steps), int(anneal)
        o.precision = _precision(precision)
        return o

    def sample(self, n=100, steps=100, sampler="gibbs-langevin", mh=False, T=1.0, eta=0.5, langevin_steps=10,
               seed=1, init=None, mean=True, standardized=False, precision="fp32"):
        """n chains of a GRBM sampler ("gibbs", "langevin", "gibbs-langevin", with mh the Metropolis-adjusted
        forms) for steps transitions from N(0, I) noise (or rows of init); returns pixels (the final W h + mu
        picture with mean, else the chains' states), or standardised values with standardized=True.
        precision "fp32", "bf16" or "auto": of the products with W (ebm_grbm_sample_opts.precision)."""
        o = self._sample_opts(sampler, mh, T, eta, langevin_steps, precision=precision)
        c = c_void_p()
        check(lib.ebm_grbm_chains_new(self._p, int(n), byref(c)))
        try:
            r = _rng(seed, 0)
            if init is None:
                check(lib.ebm_grbm_chains_init_noise(c, 1.0, byref(r)))
            else:
                d = _Mat(self._std(init, standardized))
                check(lib.ebm_grbm_chains_init_data(c, d.ptr, byref(r)))
            check(lib.ebm_grbm_chains_run(c, byref(o), int(steps), byref(r)))
            if mean:
                out = np.empty((n, self.n_vis), np.float32)
                check(lib.ebm_grbm_chains_mean(c, T, byref(r), fptr(out)))
            else:
                out = np.ctypeslib.as_array(lib.ebm_grbm_chains_visible(c), shape=(n, self.n_vis)).copy()
            self.last_accept_rate = lib.ebm_grbm_chains_accept_rate(c)
            return out if standardized else self.unstandardize(out)
        finally:
            lib.ebm_grbm_chains_free(c)

    def train(self, data, *, standardized=False, neg_init="noise", k=10, burn_in=None, epochs=10, batch=100,
              chains=0, lr=0.01, cosine=True, momentum=0.0, weight_decay=0.0, grad_clip=10.0, shuffle=True, seed=1,
              sampler="gibbs-langevin", mh=False, T=1.0, eta=0.5, langevin_steps=10, progress=None, on_step=None,
              describe=True, precision="fp32"):
        """Trains by CD-k / PCD-k with a GRBM sampler for the negative phase (ebm_grbm_trainer_new + ebm_run).
        data are pixels, standardised with the model's statistics (call fit_standardization first), unless
        standardized.  precision: of the chains' products, as in sample.  burn_in: the negative statistics average
        chain steps burn_in..k-1 (None: the later half, k // 2, as `ebm train grbm`; 0: all, the paper's code).
        Callbacks and Ctrl-C as RBM.train."""
        o = L.GrbmTrainOpts()
        lib.ebm_grbm_train_opts_default(byref(o))
        if neg_init not in GRBM_NEG_INIT:
            raise L.InvalidArgumentError("neg_init must be one of %s, got %r" % (", ".join(GRBM_NEG_INIT), neg_init))
        o.neg_init, o.k, o.epochs = GRBM_NEG_INIT.index(neg_init), int(k), int(epochs)
        if burn_in is not None:  # else the library's default, EBM_BURN_IN_HALF: k // 2
            o.burn_in = int(burn_in)
        o.batch, o.chains, o.lr, o.cosine, o.momentum = int(batch), int(chains), lr, int(cosine), momentum
        o.weight_decay, o.grad_clip, o.shuffle, o.seed = weight_decay, grad_clip, int(shuffle), int(seed)
        o.sampler = self._sample_opts(sampler, mh, T, eta, langevin_steps, precision=precision)
        d = _Mat(self._std(data, standardized))
        return _train_run(lib.ebm_grbm_trainer_new, self._p, o, lib.ebm_grbm_run_opts, d, progress, on_step, describe,
                          self._meta_ptr())


# --------------------------------------------------------------------------------------------------------
# Any model file
# --------------------------------------------------------------------------------------------------------
MCMC = ("ula", "sgld", "mala", "hmc", "rwm")


class Model(_Owned):
    """Any model file loaded whole (ebm_model_load): .kind, .meta, the typed model (.rbm, .grbm) and, for
    every kind with one, its energy over its inputs and the gradient samplers on it."""
    _free = staticmethod(lib.ebm_model_free)

    def __init__(self, path):
        self._p = self._handle(lib.ebm_model_load, os.fsencode(path))
        self.path = path
        self.kind = KINDS[lib.ebm_model_kind_of(self._p)]
        self.meta = _meta_dict(lib.ebm_model_meta(self._p))
        self._energy = None

    @property
    def rbm(self):
        p = lib.ebm_model_rbm(self._p)
        return RBM(_ptr=p, _owner=self) if p else None

    @property
    def grbm(self):
        p = lib.ebm_model_grbm(self._p)
        return GRBM(_ptr=p, _owner=self) if p else None

    @property
    def bm(self):
        """The BM of a "bm" file (an ebm.BM sharing this object's memory), else None."""
        from .models import BM
        p = lib.ebm_model_bm(self._p)
        return BM(_ptr=c_void_p(p), _owner=self) if p else None

    @property
    def dbn(self):
        """The DBN of a "dbn" file (an ebm.DBN sharing this object's memory), else None."""
        from .models import DBN
        p = lib.ebm_model_dbn(self._p)
        return DBN(_ptr=ctypes.cast(p, POINTER(L.DBN)), _owner=self) if p else None

    @property
    def structured(self):
        """The model of a "structured" file (an ebm.Structured sharing this object's memory), else None."""
        from .models import Structured
        p = lib.ebm_model_structured(self._p)
        return Structured(_ptr=ctypes.cast(p, POINTER(L.Structured)), _owner=self) if p else None

    @property
    def classes(self):
        return lib.ebm_model_classes(self._p)

    def _e(self):
        return self._cached_energy(lib.ebm_model_energy, self._p, what="%s (%s)" % (self.path, self.kind))

    @property
    def dim(self):
        """The size of one input (ebm_model_input_size)."""
        return lib.ebm_model_input_size(self._p)

    def energy(self, x):
        """E(x) (n) of the rows of x: the model's own energy (an RBM's or GRBM's free energy, a network's output,
        a classifier's -log sum_y exp f(x)[y], a composite; a BM's energy, a DBN's free energy)."""
        if self.kind in ("bm", "dbn"):
            return self.anomaly_score(x)
        return _net_energy(self._e(), x)

    def anomaly_score(self, x):
        """The anomaly score (n) of rows x in the model's input space (as data() gives them), what `ebm score`
        reports for every kind (ebm_model_score): high = unlikely under the model."""
        x = as_f32(x, self.dim, "x")
        E = np.empty(x.shape[0], np.float64)
        for i, j in _chunks(x.shape[0], SCORE_ROWS):  # as `ebm score`
            check(lib.ebm_model_score(self._p, fptr(x[i:j]), j - i, dptr(E[i:j])))
        return E

    @property
    def anomaly_score_name(self):
        """What anomaly_score() is, in words ("free energy F(v)", ...)."""
        return lib.ebm_model_score_name(self._p).decode()

    def data(self, spec, limit=0):
        """(x, labels or None): the rows of a data spec ("fashion-mnist:test", a path, "toy:NAME") preprocessed
        as the model's training data were and put into its input space (ebm_model_data; a GRBM's standardised
        space, a BM's spins), ready for anomaly_score()."""
        o = L.DataOpts()
        lib.ebm_model_data_opts(self._p, byref(o))
        o.limit = int(limit)
        d = POINTER(L.Dataset)()
        check(lib.ebm_model_data(self._p, os.fsencode(spec), byref(o), byref(d)))
        return _take_dataset(d)

    def grad_energy(self, x):
        """dE/dx (n, dim) at the rows of x."""
        e = self._e()
        x = as_f32(x, e.contents.dim, "x")
        dx = np.empty_like(x)
        check(e.contents.grad_x(e, fptr(x), x.shape[0], None, fptr(dx)))
        return dx

    def mcmc(self, x0, kind="ula", steps=100, step_size=0.01, noise=0.005, leapfrog=10, T=1.0, clamp=None,
             clip=None, seed=1, seed_offset=0):
        """Runs a gradient or Metropolis sampler (ula, sgld, mala, hmc, rwm; ebm_mcmc_run) on the model's energy
        from the chains x0 (n, dim); returns (samples, acceptance rate).  clamp: mask (dim) of coordinates held
        at their starting values; clip = (lo, hi) clips ULA/SGLD moves."""
        e = self._e()
        x = np.array(as_f32(x0, e.contents.dim, "x0"), copy=True)
        o = L.McmcOpts()
        lib.ebm_mcmc_opts_default(byref(o))
        k = c_int()
        check(lib.ebm_mcmc_parse(str(kind).encode(), byref(k)))
        o.kind, o.steps, o.step_size, o.noise, o.leapfrog, o.temperature = k.value, int(steps), step_size, noise, int(leapfrog), T
        o.seed, o.seed_offset = int(seed), int(seed_offset)
        mask = None
        if clamp is not None:
            mask = np.ascontiguousarray(np.asarray(clamp).reshape(e.contents.dim) != 0, np.uint8)
            o.clamp = mask.ctypes.data_as(POINTER(c_uint8))
        if clip is not None:
            o.clip_lo, o.clip_hi = clip
        st = L.McmcStats()
        check(lib.ebm_mcmc_run(e, fptr(x), x.shape[0], byref(o), byref(st)))
        return x, st.accept_rate

    def _net(self):
        p = lib.ebm_model_net(self._p)
        if not p:
            raise L.InvalidArgumentError("%s is a %s model, not a network" % (self.path, self.kind))
        return p

    def logits(self, x):
        """The network's outputs f(x) (n, output size) for net and jem files."""
        net = self._net()
        x = as_f32(x, lib.ebm_net_input_size(net), "x")
        out = np.empty((x.shape[0], lib.ebm_net_output_size(net)), np.float32)
        check(lib.ebm_net_forward(net, fptr(x), x.shape[0], fptr(out)))
        return out

    def classify(self, x):
        """JEM / classifier networks: (predicted class (n), softmax probabilities (n, classes))."""
        return _softmax_classes(self.logits(x))

    def score(self, x):
        """The JEM paper's in-distribution scores: dict of log_px (-E(x)), max_p, grad_norm (each (n))."""
        net = self._net()
        x = as_f32(x, lib.ebm_net_input_size(net), "x")
        n = x.shape[0]
        a, b, c = (np.empty(n, np.float64) for _ in range(3))
        check(lib.ebm_jem_scores(net, fptr(x), n, dptr(a), dptr(b), dptr(c)))
        return {"log_px": a, "max_p": b, "grad_norm": c}


def load(path):
    """Loads any model file as its own class: RBM, GRBM, BM, DBN or Structured for those kinds, a Model for
    networks, JEM classifiers and composed models (ebm.EnergyNet.load(path) gives a network to train further)."""
    from .models import BM, DBN, Structured
    kind = model_kind(path)
    cls = {"rbm": RBM, "grbm": GRBM, "bm": BM, "dbn": DBN, "structured": Structured}.get(kind)
    return cls.load(path) if cls else Model(path)
