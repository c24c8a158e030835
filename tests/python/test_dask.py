"""Dask fits on a real LocalCluster of two worker processes: equal to the in-memory fit from the
same start, lazy predictions, a worker killed mid-fit survived."""

import threading
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from gaussmix import GaussianMixture  # noqa: E402
from test_out_of_core import COVARIANCE_TYPES, assert_same_fit, blobs, chunks_of, initial_parameters  # noqa: E402


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


def many_blobs(n, seed=0):
    """Eight clusters of unequal sizes and spreads in 4-D: k-means starts differ in quality."""
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-8, 8, (8, 4))
    labels = rng.choice(8, n, p=np.array([1, 1, 2, 2, 3, 3, 4, 4]) / 20)
    return centers[labels] + rng.randn(n, 4) * rng.uniform(0.4, 1.6, 8)[labels, None]


def test_default_start_on_dask(client):
    """k-means|| on the workers: over seeds, the mean final log-likelihood lies within the spread
    of the in-memory default fits (its start: k-means on all rows)."""
    X = many_blobs(6000)
    dX = da.from_array(X, chunks=(1500, 4))
    seeds = range(5)
    ref = [GaussianMixture(8, random_state=s).fit(X).score(X) for s in seeds]
    fits = [GaussianMixture(8, random_state=s).fit(dX) for s in seeds]
    got = [gm.score(X) for gm in fits]
    assert min(ref) - 1e-9 <= np.mean(got) <= max(ref) + 1e-9, (ref, got)
    assert np.mean(got) >= np.mean(ref) - np.std(ref) - 1e-9, (ref, got)
    # same seed, same blocks: the same fit again (per-block seeds, a reduction tree of fixed shape)
    np.testing.assert_array_equal(GaussianMixture(8, random_state=0).fit(dX).means_, fits[0].means_)


@pytest.fixture
def kmeans_parallel_on_chunks(monkeypatch):
    """Chunked sources made to start with k-means|| and to run restarts one after the other:
    the reference for the Dask start and the Dask restarts."""
    from gaussmix import _sources

    monkeypatch.setattr(_sources.ChunkedSource, "kmeans_start", "kmeans||")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_parallel_is_one_algorithm_over_any_source(client, kmeans_parallel_on_chunks, weighted):
    """The same k-means|| over Chunks of the same rows gives the same fit as on Dask: the draws
    depend on (seed, round, block) only and both sources fold the blocks in order."""
    X = many_blobs(6000, seed=1)
    w = np.random.RandomState(2).uniform(0.5, 2.0, len(X)) if weighted else None
    params = dict(n_components=8, random_state=3, max_iter=5, tol=0.0)
    gm = GaussianMixture(**params).fit(da.from_array(X, chunks=(1000, 4)),
                                       sample_weight=None if w is None else da.from_array(w, chunks=1000))
    ref = GaussianMixture(**params).fit(chunks_of(X, 1000, w))
    assert_same_fit(ref, gm, rtol=1e-12)


def test_restarts_run_concurrently_and_keep_the_best(client, kmeans_parallel_on_chunks, capsys):
    """n_init = 4 on Dask (restarts on threads, their graphs interleaved) picks what the core's
    sequential driver picks from the same starts (Chunks with the same start, restart by
    restart), and reports every restart in order."""
    X = many_blobs(6000, seed=4)
    params = dict(n_components=8, random_state=5, n_init=4, verbose=2, verbose_interval=1000)
    gm = GaussianMixture(**params).fit(da.from_array(X, chunks=(1000, 4)))
    on_dask = capsys.readouterr().out
    ref = GaussianMixture(**params).fit(chunks_of(X, 1000))
    sequential = capsys.readouterr().out
    assert_same_fit(ref, gm, rtol=1e-12)
    bounds = [line.split("lower bound")[1].split()[0] for line in on_dask.splitlines() if "time lapse" in line]
    assert len(bounds) == 4 and len(set(bounds)) > 1  # distinct restarts: the choice mattered
    assert bounds == [line.split("lower bound")[1].split()[0] for line in sequential.splitlines()
                      if "time lapse" in line]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_restarts_overlap_in_time(monkeypatch):
    """Without a client (the local threaded scheduler), restarts' passes are in flight together."""
    import gaussmix._dask as gdask

    X = many_blobs(4000, seed=6)
    active, peak, lock = [0], [0], threading.Lock()
    original = gdask.DaskSource._compute

    def compute(value):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.01)
            return original(value)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(gdask.DaskSource, "_compute", staticmethod(compute))
    GaussianMixture(4, random_state=0, n_init=3, max_iter=5).fit(da.from_array(X, chunks=(1000, 4)))
    assert peak[0] >= 2


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


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
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
    X = blobs(1000)
    X[100, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):  # k-means||'s first pass
        GaussianMixture(3, random_state=0, n_init=2).fit(da.from_array(X, chunks=(300, 3)))
    good = da.from_array(blobs(1000), chunks=(250, 3))

    def block(location, bad):
        return lambda b, block_info=None: bad(b) if block_info[0]["chunk-location"][0] == location else b

    narrow = good.map_blocks(block(2, lambda b: b[:, :2]), dtype=good.dtype)  # the graph lies about a block
    with pytest.raises(ValueError, match="chunk 2 has 2 features, expected 3"):
        GaussianMixture(3, random_state=0).fit(narrow)
    flat = good.map_blocks(block(1, lambda b: b[:, 0]), dtype=good.dtype)
    with pytest.raises(ValueError, match="chunk 1: expected a 2-D array"):
        GaussianMixture(3, random_state=0, n_init=2).fit(flat)
    text = good.map_blocks(block(3, lambda b: b.astype(str)), dtype=good.dtype)
    with pytest.raises(TypeError, match="chunk 3: expected a 2-D numeric array"):
        GaussianMixture(3, random_state=0).fit(text)
    with pytest.raises(ValueError, match="sample_weight contains NaN"):
        w = np.ones(1000)
        w[600] = np.nan
        GaussianMixture(3, random_state=0).fit(good, sample_weight=da.from_array(w, chunks=250))
    # fewer distinct rows than components: k-means|| finds too few candidates and the bounded
    # sample decides, as in memory
    same = np.repeat(blobs(2), 50, axis=0)
    try:
        expected = GaussianMixture(3, random_state=0, max_iter=3).fit(same).means_
    except ValueError as error:
        with pytest.raises(ValueError, match=str(error)[:30]):
            GaussianMixture(3, random_state=0, max_iter=3).fit(da.from_array(same, chunks=(30, 3)))
    else:
        got = GaussianMixture(3, random_state=0, max_iter=3).fit(da.from_array(same, chunks=(30, 3))).means_
        assert got.shape == expected.shape and np.all(np.isfinite(got))
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
