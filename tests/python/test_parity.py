"""Parity with scikit-learn (issue 2, acceptance 3).

From the same weights_init / means_init / precisions_init, EM is deterministic,
so gaussmix must reproduce ``sklearn.mixture.GaussianMixture``: weights_,
means_, covariances_, precisions_, precisions_cholesky_, n_iter_, lower_bound_
and lower_bounds_, to 1e-6 relative in float64 and 1e-3 in float32, for every
covariance type on several data sets (well separated, non-separated, correlated
and offset from the origin, one feature, 20 features, 6000 rows). Relative errors are taken against
the scale of each array (see ``assert_allclose_scaled``) so that entries that
are zero in exact arithmetic (off-diagonals) do not demand infinite precision.

In float32 the reference is scikit-learn run in float64 on the float32 data
and float32 initial parameters: scikit-learn's own float32 path loses digits
to cancellation on data away from the origin (scikit-learn issue 30382), which
gaussmix avoids by design.

With k-means initialisation the two libraries draw different random numbers,
so only the clustering is compared: adjusted Rand index > 0.99 on
well-separated blobs.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from estimator_helpers import (
    RandomData,
    assert_allclose_scaled,
    full_covariances,
    full_precisions,
    precision_cholesky_from_precisions,
    make_1d_data,
    make_blobs_data,
    make_correlated_data,
    make_overlapping_data,
    random_init,
)
from gaussmix import GaussianMixture

RTOL = {np.float64: 1e-6, np.float32: 1e-3}

_RANDOM_DATA = RandomData(np.random.RandomState(0))


def _high_dim_data():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 20)) @ rng.standard_normal((20, 20)) * 0.3
    return X + np.repeat(rng.standard_normal((3, 20)) * 3, 100, axis=0)


DATASETS = {
    # name: (covariance_type -> X, n_components)
    "separated": (lambda t: _RANDOM_DATA.X[t], 2),
    "overlapping": (lambda t: make_overlapping_data()[0], 3),
    "correlated_offset": (lambda t: make_correlated_data(), 4),
    "one_feature": (lambda t: make_1d_data(), 3),
    # 20 features, 300 rows: covariances estimated from ~100 points each
    "high_dim": (lambda t: _high_dim_data(), 3),
    # several thousand rows: many row blocks, so the blocked, threaded reduction is exercised
    "large": (lambda t: make_correlated_data(n_samples=6000, n_features=8, n_components=5,
                                             seed=5) - 100.0, 5),
}

FITTED = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]


def _fit_quietly(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


def _reference_and_ours(dataset, covariance_type, dtype, **params):
    make_X, n_components = DATASETS[dataset]
    X = make_X(covariance_type).astype(dtype)
    init = random_init(X, n_components, covariance_type, seed=0, dtype=dtype)
    kwargs = dict(n_components=n_components, covariance_type=covariance_type,
                  max_iter=300, **init, **params)
    ref = _fit_quietly(SkGaussianMixture(**kwargs), X.astype(np.float64))
    ours = _fit_quietly(GaussianMixture(**kwargs), X)
    return X, ref, ours


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_parity_from_given_initial_parameters(dataset, covariance_type, dtype):
    X, ref, ours = _reference_and_ours(dataset, covariance_type, dtype)
    rtol = RTOL[dtype]
    where = f"{dataset}/{covariance_type}/{np.dtype(dtype).name}"

    assert ours.n_iter_ == ref.n_iter_, where
    assert ours.converged_ == ref.converged_, where
    for attr in FITTED:
        got = getattr(ours, attr)
        assert np.shape(got) == np.shape(getattr(ref, attr)), f"{where}: {attr} shape"
        assert_allclose_scaled(got, getattr(ref, attr), rtol, err_msg=f"{where}: {attr}")
    np.testing.assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=rtol,
                               err_msg=f"{where}: lower_bound_")
    assert len(ours.lower_bounds_) == len(ref.lower_bounds_), where
    assert_allclose_scaled(ours.lower_bounds_, ref.lower_bounds_, rtol,
                           err_msg=f"{where}: lower_bounds_")


@pytest.mark.parametrize("dataset", ["overlapping", "correlated_offset"])
def test_parity_of_methods(dataset, covariance_type, dtype):
    """score_samples, predict_proba, predict, score, aic and bic on new data."""
    X, ref, ours = _reference_and_ours(dataset, covariance_type, dtype)
    rtol = RTOL[dtype]
    rng = np.random.RandomState(42)
    X_new = (X[rng.choice(len(X), 200)] + 0.3 * X.std(0) * rng.standard_normal((200, X.shape[1])))
    X_new = X_new.astype(dtype)
    X_ref = X_new.astype(np.float64)

    assert_allclose_scaled(ours.score_samples(X_new), ref.score_samples(X_ref), rtol,
                           err_msg="score_samples")
    assert_allclose_scaled(ours.predict_proba(X_new), ref.predict_proba(X_ref),
                           10 * rtol, err_msg="predict_proba")
    # labels may differ only where two components are (nearly) tied
    proba = ref.predict_proba(X_ref)
    top2 = np.sort(proba, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 100 * rtol
    np.testing.assert_array_equal(ours.predict(X_new)[clear], ref.predict(X_ref)[clear])
    for method in ("score", "aic", "bic"):
        np.testing.assert_allclose(getattr(ours, method)(X_new), getattr(ref, method)(X_ref),
                                   rtol=rtol, err_msg=method)


@pytest.mark.parametrize("dataset", ["separated", "overlapping"])
def test_parity_without_regularisation_and_tight_tol(dataset, covariance_type):
    """reg_covar=0 and tol=1e-8: many more iterations, still the same path."""
    X, ref, ours = _reference_and_ours(dataset, covariance_type, np.float64,
                                       reg_covar=0.0, tol=1e-8)
    assert ours.n_iter_ == ref.n_iter_
    for attr in FITTED:
        assert_allclose_scaled(getattr(ours, attr), getattr(ref, attr), 1e-6, err_msg=attr)
    np.testing.assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=1e-6)


def test_parity_warm_start(covariance_type):
    """Three warm-started fits of 2 iterations follow scikit-learn's path,
    including its convergence test against the previous fit's lower bound."""
    X, n_components = make_overlapping_data()[0], 3
    init = random_init(X, n_components, covariance_type, seed=1)
    kwargs = dict(n_components=n_components, covariance_type=covariance_type, max_iter=2,
                  warm_start=True, **init)
    ref, ours = SkGaussianMixture(**kwargs), GaussianMixture(**kwargs)
    for step in range(3):
        _fit_quietly(ref, X)
        _fit_quietly(ours, X)
        assert ours.n_iter_ == ref.n_iter_, step
        assert ours.converged_ == ref.converged_, step
        for attr in FITTED:
            assert_allclose_scaled(getattr(ours, attr), getattr(ref, attr), 1e-6,
                                   err_msg=f"step {step}: {attr}")
        np.testing.assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=1e-6)


def test_parity_max_iter_zero_returns_initial_parameters(covariance_type):
    """max_iter=0: the model is the given initial one, its precision Cholesky
    factors computed from precisions_init as scikit-learn computes them
    (scikit-learn itself cannot be the reference here: with all three init
    arrays and max_iter=0 its fit raises AttributeError on covariances_)."""
    X, n_components = make_overlapping_data()[0], 3
    n_features = X.shape[1]
    init = random_init(X, n_components, covariance_type, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # no warning for max_iter=0
        ours = GaussianMixture(n_components=n_components, covariance_type=covariance_type,
                               max_iter=0, **init).fit(X)
    assert ours.n_iter_ == 0
    assert_allclose_scaled(ours.weights_, init["weights_init"], 1e-12)
    assert_allclose_scaled(ours.means_, init["means_init"], 1e-12)
    assert_allclose_scaled(ours.precisions_, init["precisions_init"], 1e-10)
    expected_chol = precision_cholesky_from_precisions(init["precisions_init"],
                                                       covariance_type)
    assert_allclose_scaled(ours.precisions_cholesky_, expected_chol, 1e-10)
    # and the covariances are the inverse precisions
    precisions = full_precisions(init["precisions_init"], covariance_type, n_components,
                                 n_features)
    expected_cov = np.linalg.inv(precisions)
    got_cov = full_covariances(ours.covariances_, covariance_type, n_components, n_features)
    assert_allclose_scaled(got_cov, expected_cov, 1e-10)
    # the model scores like the reference model built from the same parameters
    ref = SkGaussianMixture(n_components=n_components, covariance_type=covariance_type)
    ref.weights_, ref.means_ = init["weights_init"], init["means_init"]
    ref.precisions_cholesky_ = expected_chol
    assert_allclose_scaled(ours.score_samples(X), ref.score_samples(X), 1e-10)
    assert_allclose_scaled(ours.predict_proba(X), ref.predict_proba(X), 1e-8)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++"])
def test_kmeans_init_labels_agree_on_separated_blobs(covariance_type, init_params):
    X, y = make_blobs_data()
    kwargs = dict(n_components=4, covariance_type=covariance_type, random_state=0,
                  init_params=init_params, n_init=3)
    labels_ref = SkGaussianMixture(**kwargs).fit(X).predict(X)
    ours = GaussianMixture(**kwargs).fit(X)
    labels = ours.predict(X)
    assert adjusted_rand_score(labels_ref, labels) > 0.99
    assert adjusted_rand_score(y, labels) > 0.99
    assert ours.converged_
