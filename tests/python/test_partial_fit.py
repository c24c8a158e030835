"""partial_fit: stepwise EM on a stream reaches the batch fit; schedule limits; bounded memory."""

import tracemalloc

import numpy as np
import pytest

from gaussmix import GaussianMixture
from test_out_of_core import blobs


def stream(X, batch, passes, seed=0):
    rng = np.random.RandomState(seed)
    for _ in range(passes):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            yield X[order[start:start + batch]]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_few_passes_reach_the_batch_fit(covariance_type):
    X = blobs(6000, seed=2)
    batch = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    online = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    for chunk in stream(X, 500, passes=3):
        online.partial_fit(chunk)
    # within 1% of the batch fit's log-likelihood (and not better than an exact EM optimum by more)
    assert abs(online.score(X) - batch.score(X)) <= 0.01 * abs(batch.score(X))
    assert online.n_iter_ == 3 * 12


def test_schedule_limits():
    X = blobs(200)
    for decay in (0.5, 0.2, 1.5, 0.0):
        with pytest.raises(ValueError, match="learning_decay"):
            GaussianMixture(2, learning_decay=decay).partial_fit(X)
    with pytest.raises(ValueError, match="learning_offset"):
        GaussianMixture(2, learning_offset=-1.0).partial_fit(X)
    GaussianMixture(2, learning_decay=1.0, random_state=0).partial_fit(X).partial_fit(X)
    GaussianMixture(2, learning_decay=0.51, random_state=0).partial_fit(X)


def test_step_sizes_follow_the_schedule():
    # The counts are untouched by recentring: (1 - eta) old + eta (batch posteriors' mean), with
    # the batch's posteriors from predict_proba under the model before the step.
    X = blobs(900)
    gm = GaussianMixture(3, random_state=0, learning_decay=0.8, learning_offset=2.0).partial_fit(X[:300])
    old = gm._online["statistics"]["resp_sum"].copy()
    batch = gm.predict_proba(X[300:600]).mean(axis=0)
    gm.partial_fit(X[300:600])
    eta = (2 + 2.0) ** -0.8
    np.testing.assert_allclose(gm._online["statistics"]["resp_sum"], (1 - eta) * old + eta * batch, rtol=1e-10)
    assert gm.n_iter_ == 2


def test_first_batch_needs_n_components_rows():
    with pytest.raises(ValueError, match="at least n_components = 5"):
        GaussianMixture(5).partial_fit(np.random.rand(4, 2))


def test_hostile_batches():
    gm = GaussianMixture(2, random_state=0).partial_fit(blobs(100))
    with pytest.raises(ValueError, match="features"):
        gm.partial_fit(np.ones((10, 2)))
    bad = blobs(100)
    bad[5, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gm.partial_fit(bad)
    with pytest.raises(ValueError):
        gm.partial_fit(np.empty((0, 3)))
    with pytest.raises(ValueError, match="sample_weight"):
        gm.partial_fit(blobs(10), sample_weight=-np.ones(10))
    means = gm.means_.copy()
    assert np.all(np.isfinite(means))  # failed batches left the model as it was
    gm.partial_fit(blobs(50))
    assert np.all(np.isfinite(gm.means_))


def test_weighted_batches_equal_repeated_rows():
    X = blobs(400)
    w = np.random.RandomState(0).randint(1, 3, len(X))
    a = GaussianMixture(3, **start()).partial_fit(X, sample_weight=w).partial_fit(X, sample_weight=w)
    b = GaussianMixture(3, **start()).partial_fit(np.repeat(X, w, axis=0)).partial_fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-10)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-10)


def start():
    from test_out_of_core import initial_parameters

    return initial_parameters("full", blobs(10))


def test_continues_from_fit_and_pickles():
    import pickle

    X = blobs(2000)
    gm = GaussianMixture(3, random_state=0).fit(X)
    score = gm.score(X)
    gm.partial_fit(X[:500])
    again = pickle.loads(pickle.dumps(gm)).partial_fit(X[500:1000])
    assert again.score(X) == pytest.approx(score, abs=0.02)


def test_memory_does_not_grow_with_batches():
    X = blobs(100_000, seed=5)
    gm = GaussianMixture(3, random_state=0)
    batches = [X[i:i + 1000] for i in range(0, len(X), 1000)]
    for b in batches[:10]:
        gm.partial_fit(b)
    tracemalloc.start()
    for b in batches[10:30]:
        gm.partial_fit(b)
    after_20, _ = tracemalloc.get_traced_memory()
    for b in batches[30:]:
        gm.partial_fit(b)
    after_90, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert after_90 - after_20 < 64 * 1024, (after_20, after_90)


def _rss_anon_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    pytest.skip("no RssAnon in /proc/self/status")


def test_stream_of_ten_million_rows_in_bounded_memory():
    """10^7 rows (D = 2) in 100 batches of 10^5, generated on the fly: the process's anonymous
    resident memory (heap: NumPy and the core's allocations alike, unlike tracemalloc) after the
    last batch is that after the tenth, and the stream was fitted."""
    centers = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 4.0]])
    rng = np.random.default_rng(7)

    def batch(n=100_000):
        return centers[rng.integers(0, 3, n)] + rng.standard_normal((n, 2))

    gm = GaussianMixture(3, random_state=0)
    rss = []
    for t in range(100):
        gm.partial_fit(batch())
        if t in (9, 99):
            rss.append(_rss_anon_bytes())
    assert rss[1] - rss[0] < 8 << 20, f"RssAnon grew by {(rss[1] - rss[0]) >> 20} MiB over 90 batches"
    found = gm.means_[np.argsort(gm.means_[:, 0])]
    np.testing.assert_allclose(found, centers[np.argsort(centers[:, 0])], atol=0.05)
