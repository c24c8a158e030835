"""Scale benchmarks (issue 9): Dask LocalCluster vs in-memory, and an out-of-core memmap fit.

Seconds per EM iteration from identical initial parameters (max_iter iterations, tol=0), each
configuration in the same run on the same data; peak RssAnon of this process is sampled every
10 ms during the memmap fit (RssAnon leaves out the mapped file's page cache).

    python bench/scale.py --n 10000000 --n-disk 100000000      # the issue's sizes
    python bench/scale.py --quick                             # a smoke run
"""

import argparse
import json
import os
import platform
import tempfile
import threading
import time

import numpy as np


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


def timed_fit(X, k, params, iters):
    from gaussmix import GaussianMixture

    gm = GaussianMixture(k, max_iter=iters, tol=0.0, **params)
    t = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    return (time.perf_counter() - t) / iters, gm


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--n-disk", type=int, default=100_000_000)
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "scale.json"))
    args = parser.parse_args()
    if args.quick:
        args.n, args.n_disk, args.iters = 200_000, 400_000, 2
    from threadpoolctl import threadpool_limits

    result = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "load_before": os.getloadavg(), "n": args.n, "n_disk": args.n_disk, "d": args.d, "k": args.k,
              "iters": args.iters, "note": "2 cores shared with other builds; ratios measured in one run"}
    X, centers = make_data(args.n, args.d, args.k, np.float64)
    params = start_params(centers, args.d)
    with threadpool_limits(2):
        result["in_memory_2_threads_s_per_iter"], ref = timed_fit(X, args.k, params, args.iters)

    import dask.array as da
    from distributed import Client, LocalCluster

    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                          env={"OMP_NUM_THREADS": "1"}, silence_logs=50) as cluster, Client(cluster):
            dX = da.from_array(X, chunks=(max(1, args.n // (8 * workers)), args.d)).persist()
            seconds, gm = timed_fit(dX, args.k, params, args.iters)
            result[f"dask_{workers}_workers_s_per_iter"] = seconds
            result[f"dask_{workers}_workers_max_rel_diff_means"] = float(
                np.max(np.abs(gm.means_ - ref.means_)) / np.max(np.abs(ref.means_)))
    del X
    result["dask_overhead_1_worker_vs_in_memory_1_thread_equiv"] = (
        result["dask_1_workers_s_per_iter"] / (2 * result["in_memory_2_threads_s_per_iter"]))
    result["dask_scaling_1_to_2_workers"] = result["dask_1_workers_s_per_iter"] / result["dask_2_workers_s_per_iter"]
    result["dask_2_workers_vs_in_memory_2_threads"] = (
        result["dask_2_workers_s_per_iter"] / result["in_memory_2_threads_s_per_iter"])

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DISK", "/work")) as tmp:
        path = os.path.join(tmp, "x.f32")
        mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(args.n_disk, args.d))
        _, centers = make_data(args.n_disk, args.d, args.k, np.float32, seed=1, out=mm)
        mm.flush()
        del mm
        t = time.perf_counter()
        with open(path, "rb") as f:
            while f.read(64 << 20):
                pass
        result["disk_read_gb_per_s_warm"] = args.n_disk * args.d * 4 / 1e9 / (time.perf_counter() - t)
        mm = np.memmap(path, dtype=np.float32, mode="r", shape=(args.n_disk, args.d))
        params = start_params(centers, args.d)
        with PeakRss() as peak, threadpool_limits(2):
            result["memmap_s_per_iter"], gm = timed_fit(mm, args.k, params, args.iters)
        result["memmap_peak_rss_anon_mib"] = peak.peak / 1024
        from gaussmix import Chunks

        rows = 1 << 20
        chunks = Chunks(lambda: (mm[i:i + rows] for i in range(0, args.n_disk, rows)))
        _, other = timed_fit(chunks, args.k, params, args.iters)
        result["memmap_vs_chunked_max_rel_diff_means"] = float(
            np.max(np.abs(gm.means_ - other.means_)) / np.max(np.abs(other.means_)))
    result["load_after"] = os.getloadavg()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
