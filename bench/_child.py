"""One measurement in a process of its own: ``python _child.py TASK.json``.

The parent (run.py) sets the thread variables in this process's environment; here the
same count is also imposed with threadpoolctl (after the library is imported, so its
OpenMP/BLAS runtimes are seen) and recorded. Modes:

``iter``  warm-up, then timed fixed-iteration fits from the identical initial
          parameters (seconds per iteration).
``e2e``   warm-up, then timed default fits (k-means initialisation, to convergence).
``sweep`` warm-up, then timed W5 AIC sweeps.
``mem``   one default fit (k-means initialisation, then 2 EM iterations) in a fresh
          process: peak resident memory minus resident memory just before the fit (data
          already loaded), and the input's size.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


MEM_ITERS = 2


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


class PeakRSS:
    """Peak RSS during a block: the kernel's VmHWM after resetting it through
    /proc/self/clear_refs (Linux >= 4.0); falls back to polling VmRSS every 2 ms,
    and to getrusage (peak over the whole process) off Linux."""

    def __enter__(self):
        gc.collect()
        self.method = "VmHWM"
        self.before = _status_kib("VmRSS") if os.path.exists("/proc/self/status") else None
        if self.before is None:
            import resource

            self.method = "ru_maxrss"
            self.before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return self
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            hwm = _status_kib("VmHWM")
            if hwm is None or hwm > self.before + 1024:
                raise OSError("VmHWM not reset")
        except OSError:
            self.method = "poll"
            self._stop = threading.Event()
            self.polled = self.before
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def _poll(self):
        while not self._stop.is_set():
            self.polled = max(self.polled, _status_kib("VmRSS"))
            time.sleep(0.002)

    def __exit__(self, *exc):
        if self.method == "VmHWM":
            self.peak = _status_kib("VmHWM")
        elif self.method == "poll":
            self._stop.set()
            self._thread.join()
            self.peak = max(self.polled, _status_kib("VmRSS"))
        else:
            import resource

            self.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return False


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _repeat(fn, repeats, budget):
    """Run ``fn`` up to ``repeats`` times; stop early (after >= 1 run) once ``budget``
    seconds are spent. Returns the list of times and the last result."""
    times, out, spent = [], None, 0.0
    while len(times) < repeats and not (times and spent > budget):
        dt, out = _timed(fn)
        times.append(dt)
        spent += dt
    return times, out


def run(task):
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    from _libs import ADAPTERS, avg_loglik

    threads = int(task["threads"])
    adapter = ADAPTERS[task["lib"]]()
    adapter.version()  # imports the library, so threadpoolctl sees its runtimes
    X64 = np.load(task["xpath"])
    X = X64.astype(np.float32) if task["dtype"] == "float32" else X64
    init = dict(np.load(task["ipath"])) if task.get("ipath") else None
    w = task["workload"]
    res = {"lib": task["lib"], "mode": task["mode"], "workload": w["name"],
           "threads": threads, "dtype": task["dtype"], "version": adapter.version(),
           "config": adapter.config(), "note": adapter.note}

    with threadpool_limits(limits=threads):
        res["threadpools"] = [
            {k: lib.get(k) for k in ("user_api", "internal_api", "prefix", "num_threads")}
            for lib in threadpool_info()]

        if task["mode"] == "mem":
            # A default fit (k-means initialisation included) cut to MEM_ITERS EM
            # iterations: the same peak as a full fit (every EM iteration allocates the
            # same), at a fraction of the time.
            with PeakRSS() as m:
                adapter.fit_default(X, w["n_components"], w["covariance_type"],
                                    max_iter=MEM_ITERS)
            res.update(rss_before_kib=m.before, peak_kib=m.peak,
                       growth_bytes=(m.peak - m.before) * 1024, input_bytes=int(X.nbytes),
                       method=m.method)
            return res

        repeats, budget = int(task["repeats"]), float(task["budget"])
        mode = task["mode"]
        if mode == "sweep":
            ns = list(w["sweep"])
            adapter.sweep(X, ns if adapter.jit else ns[:1])  # warm-up
            times, aics = _repeat(lambda: adapter.sweep(X, ns), repeats, budget)
            best = int(np.argmin(aics))
            res["e2e"] = {"seconds": statistics.median(times), "runs": times,
                          "aic": aics, "best_n": ns[best], "best_aic": aics[best]}
            if hasattr(adapter, "sweep_loop"):
                # The handbook's own loop of fit + aic, beside the library's sweep().
                loop_times, loop_aics = _repeat(lambda: adapter.sweep_loop(X, ns), repeats, budget)
                res["e2e"].update(loop_seconds=statistics.median(loop_times),
                                  loop_best_n=ns[int(np.argmin(loop_aics))])
            return res

        M = int(task["iters"])
        ct = w["covariance_type"]
        K = w["n_components"]
        if mode == "e2e":
            if adapter.jit:
                adapter.fit_default(X, K, ct)  # warm-up, compiling this exact call
            else:
                adapter.fit_fixed(X, init, 1, ct)  # warm-up: code and pages touched
            # One default fit per seed: the time is the median over seeds, the quality the
            # mean (and spread) of the final log-likelihood over the same seeds. Every fit is
            # timed before any log-likelihood is scored: scoring runs NumPy matrix products, after
            # which OpenBLAS's worker threads spin for ~0.1 s, and a fit started then shares the
            # cores with them (W1's 0.033 s fit took 0.050 s right after a product).
            times, fitted, iters = [], [], []
            for seed in range(int(task.get("seeds", 3))):
                dt, (params, info) = _timed(lambda: adapter.fit_default(X, K, ct, seed=seed))
                times.append(dt)
                fitted.append(params)
                iters.append(info.get("n_iter"))
            starts = []
            if task["lib"] == "gaussmix":
                # The start alone (max_iter=0: k-means and its M-step), same seeds.
                starts = [_timed(lambda: adapter.fit_default(X, K, ct, seed=seed, max_iter=0))[0]
                          for seed in range(len(times))]
            lls = [avg_loglik(X64, params, ct) for params in fitted]
            res["e2e"] = {"seconds": statistics.median(times), "runs": times, "seeds": len(times),
                          "loglik": statistics.fmean(lls), "loglik_std": statistics.pstdev(lls),
                          "loglik_seeds": lls, "n_iter_seeds": iters,
                          "n_iter": (statistics.median(iters) if None not in iters else None)}
            if starts:
                res["e2e"]["init_seconds"] = statistics.median(starts)
            return res

        if getattr(adapter, "differential", False):
            # (time of m0 + M iterations - time of m0 iterations) / M, same seed.
            m0 = 2
            adapter.fit_fixed(X, init, m0, ct)  # warm-up
            lo, hi, params, spent = [], [], None, 0.0
            while len(hi) < repeats and not (hi and spent > budget):
                t_lo, _ = _timed(lambda: adapter.fit_fixed(X, init, m0, ct))
                t_hi, (params, _) = _timed(lambda: adapter.fit_fixed(X, init, m0 + M, ct))
                lo.append(t_lo)
                hi.append(t_hi)
                spent += t_lo + t_hi
            diff = (statistics.median(hi) - statistics.median(lo)) / M
            # Below the timing noise the difference says nothing: report no number.
            per = [diff if diff > 0 else None]
            info = {"n_iter": M, "method": f"(median t({m0}+{M}) - median t({m0})) / {M}",
                    "t_lo": lo, "t_hi": hi}
        else:
            adapter.fit_fixed(X, init, M if adapter.jit else min(M, 2), ct)  # warm-up
            times, (params, info) = _repeat(lambda: adapter.fit_fixed(X, init, M, ct),
                                            repeats, budget)
            per = [t / M for t in times]
        res["iter"] = {"s_per_iter": per[0] if len(per) == 1 else statistics.median(per),
                       "runs": per, "iters": M, "loglik": avg_loglik(X64, params, ct), **info}
    return res


def main():
    with open(sys.argv[1]) as f:
        task = json.load(f)
    try:
        res = run(task)
    except Exception as e:  # noqa: BLE001  -- reported in the results, not fatal
        res = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    with open(task["out"], "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
