"""Marginals and conditionals: against the closed form for one Gaussian, a naive NumPy
conditional-Gaussian formula (explicit inverses, scipy densities) for mixtures of every
covariance type, a Monte Carlo estimate, and hostile input."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from gaussmix import GaussianMixture

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def _model(covariance_type, seed=0, K=3, D=4):
    rng = np.random.RandomState(seed)
    weights = rng.dirichlet(np.ones(K) * 3)
    means = rng.randn(K, D) * 2
    A = rng.randn(K, D, D)
    full = A @ A.transpose(0, 2, 1) + 0.3 * np.eye(D)
    covariances = {"full": full, "tied": full[0], "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
                   "spherical": np.linspace(0.5, 2, K)}[covariance_type]
    return GaussianMixture.from_parameters(weights, means, covariances=covariances, covariance_type=covariance_type)


def _dense(gm):
    K, D = gm.means_.shape
    c = gm.covariances_
    return {"full": lambda: c, "tied": lambda: np.repeat(c[None], K, 0),
            "diag": lambda: np.array([np.diag(v) for v in c]),
            "spherical": lambda: np.array([v * np.eye(D) for v in c])}[gm.covariance_type]()


def _naive_condition(gm, given, values):
    """The textbook formulas with explicit inverses: (weights, means, covariances)."""
    D = gm.means_.shape[1]
    rest = [f for f in range(D) if f not in given]
    log_w, means, covs = [], [], []
    for w, mu, S in zip(gm.weights_, gm.means_, _dense(gm)):
        Sgg, Srg, Srr = S[np.ix_(given, given)], S[np.ix_(rest, given)], S[np.ix_(rest, rest)]
        inv = np.linalg.inv(Sgg)
        log_w.append(np.log(w) + stats.multivariate_normal(mu[given], Sgg).logpdf(values))
        means.append(mu[rest] + Srg @ inv @ (values - mu[given]))
        covs.append(Srr - Srg @ inv @ Srg.T)
    log_w = np.array(log_w)
    return np.exp(log_w - logsumexp(log_w)), np.array(means), np.array(covs)


def test_one_gaussian_closed_form():
    cov = np.array([[2.0, 0.6, -0.4], [0.6, 1.0, 0.3], [-0.4, 0.3, 1.5]])
    mu = np.array([1.0, -1.0, 0.5])
    gm = GaussianMixture.from_parameters([1.0], mu[None], covariances=cov[None])
    cond = gm.condition([1], [0.25])
    # x_{0,2} | x_1 = a ~ N(mu_r + c (a - mu_1) / s11, C_rr - c c^T / s11), c = cov[[0, 2], 1]
    c = cov[[0, 2], 1]
    np.testing.assert_allclose(cond.means_[0], mu[[0, 2]] + c * (0.25 + 1.0) / 1.0, rtol=1e-12)
    np.testing.assert_allclose(cond.covariances_[0], cov[np.ix_([0, 2], [0, 2])] - np.outer(c, c), rtol=1e-12)
    np.testing.assert_allclose(cond.weights_, [1.0])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_condition_matches_the_naive_formula(covariance_type):
    gm = _model(covariance_type)
    given, values = [3, 1], np.array([0.7, -1.2])
    cond = gm.condition(given, values)
    weights, means, covs = _naive_condition(gm, given, values)
    np.testing.assert_allclose(cond.weights_, weights, rtol=1e-9)
    np.testing.assert_allclose(cond.weights_.sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(cond.means_, means, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(_dense(cond), covs, rtol=1e-9, atol=1e-12)
    # diag and spherical stay diagonal, tied stays tied, full stays full.
    assert cond.covariance_type == covariance_type
    assert cond.means_.shape == (3, 2)
    # The conditional density, as a check that its parameters form a valid mixture.
    x = np.random.RandomState(0).randn(5, 2)
    ref = logsumexp([np.log(w) + stats.multivariate_normal(m, c).logpdf(x) for w, m, c in zip(weights, means, covs)],
                    axis=0)
    np.testing.assert_allclose(cond.score_samples(x), ref, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_batch_matches_rows_and_mixture_moments(covariance_type):
    gm = _model(covariance_type)
    values = np.random.RandomState(2).randn(300, 1) * 2
    batch = gm.condition_batch([2], values)
    assert batch.weights.shape == (300, 3) and batch.means.shape == (300, 3, 3) and batch.mean.shape == (300, 3)
    np.testing.assert_allclose(batch.weights.sum(axis=1), 1.0, rtol=1e-12)
    assert list(batch.features) == [0, 1, 3]
    for i in (0, 150, 299):
        weights, means, covs = _naive_condition(gm, [2], values[i])
        np.testing.assert_allclose(batch.weights[i], weights, rtol=1e-9)
        np.testing.assert_allclose(batch.means[i], means, rtol=1e-9, atol=1e-12)
        mean = weights @ means
        second = np.einsum("k,kj->j", weights, np.diagonal(covs, axis1=1, axis2=2) + means ** 2)
        np.testing.assert_allclose(batch.mean[i], mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(batch.variance[i], second - mean ** 2, rtol=1e-8, atol=1e-12)
        single = batch.mixture(i)
        np.testing.assert_allclose(single.means_, means, rtol=1e-9, atol=1e-12)


def test_conditional_mean_matches_monte_carlo():
    """Draw from a 2-D mixture, keep the draws whose x0 falls in a narrow window around a, and
    compare the mean of their x1 with E[x1 | x0 = a]."""
    covs = np.array([[[1.0, 0.8], [0.8, 1.0]], [[0.5, -0.3], [-0.3, 1.0]]])
    gm = GaussianMixture.from_parameters([0.4, 0.6], [[0.0, 0.0], [1.5, 3.0]], covariances=covs)
    X, _ = gm.sample(2_000_000, random_state=1)
    for a in (-0.5, 0.75, 2.0):
        near = X[np.abs(X[:, 0] - a) < 0.02, 1]
        expected = gm.condition([0], [a])
        mean = expected.weights_ @ expected.means_[:, 0]
        assert abs(near.mean() - mean) < 4 * near.std() / np.sqrt(near.size) + 0.01, (a, near.mean(), mean)
        batch = gm.condition_batch([0], [[a]])
        np.testing.assert_allclose(batch.mean[0, 0], mean, rtol=1e-12)
        np.testing.assert_allclose(np.sqrt(batch.variance[0, 0]), near.std(), rtol=0.05)


def test_conditioning_on_no_features_returns_the_model():
    gm = _model("full")
    same = gm.condition([], [])
    assert same is not gm
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(same, name), getattr(gm, name))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_marginal_is_the_mixture_of_the_selected_features(covariance_type):
    gm = _model(covariance_type)
    m = gm.marginal([3, 0])
    dense = _dense(gm)
    x = np.random.RandomState(3).randn(20, 2)
    ref = logsumexp([np.log(w) + stats.multivariate_normal(mu[[3, 0]], S[np.ix_([3, 0], [3, 0])]).logpdf(x)
                     for w, mu, S in zip(gm.weights_, gm.means_, dense)], axis=0)
    np.testing.assert_allclose(m.score_samples(x), ref, rtol=1e-10)
    assert m.covariance_type == covariance_type


def test_float32_model_conditions_in_float32():
    gm = GaussianMixture(2, random_state=0).fit(np.random.RandomState(0).randn(200, 3).astype(np.float32))
    cond = gm.condition([0], [0.5])
    assert cond.means_.dtype == np.float32
    assert gm.condition_batch([0, 2], np.zeros((4, 2))).mean.dtype == np.float32


def test_uses_the_fitted_covariance_type():
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(np.random.RandomState(0).randn(100, 3))
    gm.set_params(covariance_type="full")
    assert gm.condition([0], [0.0]).covariance_type == "diag"
    assert gm.marginal([1]).covariance_type == "diag"


@pytest.mark.parametrize("features, values, error, message", [
    ([0, 0], [1.0, 1.0], ValueError, "duplicates"),
    ([4], [1.0], ValueError, "out of range"),
    ([-5], [1.0], ValueError, "out of range"),
    ([0, 1, 2, 3], [0.0] * 4, ValueError, "nothing is left"),
    ([0], [1.0, 2.0], ValueError, "expected one per given feature"),
    ([0], [np.nan], ValueError, "NaN"),
    ([0], [np.inf], ValueError, "infinity"),
    ([0], ["a"], ValueError, "could not convert|dtype"),
    ([0.5], [1.0], TypeError, "integers or names"),
    ([True], [1.0], TypeError, "integers or names"),
    (["x"], [1.0], ValueError, "without feature names"),
    (None, [1.0], TypeError, "sequence"),
    ([], [1.0], ValueError, "no feature is given"),
    ([0], [[1.0]], ValueError, "1-dimensional|2D|expected"),
])
def test_condition_rejects_hostile_input(features, values, error, message):
    gm = _model("full")
    with pytest.raises(error, match=message):
        gm.condition(features, values)


def test_batch_and_marginal_reject_hostile_input():
    gm = _model("tied")
    with pytest.raises(ValueError, match="2D|expected"):
        gm.condition_batch([0], [1.0, 2.0])
    with pytest.raises(ValueError, match="expected one per given"):
        gm.condition_batch([0], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        gm.condition_batch([0], np.full((3, 1), np.nan))
    with pytest.raises(ValueError, match="empty"):
        gm.marginal([])
    with pytest.raises(ValueError, match="empty"):
        gm.condition_batch([], np.zeros((3, 0)))
    with pytest.raises(ValueError, match="out of range"):
        gm.marginal([7])
