"""Imputation of missing values by a Gaussian mixture fitted to the incomplete data."""

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._estimator import GaussianMixture, _FLOAT_DTYPES

__all__ = ["GaussianMixtureImputer"]


class GaussianMixtureImputer(TransformerMixin, BaseEstimator):
    """Fill missing values from a Gaussian mixture fitted to the incomplete data by exact EM.

    ``fit`` runs :class:`gaussmix.GaussianMixture` with ``missing="marginalize"`` (no imputation
    before fitting, so the covariances are not shrunk); ``transform`` replaces each NaN by its
    conditional mean given the row's observed entries under the mixture, or with
    ``sample_posterior=True`` by a draw from that conditional distribution (multiple imputation,
    as :class:`sklearn.impute.IterativeImputer`). Works in a :class:`sklearn.pipeline.Pipeline`.

    Parameters
    ----------
    n_components : int, default=1
        Components of the mixture; 1 is a single multivariate Gaussian (the EM imputation of
        classical statistics).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        'diag' and 'spherical' make features independent within a component, so imputations
        depend on the other features only through the component posteriors.
    tol, reg_covar, max_iter, n_init, init_params :
        As in :class:`gaussmix.GaussianMixture`.
    sample_posterior : bool, default=False
        Draw each imputation from ``p(x_missing | x_observed)`` instead of taking its mean.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and, with ``sample_posterior``, the draws (an int gives the
        same draws on every call to ``transform``).

    Attributes
    ----------
    gaussian_mixture_ : GaussianMixture
        The fitted mixture.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixtureImputer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], size=500)
    >>> X[::4, 0] = np.nan
    >>> X_filled = GaussianMixtureImputer(random_state=0).fit_transform(X)
    >>> bool(np.isnan(X_filled).any())
    False
    """

    _MIXTURE_PARAMETERS = ("n_components", "covariance_type", "tol", "reg_covar", "max_iter", "n_init",
                           "init_params", "random_state")
    _parameter_constraints: dict = {
        **{name: GaussianMixture._parameter_constraints[name] for name in _MIXTURE_PARAMETERS},
        "sample_posterior": ["boolean"],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        sample_posterior=False,
        random_state=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.sample_posterior = sample_posterior
        self.random_state = random_state

    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture to X, whose NaN entries are missing values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixtureImputer
        """
        self._validate_params()
        X = validate_data(self, X, dtype=list(_FLOAT_DTYPES), order="C", ensure_all_finite="allow-nan")
        mixture_parameters = {name: getattr(self, name) for name in self._MIXTURE_PARAMETERS}
        self.gaussian_mixture_ = GaussianMixture(**mixture_parameters, missing="marginalize").fit(
            X, sample_weight=sample_weight
        )
        return self

    def transform(self, X):
        """X with every NaN imputed, shape (n_samples, n_features), X's float dtype."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=list(_FLOAT_DTYPES), order="C", ensure_all_finite="allow-nan")
        return self.gaussian_mixture_.impute(X, sample=self.sample_posterior, random_state=self.random_state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
