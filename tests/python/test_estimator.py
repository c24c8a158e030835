"""The scikit-learn protocol of gaussmix.GaussianMixture as a drop-in for
sklearn.mixture.GaussianMixture: signature and defaults, fitted attributes,
ConvergenceWarning, warm_start, fit_predict, n_init, every init_params,
pickle/clone, float32 preservation, reproducibility, verbose output, pandas
feature names, Pipeline/GridSearchCV, memory layouts and concurrent use.
Ported in spirit from scikit-learn's test_gaussian_mixture.py.
"""

import copy
import inspect
import itertools
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from estimator_helpers import (
    COVARIANCE_TYPES,
    INIT_PARAMS,
    RandomData,
    make_blobs_data,
    make_overlapping_data,
)
from gaussmix import GaussianMixture

FITTED = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]


def _quiet_fit(gm, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gm.fit(X, **kw)


def _assert_identical_models(a, b):
    for attr in FITTED:
        assert_array_equal(getattr(a, attr), getattr(b, attr), err_msg=attr)
    assert a.n_iter_ == b.n_iter_
    assert a.lower_bound_ == b.lower_bound_
    assert a.converged_ == b.converged_


# --------------------------------------------------------------------------- API surface


# gaussmix-only keyword parameters, with defaults that keep scikit-learn's behaviour.
EXTENSIONS = {"missing": "error", "learning_decay": 0.7, "learning_offset": 10.0, "kmeans_sample_size": "auto"}


def test_constructor_matches_sklearn():
    ours = inspect.signature(GaussianMixture.__init__).parameters
    ref = inspect.signature(SkGaussianMixture.__init__).parameters
    assert [name for name in ours if name not in EXTENSIONS] == list(ref)
    for name, p in ref.items():
        assert ours[name].default == p.default, name
        assert ours[name].kind == p.kind, name
    for name in set(EXTENSIONS) & set(ours):
        assert ours[name].default == EXTENSIONS[name] and ours[name].kind == inspect.Parameter.KEYWORD_ONLY
    params = GaussianMixture().get_params()
    assert {k: v for k, v in params.items() if k not in EXTENSIONS} == SkGaussianMixture().get_params()


def test_is_a_sklearn_density_estimator():
    gm = GaussianMixture()
    assert isinstance(gm, BaseEstimator)
    assert get_tags(gm).estimator_type == "density_estimator"


def test_get_and_set_params():
    gm = GaussianMixture(n_components=3, covariance_type="diag", tol=1e-4, reg_covar=1e-3,
                         max_iter=30, n_init=2, init_params="random", random_state=7,
                         warm_start=True, verbose=0, verbose_interval=5)
    params = gm.get_params()
    assert params["n_components"] == 3 and params["covariance_type"] == "diag"
    assert params["tol"] == 1e-4 and params["reg_covar"] == 1e-3
    assert params["max_iter"] == 30 and params["n_init"] == 2
    assert params["init_params"] == "random" and params["random_state"] == 7
    assert params["warm_start"] is True and params["verbose_interval"] == 5
    assert gm.set_params(n_components=4, covariance_type="tied") is gm
    assert gm.n_components == 4 and gm.covariance_type == "tied"


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_fit_sets_all_attributes(covariance_type, init_params):
    X = RandomData(np.random.RandomState(0)).X[covariance_type]
    gm = GaussianMixture(n_components=2, covariance_type=covariance_type,
                         init_params=init_params, random_state=0)
    assert gm.fit(X) is gm
    assert isinstance(gm.converged_, (bool, np.bool_)) and gm.converged_
    assert isinstance(gm.n_iter_, (int, np.integer)) and 1 <= gm.n_iter_ <= gm.max_iter
    assert np.isfinite(gm.lower_bound_)
    assert len(gm.lower_bounds_) == gm.n_iter_
    assert gm.n_features_in_ == X.shape[1]
    for attr in FITTED:
        assert isinstance(getattr(gm, attr), np.ndarray), attr
    # the init arrays given as parameters are not modified by fit
    assert gm.weights_init is None and gm.means_init is None and gm.precisions_init is None


def test_init_arrays_are_not_modified(random_data):
    rd = random_data
    w, m, p = rd.weights.copy(), rd.means.copy(), rd.precisions["full"].copy()
    gm = GaussianMixture(n_components=2, weights_init=w, means_init=m, precisions_init=p)
    gm.fit(rd.X["full"])
    assert_array_equal(w, rd.weights)
    assert_array_equal(m, rd.means)
    assert_array_equal(p, rd.precisions["full"])
    assert_array_equal(gm.weights_init, rd.weights)


def test_init_arrays_accept_lists(random_data):
    rd = random_data
    gm = GaussianMixture(n_components=2, weights_init=rd.weights.tolist(),
                         means_init=rd.means.tolist(),
                         precisions_init=rd.precisions["full"].tolist()).fit(rd.X["full"])
    ref = GaussianMixture(n_components=2, weights_init=rd.weights, means_init=rd.means,
                          precisions_init=rd.precisions["full"]).fit(rd.X["full"])
    _assert_identical_models(gm, ref)


@pytest.mark.parametrize("given", ["precisions", "means", "weights", "means+precisions"])
def test_partial_init_equal_to_the_computed_one_changes_nothing(covariance_type, given):
    """Passing as *_init exactly what the k-means initialisation computes gives
    the same fit (scikit-learn's non-regression test for its issue 16944)."""
    X, _ = make_overlapping_data()
    kw = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    start = GaussianMixture(max_iter=0, **kw).fit(X)
    init = {}
    if "precisions" in given:
        init["precisions_init"] = start.precisions_
    if "means" in given:
        init["means_init"] = start.means_
    if "weights" in given:
        init["weights_init"] = start.weights_
    plain = _quiet_fit(GaussianMixture(**kw), X)
    with_init = _quiet_fit(GaussianMixture(**kw, **init), X)
    assert with_init.n_iter_ == plain.n_iter_
    for attr in FITTED:
        assert_allclose(getattr(with_init, attr), getattr(plain, attr), rtol=1e-8,
                        atol=1e-10, err_msg=attr)


# --------------------------------------------------------------------------- EM behaviour


def test_convergence_warning(covariance_type):
    # scikit-learn's test_gaussian_mixture_fit_convergence_warning
    X = RandomData(np.random.RandomState(0), scale=1).X[covariance_type]
    gm = GaussianMixture(n_components=2, n_init=1, max_iter=1, reg_covar=0, random_state=0,
                         covariance_type=covariance_type)
    with pytest.warns(ConvergenceWarning, match="converge"):
        gm.fit(X)
    assert not gm.converged_
    assert gm.n_iter_ == 1


def test_no_warning_when_converged_or_max_iter_zero(random_data):
    X = random_data.X["full"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm = GaussianMixture(n_components=2, random_state=0).fit(X)
        assert gm.converged_
        GaussianMixture(n_components=2, random_state=0, max_iter=0).fit(X)


@pytest.mark.parametrize("seed, max_iter, tol",
                         [(0, 2, 1e-7), (1, 2, 1e-1), (3, 300, 1e-7), (4, 300, 1e-1)])
def test_fit_predict_equals_fit_then_predict(seed, max_iter, tol, dtype):
    # scikit-learn's test_gaussian_mixture_fit_predict
    rd = RandomData(np.random.RandomState(seed), dtype=dtype)
    for t in COVARIANCE_TYPES:
        X = rd.X[t]
        gm = GaussianMixture(n_components=2, random_state=seed, weights_init=rd.weights,
                             means_init=rd.means, precisions_init=rd.precisions[t],
                             covariance_type=t, max_iter=max_iter, tol=tol)
        other = copy.deepcopy(gm)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels_1 = other.fit(X).predict(X)
            labels_2 = gm.fit_predict(X)
        assert_array_equal(labels_1, labels_2)
        assert adjusted_rand_score(rd.Y, labels_2) > 0.95
        for attr in FITTED:
            assert getattr(gm, attr).dtype == dtype, attr


def test_fit_predict_with_n_init():
    X = np.random.RandomState(0).randn(1000, 5)
    gm = GaussianMixture(n_components=5, n_init=5, random_state=0)
    assert_array_equal(gm.fit_predict(X), gm.predict(X))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_warm_start(seed):
    # scikit-learn's test_warm_start
    X = np.random.RandomState(seed).rand(500, 2)
    g = GaussianMixture(n_components=2, max_iter=2, reg_covar=0, random_state=seed)
    h = GaussianMixture(n_components=2, max_iter=1, reg_covar=0, random_state=seed,
                        warm_start=True)
    _quiet_fit(g, X)
    score1 = _quiet_fit(h, X).score(X)
    score2 = _quiet_fit(h, X).score(X)
    assert_allclose(g.weights_, h.weights_, rtol=1e-10)
    assert_allclose(g.means_, h.means_, rtol=1e-10)
    assert_allclose(g.precisions_, h.precisions_, rtol=1e-10)
    assert score2 > score1

    g = GaussianMixture(n_components=2, max_iter=5, reg_covar=0, random_state=seed, tol=1e-6)
    h = GaussianMixture(n_components=2, max_iter=5, reg_covar=0, random_state=seed, tol=1e-6,
                        warm_start=True)
    _quiet_fit(g, X)
    assert not g.converged_
    for _ in range(1000):
        _quiet_fit(h, X)
        if h.converged_:
            break
    assert h.converged_


def test_warm_start_ignores_n_init_after_first_fit(random_data):
    X = random_data.X["full"]
    gm = GaussianMixture(n_components=2, warm_start=True, n_init=3, random_state=0).fit(X)
    means = gm.means_.copy()
    gm.fit(X)  # continues from the fitted model: already converged, changes little
    assert_allclose(gm.means_, means, rtol=1e-3)
    assert gm.n_iter_ <= 2


@pytest.mark.parametrize("max_iter", [1, 2, 50])
def test_convergence_detected_with_warm_start(random_data, max_iter):
    X = random_data.X["full"]
    gm = GaussianMixture(n_components=2, warm_start=True, max_iter=max_iter, random_state=0)
    for _ in range(100):
        _quiet_fit(gm, X)
        if gm.converged_:
            break
    assert gm.converged_
    assert max_iter >= gm.n_iter_


def test_n_init_is_not_worse(covariance_type):
    # scikit-learn's test_multiple_init
    X = np.random.RandomState(0).randn(50, 5)
    one = GaussianMixture(n_components=2, covariance_type=covariance_type, random_state=0)
    five = GaussianMixture(n_components=2, covariance_type=covariance_type, random_state=0,
                           n_init=5)
    assert five.fit(X).score(X) >= one.fit(X).score(X)


def test_n_init_keeps_best_lower_bound():
    # scikit-learn's test_init
    for seed in range(8):
        X = RandomData(np.random.RandomState(seed), n_samples=50, scale=1).X["full"]
        g1 = _quiet_fit(GaussianMixture(n_components=2, n_init=1, max_iter=1,
                                        random_state=seed), X)
        g10 = _quiet_fit(GaussianMixture(n_components=2, n_init=10, max_iter=1,
                                         random_state=seed), X)
        assert g10.lower_bound_ >= g1.lower_bound_, seed


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_initial_means_not_duplicated(init_params):
    for seed in range(3):
        X = RandomData(np.random.RandomState(seed), scale=5).X["full"]
        gm = GaussianMixture(n_components=2, init_params=init_params, random_state=seed,
                             max_iter=0).fit(X)
        for a, b in itertools.combinations(gm.means_, 2):
            assert not np.allclose(a, b)


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_every_init_converges_inside_the_data(init_params, dtype):
    X = RandomData(np.random.RandomState(0), scale=5, dtype=dtype).X["full"]
    gm = GaussianMixture(n_components=2, init_params=init_params, random_state=0).fit(X)
    assert gm.means_.shape == (2, 2)
    assert np.all(X.min(axis=0) <= gm.means_) and np.all(gm.means_ <= X.max(axis=0))
    assert gm.converged_
    for attr in FITTED:
        assert getattr(gm, attr).dtype == dtype, attr


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++"])
def test_kmeans_style_inits_find_separated_blobs(init_params):
    # (random_from_data and random may settle in a local optimum here, also in scikit-learn)
    X, y = make_blobs_data()
    gm = GaussianMixture(n_components=4, init_params=init_params, n_init=3, random_state=0)
    assert adjusted_rand_score(y, gm.fit_predict(X)) > 0.99


# --------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_same_seed_same_model(covariance_type, init_params):
    X, _ = make_overlapping_data()
    kw = dict(n_components=3, covariance_type=covariance_type, init_params=init_params,
              n_init=2)
    a = _quiet_fit(GaussianMixture(random_state=11, **kw), X)
    b = _quiet_fit(GaussianMixture(random_state=11, **kw), X)
    _assert_identical_models(a, b)
    c = _quiet_fit(GaussianMixture(random_state=np.random.RandomState(11), **kw), X)
    d = _quiet_fit(GaussianMixture(random_state=np.random.RandomState(11), **kw), X)
    _assert_identical_models(c, d)


def test_refit_is_idempotent(random_data):
    X = random_data.X["full"]
    gm = GaussianMixture(n_components=2, random_state=0, init_params="random")
    first = copy.deepcopy(gm.fit(X))
    _assert_identical_models(gm.fit(X), first)


# --------------------------------------------------------------------------- dtypes, layouts


def test_float32_preserved(covariance_type):
    X = RandomData(np.random.RandomState(0), scale=7).X[covariance_type].astype(np.float32)
    gm = GaussianMixture(n_components=2, covariance_type=covariance_type, random_state=0).fit(X)
    for attr in FITTED:
        assert getattr(gm, attr).dtype == np.float32, attr
    assert gm.score_samples(X).dtype == np.float32
    assert gm.predict_proba(X).dtype == np.float32
    assert isinstance(gm.score(X), float)
    assert isinstance(gm.aic(X), float) and isinstance(gm.bic(X), float)
    Xs, ys = gm.sample(10)
    assert np.issubdtype(Xs.dtype, np.floating)  # scikit-learn returns float64 here
    # a float32 model scores float64 data too
    assert np.all(np.isfinite(gm.score_samples(X.astype(np.float64))))


def test_integer_and_float16_data_become_float64():
    X = np.random.RandomState(0).randint(0, 20, size=(100, 2))
    gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    assert gm.means_.dtype == np.float64
    gm16 = GaussianMixture(n_components=2, random_state=0).fit(X.astype(np.float16))
    assert gm16.means_.dtype == np.float64


def test_memory_layouts_give_the_same_model(covariance_type):
    X, _ = make_overlapping_data()
    ref = GaussianMixture(n_components=3, covariance_type=covariance_type, random_state=0).fit(X)
    wide = np.zeros((X.shape[0] * 2, X.shape[1] * 2))
    wide[::2, ::2] = X
    variants = {
        "fortran": np.asfortranarray(X),
        "strided": wide[::2, ::2],
        "readonly": X.copy(),
        "list": X.tolist(),
    }
    variants["readonly"].setflags(write=False)
    for name, Xv in variants.items():
        gm = GaussianMixture(n_components=3, covariance_type=covariance_type,
                             random_state=0).fit(Xv)
        for attr in FITTED:
            assert_allclose(getattr(gm, attr), getattr(ref, attr), rtol=1e-12, atol=1e-14,
                            err_msg=f"{name}: {attr}")
        assert_allclose(ref.score_samples(Xv), ref.score_samples(X), rtol=1e-12)


# --------------------------------------------------------------------------- persistence


def test_pickle_round_trip(covariance_type):
    X = RandomData(np.random.RandomState(0)).X[covariance_type]
    gm = GaussianMixture(n_components=2, covariance_type=covariance_type, random_state=0).fit(X)
    loaded = pickle.loads(pickle.dumps(gm))
    _assert_identical_models(loaded, gm)
    assert_array_equal(loaded.predict(X), gm.predict(X))
    assert_array_equal(loaded.predict_proba(X), gm.predict_proba(X))
    assert_array_equal(loaded.score_samples(X), gm.score_samples(X))
    assert_array_equal(loaded.sample(20)[0], gm.sample(20)[0])
    assert loaded.get_params() == gm.get_params()
    unfitted = pickle.loads(pickle.dumps(GaussianMixture(n_components=3)))
    assert unfitted.n_components == 3 and not hasattr(unfitted, "means_")


def test_clone_and_deepcopy(random_data):
    X = random_data.X["full"]
    gm = GaussianMixture(n_components=2, covariance_type="diag", random_state=0,
                         means_init=random_data.means).fit(X)
    c = clone(gm)
    assert c.get_params()["covariance_type"] == "diag"
    assert_array_equal(c.means_init, random_data.means)
    assert not hasattr(c, "means_")
    _assert_identical_models(copy.deepcopy(gm), gm)


# --------------------------------------------------------------------------- verbose


def test_verbose_output(random_data, capfd):
    X = random_data.X["full"]
    GaussianMixture(n_components=2, random_state=0, verbose=0).fit(X)
    out, _ = capfd.readouterr()
    assert out == ""

    GaussianMixture(n_components=2, random_state=0, verbose=1, n_init=2).fit(X)
    out, _ = capfd.readouterr()
    assert "Initialization" in out and "converge" in out

    gm = GaussianMixture(n_components=2, random_state=0, verbose=2, verbose_interval=1,
                         tol=1e-8, max_iter=50).fit(X)
    out, _ = capfd.readouterr()
    iteration_lines = [line for line in out.splitlines() if "Iteration" in line]
    assert len(iteration_lines) == gm.n_iter_
    assert "lower bound" in out


# --------------------------------------------------------------------------- ecosystem


def test_pandas_feature_names():
    pd = pytest.importorskip("pandas")
    X = RandomData(np.random.RandomState(0)).X["full"]
    df = pd.DataFrame(X, columns=["a", "b"])
    gm = GaussianMixture(n_components=2, random_state=0).fit(df)
    assert_array_equal(gm.feature_names_in_, ["a", "b"])
    assert gm.n_features_in_ == 2
    with pytest.raises(ValueError, match="feature names"):
        gm.predict(df.rename(columns={"a": "z"}))
    with pytest.warns(UserWarning, match="feature names"):
        labels = gm.predict(X)
    assert_array_equal(gm.predict(df), labels)
    refit = GaussianMixture(n_components=2, random_state=0).fit(X)
    assert not hasattr(refit, "feature_names_in_")


def test_pipeline_and_grid_search():
    X, _ = make_blobs_data(n_samples=300)
    pipe = make_pipeline(StandardScaler(), GaussianMixture(n_components=4, random_state=0))
    labels = pipe.fit(X).predict(X)
    assert labels.shape == (300,)
    assert np.isfinite(pipe.score(X))
    search = GridSearchCV(GaussianMixture(random_state=0),
                          {"n_components": [1, 2, 4], "covariance_type": ["full", "diag"]},
                          cv=3)
    search.fit(X)
    assert search.best_params_["n_components"] == 4
    assert np.isfinite(search.best_score_)


def test_concurrent_fits_in_threads_match_serial_fits(covariance_type):
    """Fits from several Python threads (the GIL is released in C++) give the
    same models as the same fits run one after the other."""
    datasets = [make_overlapping_data(n_samples=2000, seed=s)[0] for s in range(4)]

    def fit(X):
        return GaussianMixture(n_components=3, covariance_type=covariance_type,
                               random_state=0).fit(X)

    serial = [fit(X) for X in datasets]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(fit, datasets))
    for a, b in zip(serial, parallel):
        _assert_identical_models(a, b)
