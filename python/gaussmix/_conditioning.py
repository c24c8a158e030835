"""Marginals and conditionals of a fitted mixture (the maths is in cpp/include/gaussmix/conditioning.hpp)."""

import copy

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from ._dispatch import core as _gmm
from ._models import core_parameters, feature_indices, fitted_estimator, parameter_shape

__all__ = ["ConditionalMixtures"]


class ConditionalMixtures:
    """Conditional mixtures p(x_rest | x_given = v_i) for many rows v_i at once.

    Returned by :meth:`GaussianMixture.condition_batch` and
    :meth:`GaussianMixtureRegressor.predict_distribution`.

    Attributes
    ----------
    features : ndarray of int, shape (n_rest,)
        The remaining features, in increasing order: the conditionals' features.
    covariance_type : str
        That of the conditionals (the model's: diag and spherical stay diagonal, tied stays
        tied, full stays full).
    weights : ndarray of shape (n_samples, n_components)
        Conditional component weights; every row sums to one.
    means : ndarray of shape (n_samples, n_components, n_rest)
        Conditional component means.
    covariances, precisions_cholesky : ndarray
        Conditional component covariances and their precision factors, shaped like a
        GaussianMixture's for ``n_rest`` features; the same for every row (a Gaussian's
        conditional covariance does not depend on the given values).
    mean : ndarray of shape (n_samples, n_rest)
        E[x_rest | x_given = v_i].
    variance : ndarray of shape (n_samples, n_rest)
        The diagonal of Cov[x_rest | x_given = v_i] (within- plus between-component).
    """

    def __init__(self, result, n_components):
        self.features = np.asarray(result["features"], dtype=np.intp)
        self.covariance_type = result["covariance_type"]
        n_rest = self.features.size
        shape = parameter_shape(self.covariance_type, n_components, n_rest)
        self.weights = result["weights"]
        self.means = result["means"].reshape(-1, n_components, n_rest)
        self.covariances = result["covariances"].reshape(shape)
        self.precisions_cholesky = result["precisions_cholesky"].reshape(shape)
        self.mean = result["mean"]
        self.variance = result["variance"]

    def __len__(self):
        return self.weights.shape[0]

    def mixture(self, i):
        """The conditional mixture of row ``i`` as a fitted :class:`GaussianMixture`."""
        from ._estimator import GaussianMixture

        return GaussianMixture.from_parameters(
            self.weights[i] / self.weights[i].sum(dtype=np.float64),
            self.means[i],
            precisions_cholesky=self.precisions_cholesky,
            covariance_type=self.covariance_type,
        )

    def __repr__(self):
        return (f"ConditionalMixtures({len(self)} rows, {self.weights.shape[1]} components, "
                f"features={self.features.tolist()}, covariance_type={self.covariance_type!r})")


def _rest_names(estimator, rest):
    names = getattr(estimator, "feature_names_in_", None)
    return None if names is None else [names[i] for i in rest]


def marginal(estimator, features):
    check_is_fitted(estimator)
    indices = feature_indices(estimator, features, allow_empty=False)
    result = _gmm.marginal(indices, *core_parameters(estimator))
    return fitted_estimator(result, feature_names=_rest_names(estimator, indices))


def _values(estimator, values, n_given, ndim):
    values = check_array(values, dtype=estimator.means_.dtype, ensure_2d=ndim == 2, input_name="values",
                         ensure_min_samples=1 if ndim == 2 else 0)
    if values.ndim != ndim:
        raise ValueError(f"values must be {ndim}-dimensional, got shape {values.shape}")
    if values.shape[-1] != n_given:
        raise ValueError(f"values has {values.shape[-1]} entries per row, expected one per given feature ({n_given})")
    return np.ascontiguousarray(values)


def condition(estimator, features, values):
    check_is_fitted(estimator)
    given = feature_indices(estimator, features, allow_empty=True)
    if not given:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.size:
            raise ValueError("values has entries but no feature is given")
        return copy.deepcopy(estimator)
    if len(given) == estimator.means_.shape[1]:
        raise ValueError("every feature is given; nothing is left to condition")
    values = _values(estimator, values, len(given), 1)
    result = _gmm.condition_model(values, given, *core_parameters(estimator))
    rest = [f for f in range(estimator.means_.shape[1]) if f not in set(given)]
    return fitted_estimator(result, feature_names=_rest_names(estimator, rest))


def condition_batch(estimator, features, values):
    check_is_fitted(estimator)
    given = feature_indices(estimator, features, allow_empty=False)
    if len(given) == estimator.means_.shape[1]:
        raise ValueError("every feature is given; nothing is left to condition")
    values = _values(estimator, values, len(given), 2)
    parameters = core_parameters(estimator)
    result = _gmm.condition(values, given, *parameters)
    result["covariance_type"] = parameters[0]
    return ConditionalMixtures(result, estimator.means_.shape[0])
