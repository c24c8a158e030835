"""gaussmix: fast Gaussian mixture models with a scikit-learn compatible API."""

from . import _gmm
from ._estimator import GaussianMixture
from .generation import ReducedMixture
from .model_selection import AutoGaussianMixture, SweepResult, sweep

NumericalError = _gmm.NumericalError
__version__ = _gmm.__version__


def show_config():
    """Print and return how this gaussmix was built: version, OpenMP, threads, SIMD, Eigen."""
    info = _gmm.build_info()
    for key, value in info.items():
        print(f"{key}: {value}")
    return info


__all__ = [
    "AutoGaussianMixture",
    "GaussianMixture",
    "NumericalError",
    "ReducedMixture",
    "SweepResult",
    "show_config",
    "sweep",
    "__version__",
]
