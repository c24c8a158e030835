"""What the machine can do: CPU line, matrix-multiply peak, memory read bandwidth.

All measured in the calling process under ``threadpoolctl.threadpool_limits(threads)``
so the ceilings are those of the same thread count as the timings they are compared to.
"""

from __future__ import annotations

import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


def cpu_line():
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and not model:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        model = platform.processor()
    isa = [x for x in ("avx512f", "avx2", "fma", "neon", "asimd") if x in flags]
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        mem = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model or platform.machine()}, {ncpu} CPUs ({' '.join(isa) or 'no AVX'}){mem}"


def blas_line():
    parts = []
    libs = [x for x in threadpool_info() if x.get("user_api") == "blas"]
    # NumPy's own BLAS is the one the matmul peak measures (SciPy may load another).
    libs = [x for x in libs if "numpy" in x.get("filepath", "")] or libs
    for lib in libs:
        parts.append(f"{lib.get('internal_api')} {lib.get('version')} "
                     f"({lib.get('architecture', '')})")
    return "; ".join(parts)


def matmul_gflops(n, dtype, repeats=3):
    """Best-of-``repeats`` GFLOP/s of an n x n @ n x n product (2 n^3 flops)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=c)  # warm-up
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t)
    return 2.0 * n**3 / best / 1e9


def read_bandwidth(threads, nbytes=512 * 2**20, repeats=5):
    """Best-of GB/s of summing a float64 array, split over ``threads`` Python threads
    (NumPy's reductions release the GIL, so the threads read in parallel)."""
    x = np.ones(nbytes // 8)
    chunks = np.array_split(x, threads)
    best = np.inf
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(np.sum, chunks))  # warm-up, pages touched
        for _ in range(repeats):
            t = time.perf_counter()
            list(pool.map(np.sum, chunks))
            best = min(best, time.perf_counter() - t)
    return x.nbytes / best / 1e9


def exp_seconds():
    """Seconds per value of gaussmix's vectorised exp() on one thread (the E-step's), timed by the
    core itself in the build this CPU dispatches to; None when gaussmix is not importable."""
    try:
        from gaussmix._dispatch import core
        return core.measure_exp_throughput()
    except (ImportError, AttributeError):
        return None


def diag_matmuls_seconds(n, d, k, threads, repeats=5):
    """Median seconds of NumPy's BLAS doing the multiply-adds no exact float64 diag EM iteration
    can avoid, on ``threads`` threads: the E-step's forms as [X², X] (n, 2d) @ (2d, k) and the
    statistics as R.T (k, n) @ [X, X²] (n, 2d), 4·n·k·d multiply-adds in all. No exponentials,
    no normalisation: a measured reference beside the computed floors, not a floor itself."""
    rng = np.random.default_rng(0)
    squares_and_x = rng.standard_normal((n, 2 * d))
    coefficients = rng.standard_normal((2 * d, k))
    resp = rng.random((n, k))
    forms, moments = np.empty((n, k)), np.empty((k, 2 * d))
    times = []
    with threadpool_limits(limits=threads):
        for i in range(repeats + 1):  # the first is a warm-up
            t = time.perf_counter()
            np.matmul(squares_and_x, coefficients, out=forms)
            np.matmul(resp.T, squares_and_x, out=moments)
            if i:
                times.append(time.perf_counter() - t)
    return float(np.median(times))


def measure(threads_list, quick=False):
    """Peaks for each thread count in ``threads_list``."""
    n = 2048 if quick else 4096
    out = {"cpu": cpu_line(), "blas": blas_line(), "python": platform.python_version(),
           "numpy": np.__version__, "platform": platform.platform(), "matmul_n": n,
           "exp": exp_seconds(), "by_threads": {}}
    for t in sorted(set(threads_list)):
        with threadpool_limits(limits=t):
            out["by_threads"][str(t)] = {
                "matmul_gflops_float64": matmul_gflops(n, np.float64),
                "matmul_gflops_float32": matmul_gflops(n, np.float32),
                "read_gbps": read_bandwidth(t, nbytes=(128 if quick else 512) * 2**20),
            }
    return out
