"""gaussmix.plotting with the Agg backend: what was drawn, not just that it ran."""

import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, Ellipse  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.datasets import load_digits, make_blobs  # noqa: E402

from gaussmix import GaussianMixture, plotting  # noqa: E402
from gaussmix.model_selection import AutoGaussianMixture, sweep  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def stretched():
    X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.6, random_state=0)
    return X @ np.random.RandomState(13).randn(2, 2)


def _ellipses(ax):
    return [p for p in ax.patches if isinstance(p, Ellipse)]


def _expected_axes(covariance):
    """Full widths of the 1-sigma ellipse (major, minor) and the major axis direction."""
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    return 2 * np.sqrt(eigenvalues[::-1]), eigenvectors[:, 1]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_ellipses_match_the_covariance_eigenvalues(stretched, covariance_type):
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(stretched)
    ax = plotting.draw_ellipses(model, ax=plt.figure().subplots())
    patches = _ellipses(ax)
    assert len(patches) == 3 * 3  # three components, 1-3 sigma each
    covariances = plotting.component_covariances(model)
    for i in range(3):
        (major, minor), direction = _expected_axes(covariances[i])
        for k, patch in zip((1, 2, 3), patches[3 * i: 3 * i + 3]):
            assert_allclose(patch.center, model.means_[i])
            assert_allclose([patch.width, patch.height], [k * major, k * minor], rtol=1e-10)
            if not np.isclose(major, minor):  # a circle has no orientation
                angle = np.radians(patch.angle)
                assert abs(np.dot([np.cos(angle), np.sin(angle)], direction)) == pytest.approx(1)
        # Opacity follows the weight, the heaviest component at 0.2.
        assert patches[3 * i].get_alpha() == pytest.approx(
            0.2 * model.weights_[i] / model.weights_.max())
    if covariance_type == "spherical":
        assert all(np.isclose(p.width, p.height) for p in patches)
    if covariance_type == "diag":
        assert all(np.isclose(p.angle % 90, 0) or np.isclose(p.angle % 90, 90) for p in patches)
    if covariance_type == "tied":
        assert len({round(p.width / k, 10) for p, k in zip(patches, [1, 2, 3] * 3)}) == 1


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_component_covariances_expands_every_type(covariance_type):
    X = np.random.default_rng(0).normal(size=(200, 3)) * [1, 2, 3]
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    full = plotting.component_covariances(model, dims=None)
    assert full.shape == (2, 3, 3)
    reference = {
        "full": lambda c: c,
        "tied": lambda c: [c, c],
        "diag": lambda c: [np.diag(v) for v in c],
        "spherical": lambda c: [v * np.eye(3) for v in c],
    }[covariance_type](model.covariances_)
    assert_allclose(full, reference)
    assert_allclose(plotting.component_covariances(model, dims=(2, 0)),
                    full[:, [2, 0]][:, :, [2, 0]])


def test_draw_ellipse_accepts_a_diagonal_or_a_variance():
    ax = plt.figure().subplots()
    plotting.draw_ellipse([1, 2], [4.0, 1.0], ax=ax, n_sigma=(1, 2))
    plotting.draw_ellipse([0, 0], 9.0, ax=ax, n_sigma=(1,))
    widths = [(p.width, p.height) for p in _ellipses(ax)]
    assert_allclose(widths, [(4, 2), (8, 4), (6, 6)])


def test_plot_mixture_sizes_show_certainty(stretched):
    model = GaussianMixture(3, random_state=0).fit(stretched)
    ax = plotting.plot_mixture(model, stretched, certainty=True, ellipses=False,
                               ax=plt.figure().subplots())
    (points,) = ax.collections
    assert_allclose(points.get_offsets(), stretched)
    assert_allclose(points.get_sizes(), 50 * model.predict_proba(stretched).max(axis=1) ** 2)
    assert_array_equal(points.get_array(), model.predict(stretched))
    assert not _ellipses(ax)
    assert points.get_sizes().min() < 40  # points between clusters are less certain


def test_plot_mixture_labels_and_ellipses(stretched):
    model = AutoGaussianMixture(n_components=4, random_state=0).fit(stretched)
    ax = plotting.plot_mixture(model, stretched, ax=plt.figure().subplots())
    (points,) = ax.collections
    assert_array_equal(points.get_array(), model.predict(stretched))
    assert_array_equal(points.get_sizes(), [40])
    assert len(_ellipses(ax)) == 3 * model.n_components_


def test_plot_mixture_without_labels(stretched):
    model = GaussianMixture(16, random_state=0).fit(stretched)
    ax = plotting.plot_mixture(model, stretched, label=False, ax=plt.figure().subplots())
    (points,) = ax.collections
    assert points.get_array() is None
    assert len(_ellipses(ax)) == 48


def test_plot_kmeans_circles_reach_the_farthest_member(stretched):
    kmeans = KMeans(3, random_state=0, n_init=10)
    ax = plotting.plot_kmeans(kmeans, stretched, ax=plt.figure().subplots())
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == 3
    labels = kmeans.predict(stretched)
    for i, circle in enumerate(circles):
        centre = kmeans.cluster_centers_[i]
        assert_allclose(circle.center, centre)
        members = stretched[labels == i]
        assert circle.radius == pytest.approx(np.linalg.norm(members - centre, axis=1).max())
    assert_array_equal(ax.collections[0].get_array(), labels)


def test_plot_criteria_draws_the_table(stretched):
    result = sweep(stretched, range(1, 6), random_state=0)
    ax = result.plot(ax=plt.figure().subplots())
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["AIC", "BIC"]
    assert_array_equal(lines[0].get_xdata(), range(1, 6))
    assert_allclose(lines[0].get_ydata(), result.table["aic"])
    assert_allclose(lines[1].get_ydata(), result.table["bic"])
    assert ax.get_xlabel() == "n_components"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["AIC", "BIC"]


def test_plot_criteria_with_cv_and_two_covariance_types(stretched):
    result = sweep(stretched, [1, 2, 3], covariance_type=["full", "diag"], cv=3, random_state=0)
    ax = plotting.plot_criteria(result, criteria=["bic", "cv"], ax=plt.figure().subplots())
    assert [line.get_label() for line in ax.get_lines()] == ["BIC (full)", "BIC (diag)"]
    (twin,) = [a for a in ax.figure.axes if a is not ax]
    assert [line.get_label() for line in twin.get_lines()] == [
        "CV log-likelihood (full)", "CV log-likelihood (diag)"]
    assert_allclose(twin.get_lines()[1].get_ydata(), result.table["cv"][3:])
    assert len(ax.get_legend().get_texts()) == 4
    only_cv = plotting.plot_criteria(result, criteria=["cv"], ax=plt.figure().subplots())
    assert len(only_cv.figure.axes) == 1 and len(only_cv.get_lines()) == 2


def test_plot_digits_grid():
    data = load_digits().data
    axes = plotting.plot_digits(data)
    assert axes.shape == (10, 10)
    for i, axi in enumerate(axes.flat[:3]):
        (image,) = axi.get_images()
        assert_array_equal(image.get_array(), data[i].reshape(8, 8))
        assert image.get_clim() == (0, 16)
        assert not axi.get_xticks().size
    few = plotting.plot_digits(data[:5], axes=plt.figure().subplots(2, 3))
    assert [len(a.get_images()) for a in few.flat] == [1, 1, 1, 1, 1, 0]
    assert not few.flat[5].axison


def test_functions_draw_on_the_current_axes_by_default(stretched):
    model = GaussianMixture(2, random_state=0).fit(stretched)
    ax = plt.figure().subplots()
    assert plotting.draw_ellipses(model) is ax
    assert plotting.plot_mixture(model, stretched) is ax


def test_missing_matplotlib_is_explained(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"gaussmix\[plot\]"):
        plotting.draw_ellipse([0, 0], 1.0)


def test_docstring_examples():
    import doctest

    assert doctest.testmod(plotting).failed == 0
