"""How the parameters of each covariance type are shaped: the one place that knows it.

Fitted attributes follow scikit-learn; the C++ core stores covariance-shaped parameters as
matrices (see cpp/include/gaussmix/options.hpp): full (K*D, D), tied (D, D), diag (K, D),
spherical (K, 1).
"""

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def parameter_shape(covariance_type, n_components, n_features):
    """Shape of ``covariances_``, ``precisions_`` and ``precisions_cholesky_`` (scikit-learn's)."""
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]


def as_core(parameter, covariance_type):
    """A covariance-shaped parameter as the core stores it."""
    parameter = np.asarray(parameter)
    if covariance_type == "full":
        return parameter.reshape(-1, parameter.shape[-1])
    if covariance_type == "spherical":
        return parameter.reshape(-1, 1)
    return parameter
