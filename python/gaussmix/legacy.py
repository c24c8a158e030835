"""The printed handbook's API: scikit-learn <= 0.19's ``sklearn.mixture.GMM``.

The Python Data Science Handbook (2016) was printed with ``from sklearn.mixture import GMM``,
a class scikit-learn deprecated in 0.18 and removed in 0.20. :class:`GMM` keeps that API so the
chapter's code runs with one changed import (``from gaussmix import GMM``); it is a thin layer
over :class:`~gaussmix.GaussianMixture`. New code should use GaussianMixture.
"""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._estimator import GaussianMixture

__all__ = ["GMM"]


class GMM(BaseEstimator):
    """Gaussian mixture with scikit-learn 0.19's ``GMM`` API (the printed handbook's).

    Differences from :class:`GaussianMixture`, all as in scikit-learn 0.19: the default
    ``covariance_type`` is ``'diag'``; ``n_iter`` and ``min_covar`` (added to the
    covariances' diagonal, default 1e-3) instead of ``max_iter`` and ``reg_covar``; the
    covariances are ``covars_`` (spherical ones repeated per feature, shape
    (n_components, n_features)); ``sample(n_samples, random_state=None)`` returns only the
    samples; ``score(X)`` returns per-sample log-likelihoods and ``score_samples(X)`` the pair
    (log-likelihoods, posteriors). ``params`` and ``init_params`` other than 'wmc' are not
    supported: EM starts from k-means and updates everything.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {'diag', 'spherical', 'tied', 'full'}, default='diag'
    random_state : int, RandomState instance or None, default=None
    tol : float, default=1e-3
        EM stops when the mean log-likelihood changes by less than tol.
    min_covar : float, default=1e-3
    n_iter : int, default=100
    n_init : int, default=1
    params, init_params : str, default='wmc'
    verbose : int, default=0

    Attributes
    ----------
    weights_, means_, covars_, converged_

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GMM
    >>> X = np.random.RandomState(0).randn(200, 2)
    >>> gmm = GMM(2, random_state=0).fit(X)
    >>> gmm.covars_.shape, gmm.sample(5, random_state=0).shape
    ((2, 2), (5, 2))
    """

    def __init__(self, n_components=1, covariance_type="diag", random_state=None, tol=1e-3, min_covar=1e-3,
                 n_iter=100, n_init=1, params="wmc", init_params="wmc", verbose=0):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.random_state = random_state
        self.tol = tol
        self.min_covar = min_covar
        self.n_iter = n_iter
        self.n_init = n_init
        self.params = params
        self.init_params = init_params
        self.verbose = verbose

    def _mixture(self):
        for name in ("params", "init_params"):
            if sorted(str(getattr(self, name))) != sorted("wmc"):
                raise ValueError(f"GMM supports only {name}='wmc' (update weights, means and covariances), "
                                 f"got {getattr(self, name)!r}")
        return GaussianMixture(
            n_components=self.n_components, covariance_type=self.covariance_type, tol=self.tol,
            reg_covar=self.min_covar, max_iter=self.n_iter, n_init=self.n_init,
            random_state=self.random_state, verbose=self.verbose,
        )

    def fit(self, X, y=None):
        """Estimate the parameters with EM. Returns self."""
        self.mixture_ = self._mixture().fit(X)
        mixture = self.mixture_
        self.weights_ = mixture.weights_
        self.means_ = mixture.means_
        if mixture._fitted_covariance_type == "spherical":
            self.covars_ = np.repeat(mixture.covariances_[:, None], mixture.means_.shape[1], axis=1)
        else:
            self.covars_ = mixture.covariances_
        self.converged_ = mixture.converged_
        return self

    def fit_predict(self, X, y=None):
        """Fit, then the most probable component of each sample."""
        return self.fit(X).predict(X)

    def _fitted(self):
        check_is_fitted(self, "mixture_")
        return self.mixture_

    def predict(self, X):
        """Most probable component of each sample, shape (n_samples,)."""
        return self._fitted().predict(X)

    def predict_proba(self, X):
        """Posterior of each component, shape (n_samples, n_components)."""
        return self._fitted().predict_proba(X)

    def score(self, X, y=None):
        """Log-likelihood of each sample, shape (n_samples,) (0.19's convention, not a mean)."""
        return self._fitted().score_samples(X)

    def score_samples(self, X):
        """(log-likelihood of each sample, posterior of each component), as in 0.19."""
        mixture = self._fitted()
        return mixture.score_samples(X), mixture.predict_proba(X)

    def sample(self, n_samples=1, random_state=None):
        """``n_samples`` draws, shape (n_samples, n_features): samples only, no labels.

        ``random_state`` defaults to the estimator's, as in 0.19.
        """
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool):
            raise TypeError(f"n_samples must be an integer, got {type(n_samples).__name__}")
        X, _ = self._fitted().sample(n_samples, random_state=random_state)
        return X

    def aic(self, X):
        """Akaike information criterion on X (lower is better)."""
        return self._fitted().aic(X)

    def bic(self, X):
        """Bayesian information criterion on X (lower is better)."""
        return self._fitted().bic(X)
