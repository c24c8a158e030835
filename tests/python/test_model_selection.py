"""Sweeps over mixture settings and the self-selecting AutoGaussianMixture."""

import copy
import doctest
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_moons
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from gaussmix import _gmm
from gaussmix import GaussianMixture, model_selection
from gaussmix.model_selection import AutoGaussianMixture, SweepResult, sweep


@pytest.fixture(scope="module")
def blobs():
    """The chapter's four blobs."""
    X, _ = make_blobs(n_samples=400, centers=4, cluster_std=0.60, random_state=0)
    return X[:, ::-1]


@pytest.fixture(scope="module")
def moons():
    X, _ = make_moons(200, noise=0.05, random_state=0)
    return X


@pytest.fixture(scope="module")
def moons_sweep(moons):
    return sweep(moons, range(1, 21), covariance_type="full", random_state=0)


def _n_parameters_full(n_components, n_features):
    """Free parameters of a full-covariance mixture (weights, means, covariances)."""
    return (n_components - 1 + n_components * n_features
            + n_components * n_features * (n_features + 1) // 2)


@pytest.mark.parametrize("n_true, n_features, seed", [(2, 2, 0), (3, 2, 1), (5, 3, 2), (4, 5, 3)])
def test_bic_picks_true_count_on_separated_blobs(n_true, n_features, seed):
    X, _ = make_blobs(n_samples=100 * n_true, n_features=n_features, centers=n_true,
                      cluster_std=0.5, center_box=(-20, 20), random_state=seed)
    result = sweep(X, range(1, 9), random_state=0)
    assert result.best_params["bic"] == {"n_components": n_true, "covariance_type": "full"}
    assert result.best_estimator is result.models[result.best_index["bic"]]
    assert result.best_estimator.n_components == n_true


def test_table_holds_the_models_own_criteria(blobs):
    result = sweep(blobs, [1, 3, 5], random_state=0)
    assert_array_equal(result.table["n_components"], [1, 3, 5])
    assert list(result.table["covariance_type"]) == ["full"] * 3
    for i, model in enumerate(result.models):
        assert model.n_components == result.table["n_components"][i]
        # The fit scores its own data in the core; a rebuilt model scores it the same.
        assert result.table["aic"][i] == pytest.approx(model.aic(blobs), rel=1e-12)
        assert result.table["bic"][i] == pytest.approx(model.bic(blobs), rel=1e-12)
        assert "_sweep_fit" not in model.__dict__
        assert result.table["converged"][i] == model.converged_
        assert result.table["n_iter"][i] == model.n_iter_
        assert result.table["lower_bound"][i] == pytest.approx(model.lower_bound_)
    assert np.all(result.table["fit_time"] > 0)
    assert result.criteria == ("aic", "bic") and "cv" not in result.table
    assert not result.interrupted and result.n_planned == 3
    assert "best by bic" in result.summary()
    assert "3 of 3 settings" in repr(result)


def test_moons_aic_and_bic_choices_as_in_the_chapter(moons, moons_sweep):
    # The chapter: AIC says 16 is probably too many, "around 8-12"; BIC a simpler model.
    aic_n = moons_sweep.best_params["aic"]["n_components"]
    bic_n = moons_sweep.best_params["bic"]["n_components"]
    assert 6 <= bic_n < aic_n < 16
    # BIC penalises each parameter by log(n) > 2, AIC by 2: BIC - AIC = p (log n - 2) > 0.
    n_samples, n_features = moons.shape
    p = np.array([_n_parameters_full(k, n_features) for k in moons_sweep.table["n_components"]])
    assert_allclose(moons_sweep.table["bic"] - moons_sweep.table["aic"],
                    p * (np.log(n_samples) - 2), rtol=1e-8)
    # Both criteria fall steeply from one component to the elbow.
    assert moons_sweep.table["aic"][0] > moons_sweep.table["aic"][aic_n - 1] + 400


@pytest.mark.parametrize("cv", [3, KFold(4, shuffle=True, random_state=1)])
def test_cv_scores_equal_a_manual_kfold_loop(blobs, cv):
    result = sweep(blobs, [1, 2, 4], covariance_type=["full", "diag"], cv=cv,
                   criterion="cv", random_state=0, max_iter=50)
    splitter = KFold(3) if cv == 3 else cv
    manual = []
    for covariance_type in ("full", "diag"):
        for k in (1, 2, 4):
            manual.append([
                GaussianMixture(k, covariance_type=covariance_type, random_state=0, max_iter=50)
                .fit(blobs[train]).score(blobs[test])
                for train, test in splitter.split(blobs)
            ])
    manual = np.array(manual)
    assert_allclose(result.table["cv_scores"], manual, rtol=1e-10)
    assert_allclose(result.table["cv"], manual.mean(axis=1), rtol=1e-10)
    assert_allclose(result.table["cv_std"], manual.std(axis=1), rtol=1e-10)
    best = int(np.argmax(manual.mean(axis=1)))
    assert result.best_index["cv"] == best
    assert result.best_params["cv"]["n_components"] == 4


def test_several_covariance_types():
    # Round clusters of different sizes: "spherical" fits them with the fewest parameters
    # ("tied" cannot give them different sizes).
    X, _ = make_blobs(n_samples=400, centers=4, cluster_std=[0.3, 0.6, 1.0, 1.5],
                      center_box=(-15, 15), random_state=4)
    result = sweep(X, range(2, 7), covariance_type=list(model_selection.COVARIANCE_TYPES),
                   random_state=0)
    assert len(result.models) == 20
    assert result.best_params["bic"] == {"n_components": 4, "covariance_type": "spherical"}
    n, bic = result.curve("bic", "tied")
    assert_array_equal(n, range(2, 7))
    tied = [m for m in result.models if m.covariance_type == "tied"]
    assert_allclose(bic, [m.bic(X) for m in tied])


class _InterruptedAt(GaussianMixture):
    """A mixture whose fit is 'Ctrl-C'-ed when it has 3 components."""

    def fit(self, X, y=None):
        if self.n_components == 3:
            raise KeyboardInterrupt
        return super().fit(X)


def test_keyboard_interrupt_returns_the_fits_done(blobs):
    with pytest.warns(RuntimeWarning, match="interrupted after 2 of 5 settings"):
        result = sweep(blobs, 5, estimator=_InterruptedAt(random_state=0), n_jobs=1)
    assert result.interrupted and result.n_planned == 5
    assert_array_equal(result.table["n_components"], [1, 2])
    assert len(result.models) == 2 and all(hasattr(m, "means_") for m in result.models)
    assert result.best_params["bic"]["n_components"] == 2
    assert "interrupted" in repr(result)


def test_keyboard_interrupt_before_any_fit_propagates(blobs):
    with pytest.raises(KeyboardInterrupt):
        sweep(blobs, [3, 4], estimator=_InterruptedAt(), n_jobs=1)


def test_verbose_prints_one_line_per_fit_without_tqdm(blobs, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # as if tqdm were not installed
    sweep(blobs, 3, verbose=1, random_state=0, n_jobs=1)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert "n_components=2 covariance_type=full aic=" in lines[1]


def test_verbose_zero_is_silent(blobs, capsys):
    sweep(blobs, 2, random_state=0)
    assert capsys.readouterr() == ("", "")


def test_tqdm_bar_when_installed(blobs, capsys):
    pytest.importorskip("tqdm")
    sweep(blobs, 2, verbose=1, random_state=0)
    assert "gaussmix sweep" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, message", [
    ({"n_components": 0}, "n_components must be"),
    ({"n_components": []}, "n_components must be"),
    ({"covariance_type": "bogus"}, "covariance_type must be"),
    ({"criterion": "cv"}, "criterion must be one of"),
])
def test_sweep_rejects_bad_arguments(blobs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sweep(blobs, **{"n_components": 2, **kwargs})


def test_best_model_rejects_unscored_criterion(blobs):
    result = sweep(blobs, 2, random_state=0)
    with pytest.raises(ValueError, match="criterion must be one of"):
        result.best_model("cv")
    with pytest.raises(ValueError, match="at least one"):
        SweepResult([], [], ("aic",), "aic")


def test_auto_mixture_selects_and_behaves_as_the_selected_fit(blobs):
    model = AutoGaussianMixture(n_components=6, covariance_type=["full", "spherical"],
                                random_state=0).fit(blobs)
    best = model.best_estimator_
    assert (model.n_components_, model.covariance_type_) == (4, "spherical")
    assert best is model.sweep_.best_model("bic")
    for name in ("weights_", "means_", "covariances_", "precisions_",
                 "precisions_cholesky_", "converged_", "n_iter_", "lower_bound_"):
        assert_array_equal(getattr(model, name), getattr(best, name))
    assert model.n_features_in_ == 2
    assert_array_equal(model.predict(blobs), best.predict(blobs))
    assert_allclose(model.predict_proba(blobs), best.predict_proba(blobs))
    assert_allclose(model.score_samples(blobs), best.score_samples(blobs))
    assert model.score(blobs) == pytest.approx(best.score(blobs))
    assert model.aic(blobs) == pytest.approx(best.aic(blobs))
    assert model.bic(blobs) == pytest.approx(best.bic(blobs))
    X_new, labels = model.sample(50, random_state=3)
    X_ref, labels_ref = best.sample(50, random_state=3)
    assert X_new.shape == (50, 2)
    assert_allclose(X_new, X_ref) and assert_array_equal(labels, labels_ref)
    assert_array_equal(clone(model).fit_predict(blobs), model.predict(blobs))


def test_auto_mixture_by_cross_validation(moons):
    model = AutoGaussianMixture(n_components=[2, 6, 10, 16], criterion="cv", cv=4,
                                random_state=0).fit(moons)
    table = model.sweep_.table
    assert model.n_components_ == table["n_components"][np.argmax(table["cv"])]
    assert 6 <= model.n_components_ <= 10  # 2 underfits, 16 overfits on held-out data


def test_auto_mixture_unfitted_and_bad_criterion(blobs):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AutoGaussianMixture().predict(blobs)
    with pytest.raises(ValueError, match="criterion must be one of"):
        AutoGaussianMixture(criterion="likelihood").fit(blobs)


def test_auto_mixture_in_a_pipeline(blobs):
    pipe = Pipeline([("scale", StandardScaler()),
                     ("gmm", AutoGaussianMixture(n_components=6, random_state=0))]).fit(blobs)
    gmm = pipe.named_steps["gmm"]
    scaled = pipe.named_steps["scale"].transform(blobs)
    assert gmm.n_components_ == 4
    assert_array_equal(pipe.predict(blobs), gmm.predict(scaled))
    assert_allclose(pipe.score_samples(blobs), gmm.score_samples(scaled))
    assert pipe.score(blobs) == pytest.approx(gmm.score(scaled))
    assert len(np.unique(pipe.predict(blobs))) == 4


def test_auto_mixture_in_grid_search(blobs):
    search = GridSearchCV(
        AutoGaussianMixture(n_components=6, random_state=0),
        {"criterion": ["aic", "bic"], "covariance_type": ["full", "spherical"]},
        cv=3,
    ).fit(blobs)
    scores = search.cv_results_["mean_test_score"]
    assert scores.shape == (4,) and np.all(np.isfinite(scores))
    assert search.best_estimator_.n_components_ == 4
    # The score GridSearchCV maximises is the held-out mean log-likelihood.
    train, test = next(KFold(3).split(blobs))
    fold = clone(search.best_estimator_).fit(blobs[train])
    assert search.cv_results_["split0_test_score"][search.best_index_] == pytest.approx(
        fold.score(blobs[test]))


def test_docstring_examples():
    assert doctest.testmod(model_selection, optionflags=doctest.ELLIPSIS).failed == 0


def test_concurrent_sweep_equals_the_serial_one(blobs):
    """Settings fitted at once, one thread each, give the serial sweep's table (to the
    rounding of per-thread sums) in the same order."""
    serial = sweep(blobs, [1, 3, 2, 5], covariance_type=["full", "diag"], random_state=0, n_jobs=1)
    concurrent = sweep(blobs, [1, 3, 2, 5], covariance_type=["full", "diag"], random_state=0, n_jobs=2)
    assert list(concurrent.table["n_components"]) == [1, 3, 2, 5] * 2
    assert list(concurrent.table["covariance_type"]) == ["full"] * 4 + ["diag"] * 4
    for name in ("aic", "bic", "lower_bound"):
        np.testing.assert_allclose(concurrent.table[name], serial.table[name], rtol=1e-10)
    assert concurrent.best_params == serial.best_params


def test_sweep_jobs_rule(blobs):
    from gaussmix import model_selection
    from gaussmix._dispatch import core

    threads = core.build_info()["max_threads"]
    assert model_selection._sweep_jobs(None, blobs, 5) == min(threads, 5)
    assert model_selection._sweep_jobs(None, blobs, 1) == 1
    big = np.zeros((model_selection.CONCURRENT_SWEEP_VALUES // 2 + 1, 2))
    assert model_selection._sweep_jobs(None, big, 5) == 1
    assert model_selection._sweep_jobs(3, big, 2) == 2
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_jobs"):
            sweep(blobs, 2, n_jobs=bad)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_shared_kmeans_seeding_gives_each_fit_its_own_start(n_jobs):
    """The sweep seeds all counts with one trial count from one k-means++ seeding (and its
    restarts from one each): every fit equals the fit of a plain GaussianMixture."""
    from gaussmix._dispatch import core

    X, _ = make_blobs(n_samples=900, centers=12, n_features=3, cluster_std=1.5, random_state=3)
    counts = [8, 14, 21, 9, 7, 20, 3]
    for random_state in (5, np.random.RandomState(9)):
        template = GaussianMixture(random_state=random_state, n_init=2)
        settings = [(t, k) for t in ("full", "diag") for k in counts]
        groups = model_selection._shared_seeding_groups(template, X, settings)
        # 2 + floor(log k) trials: 3 for k = 3 and 7, 4 for 8..20, 5 for 21 (both covariance types).
        assert [core.kmeans_plusplus_trials(k) for k in (3, 7, 8, 20, 21)] == [3, 3, 4, 4, 5]
        assert {largest: sorted(settings[i][1] for i in members) for largest, members in groups.items()} == {
            7: [3, 3, 7, 7], 20: [8, 8, 9, 9, 14, 14, 20, 20], 21: [21, 21]}
        result = sweep(X, counts, covariance_type=["full", "diag"], random_state=random_state, n_init=2,
                       n_jobs=n_jobs)
        for (cov_type, k), model in zip(settings, result.models):
            # A copy of the RandomState, as the sweep's clones of its template get.
            alone = GaussianMixture(k, covariance_type=cov_type, random_state=copy.deepcopy(random_state),
                                    n_init=2).fit(X)
            assert_allclose(model.means_, alone.means_, rtol=1e-10, atol=1e-12)
            assert_allclose(model.lower_bound_, alone.lower_bound_, rtol=1e-12)
            assert model.n_iter_ == alone.n_iter_


def test_restarted_kmeans_starts_are_not_shared():
    """Counts whose start restarts k-means (kmeans_start_runs > 1) seed themselves, and every
    fit of the sweep still equals the plain fit."""
    X, _ = make_blobs(n_samples=3000, centers=6, n_features=3, cluster_std=1.5, random_state=4)
    assert [_gmm.kmeans_start_runs(3000, k, -1) for k in (3, 6, 7)] == [3, 1, 1]
    template = GaussianMixture(random_state=1)
    settings = [("full", k) for k in (3, 6, 7)]
    groups = model_selection._shared_seeding_groups(template, X, settings)
    assert {largest: sorted(settings[i][1] for i in members) for largest, members in groups.items()} == {7: [6, 7]}
    result = sweep(X, [3, 6, 7], random_state=1)
    for (_, k), model in zip(settings, result.models):
        alone = GaussianMixture(k, random_state=1).fit(X)
        assert_allclose(model.means_, alone.means_, rtol=1e-10, atol=1e-12)
        assert model.n_iter_ == alone.n_iter_


def test_nothing_shared_without_a_fixed_seed_or_a_kmeans_start(blobs):
    settings = [("full", k) for k in (8, 9, 10)]
    blobs = np.ascontiguousarray(blobs)
    assert model_selection._shared_seeding_groups(GaussianMixture(random_state=0), blobs, settings)
    for template in (GaussianMixture(), GaussianMixture(random_state=0, init_params="k-means++"),
                     GaussianMixture(random_state=0, means_init=np.zeros((8, 2))),
                     GaussianMixture(random_state=0, kmeans_sample_size=100)):
        assert model_selection._shared_seeding_groups(template, blobs, settings) == {}
