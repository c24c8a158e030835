"""Bad input (issue 2, acceptance 6): each a clear exception, never a crash.

Messages are matched on robust keywords (the parameter's name), following
scikit-learn's texts where scikit-learn rejects the same thing: validate_data
("contains NaN", "Expected 2D array", ...), InvalidParameterError (a ValueError
subclass) for constructor parameters, "The parameter 'means' should have the
shape of ..." for initial arrays. Degenerate data must give a usable model or
a clear ValueError, never NaN parameters.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from estimator_helpers import (
    COVARIANCE_TYPES,
    RandomData,
    make_overlapping_data,
    precision_shape,
)
from gaussmix import GaussianMixture
from gaussmix.model_selection import sweep

FITTED = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]


@pytest.fixture
def X():
    return make_overlapping_data(n_samples=60)[0]


# --------------------------------------------------------------------------- data


@pytest.mark.parametrize(
    "make_bad, match",
    [
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), "NaN"),
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.inf, X), "infinity"),
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, -np.inf, X), "infinity"),
        (lambda X: X[:, 0], "Expected 2D array"),
        (lambda X: X[None], "dim 3"),
        (lambda X: X[:0], "0 sample"),
        (lambda X: X[:, :0], "0 feature"),
        (lambda X: X.astype(complex) + 1j, "[Cc]omplex"),
        (lambda X: np.full(X.shape, "a"), "convert|numeric|string"),
        (lambda X: np.float64(3.0), "Expected 2D array"),
    ],
    ids=["nan", "inf", "-inf", "1d", "3d", "no_samples", "no_features", "complex", "strings",
         "scalar"],
)
@pytest.mark.parametrize("method", ["fit", "fit_predict", "sweep"])
def test_bad_training_data(X, make_bad, match, method):
    with pytest.raises(ValueError, match=match):
        if method == "sweep":  # validates X once for all its fits
            sweep(make_bad(X), [1, 2], random_state=0)
        else:
            getattr(GaussianMixture(n_components=1), method)(make_bad(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad, match", [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity"),
                                        (-np.inf, "Input X contains infinity")])
@pytest.mark.parametrize("warm", [False, True])
def test_non_finite_data_found_by_the_core_reported_in_sklearns_words(X, dtype, bad, match, warm):
    # fit() leaves finiteness to the core's first pass over X; the error still reads as
    # scikit-learn's, for a fresh fit and for a warm start (the core's fit_from).
    gm = GaussianMixture(2, random_state=0, warm_start=warm).fit(X.astype(dtype))
    X_bad = X.astype(dtype)
    X_bad[len(X) - 1, 1] = bad  # the last row: the core's pass, not a check of the first row, finds it
    with pytest.raises(ValueError, match=match):
        gm.fit(X_bad)


def test_finite_fit_makes_no_separate_finiteness_pass(X, monkeypatch):
    import sklearn.utils.validation as validation

    import gaussmix._estimator as estimator

    calls = []
    original = validation._assert_all_finite
    monkeypatch.setattr(validation, "_assert_all_finite", lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setattr(estimator, "assert_all_finite", lambda *a, **k: calls.append(1))
    GaussianMixture(2, random_state=0).fit(X)
    assert calls == []


def test_fit_validates_any_array_but_the_one_a_sweep_marked(X):
    # The sweep hands a fit the array it validated; fit skips validating only that very object.
    from gaussmix._estimator import _SweepFit

    gm = GaussianMixture(2, random_state=0)
    gm._sweep_fit = _SweepFit(X)
    with pytest.raises(ValueError, match="NaN"):
        gm.fit(np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X))
    assert "_sweep_fit" not in gm.__dict__
    gm._sweep_fit = fit = _SweepFit(X)
    assert gm.fit(X.tolist()).n_features_in_ == X.shape[1]  # a list: converted by validation
    assert fit.score is None  # not the sweep's array: no score from the core
    gm._sweep_fit = fit = _SweepFit(X)
    gm.fit(X)
    assert fit.score == pytest.approx(gm.score(X), rel=1e-12)


def test_sparse_data_raises_type_error(X):
    # scikit-learn raises TypeError for sparse input to a dense-only estimator
    with pytest.raises(TypeError, match="[Ss]parse"):
        GaussianMixture(n_components=2).fit(sp.csr_matrix(X))


def test_fewer_samples_than_components(X):
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(n_components=5).fit(X[:4])


def test_single_sample_rejected_like_sklearn(X):
    # scikit-learn requires at least 2 samples (ensure_min_samples=2)
    with pytest.raises(ValueError, match="sample"):
        GaussianMixture(n_components=1).fit(X[:1])


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_components=0), "n_components"),
        (dict(n_components=-2), "n_components"),
        (dict(n_components=1.5), "n_components"),
        (dict(n_components="2"), "n_components"),
        (dict(covariance_type="diagonal"), "covariance_type"),
        (dict(covariance_type=None), "covariance_type"),
        (dict(init_params="kmeans+"), "init_params"),
        (dict(init_params=None), "init_params"),
        (dict(tol=-1e-3), "tol"),
        (dict(tol=np.nan), "tol"),
        (dict(reg_covar=-1e-6), "reg_covar"),
        (dict(max_iter=-1), "max_iter"),
        (dict(max_iter=2.5), "max_iter"),
        (dict(n_init=0), "n_init"),
        (dict(verbose_interval=0), "verbose_interval"),
        (dict(verbose=-1), "verbose"),
        (dict(random_state="seed"), "random_state"),
        (dict(warm_start="yes"), "warm_start"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_invalid_constructor_parameters(X, params, match):
    gm = GaussianMixture(**params)  # like scikit-learn, __init__ only stores
    with pytest.raises(ValueError, match=match):
        gm.fit(X)


def test_invalid_parameter_is_sklearns_error_type(X):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="n_components"):
        GaussianMixture(n_components=0).fit(X)


# --------------------------------------------------------------------------- init arrays


def test_weights_init_validation(X):
    k = 3
    for bad, match in [
        (np.full((k, 1), 1 / k), "weights.*shape|shape.*weights"),
        (np.full(k + 1, 1 / (k + 1)), "weights.*shape|shape.*weights"),
        (np.array([0.5, 0.6, -0.1]), "weights"),  # negative
        (np.array([0.2, 0.2, 0.2]), "weights"),  # sums to 0.6
        (np.array([0.5, 0.5, 0.5]), "weights"),  # sums to 1.5
        (np.array([np.nan, 0.5, 0.5]), "NaN|weights"),
    ]:
        with pytest.raises(ValueError, match=match):
            GaussianMixture(n_components=k, weights_init=bad).fit(X)


def test_means_init_validation(X):
    k, d = 3, X.shape[1]
    for bad in [np.zeros((k + 1, d)), np.zeros((k, d + 1)), np.zeros(k * d), np.zeros((k, d, 1))]:
        with pytest.raises(ValueError, match="means.*shape|shape.*means|dim"):
            GaussianMixture(n_components=k, means_init=bad).fit(X)
    bad = np.zeros((k, d))
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="infinity|means|finite"):
        GaussianMixture(n_components=k, means_init=bad).fit(X)


def _bad_precision_shapes(covariance_type, k, d):
    good = precision_shape(covariance_type, k, d)
    shapes = {
        "full": [(k + 1, d, d), (k, d + 1, d + 1), (k, d, d + 1), (k, d)],
        "tied": [(d + 1, d + 1), (d, d + 1), (k, d, d)],
        "diag": [(k + 1, d), (k, d + 1), (k,)],
        "spherical": [(k + 1,), (k, 1), (k, d)],
    }[covariance_type]
    assert good not in shapes
    return shapes


def test_precisions_init_wrong_shape(X, covariance_type):
    k, d = 3, X.shape[1]
    for shape in _bad_precision_shapes(covariance_type, k, d):
        ones = np.ones(shape)
        if len(shape) == 3 and shape[1] == shape[2]:
            ones = np.broadcast_to(np.eye(shape[1]), shape).copy()
        with pytest.raises(ValueError, match="precision.*shape|shape.*precision|dim"):
            GaussianMixture(n_components=k, covariance_type=covariance_type,
                            precisions_init=ones).fit(X)


def _not_positive_definite(covariance_type, k, d):
    bad = np.broadcast_to(np.eye(d), (k, d, d)).copy()
    bad[1, 0, 0] = -1.0
    return {
        "full": bad,
        "tied": bad[1],
        "diag": np.r_[np.ones((k - 1, d)), [[1.0, -1.0, 1.0]]],
        "spherical": np.array([1.0, -1.0, 1.0]),
    }[covariance_type]


def test_precisions_init_not_positive_definite(X, covariance_type):
    k, d = 3, X.shape[1]
    with pytest.raises(ValueError, match="positive"):
        GaussianMixture(n_components=k, covariance_type=covariance_type,
                        precisions_init=_not_positive_definite(covariance_type, k, d)).fit(X)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_precisions_init_zero_rejected(X, covariance_type):
    k, d = 3, X.shape[1]
    zero = np.zeros(precision_shape(covariance_type, k, d))
    with pytest.raises(ValueError, match="positive"):
        GaussianMixture(n_components=k, covariance_type=covariance_type,
                        precisions_init=zero).fit(X)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_precisions_init_singular_or_asymmetric(X, covariance_type):
    k, d = 3, X.shape[1]
    singular = np.ones((d, d))  # rank one: positive semi-definite only
    asymmetric = np.eye(d)
    asymmetric[0, 1] = 0.5
    for bad, match in [(singular, "positive"), (asymmetric, "symmetric|positive")]:
        arr = np.broadcast_to(bad, (k, d, d)).copy() if covariance_type == "full" else bad
        with pytest.raises(ValueError, match=match):
            GaussianMixture(n_components=k, covariance_type=covariance_type,
                            precisions_init=arr).fit(X)


def test_init_arrays_wrong_for_n_features_of_new_data(X):
    """Init arrays are checked against the data of each fit."""
    gm = GaussianMixture(n_components=2, means_init=np.zeros((2, 3))).fit(X)
    with pytest.raises(ValueError, match="means"):
        gm.fit(X[:, :2])


@pytest.mark.parametrize(
    "change, match",
    [
        ("n_features", "features"),
        ("n_components", "n_components|components"),
        ("covariance_type", "covariance"),
    ],
)
@pytest.mark.beyond_sklearn  # scikit-learn fails here with broadcasting errors
def test_warm_start_after_changing_the_problem(X, change, match):
    """warm_start continues from the fitted parameters; when the data or the
    parameters no longer fit them, the result is either a consistent model or
    a ValueError naming what changed, never an internal error."""
    gm = GaussianMixture(n_components=3, warm_start=True, random_state=0).fit(X)
    X_new = X
    if change == "n_features":
        X_new = X[:, :2]
    elif change == "n_components":
        gm.set_params(n_components=2)
    else:
        gm.set_params(covariance_type="diag")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X_new)
    except ValueError as exc:
        assert re.search(match, str(exc)), f"unclear message: {exc}"
        return
    k, d = gm.n_components, X_new.shape[1]
    assert gm.means_.shape == (k, d)
    assert gm.covariances_.shape == precision_shape(gm.covariance_type, k, d)


# --------------------------------------------------------------------------- after fit


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score", "score_samples",
                                    "aic", "bic"])
def test_wrong_number_of_features_after_fit(X, method):
    gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        getattr(gm, method)(X[:, :2])
    with pytest.raises(ValueError, match="features"):
        getattr(gm, method)(np.hstack([X, X[:, :1]]))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples"])
def test_bad_data_after_fit(X, method):
    gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    Xnan = X.copy()
    Xnan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        getattr(gm, method)(Xnan)
    with pytest.raises(ValueError, match="Expected 2D array"):
        getattr(gm, method)(X[0])
    with pytest.raises(ValueError, match="convert|numeric|string"):
        getattr(gm, method)(np.full(X.shape, "x"))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score", "score_samples",
                                    "aic", "bic", "sample"])
def test_not_fitted(X, method):
    gm = GaussianMixture(n_components=2)
    args = () if method == "sample" else (X,)
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(gm, method)(*args)


# --------------------------------------------------------------------------- degenerate data


def _assert_usable_or_clear(gm, X, **fit_kwargs):
    """A finite model, or a ValueError with a message; never NaN."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("error", RuntimeWarning)  # no silent overflow / 0/0
            gm.fit(X, **fit_kwargs)
    except ValueError as exc:
        assert len(str(exc)) > 20, f"unclear message: {exc!r}"
        return False
    for attr in FITTED:
        assert np.all(np.isfinite(getattr(gm, attr))), f"{attr} is not finite"
    assert np.all(np.isfinite(gm.weights_)) and abs(gm.weights_.sum() - 1) < 1e-6
    assert np.isfinite(gm.lower_bound_)
    assert np.all(np.isfinite(gm.score_samples(X)))
    proba = gm.predict_proba(X)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    return True


@pytest.mark.parametrize("n_components", [1, 2, 3])
def test_all_points_identical(covariance_type, n_components):
    X = np.tile([[1.0, -2.0, 3.0]], (20, 1))
    gm = GaussianMixture(n_components=n_components, covariance_type=covariance_type,
                         random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k-means may warn about fewer distinct points
        ok = _assert_usable_or_clear(gm, X)
    if ok and n_components == 1:
        np.testing.assert_allclose(gm.means_, X[:1])


def test_duplicated_points(covariance_type):
    rng = np.random.RandomState(0)
    X = np.repeat(rng.standard_normal((5, 2)), 10, axis=0)
    gm = GaussianMixture(n_components=5, covariance_type=covariance_type, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _assert_usable_or_clear(gm, X)


def test_constant_feature(covariance_type):
    X = make_overlapping_data(n_samples=150)[0]
    X[:, 1] = 4.0
    gm = GaussianMixture(n_components=3, covariance_type=covariance_type, random_state=0)
    if _assert_usable_or_clear(gm, X) and covariance_type in ("full", "diag"):
        # the constant feature's variance is exactly the regularisation
        var = gm.covariances_[:, 1, 1] if covariance_type == "full" else gm.covariances_[:, 1]
        np.testing.assert_allclose(var, 1e-6, rtol=1e-3)


def test_as_many_components_as_samples(covariance_type):
    X = np.random.RandomState(0).standard_normal((6, 2))
    gm = GaussianMixture(n_components=6, covariance_type=covariance_type, random_state=0)
    _assert_usable_or_clear(gm, X)


def test_component_that_empties(covariance_type):
    """One initial mean far from all the data gets no responsibility in the
    first E-step, so its weight becomes (numerically) zero."""
    X = make_overlapping_data(n_samples=150)[0]
    means_init = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1e4, 1e4, 1e4]])
    gm = GaussianMixture(n_components=3, covariance_type=covariance_type,
                         means_init=means_init, random_state=0)
    _assert_usable_or_clear(gm, X)


def test_collapsed_clusters_without_regularisation(covariance_type):
    """scikit-learn's test_regularisation: two point masses, reg_covar=0 -> a
    clear ValueError advising to increase reg_covar; reg_covar=1e-6 -> a model."""
    X = np.vstack([np.ones((5, 5)), np.zeros((5, 5))])
    gm = GaussianMixture(n_components=10, reg_covar=0, covariance_type=covariance_type,
                         random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="reg_covar"):
            gm.fit(X)
        gm.set_params(reg_covar=1e-6)
        assert _assert_usable_or_clear(gm, X)


def test_huge_and_tiny_scales(covariance_type):
    """Data of scale 1e150 or 1e-150: a usable model or a clear error."""
    base = RandomData(np.random.RandomState(0)).X[covariance_type]
    for scale in (1e150, 1e-150):
        gm = GaussianMixture(n_components=2, covariance_type=covariance_type, random_state=0)
        _assert_usable_or_clear(gm, base * scale)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_failed_fit_keeps_previous_model_usable_or_unfitted(covariance_type):
    """After a fit that raises, the estimator is not left half-written with NaN."""
    X = make_overlapping_data(n_samples=60)[0]
    gm = GaussianMixture(n_components=2, covariance_type=covariance_type, random_state=0)
    with pytest.raises(ValueError):
        gm.fit(np.where(np.arange(X.size).reshape(X.shape) == 4, np.nan, X))
    gm.fit(X)
    assert np.all(np.isfinite(gm.means_))


@pytest.mark.parametrize(
    "seeds, extra, match",
    [
        (np.zeros((1, 2), dtype=np.int64), {}, "n_init rows of at least n_components"),
        (np.zeros((2, 3), dtype=np.int64), {}, "n_init rows of at least n_components"),
        (np.array([[0, 1, -1]]), {}, r"row indices in \[0, n_samples\)"),
        (np.array([[0, 1, 10**9]]), {}, r"row indices in \[0, n_samples\)"),
        (np.array([[0, 1, 2]]), {"kmeans_sample_size": 50}, "k-means on all rows"),
        (np.array([[0, 1, 2]]), {"init_params": "random"}, "init_params='kmeans'"),
    ],
)
def test_core_kmeans_seeds_validated(seeds, extra, match):
    """The core's seeded k-means start (the sweep's shared seeding) rejects seeds it cannot use."""
    from gaussmix._dispatch import core

    X = np.random.default_rng(0).normal(size=(300, 2))
    empty = np.empty(0), np.empty((0, 0)), np.empty((0, 0))
    args = dict(n_components=3, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=5, n_init=1,
                init_params="kmeans", seed=0, sample_weight=np.empty(0), weights_init=empty[0],
                means_init=empty[1], precisions_init=empty[2])
    args.update(extra)
    with pytest.raises(ValueError, match=match):
        core.fit(X, **args, kmeans_seeds=seeds)
    good = core.fit(X, **{**args, "init_params": "kmeans", "kmeans_sample_size": -1},
                    kmeans_seeds=np.array([[5, 17, 250]]))
    assert np.isfinite(good["lower_bound"])


@pytest.mark.parametrize("entry", ["kmeans", "kmeans_start"])
@pytest.mark.parametrize(
    "X, n_clusters, weight, match",
    [
        (np.full((10, 3), np.nan), 2, None, "NaN or infinity"),
        (np.full((10, 3), np.inf), 2, None, "NaN or infinity"),
        (np.empty((0, 3)), 1, None, "at least one sample"),
        (np.ones((10, 3)), 0, None, r"n_clusters must be in \[1, n_samples"),
        (np.ones((10, 3)), 11, None, r"n_clusters must be in \[1, n_samples"),
        (np.ones((10, 3)), 2, np.ones(5), "sample_weight has 5 entries"),
        (np.ones((10, 3)), 2, -np.ones(10), "negative entries"),
        (np.array([[1e308, 1.0], [-1e308, 2.0], [0.0, 0.0]]), 2, None, "spreads too far"),
    ],
)
def test_core_kmeans_rejects_hostile_input(entry, X, n_clusters, weight, match):
    """The core's k-means entry points, the start's restarted one among them, raise ValueError."""
    from gaussmix import _gmm

    for dtype in (np.float64, np.float32):
        with np.errstate(over="ignore"):
            Xd = np.ascontiguousarray(X, dtype=dtype)
        w = np.empty(0, dtype=dtype) if weight is None else weight.astype(dtype)
        if dtype == np.float32 and match == "spreads too far":
            match_here = "NaN or infinity"  # 1e308 overflows float32
        else:
            match_here = match
        with pytest.raises(ValueError, match=match_here):
            getattr(_gmm, entry)(Xd, n_clusters, 0, w)


def test_core_kmeans_seeds_need_one_run():
    """Shared seeds (the sweep's) are refused where the start would restart k-means."""
    from gaussmix import _gmm
    from gaussmix._dispatch import core

    X = np.random.default_rng(0).normal(size=(2000, 2))
    assert _gmm.kmeans_start_runs(2000, 3, -1) == 3
    empty = np.empty(0), np.empty((0, 0)), np.empty((0, 0))
    with pytest.raises(ValueError, match="one k-means run"):
        core.fit(X, n_components=3, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=5, n_init=1,
                 init_params="kmeans", seed=0, sample_weight=np.empty(0), weights_init=empty[0],
                 means_init=empty[1], precisions_init=empty[2], kmeans_seeds=np.array([[0, 1, 2]]))
