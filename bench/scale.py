"""Scale benchmarks (issue 9): Dask LocalCluster vs in-memory, out-of-core memmap, Spark MLlib.

All in one run, on the same data:

1. in-memory gaussmix at 1 and 2 threads vs a Dask ``LocalCluster`` of 1 and 2 single-threaded
   worker processes, N x D data, K full components: seconds per EM iteration from identical
   initial parameters (tol=0), the Dask fits' difference from the in-memory fit, and the time
   and final log-likelihood of the default start (in memory: k-means on all rows; on Dask:
   k-means|| on the workers).
2. out-of-core: N_disk x D float32 in a file on disk (``BENCH_DISK``, default /work), fitted as
   a NumPy memmap: seconds per iteration warm (page cache filled) and cold (the file's pages
   evicted with ``posix_fadvise(DONTNEED)`` before every pass, no root needed), against the
   file's measured cold and warm read rates; the peak ``RssAnon`` of this process sampled
   every 10 ms (it leaves out the mapped file's page cache; the issue's bound is 1.5 GB); the
   result against a ``Chunks`` fit of the same file.
3. optional, when ``pyspark``, ``pandas`` and ``pyarrow`` import and ``java`` runs
   (``pip install pyspark pandas pyarrow``, Java 17 from the system's packages): Spark MLlib ``GaussianMixture`` on ``local[2]`` on the data of 1:
   seconds per iteration, end-to-end time and final mean log-likelihood, beside gaussmix on Dask
   with its default start.

Seconds per iteration are (time of a fit with --iters iterations - time of the same fit with
max_iter=0) / --iters, so the validation pass and the start are left out.

    python bench/scale.py                 # the issue's sizes: N = 1e7, N_disk = 1e8, D = K = 16
    python bench/scale.py --quick         # a smoke run of every step at small sizes
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
import warnings

import numpy as np

RSS_BOUND_MIB = 1536


def rss_anon_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


class PeakRss:
    def __enter__(self):
        self.peak, self._stop = rss_anon_kib(), False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop:
            self.peak = max(self.peak, rss_anon_kib())
            time.sleep(0.01)

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()


def make_data(n, d, k, dtype, seed=0, out=None):
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, d) * 4
    X = out if out is not None else np.empty((n, d), dtype=dtype)
    step = 1 << 20
    for start in range(0, n, step):
        m = min(step, n - start)
        X[start:start + m] = centers[rng.randint(0, k, m)] + rng.randn(m, d)
    return X, centers


def start_params(centers, d):
    k = len(centers)
    return dict(weights_init=np.full(k, 1.0 / k), means_init=centers + 0.1,
                precisions_init=np.stack([np.eye(d)] * k))


def fit(X, k, **params):
    from gaussmix import GaussianMixture

    gm = GaussianMixture(k, **params)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    return time.perf_counter() - began, gm


def per_iteration(X, k, params, iters):
    """(seconds per iteration, the fitted estimator) from the given start, tol=0."""
    setup, _ = fit(X, k, max_iter=0, **params)
    total, gm = fit(X, k, max_iter=iters, tol=0.0, **params)
    return max(total - setup, 0.0) / iters, gm


def difference(a, b):
    """Largest relative differences of b's fitted parameters from a's."""
    return {"means": float(np.max(np.abs(b.means_ - a.means_)) / np.max(np.abs(a.means_))),
            "covariances": float(np.max(np.abs(b.covariances_ - a.covariances_)) / np.max(np.abs(a.covariances_))),
            "lower_bound": float(abs(b.lower_bound_ - a.lower_bound_) / abs(a.lower_bound_)),
            "same_n_iter": bool(a.n_iter_ == b.n_iter_)}


def evict(path):
    """Drop the file's pages from the page cache (no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_rate(path):
    began = time.perf_counter()
    size = 0
    with open(path, "rb", buffering=0) as f:
        while block := f.read(64 << 20):
            size += len(block)
    return size / 1e9 / (time.perf_counter() - began)


def in_memory_and_dask(args, result):
    from threadpoolctl import threadpool_limits

    X, centers = make_data(args.n, args.d, args.k, np.float64)
    params = start_params(centers, args.d)
    ref = None
    for threads in (1, 2):
        with threadpool_limits(threads):
            result[f"in_memory_{threads}_threads_s_per_iter"], gm = per_iteration(X, args.k, params, args.iters)
        if ref is None:
            ref = gm
    with threadpool_limits(2):
        seconds, default = fit(X, args.k, random_state=0, max_iter=args.default_iters)
    result["in_memory_2_threads_default_fit_s"] = seconds
    result["in_memory_default_fit_mean_log_likelihood"] = default.score(X)

    import dask.array as da
    from distributed import Client, LocalCluster

    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                          env={"OMP_NUM_THREADS": "1"}, silence_logs=50) as cluster, Client(cluster):
            dX = da.from_array(X, chunks=(max(1, args.n // (8 * workers)), args.d)).persist()
            seconds, gm = per_iteration(dX, args.k, params, args.iters)
            result[f"dask_{workers}_workers_s_per_iter"] = seconds
            result[f"dask_{workers}_workers_difference_from_in_memory"] = difference(ref, gm)
            if workers == 2:
                seconds, gm = fit(dX, args.k, random_state=0, max_iter=args.default_iters)
                result["dask_2_workers_default_fit_s"] = seconds
                result["dask_2_workers_default_fit_mean_log_likelihood"] = gm.score(X)
                seconds, _ = fit(dX, args.k, random_state=0, max_iter=0)
                result["dask_2_workers_kmeans_parallel_start_s"] = seconds
    result["dask_1_worker_overhead_vs_in_memory_1_thread"] = (
        result["dask_1_workers_s_per_iter"] / result["in_memory_1_threads_s_per_iter"])
    result["dask_2_workers_overhead_vs_in_memory_2_threads"] = (
        result["dask_2_workers_s_per_iter"] / result["in_memory_2_threads_s_per_iter"])
    result["dask_scaling_1_to_2_workers"] = result["dask_1_workers_s_per_iter"] / result["dask_2_workers_s_per_iter"]
    if not args.no_spark:
        try:
            spark(X, args, result)
        except Exception as error:  # optional: a failed Spark run is recorded, not fatal
            result["spark"] = f"failed: {type(error).__name__}: {error}"[:500]


def spark(X, args, result):
    """Spark MLlib's GaussianMixture on local[2] (random start from its own seed; no given start)."""
    try:
        import pandas as pd
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as error:
        result["spark"] = f"skipped: {error} (pip install pyspark pandas pyarrow)"
        return
    if shutil.which("java") is None:
        result["spark"] = "skipped: no java on PATH"
        return
    from pyspark.ml.clustering import GaussianMixture as SparkGMM
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").config("spark.driver.memory", "8g")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        columns = [f"x{j}" for j in range(args.d)]
        frame = spark.createDataFrame(pd.DataFrame(X, columns=columns))
        data = VectorAssembler(inputCols=columns, outputCol="features").transform(frame).select("features").cache()
        data.count()
        times = {}
        for iters in (1, args.default_iters):
            began = time.perf_counter()
            model = SparkGMM(k=args.k, maxIter=iters, tol=0.0, seed=0).fit(data)
            times[iters] = time.perf_counter() - began
        result["spark_local_2_end_to_end_s"] = times[args.default_iters]
        result["spark_local_2_s_per_iter"] = (times[args.default_iters] - times[1]) / max(1, args.default_iters - 1)
        result["spark_local_2_mean_log_likelihood"] = model.summary.logLikelihood / X.shape[0]
        result["spark_version"] = spark.version
    finally:
        spark.stop()


def out_of_core(args, result):
    from threadpoolctl import threadpool_limits

    from gaussmix import Chunks

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DISK", "/work")) as tmp:
        path = os.path.join(tmp, "x.f32")
        mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(args.n_disk, args.d))
        _, centers = make_data(args.n_disk, args.d, args.k, np.float32, seed=1, out=mm)
        mm.flush()
        del mm
        result["disk_file_gb"] = os.path.getsize(path) / 1e9
        evict(path)
        result["disk_read_gb_per_s_cold"] = read_rate(path)
        result["disk_read_gb_per_s_warm"] = read_rate(path)
        mm = np.memmap(path, dtype=np.float32, mode="r", shape=(args.n_disk, args.d))
        params = start_params(centers, args.d)
        with PeakRss() as peak, threadpool_limits(2):
            result["memmap_warm_s_per_iter"], gm = per_iteration(mm, args.k, params, args.iters)
        result["memmap_peak_rss_anon_mib"] = peak.peak / 1024
        result["memmap_peak_rss_anon_under_1_5_gb"] = peak.peak / 1024 < RSS_BOUND_MIB
        result["memmap_warm_gb_per_s"] = result["disk_file_gb"] / result["memmap_warm_s_per_iter"]

        rows = 1 << 20

        def cold_pass():
            evict(path)
            return (mm[i:i + rows] for i in range(0, args.n_disk, rows))

        with PeakRss() as peak, threadpool_limits(2):
            result["chunks_cold_s_per_iter"], other = per_iteration(Chunks(cold_pass), args.k, params, args.iters)
        result["chunks_cold_peak_rss_anon_mib"] = peak.peak / 1024
        result["chunks_cold_gb_per_s"] = result["disk_file_gb"] / result["chunks_cold_s_per_iter"]
        result["memmap_difference_from_chunks"] = difference(other, gm)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="rows for in-memory, Dask and Spark")
    parser.add_argument("--n-disk", type=int, default=100_000_000, help="rows of the float32 file on disk")
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--iters", type=int, default=5, help="EM iterations per timed fit")
    parser.add_argument("--default-iters", type=int, default=20, help="max_iter of the default-start fits")
    parser.add_argument("--skip", choices=["dask", "disk"], action="append", default=[])
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks every step of the script")
    parser.add_argument("--out", help="result JSON (default bench/results/scale-<full|quick>-<date>.json)")
    args = parser.parse_args()
    if args.quick:
        args.n, args.n_disk, args.iters, args.default_iters = 200_000, 2_000_000, 2, 5
    if args.out is None:
        args.out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                f"scale-{'quick' if args.quick else 'full'}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    import gaussmix

    result = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "gaussmix": getattr(gaussmix, "__version__", "?"),
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                       cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip(),
              "load_before": os.getloadavg(), "quick": args.quick, "n": args.n, "n_disk": args.n_disk,
              "d": args.d, "k": args.k, "iters": args.iters, "default_iters": args.default_iters}
    if "dask" not in args.skip:
        in_memory_and_dask(args, result)
    if "disk" not in args.skip:
        out_of_core(args, result)
    result["load_after"] = os.getloadavg()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
