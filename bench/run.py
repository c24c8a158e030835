#!/usr/bin/env python
"""gaussmix benchmark suite (issue 3): per-iteration and end-to-end EM timings of gaussmix
against scikit-learn and, when installed, mlpack and gmmx, on the same data, with the
thread count set explicitly, against the machine's measured limits.

    python bench/run.py                      # full run, 2 threads
    python bench/run.py --quick              # smoke run (~1-2 min); asserts no speed
    python bench/run.py --workloads W2,W3 --threads 2 --repeats 5

Peers are optional: ``pip install gaussmix[bench]`` (or ``pip install mlpack gmmx``).
Results: ``<out>/<name>.json`` and ``<out>/<name>.md``; a full run also writes
``<out>/latest.md``, the table the README quotes (only a full run of every workload
replaces it). See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _report  # noqa: E402
import _workloads  # noqa: E402
from _libs import IMPORT_NAME, LIBRARIES  # noqa: E402

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def child_env(threads):
    """Environment of a timing process: every threading runtime told the same count."""
    env = dict(os.environ)
    for v in THREAD_VARS:
        env[v] = str(threads)
    env["JAX_PLATFORMS"] = "cpu"
    xla = [f for f in env.get("XLA_FLAGS", "").split()
           if not f.startswith(("--xla_cpu_multi_thread_eigen", "intra_op_parallelism_threads"))]
    if threads == 1:
        xla += ["--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1"]
    env["XLA_FLAGS"] = " ".join(xla)
    return env


def available(lib):
    """(importable, reason) -- checked in a fresh interpreter, like the timings."""
    try:
        p = subprocess.run([sys.executable, "-c", f"import {IMPORT_NAME[lib]}"],
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False, "import timed out"
    if p.returncode == 0:
        return True, ""
    last = (p.stderr.strip().splitlines() or ["import failed"])[-1]
    return False, last


def _cpu_busy_seconds():
    """CPU-seconds the whole machine has spent busy (all CPUs), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds():
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_child(task, scratch, timeout, log):
    threads = task["threads"]
    tag = f"{task['workload']['name']}-{task['lib']}-{task['mode']}-{task['dtype']}-{threads}t"
    task = dict(task, out=os.path.join(scratch, f"{tag}.out.json"))
    path = os.path.join(scratch, f"{tag}.task.json")
    with open(path, "w") as f:
        json.dump(task, f)
    cmd = [sys.executable, os.path.join(HERE, "_child.py"), path]
    # JAX sizes its thread pool from the CPUs it may use; pin it to `threads` CPUs.
    preexec = None
    if task["lib"] == "gmmx" and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if threads < len(cpus):
            keep = set(cpus[:threads])
            preexec = lambda: os.sched_setaffinity(0, keep)  # noqa: E731
    # Other processes' CPU use during the measurement (machine busy time minus this
    # child's own), so that rows timed on a shared, busy machine can be flagged.
    busy0, own0 = _cpu_busy_seconds(), _children_cpu_seconds()
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=child_env(threads), capture_output=True, text=True,
                           timeout=timeout, preexec_fn=preexec)
        if os.path.exists(task["out"]):
            with open(task["out"]) as f:
                res = json.load(f)
        else:
            tail = "\n".join(p.stderr.strip().splitlines()[-5:])
            res = {"error": f"exit code {p.returncode}: {tail}"}
    except subprocess.TimeoutExpired:
        res = {"error": f"timed out after {timeout:.0f} s"}
    res.update({k: task[k] for k in ("lib", "mode", "threads", "dtype")})
    res["workload"] = task["workload"]["name"]
    res["wall"] = time.perf_counter() - t0
    busy1, own1 = _cpu_busy_seconds(), _children_cpu_seconds()
    if busy0 is not None and res["wall"] > 0:
        res["other_cpu"] = max(0.0, (busy1 - busy0) - (own1 - own0)) / res["wall"]
    log(_report.progress_line(res))
    return res


def plan(w, libs, threads):
    """The measurements of one workload, in order: (library, mode, threads, dtype).

    Modes: ``iter`` per-iteration timing, ``e2e`` end-to-end timing, ``sweep`` the W5
    sweep, ``mem`` peak memory. Each runs in a process of its own (so a slow or stuck
    end-to-end fit cannot take the per-iteration numbers down with it).
    ``threads == "best"`` means scikit-learn's faster count per iteration, decided then.
    """
    sk_threads = sorted({1, threads})
    peer_dtype = {"mlpack": "float64", "gmmx": "float32"}
    tasks = []
    if w.is_sweep:
        tasks += [("sklearn", "sweep", t, "float64") for t in sk_threads]
        tasks.append(("gaussmix", "sweep", threads, "float64"))
        tasks += [(p, "sweep", threads, dt) for p, dt in peer_dtype.items()]
        return [t for t in tasks if t[0] in libs]
    tasks += [("sklearn", "iter", t, "float64") for t in sk_threads]
    tasks.append(("sklearn", "e2e", "best", "float64"))
    tasks.append(("gaussmix", "iter", threads, "float64"))
    if threads != 1:
        tasks.append(("gaussmix", "iter", 1, "float64"))  # the scaling row
    tasks.append(("gaussmix", "e2e", threads, "float64"))
    if w.name in ("W1", "W3", "W4"):  # float32 beside float64: issue 10 asks about twice the speed
        tasks += [("gaussmix", "iter", threads, "float32"), ("gaussmix", "e2e", threads, "float32")]
    for p, dt in peer_dtype.items():
        tasks += [(p, "iter", threads, dt), (p, "e2e", threads, dt)]
    tasks = [t for t in tasks if t[0] in libs]
    # memory: one fresh process per (library, dtype), at the requested thread count
    seen = []
    for lib, mode, _, dt in tasks:
        if mode == "iter" and (lib, dt) not in seen:
            seen.append((lib, dt))
    return tasks + [(lib, "mem", threads, dt) for lib, dt in seen]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: N/10, W5 over 50..70, 2 repeats; asserts no speed")
    ap.add_argument("--threads", type=int, default=2, help="thread count to time (default 2)")
    ap.add_argument("--workloads", default="W1,W2,W3,W4,W5",
                    help="comma-separated subset of W1..W5")
    ap.add_argument("--libs", default=None,
                    help="comma-separated subset of gaussmix,sklearn,mlpack,gmmx; default all "
                         "(missing optional peers are skipped), gaussmix,sklearn with --quick")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed runs per measurement after a warm-up (median reported; "
                         "default 3, 2 with --quick)")
    ap.add_argument("--seeds", type=int, default=None,
                    help="end to end: one default fit per seed 0..SEEDS-1, median time and mean "
                         "final log-likelihood (default 3, 2 with --quick)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds after which a measurement stops repeating (>= 1 run; "
                         "default 60, 5 with --quick)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds before a measurement process is killed "
                         "(default 1200, 300 with --quick; gmmx at most 400/120)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="results directory")
    ap.add_argument("--name", default=None,
                    help="results file name (default: timestamp, prefixed quick- with --quick)")
    ap.add_argument("--report", metavar="JSON", default=None,
                    help="only rebuild the markdown of an earlier run's JSON and print it")
    args = ap.parse_args(argv)

    if args.report:
        with open(args.report) as f:
            doc = json.load(f)
        doc["summary"] = _report.summarize(doc)
        md = _report.markdown(doc)
        with open(os.path.splitext(args.report)[0] + ".md", "w") as f:
            f.write(md)
        print(md)
        return 0

    repeats = args.repeats or (2 if args.quick else 3)
    seeds = args.seeds or (2 if args.quick else 3)
    budget = args.budget if args.budget is not None else (5.0 if args.quick else 60.0)
    timeout = args.timeout or (300.0 if args.quick else 1200.0)
    all_w = _workloads.workloads(quick=args.quick)
    names = [s.strip().upper() for s in args.workloads.split(",") if s.strip()]
    bad = [n for n in names if n not in all_w]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {list(all_w)}")
    if args.libs is None:
        args.libs = "gaussmix,sklearn" if args.quick else ",".join(LIBRARIES)
    wanted_libs = [s.strip() for s in args.libs.split(",") if s.strip()]
    bad = [x for x in wanted_libs if x not in LIBRARIES]
    if bad:
        ap.error(f"unknown librar(y/ies) {bad}; choose from {list(LIBRARIES)}")
    if "sklearn" not in wanted_libs:
        ap.error("sklearn is the baseline and cannot be left out")

    t_start = time.perf_counter()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = args.name or (f"quick-{stamp}" if args.quick else stamp)
    command = "python " + " ".join(shlex.quote(a) for a in
                                   [os.path.relpath(os.path.abspath(__file__))] + sys.argv[1:])
    log = lambda s: print(s, flush=True)  # noqa: E731

    libs, skipped = [], {}
    for lib in wanted_libs:
        ok, why = available(lib)
        if ok:
            libs.append(lib)
        else:
            skipped[lib] = why
            log(f"skipping {lib}: not importable ({why})")

    # The machine, measured in this process under the same thread limits.
    os.environ.update({v: str(args.threads) for v in THREAD_VARS})
    import _machine

    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    log(f"measuring the machine ({args.threads} and 1 threads)...")
    machine = _machine.measure([1, args.threads], quick=args.quick)
    for t, m in machine["by_threads"].items():
        log(f"  {t} thread(s): matmul float64 {m['matmul_gflops_float64']:.0f} GFLOP/s, "
            f"float32 {m['matmul_gflops_float32']:.0f} GFLOP/s, read {m['read_gbps']:.1f} GB/s")
    if machine.get("exp"):
        log(f"  gaussmix exp(): {machine['exp']['float64_seconds'] * 1e9:.2f} ns per float64 value, one thread")

    scratch = tempfile.mkdtemp(prefix="gaussmix-bench-")
    results = []
    workload_info = {}
    try:
        for wn in names:
            w = all_w[wn]
            log(f"{wn}: generating data and initial parameters...")
            xpath, ipath, shape = _workloads.prepare(w, scratch)
            if w.is_sweep:  # the digits' real shape
                w = _workloads.Workload(w.name, shape[0], shape[1], w.n_components,
                                        w.covariance_type, w.iters, sweep=w.sweep)
            workload_info[wn] = {**w.__dict__, "label": w.shape_label(),
                                 "flops_per_iter": w.flops_per_iter()}
            if w.covariance_type == "diag" and not w.is_sweep:
                workload_info[wn]["matmuls_s"] = _machine.diag_matmuls_seconds(
                    w.n_samples, w.n_features, w.n_components, args.threads)
                log(f"  the same 4·N·K·D multiply-adds as two NumPy matmuls: "
                    f"{workload_info[wn]['matmuls_s']:.3f} s")
            for lib, mode, t, dtype in plan(w, libs, args.threads):
                if mode == "mem" and args.no_memory:
                    continue
                if t == "best":
                    sk = [r for r in results if r["workload"] == wn and r["lib"] == "sklearn"
                          and r.get("iter", {}).get("s_per_iter")]
                    t = (min(sk, key=lambda r: r["iter"]["s_per_iter"])["threads"] if sk
                         else args.threads)
                task = {"lib": lib, "mode": mode, "threads": t, "dtype": dtype,
                        "workload": {**w.__dict__}, "xpath": xpath, "ipath": ipath,
                        "iters": w.iters, "repeats": repeats, "budget": budget, "seeds": seeds}
                # gmmx can hang (see _libs.Gmmx): a shorter leash for it
                limit = min(timeout, 120.0 if args.quick else 400.0) if lib == "gmmx" else timeout
                results.append(run_child(task, scratch, limit, log))
            for p in (xpath, ipath):
                if p and os.path.exists(p):
                    os.remove(p)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    doc = {
        "name": name, "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "command": command, "quick": args.quick, "threads": args.threads,
        "repeats": repeats, "budget_s": budget, "machine": machine,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "libraries": libs, "skipped": skipped, "workloads": workload_info,
        "results": results, "wall_seconds": time.perf_counter() - t_start,
    }
    os.makedirs(args.out, exist_ok=True)
    jpath = os.path.join(args.out, f"{name}.json")
    mpath = os.path.join(args.out, f"{name}.md")
    with open(jpath, "w") as f:  # raw results first: a report bug must not lose a run
        json.dump(doc, f, indent=1)
    doc["summary"] = _report.summarize(doc)
    with open(jpath, "w") as f:
        json.dump(doc, f, indent=1)
    md = _report.markdown(doc)
    with open(mpath, "w") as f:
        f.write(md)
    # latest.md (quoted by the README) only from a complete full run
    complete = not args.quick and set(names) == set(all_w)
    if complete:
        shutil.copyfile(mpath, os.path.join(args.out, "latest.md"))
    log("")
    log(md)
    log(f"wrote {os.path.relpath(jpath)} and {os.path.relpath(mpath)}"
        + (" (copied to latest.md)" if complete else "")
        + f" in {doc['wall_seconds']:.0f} s")
    errors = [r for r in results if "error" in r]
    if errors:
        log(f"{len(errors)} measurement(s) failed; see 'error' in the JSON")
    # A failing optional peer is reported, not fatal; gaussmix or the baseline failing is.
    return 1 if any(r["lib"] in ("gaussmix", "sklearn") for r in errors) else 0


if __name__ == "__main__":
    sys.exit(main())
