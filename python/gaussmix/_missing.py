"""Missing values for ``GaussianMixture(missing="marginalize")``: validation and core calls.

The estimator keeps its own methods; with ``missing="marginalize"`` they validate X allowing
NaN and call the core's ``*_missing`` functions (marginal densities over each row's observed
features, see ``cpp/include/gaussmix/missing.hpp``). Inference reads the fitted covariance type.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from ._dispatch import core as _gmm

_FLOAT_DTYPES = (np.float64, np.float32)
MISSING_OPTIONS = ("error", "marginalize")


def marginalizes(estimator):
    return estimator.missing == "marginalize"


def validation(estimator):
    """Extra keywords of ``validate_data``: NaN allowed when marginalizing."""
    return {"ensure_all_finite": "allow-nan"} if marginalizes(estimator) else {}


def core_function(estimator, name):
    """The core's fitting function ``name`` for this estimator's missing-value policy."""
    return getattr(_gmm, f"{name}_missing" if marginalizes(estimator) else name)


def impute(estimator, X, sample, random_state):
    """``GaussianMixture.impute``: conditional means, or one draw from p(x_missing | x_observed)."""
    from ._estimator import _random_seed

    check_is_fitted(estimator)
    X = validate_data(
        estimator, X, reset=False, dtype=list(_FLOAT_DTYPES), order="C", ensure_all_finite="allow-nan"
    )
    arguments = estimator._fitted_parameters(X.dtype)
    if not sample:
        return _gmm.impute(X, *arguments)
    rng = estimator.random_state if random_state is None else random_state
    return _gmm.impute_sample(X, *arguments, _random_seed(rng))
