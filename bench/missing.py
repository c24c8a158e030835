"""EM with missing values (issue 12): recovery, imputation accuracy and speed.

    python bench/missing.py            # all three parts (~5 min on a 2-core machine)
    python bench/missing.py --quick    # smoke run: small N, one seed, a few seconds
    python bench/missing.py --parts speed --threads 2

recovery    a known 3-component 5-D mixture, 10/30/50% of entries removed completely at random:
            parameter error and held-out log-likelihood of exact EM (missing="marginalize")
            beside fitting the complete rows only and fitting after mean imputation.
imputation  RMSE on the removed entries (20% MCAR, standardised features) for wine, breast
            cancer and digits: GaussianMixtureImputer beside scikit-learn's SimpleImputer,
            KNNImputer and IterativeImputer, all on the same holes.
speed       N=10^6, D=16, K=16 full: seconds per EM iteration with 20% of the entries missing
            against the same data complete, both from the same parameters, in the same process
            (median of --repeats, warm-up first); the ratio is what issue 12 targets (<= 3).

Only ratios measured in the same run are meaningful; the machine may be shared. JSON goes to
bench/results/missing-<date>.json.
"""

import argparse
import datetime
import json
import os
import pathlib
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))

from _machine import cpu_line  # noqa: E402


def remove_at_random(X, fraction, seed):
    X = np.array(X, dtype=float)
    X[np.random.RandomState(seed).uniform(size=X.shape) < fraction] = np.nan
    return X


def recovery(quick):
    from test_missing_recovery import draw, fits, parameter_error

    rows = []
    for fraction in (0.1, 0.3, 0.5):
        for seed in range(1 if quick else 3):
            X = remove_at_random(draw(1500, 1 + 10 * seed), fraction, 3 + seed)
            X_test = draw(3000, 2 + 10 * seed)
            for name, gm in fits(X).items():
                rows.append(dict(fraction=fraction, seed=seed, method=name, parameter_error=parameter_error(gm),
                                 held_out_log_likelihood=gm.score(X_test)))
    return rows


def imputation(quick):
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
    from sklearn.preprocessing import StandardScaler

    from gaussmix import GaussianMixtureImputer

    imputers = {
        "SimpleImputer(mean)": lambda: SimpleImputer(),
        "KNNImputer": lambda: KNNImputer(),
        "IterativeImputer": lambda: IterativeImputer(max_iter=10, random_state=0),
        "gaussmix K=1": lambda: GaussianMixtureImputer(1, reg_covar=1e-3, random_state=0),
        "gaussmix K=3": lambda: GaussianMixtureImputer(3, reg_covar=1e-3, n_init=2, random_state=0),
    }
    rows = []
    for name, load in (("wine", load_wine), ("breast_cancer", load_breast_cancer), ("digits", load_digits)):
        X = StandardScaler().fit_transform(load().data)
        for seed in range(1 if quick else 3):
            X_missing = remove_at_random(X, 0.2, seed)
            removed = np.isnan(X_missing)
            for method, make in imputers.items():
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    filled = make().fit_transform(X_missing)
                seconds = time.perf_counter() - start
                rmse = float(np.sqrt(np.mean((filled[removed] - X[removed]) ** 2)))
                rows.append(dict(dataset=name, seed=seed, method=method, rmse=rmse, seconds=seconds))
    return rows


def speed(quick, threads, repeats):
    from gaussmix import _gmm

    N, D, K = (100_000 if quick else 1_000_000), 16, 16
    rng = np.random.RandomState(0)
    means = rng.normal(scale=4.0, size=(K, D))
    A = rng.normal(size=(K, D, D)) * 0.3
    covariances = np.array([a @ a.T + np.eye(D) for a in A])
    # Upper U with U U^T = precision (scikit-learn's precisions_cholesky_).
    factors = np.array([np.linalg.cholesky(np.linalg.inv(c)[::-1, ::-1])[::-1, ::-1] for c in covariances])
    model = ("full", np.full(K, 1.0 / K), means, factors.reshape(-1, D))
    X, _ = _gmm.sample(N, 1, *model)
    X_missing = remove_at_random(X, 0.2, 1)
    empty = np.empty(0)

    def seconds(function, data, n_iter):
        start = time.perf_counter()
        function(data, *model, tol=0.0, reg_covar=1e-6, max_iter=n_iter, sample_weight=empty, lower_bound=-np.inf)
        return time.perf_counter() - start

    n_iter = 2 if quick else 4
    cases = {"complete": (_gmm.fit_from, X), "20% missing": (_gmm.fit_from_missing, X_missing)}
    samples = {name: {"one": [], "many": []} for name in cases}
    with threadpool_limits(threads):
        for name, (function, data) in cases.items():
            seconds(function, data, 1)  # warm-up
        for _ in range(repeats):
            for name, (function, data) in cases.items():  # alternate, so drifts hit both
                samples[name]["one"].append(seconds(function, data, 1))
                samples[name]["many"].append(seconds(function, data, 1 + n_iter))
    result = dict(N=N, D=D, K=K, threads=threads, repeats=repeats)
    for name, times in samples.items():
        one, many = np.median(times["one"]), np.median(times["many"])
        per_iteration = (many - one) / n_iter
        result[name] = dict(per_iteration_seconds=per_iteration, setup_seconds=max(one - per_iteration, 0.0))
    result["ratio"] = result["20% missing"]["per_iteration_seconds"] / result["complete"]["per_iteration_seconds"]
    return result


def print_tables(results):
    if "recovery" in results:
        print("\n## Recovery (3 components, 5-D, N=1500; held-out: 3000 complete rows)\n")
        print("| removed | method | parameter error | held-out log-likelihood |\n|---|---|---|---|")
        rows = results["recovery"]
        for fraction in sorted({r["fraction"] for r in rows}):
            for method in dict.fromkeys(r["method"] for r in rows):
                sel = [r for r in rows if r["fraction"] == fraction and r["method"] == method]
                print(f"| {fraction:.0%} | {method} | {np.mean([r['parameter_error'] for r in sel]):.3f} | "
                      f"{np.mean([r['held_out_log_likelihood'] for r in sel]):.3f} |")
    if "imputation" in results:
        print("\n## Imputation RMSE on the removed entries (20% MCAR, standardised)\n")
        rows = results["imputation"]
        methods = list(dict.fromkeys(r["method"] for r in rows))
        print("| dataset | " + " | ".join(methods) + " |\n|---|" + "---|" * len(methods))
        for dataset in dict.fromkeys(r["dataset"] for r in rows):
            cells = [np.mean([r["rmse"] for r in rows if r["dataset"] == dataset and r["method"] == m]) for m in methods]
            print(f"| {dataset} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    if "speed" in results:
        s = results["speed"]
        print(f"\n## Speed: N={s['N']:,} D={s['D']} K={s['K']} full, {s['threads']} threads\n")
        print("| data | s / iteration | one-off setup (s) |\n|---|---|---|")
        for name in ("complete", "20% missing"):
            print(f"| {name} | {s[name]['per_iteration_seconds']:.3f} | {s[name]['setup_seconds']:.3f} |")
        print(f"\nratio missing / complete per iteration: {s['ratio']:.2f} (target <= 3)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", default="recovery,imputation,speed")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 2)))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parent / "results"))
    args = parser.parse_args()
    parts = args.parts.split(",")
    results = dict(machine=cpu_line(), date=datetime.datetime.now().isoformat(timespec="seconds"),
                   quick=args.quick, note="shared machine: compare ratios within this run only")
    if "recovery" in parts:
        results["recovery"] = recovery(args.quick)
    if "imputation" in parts:
        results["imputation"] = imputation(args.quick)
    if "speed" in parts:
        results["speed"] = speed(args.quick, args.threads, 1 if args.quick else args.repeats)
    print(results["machine"])
    print_tables(results)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"missing-{datetime.date.today():%Y%m%d}{'-quick' if args.quick else ''}.json"
    (out / name).write_text(json.dumps(results, indent=1))
    print(f"\nwrote {out / name}")


if __name__ == "__main__":
    main()
