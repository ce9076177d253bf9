"""ebm: energy-based models from Python, over libebm (ctypes; see docs/python.md).

    import ebm
    rbm = ebm.BernoulliRBM(n_components=256, n_iter=10, random_state=0).fit(X)   # scikit-learn drop-in
    m = ebm.RBM.load("rbm.safetensors"); F = m.free_energy(X); S = m.sample(100, steps=1000)
"""
from ._lib import (PACKAGE_VERSION as __version__, LIBRARY_PATH, LIBRARY_VERSION, Error, FileError, FormatError,
                   ShapeError, OutOfMemoryError, InvalidArgumentError, NonFiniteError, NotSupportedError,
                   CanceledError, LibraryNotFoundError, VersionMismatchError)
from .core import (RBM, GRBM, Model, load, model_kind, read_meta, read_tensors, save_grid, set_threads,
                   get_threads, KINDS, MCMC, GRBM_SAMPLERS)
from .models import BM, DBN, EnergyNet, FeatureGaussian, Structured, markov_toy, rotations, toy, toy_names, LOSSES

try:  # the estimators need scikit-learn; the rest of the package does not
    from .estimators import BernoulliRBM, GaussianBernoulliRBM
except ImportError as _e:  # pragma: no cover
    _why = str(_e)

    def _missing(*_a, **_k):
        raise ImportError("ebm's scikit-learn estimators need scikit-learn (apt-get install python3-sklearn): "
                          + _why)
    BernoulliRBM = GaussianBernoulliRBM = _missing

__all__ = ["RBM", "GRBM", "BM", "DBN", "EnergyNet", "FeatureGaussian", "Structured", "markov_toy", "rotations", "toy", "toy_names", "LOSSES", "Model", "load", "model_kind", "read_meta", "read_tensors", "save_grid", "set_threads",
           "get_threads", "BernoulliRBM", "GaussianBernoulliRBM", "Error", "FileError", "FormatError", "ShapeError",
           "OutOfMemoryError", "InvalidArgumentError", "NonFiniteError", "NotSupportedError", "CanceledError",
           "LibraryNotFoundError", "VersionMismatchError", "__version__"]
