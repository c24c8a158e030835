"""The default k-means start on a bounded sample (kmeans_sample_size)."""

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix import GaussianMixture
from gaussmix._dispatch import core


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.RandomState(3)
    centers = rng.randn(6, 4) * 6
    return np.ascontiguousarray(centers[rng.randint(0, 6, 40_000)] + rng.randn(40_000, 4))


def test_automatic_sample_only_on_large_data():
    from gaussmix import GaussianMixture as G

    small = np.random.RandomState(0).randn(2000, 2)
    # Below twice the automatic sample (32768 rows here), 'auto' is all rows: identical fits.
    a = G(3, random_state=0).fit(small)
    b = G(3, random_state=0, kmeans_sample_size=None).fit(small)
    np.testing.assert_array_equal(a.means_, b.means_)


def test_sample_as_large_as_the_data_is_the_full_start(blobs):
    a = GaussianMixture(6, random_state=1, kmeans_sample_size=None, max_iter=0).fit(blobs)
    b = GaussianMixture(6, random_state=1, kmeans_sample_size=len(blobs), max_iter=0).fit(blobs)
    np.testing.assert_array_equal(a.means_, b.means_)


def test_sampled_start_is_the_sample_centers_nearest_labels(blobs):
    """max_iter=0 returns the start: the M-step of every row's nearest center, the centers
    being k-means on the sample; here recomputed independently with NumPy."""
    gm = GaussianMixture(6, random_state=2, kmeans_sample_size=5000, max_iter=0).fit(blobs)
    # The start's means are the means of the rows nearest to some 6 centers: one more
    # Lloyd step from those means moves them only by the labels' change, so the start's
    # labels are (nearly all) the nearest-mean labels of its own means.
    d = ((blobs[:, None, :] - gm.means_[None]) ** 2).sum(-1)
    labels = d.argmin(1)
    means = np.array([blobs[labels == k].mean(0) for k in range(6)])
    np.testing.assert_allclose(np.sort(means[:, 0]), np.sort(gm.means_[:, 0]), atol=0.05)
    # and they are the cluster structure: every true blob holds one mean
    assert len(np.unique(labels)) == 6


def test_sampled_start_is_reproducible_and_seeded(blobs):
    a = GaussianMixture(6, random_state=5, kmeans_sample_size=3000).fit(blobs)
    b = GaussianMixture(6, random_state=5, kmeans_sample_size=3000).fit(blobs)
    np.testing.assert_array_equal(a.means_, b.means_)
    c = GaussianMixture(6, random_state=6, kmeans_sample_size=3000, max_iter=0).fit(blobs)
    d = GaussianMixture(6, random_state=5, kmeans_sample_size=3000, max_iter=0).fit(blobs)
    assert not np.array_equal(c.means_, d.means_)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_sampled_start_fits_as_well_as_scikit_learn(blobs, covariance_type):
    """Over seeds, the mean final log-likelihood from the sampled start is at least
    scikit-learn's (full-data k-means start) less a small tolerance."""
    ours = [GaussianMixture(6, covariance_type=covariance_type, random_state=s, kmeans_sample_size=2000)
            .fit(blobs).score(blobs) for s in range(4)]
    theirs = [SkGaussianMixture(6, covariance_type=covariance_type, random_state=s).fit(blobs).score(blobs)
              for s in range(4)]
    assert np.mean(ours) >= np.mean(theirs) - 1e-3


def test_weighted_sampled_start(blobs):
    """Weights travel with the sampled rows: integer weights equal repeated rows' start
    when the sample is all rows, and a weighted sampled fit is sane."""
    w = np.random.RandomState(0).randint(0, 3, len(blobs)).astype(float)
    gm = GaussianMixture(6, random_state=0, kmeans_sample_size=4000).fit(blobs, sample_weight=w)
    assert np.all(np.isfinite(gm.means_)) and gm.converged_
    # Only zero-weight rows drawn would leave fewer than n_components weighted rows: the
    # start falls back to all rows rather than failing.
    w0 = np.zeros(len(blobs))
    w0[:6] = 1.0
    gm0 = GaussianMixture(6, random_state=0, kmeans_sample_size=100, max_iter=0).fit(blobs, sample_weight=w0)
    assert np.all(np.isfinite(gm0.means_))


@pytest.mark.parametrize("bad", [0, -1, 2.5, "all", 2**63])
def test_bad_sample_sizes(blobs, bad):
    with pytest.raises((ValueError, TypeError), match="kmeans_sample_size"):
        GaussianMixture(2, kmeans_sample_size=bad).fit(blobs[:100])


def test_core_rejects_negative_sample_sizes(blobs):
    X = blobs[:100]
    e = np.empty(0)
    with pytest.raises(ValueError, match="kmeans_sample_size"):
        core.fit(X, 2, "full", 1e-3, 1e-6, 10, 1, "kmeans", 0, e, e, np.empty((0, 0)), np.empty((0, 0)),
                 kmeans_sample_size=-5)
