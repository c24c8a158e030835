"""Recovery of a known mixture from incomplete data (issue 12, acceptance 3).

With 10%, 30% and 50% of the entries removed completely at random, exact EM on the incomplete
data recovers the generating parameters better, and predicts held-out complete data better,
than (a) fitting the complete rows only and (b) fitting after mean imputation.
"""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.impute import SimpleImputer

from gaussmix import GaussianMixture

pytestmark = pytest.mark.beyond_sklearn

MEANS = np.array([[0, 0, 0, 0, 0], [4, 1, -2, 3, 0], [-2, 4, 2, -1, 3]], dtype=float)
WEIGHTS = np.array([0.5, 0.3, 0.2])


def true_covariances():
    rng = np.random.RandomState(10)
    covariances = []
    for _ in MEANS:
        A = rng.normal(size=(5, 5)) * 0.5
        covariances.append(A @ A.T + 0.5 * np.eye(5))
    return np.array(covariances)


def draw(n, seed):
    rng = np.random.RandomState(seed)
    labels = rng.choice(len(WEIGHTS), size=n, p=WEIGHTS)
    covariances = true_covariances()
    return np.array([rng.multivariate_normal(MEANS[k], covariances[k]) for k in labels])


def parameter_error(gm):
    """Mean distance of the means plus mean relative Frobenius error of the covariances,
    components matched to the truth by the assignment that minimises the mean distances."""
    covariances = true_covariances()
    cost = np.linalg.norm(gm.means_[:, None, :] - MEANS[None], axis=2)
    rows, cols = linear_sum_assignment(cost)
    mean_error = cost[rows, cols].mean()
    cov_error = np.mean([np.linalg.norm(gm.covariances_[r] - covariances[c]) / np.linalg.norm(covariances[c])
                         for r, c in zip(rows, cols)])
    return mean_error + cov_error


def fits(X_missing):
    options = dict(n_components=3, n_init=3, random_state=0)
    complete_rows = X_missing[~np.isnan(X_missing).any(axis=1)]
    return {
        "marginalize": GaussianMixture(missing="marginalize", **options).fit(X_missing),
        "complete rows": GaussianMixture(**options).fit(complete_rows),
        "mean imputation": GaussianMixture(**options).fit(SimpleImputer().fit_transform(X_missing)),
    }


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5])
def test_marginalizing_beats_dropping_and_mean_imputation(fraction):
    X = draw(1500, 1)
    X_test = draw(3000, 2)
    X_missing = X.copy()
    X_missing[np.random.RandomState(3).uniform(size=X.shape) < fraction] = np.nan
    results = {name: (parameter_error(gm), gm.score(X_test)) for name, gm in fits(X_missing).items()}
    error, held_out = results.pop("marginalize")
    for name, (other_error, other_held_out) in results.items():
        assert error < other_error, (fraction, name, error, other_error)
        assert held_out > other_held_out, (fraction, name, held_out, other_held_out)
