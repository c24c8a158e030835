"""Missing values for ``GaussianMixture(missing="marginalize")``: validation and core calls.

The estimator keeps its own methods; with ``missing="marginalize"`` they validate X allowing
NaN and call the core's ``*_missing`` functions (marginal densities over each row's observed
features, see ``cpp/include/gaussmix/missing.hpp``). Inference reads the fitted covariance type.
"""

import contextlib

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


NAN_HINT = ("gaussmix can take NaN as missing values: with missing='marginalize' (in the constructor, "
            "or set_params on a fitted model) fit, score_samples, predict and the rest use each row's "
            "observed entries, exactly (its marginal density).")


ONLINE_NAN_HINT = ("partial_fit's online EM takes complete rows only; missing='marginalize' applies to fit "
                   "and to inference.")


@contextlib.contextmanager
def nan_hint(estimator, online=False):
    """scikit-learn's NaN error, raised inside the block, with what gaussmix offers added: the
    missing='marginalize' way out, or (``online``, partial_fit) that it does not apply."""
    try:
        yield
    except ValueError as error:
        if "X contains NaN" not in str(error) or (marginalizes(estimator) and not online):
            raise
        raise ValueError(f"{error}\n{ONLINE_NAN_HINT if online else NAN_HINT}") from None


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
