"""ctypes binding of libebm: finding and loading the shared library, the version check, the mirrored plain-data
structs (checked field by field against the library's own ebm_abi_layout when the package loads), the
prototypes of the functions the package calls, and the translation of every status into an ebm.Error."""
import ctypes
import ctypes.util
import os
import time
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_float, c_int, c_int32, c_longlong,
                    c_size_t, c_uint8, c_uint32, c_uint64, c_void_p)

PACKAGE_VERSION = "0.1.0"

# ---------------------------------------------------------------------------------------------------------
# Errors: one class per ebm_status, each also the closest built-in exception so callers can catch either.
# ---------------------------------------------------------------------------------------------------------


class Error(Exception):
    """A libebm call failed; .status is the ebm_status name, the message is ebm_last_error()'s."""

    status = "EBM_ERROR"


class FileError(Error, OSError):
    status = "EBM_EIO"


class FormatError(Error, ValueError):
    status = "EBM_EFORMAT"


class ShapeError(Error, ValueError):
    status = "EBM_ESHAPE"


class OutOfMemoryError(Error, MemoryError):
    status = "EBM_ENOMEM"


class InvalidArgumentError(Error, ValueError):
    status = "EBM_EINVAL"


class NonFiniteError(Error, FloatingPointError):
    status = "EBM_ENAN"


class NotSupportedError(Error, NotImplementedError):
    status = "EBM_ENOTSUP"


class CanceledError(Error):
    status = "EBM_ECANCELED"


class LibraryNotFoundError(Error, ImportError):
    status = "EBM_ELIBRARY"


class VersionMismatchError(Error, ImportError):
    status = "EBM_EVERSION"


_ERRORS = {1: FileError, 2: FormatError, 3: ShapeError, 4: OutOfMemoryError, 5: InvalidArgumentError,
           6: NonFiniteError, 7: NotSupportedError, 8: CanceledError}

# ---------------------------------------------------------------------------------------------------------
# Finding the library
# ---------------------------------------------------------------------------------------------------------


def _candidates():
    env = os.environ.get("EBM_LIBRARY")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    # an installed package: `make install` records where it put the library
    rec = os.path.join(here, "_libpath.txt")
    if os.path.exists(rec):
        with open(rec) as f:
            out.append(f.read().strip())
    # the source tree: python/ebm/ -> <root>/build/libebm.so
    root = os.path.dirname(os.path.dirname(here))
    for b in ("build", "build-asan"):
        out.append(os.path.join(root, b, "libebm.so"))
    found = ctypes.util.find_library("ebm")
    if found:
        out.append(found)
    out.append("libebm.so.0")
    return out


def _others_running(path):
    # tasks running besides this one per the fourth field ("running/total") of /proc/loadavg, or -1
    try:
        with open(path) as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return -1
    return running - 1 if running >= 1 else -1


def _spincount():
    # ebm_omp_better_spincount (src/core/threads.c), which cannot be asked before libebm loads: a brief spin when
    # nothing else ran over about 10 ms, else None (wait passively)
    try:
        if len(os.sched_getaffinity(0)) < 2:
            return None
    except (AttributeError, OSError):
        return None
    path = os.environ.get("EBM_LOADAVG_FILE") or "/proc/loadavg"
    for i in range(5):
        if i:
            time.sleep(0.002)
        if _others_running(path) != 0:
            return None
    return "1000"


def _load():
    # libgomp reads its wait policy once, when it loads with libebm: threads that spin at barriers lose most of
    # their time beside other busy processes, and threads that sleep pay a wake-up at every parallel region
    # (docs/benchmarks.md).  So, unless told otherwise, spin briefly when nothing else runs and wait passively
    # when something does, as the ebm tool does.  Has no effect when another module loaded libgomp first.
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        spin = _spincount()
        if spin:
            os.environ["GOMP_SPINCOUNT"] = spin
        else:
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path + " (absent)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise LibraryNotFoundError(
        "cannot load libebm: tried " + "; ".join(tried) +
        ". Build it (cmake -S . -B build && cmake --build build) or set EBM_LIBRARY to the path of libebm.so")


lib, LIBRARY_PATH = _load()


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_fn("ebm_version", c_char_p)
_fn("ebm_last_error", c_char_p)
_fn("ebm_status_name", c_char_p, c_int)
LIBRARY_VERSION = lib.ebm_version().decode()
if LIBRARY_VERSION.split(".")[:2] != PACKAGE_VERSION.split(".")[:2]:
    raise VersionMismatchError("the ebm package is version %s but %s is libebm %s: build the library of the same "
                               "version, or point EBM_LIBRARY at it" % (PACKAGE_VERSION, LIBRARY_PATH,
                                                                        LIBRARY_VERSION))


def check(status, what=None):
    """Raises the ebm.Error subclass of a non-zero status with the library's message."""
    if status == 0:
        return
    msg = lib.ebm_last_error().decode(errors="replace") or lib.ebm_status_name(status).decode()
    if what:
        msg = "%s: %s" % (what, msg)
    raise _ERRORS.get(status, Error)(msg)


def fail(cls, msg):
    raise cls(msg)

# ---------------------------------------------------------------------------------------------------------
# Mirrored structs
# ---------------------------------------------------------------------------------------------------------


PROGRESS_FRACTION_FN = CFUNCTYPE(c_int, c_double, c_void_p)


class Rng(Structure):
    _fields_ = [("key", c_uint32 * 2), ("ctr", c_uint32 * 4), ("buf", c_uint32 * 4), ("used", ctypes.c_uint),
                ("has_spare", c_int), ("spare", c_double)]


class Mat(Structure):
    _fields_ = [("rows", c_size_t), ("cols", c_size_t), ("data", POINTER(c_float))]


class Array(Structure):
    _fields_ = [("dtype", c_int), ("ndim", c_int), ("shape", c_size_t * 8), ("data", c_void_p)]


class RBM(Structure):
    _fields_ = [("n_vis", c_size_t), ("n_hid", c_size_t), ("params", POINTER(c_float)), ("W", POINTER(c_float)),
                ("a", POINTER(c_float)), ("b", POINTER(c_float)), ("n_params", c_size_t), ("height", c_size_t),
                ("width", c_size_t), ("meta", c_void_p)]


class GRBM(Structure):
    _fields_ = [("n_vis", c_size_t), ("n_hid", c_size_t), ("params", POINTER(c_float)), ("W", POINTER(c_float)),
                ("b", POINTER(c_float)), ("mu", POINTER(c_float)), ("log_var", POINTER(c_float)),
                ("n_params", c_size_t), ("data_mean", POINTER(c_float)), ("data_std", POINTER(c_float)),
                ("height", c_size_t), ("width", c_size_t), ("meta", c_void_p)]


class Energy(Structure):
    pass


ENERGY_FN = CFUNCTYPE(c_int, POINTER(Energy), POINTER(c_float), c_size_t, POINTER(c_float))
GRADX_FN = CFUNCTYPE(c_int, POINTER(Energy), POINTER(c_float), c_size_t, POINTER(c_float), POINTER(c_float))
Energy._fields_ = [("kind", c_char_p), ("dim", c_size_t), ("n_params", c_size_t), ("params", POINTER(c_float)),
                   ("energy", ENERGY_FN), ("grad_x", GRADX_FN)]  # the rest is never touched from Python


class Figures(Structure):
    _fields_ = [(n, c_double) for n in ("loss", "recon", "e_pos", "e_neg", "grad_norm", "accept", "extra")]

    def as_dict(self):
        return {n: getattr(self, n) for n, _ in self._fields_}


class RunProgress(Structure):
    _fields_ = [("epoch", c_size_t), ("epochs", c_size_t), ("batch", c_size_t), ("batches", c_size_t),
                ("step", c_size_t), ("steps", c_size_t), ("lr", c_double), ("seconds", c_double),
                ("total_seconds", c_double), ("last", Figures), ("mean", Figures), ("threads", c_int),
                ("threads_max", c_int)]


RUN_CB = CFUNCTYPE(c_int, POINTER(RunProgress), c_void_p)


class RunOpts(Structure):
    _fields_ = [("epochs", c_size_t), ("iters", c_size_t), ("batch", c_size_t), ("shuffle", c_int),
                ("seed", c_uint64), ("shuffle_stream", c_uint64), ("lr", c_float), ("lr_final", c_float),
                ("schedule", c_int), ("rollback", c_int), ("on_step", RUN_CB), ("on_epoch", RUN_CB),
                ("checkpoint_every", c_size_t), ("on_checkpoint", c_void_p), ("resume", c_void_p), ("user", c_void_p),
                ("allreduce", c_void_p), ("allreduce_user", c_void_p), ("rank", c_size_t), ("ranks", c_size_t),
                ("give_way", c_int)]


class RunResult(Structure):
    _fields_ = [("epochs_done", c_size_t), ("steps_done", c_size_t), ("seconds", c_double), ("last", Figures),
                ("epoch_mean", Figures)]


class CdOpts(Structure):
    _fields_ = [("mode", c_int), ("k", c_size_t), ("epochs", c_size_t), ("batch", c_size_t), ("chains", c_size_t),
                ("lr", c_float), ("lr_final", c_float), ("momentum", c_float), ("weight_decay", c_float),
                ("grad_clip", c_float), ("shuffle", c_int), ("seed", c_uint64), ("on_batch", c_void_p),
                ("on_epoch", c_void_p), ("user", c_void_p), ("precision", c_int)]


class GrbmSampleOpts(Structure):
    _fields_ = [("sampler", c_int), ("mh", c_int), ("T", c_float), ("eta", c_float), ("langevin_steps", c_size_t),
                ("anneal", c_int), ("mh_after", c_size_t), ("precision", c_int)]


class GrbmTrainOpts(Structure):
    _fields_ = [("neg_init", c_int), ("k", c_size_t), ("burn_in", c_size_t), ("epochs", c_size_t),
                ("batch", c_size_t), ("chains", c_size_t), ("lr", c_float), ("cosine", c_int), ("momentum", c_float),
                ("weight_decay", c_float), ("grad_clip", c_float), ("shuffle", c_int), ("seed", c_uint64),
                ("sampler", GrbmSampleOpts), ("on_batch", c_void_p), ("on_epoch", c_void_p), ("user", c_void_p)]


class McmcOpts(Structure):
    _fields_ = [("kind", c_int), ("steps", c_size_t), ("step_size", c_float), ("noise", c_float),
                ("leapfrog", c_size_t), ("temperature", c_float), ("clamp", POINTER(c_uint8)), ("clip_lo", c_float),
                ("clip_hi", c_float), ("seed", c_uint64), ("seed_offset", c_uint64),
                ("progress", PROGRESS_FRACTION_FN), ("user", c_void_p), ("prox", c_float)]


class McmcStats(Structure):
    _fields_ = [("accept_rate", c_double), ("steps", c_size_t), ("seconds", c_double)]


class AisOpts(Structure):
    _fields_ = [("runs", c_size_t), ("betas", POINTER(c_double)), ("n_betas", c_size_t), ("steps", c_size_t),
                ("base_bias", POINTER(c_float)), ("seed", c_uint64), ("progress", PROGRESS_FRACTION_FN),
                ("user", c_void_p), ("first_run", c_size_t), ("precision", c_int)]


class AisResult(Structure):
    _fields_ = [("log_z", c_double), ("log_z_lo", c_double), ("log_z_hi", c_double), ("log_z_base", c_double),
                ("ess", c_double), ("log_w_sd", c_double), ("runs", c_size_t), ("steps", c_size_t),
                ("seconds", c_double), ("warnings", ctypes.c_uint)]

    def as_dict(self):
        return {n: getattr(self, n) for n, _ in self._fields_}


class RbmEval(Structure):
    _fields_ = [(n, c_double) for n in ("free_energy_mean", "recon", "pseudo_ll", "log_z", "log_likelihood")]


class DataOpts(Structure):
    _fields_ = [("limit", c_size_t), ("scale", c_int), ("binarize", c_int), ("threshold", c_float), ("seed", c_uint64)]


class Dataset(Structure):
    _fields_ = [("x", POINTER(Mat)), ("labels", POINTER(c_int32)), ("height", c_size_t), ("width", c_size_t),
                ("source", ctypes.c_char * 4096)]


class OptimOpts(Structure):
    _fields_ = [("kind", c_int), ("lr", c_float), ("momentum", c_float), ("beta1", c_float), ("beta2", c_float),
                ("eps", c_float), ("weight_decay", c_float), ("clip", c_float)]


class BmTrainOpts(Structure):
    _fields_ = [("method", c_int), ("k", c_size_t), ("scan", c_int), ("epochs", c_size_t), ("batch", c_size_t),
                ("chains", c_size_t), ("optim", OptimOpts), ("shuffle", c_int), ("seed", c_uint64),
                ("on_batch", c_void_p), ("on_epoch", c_void_p), ("user", c_void_p)]


class BmEval(Structure):
    _fields_ = [(n, c_double) for n in ("energy_mean", "pseudo_ll", "log_z", "log_likelihood")]


class DBN(Structure):
    _fields_ = [("n_layers", c_size_t), ("layers", POINTER(POINTER(RBM))), ("height", c_size_t),
                ("width", c_size_t), ("meta", c_void_p)]


DBN_ON_LAYER_FN = CFUNCTYPE(c_int, c_size_t, POINTER(RBM), POINTER(Mat), c_void_p)


class DbnTrainOpts(Structure):
    _fields_ = [("cd", CdOpts), ("init_std", c_float), ("on_layer", DBN_ON_LAYER_FN), ("user", c_void_p),
                ("resume", c_void_p)]


class DbnLayerRun(Structure):
    _fields_ = [("layer", c_size_t), ("n_layers", c_size_t), ("rbm", POINTER(RBM)), ("input", POINTER(Mat)),
                ("trainer", c_void_p), ("run", RunOpts)]


DBN_RUN_FN = CFUNCTYPE(c_int, POINTER(DbnLayerRun), c_void_p)


class DbnSampleOpts(Structure):
    _fields_ = [("steps", c_size_t), ("T", c_float), ("noise_p", c_float), ("progress", PROGRESS_FRACTION_FN),
                ("user", c_void_p)]


class Noise(Structure):
    _fields_ = [("kind", c_int), ("lo", c_float), ("hi", c_float), ("mean", c_float), ("sd", c_float)]


class LcdOpts(Structure):
    _fields_ = [("mode", c_int), ("buffer", c_size_t), ("reinit", c_float), ("noise", Noise), ("mcmc", McmcOpts),
                ("alpha", c_float), ("data_noise", c_float), ("optim", OptimOpts), ("batch", c_size_t),
                ("iters", c_size_t), ("seed", c_uint64), ("on_iter", c_void_p), ("user", c_void_p),
                ("gen_weight", c_float), ("extra_grad", c_void_p), ("extra_user", c_void_p), ("sn_net", c_void_p),
                ("init", c_int), ("ema", c_float), ("class_negatives", c_int)]


class Structured(Structure):
    _fields_ = [("net", c_void_p), ("k", c_size_t), ("len", c_size_t), ("out", c_int), ("pair", POINTER(c_float)),
                ("meta", c_void_p)]


class StructuredLossOpts(Structure):
    _fields_ = [("loss", c_int), ("margin", c_float), ("beta", c_float), ("gamma", c_float), ("lvq2_max", c_float)]


class StructuredTrainOpts(Structure):
    _fields_ = [("loss", StructuredLossOpts), ("optim", OptimOpts), ("epochs", c_size_t), ("batch", c_size_t),
                ("seed", c_uint64), ("on_batch", c_void_p), ("user", c_void_p)]


class StructuredEval(Structure):
    _fields_ = [("accuracy", c_double), ("seq_accuracy", c_double), ("loss", c_double), ("e_correct", c_double),
                ("e_offending", c_double), ("gap", c_double), ("spread", c_double), ("top_share", c_double),
                ("collapsed", c_int)]

    def as_dict(self):
        d = {n: getattr(self, n) for n, _ in self._fields_}
        d["collapsed"] = bool(d["collapsed"])
        return d


class StructuredMarkov(Structure):
    _fields_ = [("n", c_size_t), ("len", c_size_t), ("k", c_size_t), ("stay", c_float), ("noise", c_float),
                ("seed", c_uint64)]


MIRRORS = {"ebm_rng": Rng, "ebm_mat": Mat, "ebm_array": Array, "ebm_rbm": RBM, "ebm_grbm": GRBM,
           "ebm_figures": Figures, "ebm_run_progress": RunProgress, "ebm_run_opts": RunOpts,
           "ebm_run_result": RunResult, "ebm_cd_opts": CdOpts, "ebm_grbm_sample_opts": GrbmSampleOpts,
           "ebm_grbm_train_opts": GrbmTrainOpts, "ebm_mcmc_opts": McmcOpts, "ebm_mcmc_stats": McmcStats,
           "ebm_ais_opts": AisOpts, "ebm_ais_result": AisResult, "ebm_rbm_eval": RbmEval,
           "ebm_data_opts": DataOpts, "ebm_dataset": Dataset, "ebm_optim_opts": OptimOpts, "ebm_bm_train_opts": BmTrainOpts, "ebm_bm_eval": BmEval, "ebm_dbn": DBN,
           "ebm_dbn_train_opts": DbnTrainOpts, "ebm_dbn_layer_run": DbnLayerRun, "ebm_dbn_sample_opts": DbnSampleOpts,
           "ebm_noise": Noise, "ebm_lcd_opts": LcdOpts, "ebm_structured": Structured,
           "ebm_structured_loss_opts": StructuredLossOpts, "ebm_structured_train_opts": StructuredTrainOpts,
           "ebm_structured_eval": StructuredEval, "ebm_structured_markov": StructuredMarkov}
PARTIAL = {"ebm_energy": Energy}  # only a prefix mirrored: offsets checked, not the size

_fn("ebm_abi_layout", c_longlong, c_char_p, c_char_p)


def layout_mismatches():
    """Every difference between the ctypes mirrors and the library's struct layout, as text (empty = none)."""
    bad = []
    for cname, cls in list(MIRRORS.items()) + list(PARTIAL.items()):
        size = lib.ebm_abi_layout(cname.encode(), None)
        if size < 0:
            bad.append("%s: not in the library's layout table" % cname)
            continue
        if cname in MIRRORS and size != ctypes.sizeof(cls):
            bad.append("sizeof(%s): C %d, Python %d" % (cname, size, ctypes.sizeof(cls)))
        for fname, _ in cls._fields_:
            off = lib.ebm_abi_layout(cname.encode(), fname.encode())
            mine = getattr(cls, fname).offset
            if off != mine:
                bad.append("%s.%s: C offset %d, Python %d" % (cname, fname, off, mine))
    return bad


_bad = layout_mismatches()
if _bad:
    raise VersionMismatchError("the ebm package's struct mirrors do not match %s: %s" % (LIBRARY_PATH,
                                                                                         "; ".join(_bad)))

# ---------------------------------------------------------------------------------------------------------
# Prototypes
# ---------------------------------------------------------------------------------------------------------
P = c_void_p
PF = POINTER(c_float)
PD = POINTER(c_double)
PRBM = POINTER(RBM)
PGRBM = POINTER(GRBM)
PMAT = POINTER(Mat)
PRNG = POINTER(Rng)
PENERGY = POINTER(Energy)
S = c_int  # ebm_status

_PROTOS = [
    ("ebm_set_threads", None, c_int), ("ebm_get_threads", c_int),
    ("ebm_rng_seed", None, PRNG, c_uint64, c_uint64),
    ("ebm_mat_new", S, c_size_t, c_size_t, POINTER(PMAT)), ("ebm_mat_free", None, PMAT),
    ("ebm_array_free", None, POINTER(Array)),
    ("ebm_meta_new", S, POINTER(P)), ("ebm_meta_free", None, P), ("ebm_meta_set", S, P, c_char_p, c_char_p),
    ("ebm_meta_get", c_char_p, P, c_char_p), ("ebm_meta_count", c_size_t, P),
    ("ebm_meta_at", None, P, c_size_t, POINTER(c_char_p), POINTER(c_char_p)),
    ("ebm_tensors_new", S, POINTER(P)), ("ebm_tensors_free", None, P),
    ("ebm_tensors_get", POINTER(Array), P, c_char_p), ("ebm_tensors_count", c_size_t, P),
    ("ebm_tensors_name", c_char_p, P, c_size_t), ("ebm_tensors_meta", P, P),
    ("ebm_safetensors_read", S, c_char_p, POINTER(P)), ("ebm_safetensors_read_meta", S, c_char_p, POINTER(P)),
    ("ebm_png_grid", S, c_char_p, PF, c_size_t, c_size_t, c_size_t, P),
    ("ebm_kind_name", c_char_p, c_int), ("ebm_model_kind", S, c_char_p, POINTER(c_int)),
    ("ebm_model_load", S, c_char_p, POINTER(P)), ("ebm_model_free", None, P), ("ebm_model_kind_of", c_int, P),
    ("ebm_model_meta", P, P), ("ebm_model_rbm", PRBM, P), ("ebm_model_grbm", PGRBM, P),
    ("ebm_model_bm", P, P), ("ebm_model_dbn", P, P), ("ebm_model_net", P, P),
    ("ebm_model_classes", c_size_t, P), ("ebm_model_energy", S, P, POINTER(PENERGY)),
    ("ebm_energy_free", None, PENERGY),
    ("ebm_rbm_new", S, c_size_t, c_size_t, POINTER(PRBM)), ("ebm_rbm_free", None, PRBM),
    ("ebm_rbm_init", S, PRBM, PRNG, c_float, PMAT),
    ("ebm_rbm_energy", S, PRBM, PF, PF, c_size_t, PD),
    ("ebm_rbm_free_energy", S, PRBM, PF, c_size_t, c_float, PD),
    ("ebm_rbm_hidden_probs", S, PRBM, PF, c_size_t, c_float, PF),
    ("ebm_rbm_visible_probs", S, PRBM, PF, c_size_t, c_float, PF),
    ("ebm_rbm_sample_hidden", None, PRBM, PF, c_size_t, c_float, c_uint64, PF, PF),
    ("ebm_rbm_sample_visible", None, PRBM, PF, c_size_t, c_float, c_uint64, PF, PF),
    ("ebm_rbm_save", S, PRBM, c_char_p), ("ebm_rbm_load", S, c_char_p, POINTER(PRBM)),
    ("ebm_rbm_log_z_exact", S, PRBM, c_float, PD), ("ebm_rbm_log_likelihood", S, PRBM, PF, c_size_t, c_double, PD),
    ("ebm_rbm_pseudo_ll", S, PRBM, PF, c_size_t, PD), ("ebm_rbm_recon_error", S, PRBM, PF, c_size_t, PD),
    ("ebm_rbm_sample_exact", S, PRBM, c_size_t, PRNG, PF),
    ("ebm_gibbs_new", S, PRBM, c_size_t, POINTER(P)), ("ebm_gibbs_free", None, P),
    ("ebm_gibbs_init_noise", S, P, c_float, PRNG), ("ebm_gibbs_init_data", S, P, PMAT, PRNG),
    ("ebm_gibbs_clamp", S, P, POINTER(c_uint8), PF), ("ebm_gibbs_run", S, P, c_size_t, c_float, PRNG),
    ("ebm_gibbs_visible", PF, P), ("ebm_gibbs_hidden", PF, P), ("ebm_gibbs_visible_mean", PF, P),
    ("ebm_grbm_new", S, c_size_t, c_size_t, POINTER(PGRBM)), ("ebm_grbm_free", None, PGRBM),
    ("ebm_grbm_init", S, PGRBM, PRNG, c_float), ("ebm_grbm_fit_standardization", S, PGRBM, PMAT, c_int),
    ("ebm_grbm_standardize", None, PGRBM, PF, c_size_t, PF), ("ebm_grbm_unstandardize", None, PGRBM, PF, c_size_t, PF),
    ("ebm_grbm_log_jacobian", c_double, PGRBM),
    ("ebm_grbm_free_energy", S, PGRBM, PF, c_size_t, c_float, PD),
    ("ebm_grbm_hidden_probs", S, PGRBM, PF, c_size_t, c_float, PF),
    ("ebm_grbm_visible_mean", S, PGRBM, PF, c_size_t, PF),
    ("ebm_grbm_save", S, PGRBM, c_char_p), ("ebm_grbm_load", S, c_char_p, POINTER(PGRBM)),
    ("ebm_grbm_log_z_exact", S, PGRBM, c_float, PD),
    ("ebm_grbm_ais", S, PGRBM, PF, PF, POINTER(AisOpts), POINTER(AisResult), PD),
    ("ebm_grbm_sample_opts_default", None, POINTER(GrbmSampleOpts)),
    ("ebm_grbm_sampler_parse", S, c_char_p, POINTER(c_int)),
    ("ebm_grbm_chains_new", S, PGRBM, c_size_t, POINTER(P)), ("ebm_grbm_chains_free", None, P),
    ("ebm_grbm_chains_init_noise", S, P, c_float, PRNG), ("ebm_grbm_chains_init_data", S, P, PMAT, PRNG),
    ("ebm_grbm_chains_run", S, P, POINTER(GrbmSampleOpts), c_size_t, PRNG),
    ("ebm_grbm_chains_visible", PF, P), ("ebm_grbm_chains_mean", S, P, c_float, PRNG, PF),
    ("ebm_grbm_chains_accept_rate", c_double, P),
    ("ebm_bm_units", c_size_t, P), ("ebm_bm_energy", S, P, PF, c_size_t, PD),
    ("ebm_dbn_units", c_size_t, P, c_size_t), ("ebm_dbn_free_energy", S, P, PF, c_size_t, PD),
    ("ebm_net_input_size", c_size_t, P), ("ebm_net_output_size", c_size_t, P),
    ("ebm_net_forward", S, P, PF, c_size_t, PF),
    ("ebm_net_logits", S, P, PF, c_size_t, POINTER(PF)),
    ("ebm_net_features", S, P, PF, c_size_t, c_size_t, PF), ("ebm_net_layers", c_size_t, P),
    ("ebm_net_feature_width", c_size_t, P, c_size_t), ("ebm_net_penultimate", c_size_t, P, POINTER(c_size_t)),
    ("ebm_metric_fit_temperature", S, PF, POINTER(c_int32), c_size_t, c_size_t, PD, PD, PD),
    ("ebm_logits_scale", S, PF, c_size_t, c_size_t, c_double), ("ebm_jem_scores", S, P, PF, c_size_t, PD, PD, PD),
    ("ebm_feature_gauss_fit", S, P, PF, POINTER(c_int32), c_size_t, c_double, POINTER(c_void_p)),
    ("ebm_feature_gauss_score", S, P, P, PF, c_size_t, PD, POINTER(c_int32)),
    ("ebm_feature_gauss_means", c_size_t, P), ("ebm_feature_gauss_width", c_size_t, P),
    ("ebm_feature_gauss_free", None, P),
    ("ebm_mcmc_opts_default", None, POINTER(McmcOpts)), ("ebm_mcmc_parse", S, c_char_p, POINTER(c_int)),
    ("ebm_mcmc_run", S, PENERGY, PF, c_size_t, POINTER(McmcOpts), POINTER(McmcStats)),
    ("ebm_ais_opts_default", None, POINTER(AisOpts)), ("ebm_ais_base_bias", S, PMAT, PF),
    ("ebm_rbm_ais", S, PRBM, POINTER(AisOpts), POINTER(AisResult), PD),
    ("ebm_rbm_ais_reverse", S, PRBM, PF, POINTER(AisOpts), POINTER(AisResult), PD),
    ("ebm_trainer_free", None, P), ("ebm_trainer_name", c_char_p, P),
    ("ebm_trainer_save_state", S, P, P),
    ("ebm_run_opts_default", None, POINTER(RunOpts)),
    ("ebm_run", S, P, PMAT, POINTER(c_int32), POINTER(RunOpts), POINTER(RunResult)),
    ("ebm_run_describe", S, P, POINTER(RunOpts), POINTER(RunResult), P),
    ("ebm_cd_opts_default", None, POINTER(CdOpts)), ("ebm_cd_run_opts", None, POINTER(CdOpts), POINTER(RunOpts)),
    ("ebm_rbm_trainer_new", S, PRBM, POINTER(CdOpts), POINTER(P)),
    ("ebm_grbm_train_opts_default", None, POINTER(GrbmTrainOpts)),
    ("ebm_grbm_run_opts", None, POINTER(GrbmTrainOpts), POINTER(RunOpts)),
    ("ebm_grbm_trainer_new", S, PGRBM, POINTER(GrbmTrainOpts), POINTER(P)),
    ("ebm_grbm_recon_error", S, PGRBM, PF, c_size_t, PD),
    # Boltzmann machines
    ("ebm_bm_new", S, c_size_t, c_int, POINTER(P)), ("ebm_bm_free", None, P), ("ebm_bm_spin_kind", c_int, P),
    ("ebm_bm_off_value", c_float, P), ("ebm_bm_params", PF, P, POINTER(c_size_t)), ("ebm_bm_symmetrize", None, P),
    ("ebm_bm_meta", P, P), ("ebm_bm_set_image_shape", None, P, c_size_t, c_size_t),
    ("ebm_bm_image_shape", None, P, POINTER(c_size_t), POINTER(c_size_t)),
    ("ebm_bm_spins_parse", S, c_char_p, POINTER(c_int)), ("ebm_bm_scan_parse", S, c_char_p, POINTER(c_int)),
    ("ebm_bm_init", S, P, PRNG, c_float, PMAT), ("ebm_bm_cond_prob", S, P, PF, c_size_t, c_float, PF),
    ("ebm_bm_save", S, P, c_char_p), ("ebm_bm_load", S, c_char_p, POINTER(P)),
    ("ebm_bm_gibbs", S, P, PF, c_size_t, c_size_t, c_float, c_int, PRNG),
    ("ebm_bm_log_z_exact", S, P, c_float, PD), ("ebm_bm_log_likelihood", S, P, PF, c_size_t, c_double, PD),
    ("ebm_bm_pseudo_ll", S, P, PF, c_size_t, PD), ("ebm_bm_evaluate", S, P, PF, c_size_t, c_int, POINTER(BmEval)),
    ("ebm_bm_train_opts_default", None, POINTER(BmTrainOpts)),
    ("ebm_bm_trainer_new", S, P, POINTER(BmTrainOpts), POINTER(P)),
    ("ebm_bm_run_opts", None, POINTER(BmTrainOpts), POINTER(RunOpts)),
    ("ebm_meta_set_sample_defaults", S, P, c_size_t, c_float, c_char_p),
    # deep belief nets
    ("ebm_dbn_new", S, POINTER(c_size_t), c_size_t, POINTER(POINTER(DBN))), ("ebm_dbn_free", None, P),
    ("ebm_dbn_load_stack", S, c_char_p, POINTER(POINTER(DBN))), ("ebm_dbn_save", S, P, c_char_p),
    ("ebm_dbn_up", S, P, PF, c_size_t, c_size_t, PF), ("ebm_dbn_down", S, P, PF, c_size_t, c_size_t, PF),
    ("ebm_dbn_recon_error", S, P, PF, c_size_t, PD),
    ("ebm_dbn_sample_opts_default", None, POINTER(DbnSampleOpts)),
    ("ebm_dbn_sample", S, P, c_size_t, PMAT, POINTER(DbnSampleOpts), PRNG, PF),
    ("ebm_dbn_train_opts_default", None, POINTER(DbnTrainOpts)),
    ("ebm_dbn_train_run", S, P, PMAT, POINTER(DbnTrainOpts), DBN_RUN_FN, P),
    # networks, LCD and JEM
    ("ebm_net_new", S, c_char_p, c_size_t, c_size_t, c_size_t, POINTER(P)), ("ebm_net_free", None, P),
    ("ebm_net_init", S, P, PRNG), ("ebm_net_params", PF, P, POINTER(c_size_t)),
    ("ebm_net_state", PF, P, POINTER(c_size_t)), ("ebm_net_spec", c_char_p, P),
    ("ebm_net_describe", None, P, c_char_p, c_size_t), ("ebm_net_energy", S, P, c_int, POINTER(PENERGY)),
    ("ebm_net_save", S, P, P, c_char_p), ("ebm_net_load", S, c_char_p, POINTER(P), POINTER(P)),
    ("ebm_net_input_shape", c_int, P, c_size_t, POINTER(c_size_t), POINTER(c_size_t), POINTER(c_size_t)),
    ("ebm_net_trim_outputs", S, P, c_size_t, POINTER(P)),
    ("ebm_rotations", S, PF, POINTER(c_int32), c_size_t, c_size_t, c_size_t, PF, POINTER(c_int32)),
    ("ebm_lcd_opts_default", None, POINTER(LcdOpts)), ("ebm_lcd_opts_for_data", None, POINTER(LcdOpts), c_size_t, c_int),
    ("ebm_lcd_opts_for_image_energy", None, POINTER(LcdOpts)), ("ebm_lcd_opts_for_image_jem", None, POINTER(LcdOpts)),
    ("ebm_lcd_trainer_new", S, PENERGY, POINTER(LcdOpts), POINTER(P)),
    ("ebm_lcd_run_opts", None, POINTER(LcdOpts), POINTER(RunOpts)),
    ("ebm_lcd_data_range", None, PMAT, PF, PF),
    ("ebm_lcd_trainer_negatives", PF, P, POINTER(c_size_t)), ("ebm_lcd_trainer_swap_ema", S, P),
    ("ebm_jem_trainer_new", S, P, POINTER(LcdOpts), POINTER(P)),
    # structured prediction
    ("ebm_structured_new_for_data", S, c_char_p, c_size_t, c_size_t, c_size_t, c_size_t, c_size_t, c_int,
     POINTER(POINTER(Structured))),
    ("ebm_structured_free", None, P), ("ebm_structured_init", S, P, PRNG),
    ("ebm_structured_row_size", c_size_t, P), ("ebm_structured_labels_per_row", c_size_t, P),
    ("ebm_structured_n_params", c_size_t, P), ("ebm_structured_classes", S, POINTER(c_int32), c_size_t, POINTER(c_size_t)),
    ("ebm_structured_energies", S, P, PF, c_size_t, PF, PF),
    ("ebm_structured_predict", S, P, PF, c_size_t, POINTER(c_int32), PD),
    ("ebm_structured_free_energy", S, P, PF, c_size_t, PD),
    ("ebm_structured_save", S, P, c_char_p), ("ebm_structured_load", S, c_char_p, POINTER(POINTER(Structured))),
    ("ebm_structured_loss_parse", S, c_char_p, POINTER(c_int)), ("ebm_structured_out_parse", S, c_char_p, POINTER(c_int)),
    ("ebm_structured_loss_name", c_char_p, c_int), ("ebm_structured_out_name", c_char_p, c_int),
    ("ebm_structured_loss_needs_nonneg", c_int, c_int),
    ("ebm_structured_loss_opts_from_meta", None, P, POINTER(StructuredLossOpts)),
    ("ebm_structured_evaluate", S, P, POINTER(StructuredLossOpts), PF, POINTER(c_int32), c_size_t,
     POINTER(StructuredEval)),
    ("ebm_structured_train_opts_default", None, POINTER(StructuredTrainOpts)),
    ("ebm_structured_trainer_new", S, P, POINTER(StructuredTrainOpts), POINTER(P)),
    ("ebm_structured_run_opts", None, POINTER(StructuredTrainOpts), POINTER(RunOpts)),
    ("ebm_structured_markov_default", None, POINTER(StructuredMarkov)),
    ("ebm_structured_markov_to_meta", S, POINTER(StructuredMarkov), P),
    ("ebm_structured_markov_toy", S, c_size_t, c_size_t, c_size_t, c_float, c_float, c_uint64, POINTER(PMAT),
     POINTER(POINTER(c_int32))),
    ("ebm_model_structured", P, P),
    ("ebm_net_energy_class", S, P, POINTER(c_int32), c_size_t, POINTER(PENERGY)),
    ("ebm_toy_generate", S, c_char_p, c_size_t, c_uint64, POINTER(POINTER(Dataset))), ("ebm_toy_names", c_char_p),
    ("ebm_dataset_free", None, POINTER(Dataset)),
    ("ebm_model_input_size", c_size_t, P), ("ebm_model_score", S, P, PF, c_size_t, PD),
    ("ebm_model_data", S, P, c_char_p, POINTER(DataOpts), POINTER(POINTER(Dataset))), ("ebm_model_score_name", c_char_p, P),
    ("ebm_model_data_opts", None, P, POINTER(DataOpts)),
    ("ebm_rng_u64", c_uint64, PRNG), ("ebm_rng_uniform", c_double, PRNG), ("ebm_rng_below", c_uint64, PRNG, c_uint64),
    ("ebm_noise_default", None, POINTER(Noise)), ("ebm_noise_fill", S, POINTER(Noise), c_uint64, PF, c_size_t, c_size_t),
    ("ebm_gauss_start_fit", S, PMAT, POINTER(c_int32), c_float, c_float, POINTER(P)), ("ebm_gauss_start_free", None, P),
    ("ebm_gauss_start_classes", c_size_t, P),
    ("ebm_gauss_start_fill", S, P, c_uint64, c_size_t, PF, c_size_t, POINTER(c_int32)),
    ("ebm_gauss_start_fill_classes", S, P, c_uint64, c_size_t, PF, c_size_t, POINTER(c_int32)),
]
for _p in _PROTOS:
    _fn(_p[0], _p[1], *_p[2:])

libc = ctypes.CDLL(None)  # the process's C library: free() for the few buffers the library hands over
libc.free.argtypes = [c_void_p]
libc.free.restype = None
