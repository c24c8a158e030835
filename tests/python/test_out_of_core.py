"""Out-of-core fits (memmap, Chunks): equal to the in-memory fit from the same start; hostile chunks."""

import numpy as np
import pytest

from gaussmix import Chunks, GaussianMixture
from gaussmix import _sources

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def blobs(n=3000, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    centers = np.array([[0.0, 0.0, 0.0], [6.0, 1.0, -2.0], [-3.0, 7.0, 4.0]])
    labels = rng.randint(0, 3, n)
    X = centers[labels] + rng.randn(n, 3) @ np.array([[1.0, 0.3, 0.0], [0.0, 0.8, 0.2], [0.0, 0.0, 0.6]])
    return X.astype(dtype)


def initial_parameters(covariance_type, X):
    """A rough start, identical for every fit: means near the blobs, unit precisions."""
    rng = np.random.RandomState(1)
    means = np.array([[0.5, -0.5, 0.3], [5.0, 1.5, -1.0], [-2.0, 6.0, 3.0]]) + 0.1 * rng.randn(3, 3)
    D = X.shape[1]
    precisions = {
        "full": np.stack([np.eye(D)] * 3),
        "tied": np.eye(D),
        "diag": np.ones((3, D)),
        "spherical": np.ones(3),
    }[covariance_type]
    return dict(weights_init=[0.3, 0.3, 0.4], means_init=means, precisions_init=precisions)


def chunks_of(X, rows, weight=None):
    if weight is None:
        return Chunks(lambda: (X[i:i + rows] for i in range(0, len(X), rows)))
    return Chunks(lambda: ((X[i:i + rows], weight[i:i + rows]) for i in range(0, len(X), rows)))


def assert_same_fit(a, b, rtol=1e-10):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=rtol * np.abs(getattr(a, name)).max(),
                                   err_msg=name)
    assert a.n_iter_ == b.n_iter_
    assert a.converged_ == b.converged_
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=rtol)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)


@pytest.fixture
def memmap_of(tmp_path):
    def make(array):
        path = tmp_path / f"x{array.ndim}_{array.size}.dat"
        mm = np.memmap(path, dtype=array.dtype, mode="w+", shape=array.shape)
        mm[:] = array
        mm.flush()
        return np.memmap(path, dtype=array.dtype, mode="r", shape=array.shape)

    return make


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_chunked_and_memmap_fits_equal_in_memory(covariance_type, weighted, memmap_of, monkeypatch):
    X = blobs()
    weight = np.random.RandomState(3).uniform(0.2, 3.0, len(X)) if weighted else None
    params = dict(n_components=3, covariance_type=covariance_type, tol=1e-9, max_iter=60,
                  **initial_parameters(covariance_type, X))
    ref = GaussianMixture(**params).fit(X, sample_weight=weight)
    assert ref.n_iter_ > 3
    chunked = GaussianMixture(**params).fit(chunks_of(X, 701, weight))
    assert_same_fit(ref, chunked)
    monkeypatch.setattr(_sources, "CHUNK_BYTES", 24 * 500)  # memmap cut into chunks of 4096 rows
    mapped = GaussianMixture(**params).fit(memmap_of(np.vstack([X] * 2)),
                                           sample_weight=None if weight is None else np.r_[weight, weight])
    ref2 = GaussianMixture(**params).fit(np.vstack([X] * 2), sample_weight=None if weight is None else np.r_[weight, weight])
    assert_same_fit(ref2, mapped)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_chunks_are_one_pass_per_iteration():
    X = blobs(1000)
    passes = []

    def chunks():
        passes.append(1)
        return (X[i:i + 300] for i in range(0, len(X), 300))

    gm = GaussianMixture(3, max_iter=5, tol=0.0, **initial_parameters("full", X)).fit(Chunks(chunks))
    # a scan (rows), then one E-step pass per iteration; given parameters need no init pass
    assert gm.n_iter_ == 5 and len(passes) == 1 + 5


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_default_starts_fit_as_well(init_params):
    X = blobs(4000)
    ref = GaussianMixture(3, init_params=init_params, random_state=0, n_init=2).fit(X)
    gm = GaussianMixture(3, init_params=init_params, random_state=0, n_init=2).fit(chunks_of(X, 999))
    assert gm.score(X) == pytest.approx(ref.score(X), abs=0.05)


def test_kmeans_start_on_small_data_equals_in_memory():
    # All rows fit in the sample: k-means runs on exactly X, as in memory.
    X = blobs(2000)
    ref = GaussianMixture(3, random_state=4).fit(X)
    gm = GaussianMixture(3, random_state=4).fit(chunks_of(X, 512))
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-8)


def test_sample_bounded(monkeypatch):
    monkeypatch.setattr(_sources, "SAMPLE_ROWS", 500)
    X = blobs(5000)
    taken = []
    original = _sources.ChunkedSource.take

    def spy(self, rows):
        taken.append(len(rows))
        return original(self, rows)

    monkeypatch.setattr(_sources.ChunkedSource, "take", spy)
    gm = GaussianMixture(3, random_state=0).fit(chunks_of(X, 1000))
    assert taken == [500]
    assert gm.score(X) > GaussianMixture(1).fit(X).score(X)


def test_inference_on_chunks_and_memmap(memmap_of):
    X = blobs(3000)
    gm = GaussianMixture(3, random_state=0).fit(X)
    mm = memmap_of(X)
    for source in (mm, chunks_of(X, 700)):
        np.testing.assert_array_equal(gm.predict(source), gm.predict(X))
        np.testing.assert_allclose(gm.predict_proba(source), gm.predict_proba(X), rtol=1e-12)
        np.testing.assert_allclose(gm.score_samples(source), gm.score_samples(X), rtol=1e-12)
        assert gm.score(source) == pytest.approx(gm.score(X), rel=1e-12)
    w = np.linspace(0.1, 2, len(X))
    assert gm.score(mm, sample_weight=w) == pytest.approx(gm.score(X, sample_weight=w), rel=1e-12)


def test_float32_chunks_fit_in_float32():
    X = blobs(2000, dtype=np.float32)
    gm = GaussianMixture(3, random_state=0).fit(chunks_of(X, 500))
    assert gm.means_.dtype == np.float32 and gm.predict(chunks_of(X, 500)).shape == (2000,)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_over_chunks():
    X = blobs(2000)
    params = dict(n_components=3, max_iter=3, tol=0.0, warm_start=True, **initial_parameters("full", X))
    ref = GaussianMixture(**params).fit(X)
    ref.fit(X)
    gm = GaussianMixture(**params).fit(chunks_of(X, 600))
    gm.fit(chunks_of(X, 600))
    assert_same_fit(ref, gm)


# ------------------------------------------------------------------------------ hostile input

def test_nan_in_a_chunk():
    X = blobs(2000)
    X[1500, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        GaussianMixture(3, random_state=0).fit(chunks_of(X, 700))
    X[1500, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        GaussianMixture(3, **initial_parameters("full", X)).fit(chunks_of(X, 700))


def test_wrong_feature_count_between_chunks():
    X = blobs(1000)
    chunks = Chunks(lambda: iter([X[:500], X[500:, :2]]))
    with pytest.raises(ValueError, match="chunk 1 has 2 features, expected 3"):
        GaussianMixture(2).fit(chunks)


def test_empty_chunks_are_skipped_but_no_data_is_an_error():
    X = blobs(1000)
    empty = np.empty((0, 3))
    chunks = Chunks(lambda: iter([empty, X[:500], empty, X[500:], empty]))
    gm = GaussianMixture(3, **initial_parameters("full", X)).fit(chunks)
    ref = GaussianMixture(3, **initial_parameters("full", X)).fit(X)
    assert_same_fit(ref, gm)
    with pytest.raises(ValueError, match="no samples"):
        GaussianMixture(2).fit(Chunks(lambda: iter([empty, empty])))
    with pytest.raises(ValueError, match="no samples"):
        GaussianMixture(2).fit(Chunks(lambda: iter([])))


def test_fewer_rows_than_components():
    X = blobs(10)
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(11).fit(chunks_of(X, 3))


def test_bad_chunk_objects():
    with pytest.raises(TypeError, match="function"):
        Chunks(iter([np.ones((3, 2))]))
    with pytest.raises(TypeError, match="iterator"):
        GaussianMixture(1).fit(iter([np.ones((3, 2))]))
    with pytest.raises(TypeError, match="chunk 0"):
        GaussianMixture(1).fit(Chunks(lambda: iter([np.array([["a", "b"]])])))
    with pytest.raises(ValueError, match="2-D"):
        GaussianMixture(1).fit(Chunks(lambda: iter([np.ones(5)])))
    with pytest.raises(TypeError, match="inside the chunks"):
        GaussianMixture(1).fit(Chunks(lambda: iter([np.ones((3, 2))])), sample_weight=np.ones(3))
    X = blobs(100)
    bad = Chunks(lambda: iter([(X, np.ones(99))]))
    with pytest.raises(ValueError, match="sample_weight has shape"):
        GaussianMixture(1).fit(bad)
    bad = Chunks(lambda: iter([(X, -np.ones(100))]))
    with pytest.raises(ValueError, match="non-negative"):
        GaussianMixture(1).fit(bad)


def test_inference_with_wrong_features_on_chunks():
    X = blobs(300)
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="2 features, expected 3"):
        gm.predict(Chunks(lambda: iter([X[:, :2]])))


def test_memmap_wrong_weights(memmap_of):
    mm = memmap_of(blobs(200))
    with pytest.raises(ValueError, match="sample_weight.shape"):
        GaussianMixture(2).fit(mm, sample_weight=np.ones(10))
