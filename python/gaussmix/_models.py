"""Models as objects: the portable model file, estimators from given parameters, and conversion
to and from scikit-learn. The file format is documented in ``docs/model-format.md``; reading
and writing it (and validating every byte) is the C++ core's job, so that C++ and Python share
one implementation of it.
"""

import os
from numbers import Integral

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from ._dispatch import core as _gmm
from ._layout import COVARIANCE_TYPES, as_core, parameter_shape

__all__ = ["from_sklearn", "load", "parameter_shape"]

_COVARIANCE_TYPES = COVARIANCE_TYPES
#: Fitted attributes that describe the mixture (and that conversions copy).
_PARAMETERS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def _storage(parameter, covariance_type, dtype):
    return np.ascontiguousarray(as_core(np.asarray(parameter, dtype=dtype), covariance_type))


def core_parameters(estimator, dtype=None):
    """(covariance_type, weights, means, precisions_cholesky) of a fitted estimator for the core,
    from its fitted covariance type (never the constructor's, which set_params may change),
    with edited attributes checked."""
    dtype = np.asarray(estimator.means_).dtype if dtype is None else dtype
    return estimator._fitted_parameters(dtype)


def fitted_estimator(parameters, *, converged=True, n_iter=0, lower_bound=-np.inf, feature_names=None, params=None):
    """A fitted GaussianMixture holding the core's parameter dict as its fitted attributes."""
    from ._estimator import GaussianMixture

    covariance_type = str(parameters["covariance_type"])
    n_components, n_features = parameters["means"].shape
    estimator = GaussianMixture(n_components=n_components, covariance_type=covariance_type)
    if params:
        estimator.set_params(**params)
    shape = parameter_shape(covariance_type, n_components, n_features)
    estimator._fitted_covariance_type = covariance_type
    estimator.weights_ = np.asarray(parameters["weights"]).reshape(n_components)
    estimator.means_ = np.asarray(parameters["means"])
    for name in ("covariances", "precisions", "precisions_cholesky"):
        setattr(estimator, name + "_", np.asarray(parameters[name]).reshape(shape))
    estimator.converged_ = bool(converged)
    estimator.n_iter_ = int(n_iter)
    estimator.lower_bound_ = float(lower_bound)
    estimator.n_features_in_ = int(n_features)
    if feature_names is not None and len(feature_names):
        estimator.feature_names_in_ = np.asarray(list(feature_names), dtype=object)
    return estimator


def _float_dtype(*arrays):
    """float32 when every given array is float32, else float64."""
    return np.float32 if all(np.asarray(a).dtype == np.float32 for a in arrays) else np.float64


def _check_covariance_type(covariance_type):
    if not isinstance(covariance_type, str) or covariance_type not in _COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {_COVARIANCE_TYPES}, got {covariance_type!r}"
        )


def from_parameters(cls, weights, means, covariances=None, precisions=None, precisions_cholesky=None,
                    covariance_type="full"):
    """See GaussianMixture.from_parameters."""
    _check_covariance_type(covariance_type)
    given = {name: value for name, value in (("covariances", covariances), ("precisions", precisions),
                                              ("precisions_cholesky", precisions_cholesky)) if value is not None}
    if len(given) != 1:
        raise ValueError(
            "give exactly one of covariances, precisions and precisions_cholesky, got "
            f"{sorted(given) if given else 'none'}"
        )
    (kind, parameter), = given.items()
    dtype = _float_dtype(weights, means, parameter)
    means = check_array(means, dtype=dtype, input_name="means")
    n_components, n_features = means.shape
    weights = check_array(weights, dtype=dtype, ensure_2d=False, input_name="weights")
    if weights.shape != (n_components,):
        raise ValueError(f"weights has shape {weights.shape}, expected ({n_components},) to match means")
    parameter = check_array(parameter, dtype=dtype, ensure_2d=False, allow_nd=True, input_name=kind)
    expected = parameter_shape(covariance_type, n_components, n_features)
    if parameter.shape != expected:
        raise ValueError(
            f"{kind} has shape {parameter.shape}, expected {expected} for covariance_type="
            f"{covariance_type!r} with {n_components} components and {n_features} features"
        )
    result = _gmm.model_from(kind, covariance_type, np.ascontiguousarray(weights), np.ascontiguousarray(means),
                             _storage(parameter, covariance_type, dtype))
    return fitted_estimator(result)


# --------------------------------------------------------------------------- the model file

def save(estimator, path):
    """See GaussianMixture.save."""
    check_is_fitted(estimator)
    covariance_type, weights, means, factors = core_parameters(estimator)
    names = getattr(estimator, "feature_names_in_", None)
    _gmm.save_model(
        os.fspath(path),
        covariance_type,
        weights,
        means,
        _storage(estimator.covariances_, covariance_type, means.dtype),
        factors,
        [] if names is None else [str(name) for name in names],
        int(estimator.n_iter_),
        float(estimator.lower_bound_),
        bool(estimator.converged_),
    )


def load(path):
    """Read a model file written by :meth:`GaussianMixture.save` or ``gaussmix::save_model``.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    GaussianMixture
        Fitted, with the file's parameters bit for bit, in the file's dtype (float32 or
        float64), and its ``n_iter_``, ``lower_bound_``, ``converged_`` and, when stored,
        ``feature_names_in_``. Hyperparameters other than ``n_components`` and
        ``covariance_type`` are the defaults; ``lower_bounds_`` (the per-iteration history)
        is not stored.

    Raises
    ------
    FileNotFoundError, OSError
        The file is absent or unreadable.
    ValueError
        The file is not a valid gaussmix model file (truncated, corrupted, another format or
        version, inconsistent parameters); the message says what is wrong.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> import gaussmix
    >>> X = np.random.RandomState(0).randn(200, 2)
    >>> gm = gaussmix.GaussianMixture(2, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> gm.save(path)
    >>> bool(np.array_equal(gaussmix.load(path).means_, gm.means_))
    True
    """
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"path must be a str or os.PathLike of str, got {type(path).__name__}")
    if not os.path.isfile(path):
        raise FileNotFoundError(2, "No such model file", path)
    result = _gmm.load_model(path)
    return fitted_estimator(
        result,
        converged=result["converged"],
        n_iter=result["n_iter"],
        lower_bound=result["lower_bound"],
        feature_names=result["feature_names"],
    )


# ------------------------------------------------------------------------------ scikit-learn

def from_sklearn(model):
    """A :class:`gaussmix.GaussianMixture` equal to a fitted scikit-learn ``GaussianMixture``.

    The fitted parameters are copied bit for bit (after the core checks them: shapes,
    finiteness, weights on the simplex, covariances positive definite and consistent with the
    precision factors), with ``converged_``, ``n_iter_``, ``lower_bound_``,
    ``n_features_in_``, ``feature_names_in_`` and the constructor parameters.

    Parameters
    ----------
    model : sklearn.mixture.GaussianMixture, fitted

    Returns
    -------
    GaussianMixture

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture as SkGaussianMixture
    >>> import gaussmix
    >>> X = np.random.RandomState(0).randn(100, 2)
    >>> sk = SkGaussianMixture(2, random_state=0).fit(X)
    >>> gm = gaussmix.from_sklearn(sk)
    >>> bool(np.allclose(gm.score_samples(X), sk.score_samples(X)))
    True
    """
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from ._estimator import GaussianMixture

    if not isinstance(model, SkGaussianMixture):
        raise TypeError(
            f"from_sklearn() takes a sklearn.mixture.GaussianMixture, got {type(model).__name__}"
        )
    check_is_fitted(model)
    covariance_type = model.covariance_type
    _check_covariance_type(covariance_type)
    dtype = _float_dtype(model.weights_, model.means_, model.covariances_, model.precisions_cholesky_)
    means = np.ascontiguousarray(model.means_, dtype=dtype)
    _gmm.model_from_stored(  # validation only; the attributes are copied below
        covariance_type,
        np.ascontiguousarray(model.weights_, dtype=dtype),
        means,
        _storage(model.covariances_, covariance_type, dtype),
        _storage(model.precisions_cholesky_, covariance_type, dtype),
    )
    ours = set(GaussianMixture._get_param_names())
    params = {name: value for name, value in model.get_params(deep=False).items() if name in ours}
    estimator = GaussianMixture(**params)
    estimator._fitted_covariance_type = covariance_type
    for name in _PARAMETERS:
        setattr(estimator, name, np.array(getattr(model, name), dtype=dtype, copy=True))
    for name in ("converged_", "n_iter_", "lower_bound_", "n_features_in_"):
        setattr(estimator, name, getattr(model, name))
    for name in ("lower_bounds_", "feature_names_in_"):
        if hasattr(model, name):
            setattr(estimator, name, np.array(getattr(model, name), copy=True) if name.startswith("feature")
                    else list(getattr(model, name)))
    return estimator


def to_sklearn(estimator):
    """See GaussianMixture.to_sklearn."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    check_is_fitted(estimator)
    theirs = set(SkGaussianMixture._get_param_names())
    params = {name: value for name, value in estimator.get_params(deep=False).items() if name in theirs}
    params["covariance_type"] = estimator._fitted_covariance_type
    params["n_components"] = estimator.means_.shape[0]
    model = SkGaussianMixture(**params)
    for name in _PARAMETERS:
        setattr(model, name, np.array(getattr(estimator, name), copy=True))
    for name in ("converged_", "n_iter_", "lower_bound_", "n_features_in_"):
        setattr(model, name, getattr(estimator, name))
    if hasattr(estimator, "lower_bounds_"):
        model.lower_bounds_ = list(estimator.lower_bounds_)
    if hasattr(estimator, "feature_names_in_"):
        model.feature_names_in_ = np.array(estimator.feature_names_in_, copy=True)
    return model


def feature_indices(estimator, features, *, allow_empty):
    """Validated feature indices (ints, or names when the estimator saw feature names)."""
    n_features = estimator.means_.shape[1]
    if isinstance(features, (str, bytes)) or isinstance(features, Integral):
        features = [features]
    try:
        features = list(features)
    except TypeError:
        raise TypeError(f"features must be a sequence of feature indices or names, got {type(features).__name__}") from None
    names = getattr(estimator, "feature_names_in_", None)
    indices = []
    for feature in features:
        if isinstance(feature, str):
            if names is None:
                raise ValueError(f"feature {feature!r} given by name, but the model was fitted without feature names")
            matches = np.flatnonzero(np.asarray(names) == feature)
            if matches.size == 0:
                raise ValueError(f"feature {feature!r} is not one of the model's features {list(names)}")
            indices.append(int(matches[0]))
        elif isinstance(feature, (Integral, np.integer)) and not isinstance(feature, (bool, np.bool_)):
            index = int(feature)
            if not -n_features <= index < n_features:
                raise ValueError(f"feature index {index} is out of range for {n_features} features")
            indices.append(index % n_features)
        else:
            raise TypeError(f"features must be integers or names, got {feature!r}")
    if len(set(indices)) != len(indices):
        raise ValueError(f"features contains duplicates: {features!r}")
    if not indices and not allow_empty:
        raise ValueError("features is empty; give at least one feature")
    return indices
