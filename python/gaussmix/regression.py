"""Gaussian mixture regression: a joint mixture on [X, y], conditioned on X.

``GaussianMixtureRegressor.fit`` fits a :class:`~gaussmix.GaussianMixture` to the rows
``[x_i, y_i]``; ``predict`` returns E[y | x], the mean of the conditional mixture, computed in
the C++ core for all rows at once (see :meth:`GaussianMixture.condition_batch`).
"""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._estimator import GaussianMixture

__all__ = ["GaussianMixtureRegressor"]

_FLOAT_DTYPES = [np.float64, np.float32]


class GaussianMixtureRegressor(RegressorMixin, BaseEstimator):
    """Regression by a Gaussian mixture on the joint data [X, y] (GMR).

    The conditional p(y | x) of a joint mixture is again a mixture, whose component weights
    depend on x; its mean is a smooth, non-linear regression function and its variance a
    heteroscedastic error bar. ``y`` may have several outputs.

    Parameters
    ----------
    n_components : int, default=1
        Components of the joint mixture (1 gives linear regression).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Only 'full' and 'tied' couple y to x; with 'diag' or 'spherical' the prediction
        depends on x only through the component weights.
    tol, reg_covar, max_iter, n_init, init_params, random_state
        As in :class:`GaussianMixture`.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The joint mixture over ``n_features_in_ + n_outputs_`` features.
    n_features_in_ : int
    n_outputs_ : int
    n_iter_ : int
        EM iterations of the joint fit.
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixtureRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(0, 2 * np.pi, (500, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.randn(500)
    >>> model = GaussianMixtureRegressor(n_components=8, random_state=0).fit(X, y)
    >>> bool(model.score(X, y) > 0.9)
    True
    """

    # The joint mixture's own constraints, for the parameters passed on to it.
    _parameter_constraints: dict = {
        name: GaussianMixture._parameter_constraints[name]
        for name in ("n_components", "covariance_type", "tol", "reg_covar", "max_iter", "n_init", "init_params",
                     "random_state")
    }

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=100,
                 n_init=1, init_params="kmeans", random_state=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the joint mixture on [X, y].

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixtureRegressor
        """
        self._validate_params()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=_FLOAT_DTYPES, order="C")
        self._y_is_1d = y.ndim == 1
        y = y.reshape(y.shape[0], -1)
        self.n_outputs_ = y.shape[1]
        joint = np.hstack([X, y.astype(X.dtype, copy=False)])
        mixture = GaussianMixture(
            n_components=self.n_components, covariance_type=self.covariance_type, tol=self.tol,
            reg_covar=self.reg_covar, max_iter=self.max_iter, n_init=self.n_init,
            init_params=self.init_params, random_state=self.random_state,
        )
        self.mixture_ = mixture.fit(joint, sample_weight=sample_weight)
        self.n_iter_ = self.mixture_.n_iter_
        return self

    def predict_distribution(self, X):
        """The conditional mixture p(y | x) of each row of X.

        Returns
        -------
        ConditionalMixtures
            ``weights`` (n_samples, n_components), ``means`` (n_samples, n_components,
            n_outputs), ``covariances`` (shared by all rows), ``mean`` and ``variance``
            (n_samples, n_outputs).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES, order="C")
        return self.mixture_.condition_batch(range(self.n_features_in_), X)

    def predict(self, X, return_std=False):
        """E[y | x] for each row of X, and with ``return_std`` the conditional standard deviation.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        y_std : ndarray, same shape, only with ``return_std=True``
        """
        conditional = self.predict_distribution(X)
        mean, variance = conditional.mean, conditional.variance
        if self._y_is_1d:
            mean, variance = mean[:, 0], variance[:, 0]
        if return_std:
            return mean, np.sqrt(np.maximum(variance, 0))
        return mean
