"""gaussmix: fast Gaussian mixture models with a scikit-learn compatible API."""

from ._dispatch import core as _core, instruction_set as _instruction_set
from ._estimator import GaussianMixture
from .generation import ReducedMixture
from .impute import GaussianMixtureImputer
from .model_selection import AutoGaussianMixture, SweepResult, sweep

NumericalError = _core.NumericalError
__version__ = _core.__version__


def show_config():
    """Print and return how this gaussmix was built and runs here.

    Keys: version, openmp, max_threads, simd (the instruction sets of the core in use), eigen,
    cpu_supports, and core (which build of the core was chosen: baseline, avx2 or avx512).
    """
    info = dict(_core.build_info(), core=_instruction_set)
    for key, value in info.items():
        print(f"{key}: {value}")
    return info


__all__ = [
    "AutoGaussianMixture",
    "GaussianMixture",
    "GaussianMixtureImputer",
    "NumericalError",
    "ReducedMixture",
    "SweepResult",
    "show_config",
    "sweep",
    "__version__",
]
