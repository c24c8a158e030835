"""Dask fits on a real LocalCluster of two worker processes: equal to the in-memory fit from the
same start, lazy predictions, a worker killed mid-fit survived."""

import threading
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from gaussmix import GaussianMixture  # noqa: E402
from test_out_of_core import COVARIANCE_TYPES, assert_same_fit, blobs, initial_parameters  # noqa: E402


def test_local_scheduler_without_client():
    X = blobs(2000)
    params = dict(n_components=3, **initial_parameters("full", X))
    ref = GaussianMixture(**params).fit(X)
    gm = GaussianMixture(**params).fit(da.from_array(X, chunks=(500, 3)))  # before any client
    assert_same_fit(ref, gm)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_dask_fit_equals_in_memory(client, covariance_type, weighted):
    X = blobs(4000)
    weight = np.random.RandomState(3).uniform(0.2, 3.0, len(X)) if weighted else None
    params = dict(n_components=3, covariance_type=covariance_type, tol=1e-9, max_iter=60,
                  **initial_parameters(covariance_type, X))
    ref = GaussianMixture(**params).fit(X, sample_weight=weight)
    dX = da.from_array(X, chunks=(600, 3))
    dw = None if weight is None else da.from_array(weight, chunks=1000)  # rechunked like X's rows
    gm = GaussianMixture(**params).fit(dX, sample_weight=dw)
    assert_same_fit(ref, gm)
    assert type(gm.means_) is np.ndarray


def test_lazy_predictions(client):
    X = blobs(3000)
    gm = GaussianMixture(3, random_state=0).fit(X)
    dX = da.from_array(X, chunks=(700, 3))
    labels, proba, scores = gm.predict(dX), gm.predict_proba(dX), gm.score_samples(dX)
    for lazy in (labels, proba, scores):
        assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(labels.compute(), gm.predict(X))
    np.testing.assert_allclose(proba.compute(), gm.predict_proba(X), rtol=1e-12)
    np.testing.assert_allclose(scores.compute(), gm.score_samples(X), rtol=1e-12)
    assert gm.score(dX) == pytest.approx(gm.score(X), rel=1e-12)


def test_default_start_on_dask(client):
    X = blobs(5000)
    ref = GaussianMixture(3, random_state=0, n_init=2).fit(X)
    gm = GaussianMixture(3, random_state=0, n_init=2).fit(da.from_array(X, chunks=(800, 3)))
    assert gm.score(X) == pytest.approx(ref.score(X), abs=0.05)
    # same seed, same blocks: the same fit again (the reduction tree has a fixed shape)
    again = GaussianMixture(3, random_state=0, n_init=2).fit(da.from_array(X, chunks=(800, 3)))
    np.testing.assert_array_equal(gm.means_, again.means_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_killed_worker_is_survived(client):
    X = blobs(20000)
    params = dict(n_components=3, tol=0.0, max_iter=40, **initial_parameters("full", X))
    ref = GaussianMixture(**params).fit(da.from_array(X, chunks=(500, 3)))
    import os
    import signal

    pids = client.run(os.getpid)
    victim = pids[sorted(pids)[0]]
    started = time.perf_counter()

    def kill():
        time.sleep(1.0)
        os.kill(victim, signal.SIGKILL)

    killer = threading.Thread(target=kill)
    killer.start()
    gm = GaussianMixture(**params).fit(da.from_array(X, chunks=(500, 3)))
    killer.join()
    assert time.perf_counter() - started > 1.0, "the fit ended before the worker was killed"
    client.wait_for_workers(2, timeout=60)
    assert victim not in client.run(os.getpid).values()  # the nanny started a new process
    assert_same_fit(ref, gm, rtol=0)  # blocks recomputed; the same tree: bit for bit


def test_dask_hostile_input(client):
    X = blobs(1000)
    X[700, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        GaussianMixture(3, **initial_parameters("full", X)).fit(da.from_array(X, chunks=(300, 3)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        GaussianMixture(3, random_state=0).fit(da.from_array(X, chunks=(300, 3)))
    with pytest.raises(ValueError, match="2-D"):
        GaussianMixture(2).fit(da.ones(10, chunks=5))
    with pytest.raises(ValueError, match="sample_weight.shape"):
        GaussianMixture(2).fit(da.ones((10, 2), chunks=5), sample_weight=da.ones(9, chunks=5))
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(20).fit(da.ones((10, 2), chunks=5))
    gm = GaussianMixture(2, random_state=0).fit(blobs(300))
    with pytest.raises(ValueError, match="expecting 3 features"):
        gm.predict(da.ones((10, 2), chunks=5))


def test_dask_not_imported_unless_used():
    import subprocess
    import sys

    code = ("import sys, numpy as np, gaussmix; gm = gaussmix.GaussianMixture(2).fit(np.random.rand(50, 2));"
            "gm.predict(np.random.rand(5, 2)); print(any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
