"""Threads (issue 2, acceptance 7).

Fits run in fresh subprocesses, so that OMP_NUM_THREADS is read by the OpenMP
runtime at start-up: results on 1 and 2 OpenMP threads agree to 1e-10
relative in float64; a fixed thread count is bit-reproducible; and
``threadpoolctl.threadpool_limits(1)`` is honoured: gaussmix's OpenMP runtime
is one threadpoolctl sees, no OpenMP worker thread is started under the limit,
and the limited fit equals the fit of a 1-thread process.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from estimator_helpers import COVARIANCE_TYPES, assert_allclose_scaled, is_standin

# Large enough that the E-step is split over threads ("small inputs run on one thread").
N_SAMPLES, N_FEATURES, N_COMPONENTS = 40_000, 6, 4

_COMMON = textwrap.dedent(
    f"""
    import json, os, sys, warnings
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)
    from gaussmix import GaussianMixture

    def make_data():
        rng = np.random.RandomState(0)
        centres = rng.uniform(-3, 3, size=({N_COMPONENTS}, {N_FEATURES}))
        labels = rng.randint(0, {N_COMPONENTS}, size={N_SAMPLES})
        X = centres[labels] + rng.standard_normal(({N_SAMPLES}, {N_FEATURES}))
        return X + 10.0

    def fit(X, covariance_type, **kw):
        return GaussianMixture(n_components={N_COMPONENTS}, covariance_type=covariance_type,
                               random_state=0, max_iter=30, tol=1e-6, **kw).fit(X)

    ATTRS = ["weights_", "means_", "covariances_", "precisions_cholesky_"]

    def summary(gm, X):
        out = {{a: np.asarray(getattr(gm, a), dtype=np.float64).tolist() for a in ATTRS}}
        out["n_iter_"] = int(gm.n_iter_)
        out["lower_bound_"] = float(gm.lower_bound_)
        out["score_samples"] = gm.score_samples(X[:500]).astype(np.float64).tolist()
        return out

    def thread_count():
        return len(os.listdir("/proc/self/task"))
    """
)

_FIT_ALL = _COMMON + textwrap.dedent(
    """
    X = make_data()
    results = {}
    for dtype in ("float64", "float32"):
        Xd = X.astype(dtype)
        for t in ("full", "tied", "diag", "spherical"):
            a = fit(Xd, t)
            b = fit(Xd, t)
            same = all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ATTRS)
            same = same and a.lower_bound_ == b.lower_bound_ and a.n_iter_ == b.n_iter_
            results[f"{dtype}/{t}"] = dict(summary(a, Xd), bit_reproducible=bool(same))
    json.dump(results, sys.stdout)
    """
)

_LIMITS = _COMMON + textwrap.dedent(
    """
    from threadpoolctl import threadpool_limits
    X = make_data()
    before = thread_count()  # no OpenMP region has run yet in this process
    with threadpool_limits(limits=1, user_api="openmp"):
        limited = fit(X, "full")
        during = thread_count()
    after_limited = thread_count()
    unlimited = fit(X, "full")
    after_unlimited = thread_count()
    json.dump(dict(limited=summary(limited, X), before=before, during=during,
                   after_limited=after_limited, after_unlimited=after_unlimited),
              sys.stdout)
    """
)


def _run(script, omp_threads):
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = str(omp_threads)
    env["OPENBLAS_NUM_THREADS"] = "1"  # only gaussmix's OpenMP threads vary
    env["MKL_NUM_THREADS"] = "1"
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def one_thread():
    return _run(_FIT_ALL, 1)


@pytest.fixture(scope="module")
def two_threads():
    return _run(_FIT_ALL, 2)


def _compare(a, b, rtol, where):
    assert a["n_iter_"] == b["n_iter_"], where
    for key in ("weights_", "means_", "covariances_", "precisions_cholesky_", "score_samples"):
        assert_allclose_scaled(b[key], a[key], rtol, err_msg=f"{where}: {key}")
    np.testing.assert_allclose(b["lower_bound_"], a["lower_bound_"], rtol=rtol,
                               err_msg=f"{where}: lower_bound_")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_and_two_threads_agree_float64(one_thread, two_threads, covariance_type):
    key = f"float64/{covariance_type}"
    _compare(one_thread[key], two_threads[key], 1e-10, key)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_and_two_threads_agree_float32(one_thread, two_threads, covariance_type):
    key = f"float32/{covariance_type}"
    _compare(one_thread[key], two_threads[key], 1e-4, key)


def test_fixed_thread_count_is_bit_reproducible(one_thread, two_threads):
    for name, results in (("1 thread", one_thread), ("2 threads", two_threads)):
        not_reproducible = [k for k, v in results.items() if not v["bit_reproducible"]]
        assert not not_reproducible, f"{name}: {not_reproducible}"


def _gmm_openmp_library():
    """Path of the OpenMP runtime the compiled module links, or None."""
    try:
        import gaussmix._gmm as ext
    except ImportError:
        return None
    proc = subprocess.run(["ldd", ext.__file__], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        name = line.strip().split()[0] if line.strip() else ""
        if any(lib in name for lib in ("libgomp", "libomp", "libiomp")):
            parts = line.split("=>")
            path = parts[1].split("(")[0].strip() if len(parts) > 1 else name
            return os.path.realpath(path)
    return None


def test_threadpoolctl_sees_gaussmix_openmp():
    if is_standin():
        pytest.skip("no compiled gaussmix._gmm in the stand-in")
    lib = _gmm_openmp_library()
    if lib is None:
        pytest.skip("gaussmix._gmm is not linked against an OpenMP runtime")
    from threadpoolctl import threadpool_info, threadpool_limits

    openmp = [i for i in threadpool_info() if i["user_api"] == "openmp"]
    paths = {os.path.realpath(i["filepath"]) for i in openmp}
    assert lib in paths, f"{lib} not among threadpoolctl's OpenMP libraries {paths}"
    with threadpool_limits(limits=1, user_api="openmp"):
        limited = [i for i in threadpool_info()
                   if os.path.realpath(i["filepath"]) == lib]
        assert limited and all(i["num_threads"] == 1 for i in limited)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 CPUs")
def test_threadpool_limits_is_honoured(one_thread):
    out = _run(_LIMITS, 2)
    limited = out.pop("limited")
    # under the limit no OpenMP worker thread was started ...
    assert out["during"] == out["before"], out
    assert out["after_limited"] == out["before"], out
    # ... and the result is the 1-thread process's result
    _compare(one_thread["float64/full"], limited, 1e-12, "limited vs 1 thread")
    # without the limit, the same process does start a worker thread: so the
    # check above was not vacuous
    assert out["after_unlimited"] > out["before"], (
        "no OpenMP worker thread started with OMP_NUM_THREADS=2 on "
        f"{N_SAMPLES}x{N_FEATURES}: is the E-step parallel? thread counts {out}")
