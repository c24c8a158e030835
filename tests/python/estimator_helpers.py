"""Helpers shared by the estimator tests (data generators, initial parameters,
reference computations). Ported in spirit from scikit-learn's
``sklearn/mixture/tests/test_gaussian_mixture.py``."""

import numpy as np
from numpy.testing import assert_allclose
from scipy import linalg, stats
from scipy.special import logsumexp
from sklearn.datasets import make_blobs, make_spd_matrix
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import gaussmix

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
INIT_PARAMS = ["kmeans", "k-means++", "random", "random_from_data"]


def is_standin():
    """True when ``gaussmix.GaussianMixture`` is scikit-learn's class (a scratch
    overlay used to validate the tests before the real package is built)."""
    return gaussmix.GaussianMixture is SkGaussianMixture


def precision_shape(covariance_type, n_components, n_features):
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]


def n_parameters(covariance_type, n_components, n_features):
    """scikit-learn's ``_n_parameters`` table: means, covariances, weights - 1."""
    cov = {
        "full": n_components * n_features * (n_features + 1) // 2,
        "tied": n_features * (n_features + 1) // 2,
        "diag": n_components * n_features,
        "spherical": n_components,
    }[covariance_type]
    return cov + n_components * n_features + n_components - 1


def full_covariances(covariances, covariance_type, n_components, n_features):
    """Expand covariances_ of any type to an (n_components, d, d) stack."""
    c = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        return c
    if covariance_type == "tied":
        return np.repeat(c[None], n_components, axis=0)
    if covariance_type == "diag":
        return np.array([np.diag(v) for v in c])
    return np.array([v * np.eye(n_features) for v in c])


def full_precisions(precisions, covariance_type, n_components, n_features):
    return full_covariances(precisions, covariance_type, n_components, n_features)


def model_full_covariances(gm):
    k, d = gm.means_.shape
    return full_covariances(gm.covariances_, gm.covariance_type, k, d)


def scipy_log_resp(X, weights, means, covs):
    """Per-component log(w_k N(x | mu_k, S_k)) with scipy, shape (n, k)."""
    X = np.asarray(X, dtype=np.float64)
    return np.column_stack(
        [
            np.log(w) + stats.multivariate_normal(mean=m, cov=c).logpdf(X).reshape(-1)
            for w, m, c in zip(weights, means, covs)
        ]
    )


def scipy_score_samples(X, weights, means, covs):
    return logsumexp(scipy_log_resp(X, weights, means, covs), axis=1)


def assert_allclose_scaled(actual, desired, rtol, err_msg=""):
    """``assert_allclose`` with an absolute floor of ``rtol * max|desired|``,
    so entries that are zero or near zero in one array (off-diagonal
    covariances, Cholesky factors, centred means) are judged relative to the
    array's scale rather than to themselves."""
    desired = np.asarray(desired, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    assert actual.shape == desired.shape, f"{err_msg}: shape {actual.shape} != {desired.shape}"
    scale = float(np.max(np.abs(desired))) if desired.size else 0.0
    assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale, err_msg=err_msg)


# --------------------------------------------------------------------------- data


def generate_data(n_samples, n_features, weights, means, covariances, covariance_type, dtype):
    rng = np.random.RandomState(0)
    X = []
    for k, (w, m) in enumerate(zip(weights, means)):
        n = int(np.round(w * n_samples))
        if covariance_type == "spherical":
            c = covariances["spherical"][k] * np.eye(n_features)
        elif covariance_type == "diag":
            c = np.diag(covariances["diag"][k])
        elif covariance_type == "tied":
            c = covariances["tied"]
        else:
            c = covariances["full"][k]
        X.append(rng.multivariate_normal(m, c, n).astype(dtype))
    return np.vstack(X)


class RandomData:
    """scikit-learn's RandomData: random mixture parameters and samples drawn
    from them for each covariance type (``X[type]``, true labels ``Y``)."""

    def __init__(self, rng, n_samples=200, n_components=2, n_features=2, scale=50,
                 dtype=np.float64):
        self.n_samples = n_samples
        self.n_components = n_components
        self.n_features = n_features
        self.weights = rng.rand(n_components).astype(dtype)
        self.weights = self.weights / self.weights.sum()
        self.means = rng.rand(n_components, n_features).astype(dtype) * scale
        self.covariances = {
            "spherical": 0.5 + rng.rand(n_components).astype(dtype),
            "diag": (0.5 + rng.rand(n_components, n_features).astype(dtype)) ** 2,
            "tied": make_spd_matrix(n_features, random_state=rng).astype(dtype),
            "full": np.array(
                [make_spd_matrix(n_features, random_state=rng).astype(dtype) * 0.5
                 for _ in range(n_components)]
            ),
        }
        self.precisions = {
            "spherical": 1.0 / self.covariances["spherical"],
            "diag": 1.0 / self.covariances["diag"],
            "tied": linalg.inv(self.covariances["tied"]),
            "full": np.array([linalg.inv(c) for c in self.covariances["full"]]),
        }
        self.X = {
            t: generate_data(n_samples, n_features, self.weights, self.means,
                             self.covariances, t, dtype)
            for t in COVARIANCE_TYPES
        }
        self.Y = np.hstack(
            [np.full(int(np.round(w * n_samples)), k, dtype=int)
             for k, w in enumerate(self.weights)]
        )


def make_blobs_data(n_samples=600, n_features=3, centers=4, seed=0):
    """Well-separated isotropic blobs: centres >= ~10 std apart."""
    X, y = make_blobs(n_samples=n_samples, n_features=n_features, centers=centers,
                      cluster_std=0.6, center_box=(-20.0, 20.0), random_state=seed)
    return X, y


def make_overlapping_data(n_samples=500, seed=1):
    """Three non-separated components in 3-D (means within 1.5 std of each
    other, different shapes): many EM iterations, soft responsibilities."""
    rng = np.random.RandomState(seed)
    means = np.array([[0.0, 0.0, 0.0], [1.5, 0.5, -0.5], [-0.5, 1.5, 1.0]])
    covs = [make_spd_matrix(3, random_state=rng) * s for s in (1.0, 0.7, 1.3)]
    sizes = [n_samples // 2, n_samples // 3, n_samples - n_samples // 2 - n_samples // 3]
    X = np.vstack([rng.multivariate_normal(m, c, n) for m, c, n in zip(means, covs, sizes)])
    y = np.repeat(np.arange(3), sizes)
    return X, y


def make_correlated_data(n_samples=400, n_features=5, n_components=4, seed=2):
    """Anisotropic, correlated clusters away from the origin (offset 100)."""
    rng = np.random.RandomState(seed)
    means = 100.0 + rng.uniform(-6, 6, size=(n_components, n_features))
    X = np.vstack([
        rng.multivariate_normal(m, make_spd_matrix(n_features, random_state=rng),
                                n_samples // n_components)
        for m in means
    ])
    return X


def make_1d_data(n_samples=300, seed=3):
    """One feature, three overlapping components."""
    rng = np.random.RandomState(seed)
    X = np.concatenate([rng.normal(-1.0, 1.0, n_samples // 3),
                        rng.normal(1.0, 0.5, n_samples // 3),
                        rng.normal(2.5, 1.5, n_samples - 2 * (n_samples // 3))])
    return X[:, None]


def random_init(X, n_components, covariance_type, seed=0, dtype=np.float64):
    """Random but sensible weights_init, means_init, precisions_init for X:
    weights from a Dirichlet, means near random data points, precisions the
    inverse of randomly rescaled and rotated versions of the data covariance."""
    rng = np.random.RandomState(seed)
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    weights = rng.dirichlet(5.0 * np.ones(n_components))
    weights = weights / weights.sum()
    std = X.std(axis=0)
    idx = rng.choice(n_samples, n_components, replace=False)
    means = X[idx] + 0.1 * std * rng.standard_normal((n_components, n_features))
    data_cov = np.atleast_2d(np.cov(X.T, bias=True))

    def spd():
        a = rng.standard_normal((n_features, n_features)) * 0.3
        return (0.5 + rng.rand()) * data_cov + a @ a.T * np.mean(np.diag(data_cov)) * 0.1

    if covariance_type == "full":
        precisions = np.array([linalg.inv(spd()) for _ in range(n_components)])
    elif covariance_type == "tied":
        precisions = linalg.inv(spd())
    elif covariance_type == "diag":
        precisions = 1.0 / (np.diag(data_cov) * (0.5 + rng.rand(n_components, n_features)))
    else:
        precisions = 1.0 / (np.mean(np.diag(data_cov)) * (0.5 + rng.rand(n_components)))
    if covariance_type in ("full", "tied"):
        precisions = 0.5 * (precisions + np.swapaxes(precisions, -1, -2))
    return dict(weights_init=weights.astype(dtype), means_init=means.astype(dtype),
                precisions_init=precisions.astype(dtype))


def upper_cholesky_factor(precision):
    """The upper-triangular U with positive diagonal and U @ U.T == precision,
    the form scikit-learn keeps in precisions_cholesky_ (full and tied)."""
    P = np.asarray(precision, dtype=np.float64)
    Lf = np.linalg.cholesky(P[::-1, ::-1])
    return Lf[::-1, ::-1]


def precision_cholesky_from_precisions(precisions, covariance_type):
    """precisions_cholesky_ that corresponds to given precisions, per type."""
    P = np.asarray(precisions, dtype=np.float64)
    if covariance_type == "full":
        return np.array([upper_cholesky_factor(p) for p in P])
    if covariance_type == "tied":
        return upper_cholesky_factor(P)
    return np.sqrt(P)
