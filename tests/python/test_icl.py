"""ICL (integrated completed likelihood) against its formula computed directly with scipy, on
data where ICL and BIC choose different numbers of components; in sweep and AutoGaussianMixture."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from gaussmix import AutoGaussianMixture, GaussianMixture, sweep

# Free parameters of a full-covariance mixture in 2-D: K means (2), K covariances (3), K - 1 weights.
N_PARAMETERS_FULL_2D = {1: 5, 2: 11, 3: 17, 4: 23}


def _overlapping(seed=0):
    """Two unit Gaussians 3 standard deviations apart: BIC sees two components, but their
    overlap makes the classification uncertain enough for ICL to prefer one."""
    rng = np.random.RandomState(seed)
    return np.vstack([rng.randn(600, 2), rng.randn(600, 2) + [3.0, 0.0]])


def _icl_by_formula(gm, X):
    log_joint = np.column_stack([np.log(w) + stats.multivariate_normal(m, c).logpdf(X)
                                 for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_)])
    log_likelihood = logsumexp(log_joint, axis=1)
    tau = np.exp(log_joint - log_likelihood[:, None])
    entropy = -np.sum(tau * np.log(np.where(tau > 0, tau, 1.0)))
    n = X.shape[0]
    bic = -2 * log_likelihood.sum() + N_PARAMETERS_FULL_2D[gm.n_components] * np.log(n)
    return bic + 2 * entropy, bic


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_icl_equals_its_formula(k):
    X = _overlapping()
    gm = GaussianMixture(k, random_state=0, n_init=3).fit(X)
    icl, bic = _icl_by_formula(gm, X)
    np.testing.assert_allclose(gm.icl(X), icl, rtol=1e-10)
    np.testing.assert_allclose(gm.bic(X), bic, rtol=1e-10)
    assert gm.icl(X) >= gm.bic(X)  # the entropy is non-negative


def test_icl_and_bic_choose_differently():
    X = _overlapping()
    fits = {k: GaussianMixture(k, random_state=0, n_init=3).fit(X) for k in N_PARAMETERS_FULL_2D}
    by_formula = {k: _icl_by_formula(gm, X) for k, gm in fits.items()}
    assert min(by_formula, key=lambda k: by_formula[k][1]) == 2  # BIC
    assert min(by_formula, key=lambda k: by_formula[k][0]) == 1  # ICL

    result = sweep(X, n_components=range(1, 5), criterion="icl", random_state=0, n_init=3)
    assert result.criteria == ("aic", "bic", "icl")
    np.testing.assert_allclose(result.table["icl"], [by_formula[k][0] for k in range(1, 5)], rtol=1e-10)
    assert result.best_params["icl"]["n_components"] == 1
    assert result.best_params["bic"]["n_components"] == 2
    explicit = sweep(X, n_components=range(1, 3), criteria=("bic", "icl"), random_state=0)
    assert explicit.criteria == ("bic", "icl")

    auto = AutoGaussianMixture(n_components=4, criterion="icl", random_state=0, n_init=3).fit(X)
    assert auto.n_components_ == 1
    assert AutoGaussianMixture(n_components=4, criterion="bic", random_state=0, n_init=3).fit(X).n_components_ == 2


def test_icl_and_criteria_errors():
    X = _overlapping()
    with pytest.raises(ValueError, match="criterion"):
        sweep(X, n_components=2, criteria=("bic", "entropy"))
    with pytest.raises(ValueError, match="cv"):
        sweep(X, n_components=2, criteria=("bic", "cv"))
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        gm.icl(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        gm.icl(np.full((4, 2), np.nan))
