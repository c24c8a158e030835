"""gaussmix: fast Gaussian mixture models with a scikit-learn compatible API."""

from ._dispatch import core as _core, instruction_set as _instruction_set
from ._conditioning import ConditionalMixtures
from ._estimator import GaussianMixture
from ._sources import Chunks
from ._models import from_sklearn, load
from .legacy import GMM
from .regression import GaussianMixtureRegressor
from .generation import ReducedMixture
from .impute import GaussianMixtureImputer
from .model_selection import AutoGaussianMixture, SweepResult, sweep

NumericalError = _core.NumericalError
MODEL_FORMAT_VERSION = _core.MODEL_FORMAT_VERSION
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
    "Chunks",
    "AutoGaussianMixture",
    "ConditionalMixtures",
    "GMM",
    "GaussianMixture",
    "GaussianMixtureRegressor",
    "MODEL_FORMAT_VERSION",
    "GaussianMixtureImputer",
    "NumericalError",
    "ReducedMixture",
    "SweepResult",
    "from_sklearn",
    "load",
    "show_config",
    "sweep",
    "__version__",
]
