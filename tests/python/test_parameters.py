"""GaussianMixture.from_parameters, gaussmix.from_sklearn and gm.to_sklearn: models without a
fit, scored against scipy, converted exactly, and hostile parameters rejected clearly."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import gaussmix
from gaussmix import GaussianMixture

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
K, D = 3, 2


def _parameters(covariance_type, seed=0):
    rng = np.random.RandomState(seed)
    weights = np.array([0.2, 0.3, 0.5])
    means = rng.randn(K, D) * 3
    A = rng.randn(K, D, D)
    full = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(D)
    covariances = {"full": full, "tied": full[0], "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
                   "spherical": np.array([0.5, 1.0, 2.0])}[covariance_type]
    dense = {"full": full, "tied": np.repeat(full[:1], K, 0),
             "diag": np.array([np.diag(np.diagonal(c)) for c in full]),
             "spherical": np.array([v * np.eye(D) for v in covariances])}[covariance_type]
    return weights, means, covariances, dense


def _scipy_score(X, weights, means, dense):
    return logsumexp([np.log(w) + stats.multivariate_normal(m, c).logpdf(X) for w, m, c in zip(weights, means, dense)],
                     axis=0)


def _precision_cholesky_by_numpy(covariances, covariance_type):
    """U with U U^T = inverse(covariance), upper triangular: an independent NumPy computation."""
    if covariance_type in ("diag", "spherical"):
        return 1 / np.sqrt(covariances)
    stack = covariances.reshape(-1, D, D)
    out = []
    for c in stack:
        L = np.linalg.cholesky(np.linalg.inv(c)[::-1, ::-1])
        out.append(L[::-1, ::-1])  # P = (J L J)(J L J)^T with J L J upper triangular
    return np.array(out).reshape(covariances.shape)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("kind", ["covariances", "precisions", "precisions_cholesky"])
def test_from_parameters_scores_like_scipy(covariance_type, kind):
    weights, means, covariances, dense = _parameters(covariance_type)
    given = {"covariances": covariances,
             "precisions": np.linalg.inv(covariances) if covariance_type in ("full", "tied") else 1 / covariances,
             "precisions_cholesky": _precision_cholesky_by_numpy(covariances, covariance_type)}[kind]
    gm = GaussianMixture.from_parameters(weights, means, covariance_type=covariance_type, **{kind: given})
    X = np.random.RandomState(1).randn(50, D) * 3
    np.testing.assert_allclose(gm.score_samples(X), _scipy_score(X, weights, means, dense), rtol=1e-10)
    np.testing.assert_allclose(gm.covariances_, covariances, rtol=1e-10, atol=1e-12)
    assert gm.predict(X).shape == (50,) and gm.sample(10, random_state=0)[0].shape == (10, D)
    assert gm.converged_ and gm.n_iter_ == 0 and gm.n_features_in_ == D and gm.n_components == K


def test_from_parameters_float32():
    weights, means, covariances, _ = _parameters("diag")
    gm = GaussianMixture.from_parameters(weights.astype(np.float32), means.astype(np.float32),
                                         covariances=covariances.astype(np.float32), covariance_type="diag")
    assert gm.means_.dtype == np.float32 and gm.precisions_cholesky_.dtype == np.float32
    assert gm.score_samples(means.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(covariances=None), ValueError, "exactly one"),
    (dict(covariances=np.ones(3), precisions=np.ones(3)), ValueError, "exactly one"),
    (dict(covariances=np.ones(4)), ValueError, "shape"),
    (dict(covariances=np.ones((3, 2))), ValueError, "shape"),
    (dict(covariances=-np.ones(3)), ValueError, "positive"),
    (dict(covariances=np.array([1.0, np.nan, 1.0])), ValueError, "NaN"),
    (dict(covariances=np.array([1.0, np.inf, 1.0])), ValueError, "infinity"),
    (dict(covariances=np.ones(3), covariance_type="round"), ValueError, "covariance_type"),
    (dict(covariances=np.ones(3), covariance_type=None), ValueError, "covariance_type"),
    (dict(covariances=["a", "b", "c"]), ValueError, "could not convert|dtype"),
    (dict(precisions_cholesky=np.zeros(3)), ValueError, "positive"),
])
def test_from_parameters_rejects_hostile_parameters(kwargs, error, message):
    kwargs.setdefault("covariance_type", "spherical")
    with pytest.raises(error, match=message):
        GaussianMixture.from_parameters([0.2, 0.3, 0.5], np.zeros((3, 2)), **kwargs)


@pytest.mark.parametrize("weights, means, message", [
    ([0.5, 0.6, -0.1], np.zeros((3, 2)), "negative"),
    ([0.2, 0.2, 0.2], np.zeros((3, 2)), "sum"),
    ([0.5, 0.5], np.zeros((3, 2)), "weights has shape"),
    ([0.2, 0.3, 0.5], np.zeros(3), "2D"),
    ([0.2, 0.3, 0.5], np.full((3, 2), np.nan), "NaN"),
    ([0.2, np.nan, 0.5], np.zeros((3, 2)), "NaN"),
])
def test_from_parameters_rejects_bad_weights_and_means(weights, means, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture.from_parameters(weights, means, covariances=np.ones(3), covariance_type="spherical")


def test_from_parameters_rejects_non_positive_definite():
    covariances = np.array([[[1.0, 2.0], [2.0, 1.0]]] * 3)
    with pytest.raises(gaussmix.NumericalError, match="positive definite"):
        GaussianMixture.from_parameters([0.2, 0.3, 0.5], np.zeros((3, 2)), covariances=covariances)
    asymmetric = np.array([[[1.0, 0.5], [0.0, 1.0]]] * 3)
    with pytest.raises(ValueError, match="symmetric"):
        GaussianMixture.from_parameters([0.2, 0.3, 0.5], np.zeros((3, 2)), covariances=asymmetric)
    lower = np.array([[[1.0, 0.0], [0.5, 1.0]]] * 3)
    with pytest.raises(ValueError, match="upper triangular"):
        GaussianMixture.from_parameters([0.2, 0.3, 0.5], np.zeros((3, 2)), precisions_cholesky=lower)


def _blobs(seed=0):
    rng = np.random.RandomState(seed)
    return np.vstack([rng.randn(100, D) + [0, 0], rng.randn(100, D) @ [[1, 0.5], [0, 1]] + [6, 3],
                      rng.randn(100, D) * 0.5 + [-4, 6]])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sklearn_conversion_is_exact_both_ways(covariance_type):
    X = _blobs()
    sk = SkGaussianMixture(3, covariance_type=covariance_type, random_state=0, tol=1e-4).fit(X)
    gm = gaussmix.from_sklearn(sk)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(gm, name).tobytes() == getattr(sk, name).tobytes(), name
    assert (gm.converged_, gm.n_iter_, gm.lower_bound_) == (sk.converged_, sk.n_iter_, sk.lower_bound_)
    assert gm.get_params()["tol"] == 1e-4 and gm.covariance_type == covariance_type
    np.testing.assert_allclose(gm.score_samples(X), sk.score_samples(X), rtol=1e-12)
    np.testing.assert_array_equal(gm.predict(X), sk.predict(X))

    back = gm.to_sklearn()
    assert isinstance(back, SkGaussianMixture)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(back, name).tobytes() == getattr(sk, name).tobytes(), name
    np.testing.assert_array_equal(back.score_samples(X), sk.score_samples(X))

    ours = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    theirs = ours.to_sklearn()
    np.testing.assert_allclose(theirs.score_samples(X), ours.score_samples(X), rtol=1e-12)
    assert theirs.sample(5)[0].shape == (5, D)


def test_to_sklearn_uses_the_fitted_covariance_type():
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(_blobs())
    gm.set_params(covariance_type="full")
    assert gm.to_sklearn().covariance_type == "diag"


def test_from_sklearn_rejects_what_it_cannot_convert():
    with pytest.raises(TypeError, match="sklearn.mixture.GaussianMixture"):
        gaussmix.from_sklearn(GaussianMixture())
    with pytest.raises(NotFittedError):
        gaussmix.from_sklearn(SkGaussianMixture())
    with pytest.raises(NotFittedError):
        GaussianMixture().to_sklearn()
    sk = SkGaussianMixture(2, random_state=0).fit(_blobs())
    sk.covariances_ = sk.covariances_ * 4  # no longer the inverse of the precisions
    with pytest.raises(ValueError, match="does not match"):
        gaussmix.from_sklearn(sk)
