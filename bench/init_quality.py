"""Quality of the default start: final mean log-likelihood of default fits over seeds.

gaussmix's default k-means start (k-means on a bounded uniform sample, then one assignment of
every row) against its full-data k-means start (``kmeans_sample_size=None``) and scikit-learn's
default fit, on the benchmark workloads, seeds 0..S-1. Every result is scored by one float64
evaluator (``_libs.avg_loglik``). Times are recorded but are not the benchmark (bench/run.py is).

    python bench/init_quality.py --workloads W1,W2,W4 --seeds 10 --out bench/results/init-quality.json
"""

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _libs import avg_loglik  # noqa: E402
from _workloads import make_blobs_full, workloads  # noqa: E402


def fit_gaussmix(X, w, seed, sample):
    from gaussmix import GaussianMixture

    gm = GaussianMixture(w.n_components, covariance_type=w.covariance_type, random_state=seed,
                         kmeans_sample_size=sample).fit(X)
    cov = gm.precisions_cholesky_
    return {"weights": gm.weights_, "means": gm.means_, "precisions_cholesky": cov}, int(gm.n_iter_)


def fit_sklearn(X, w, seed):
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(w.n_components, covariance_type=w.covariance_type, random_state=seed).fit(X)
    return {"weights": gm.weights_, "means": gm.means_, "precisions_cholesky": gm.precisions_cholesky_}, int(gm.n_iter_)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="W1,W2,W3,W4")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--methods", default="sampled,full,sklearn")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    all_w = workloads()
    report = {}
    for name in args.workloads.split(","):
        w = all_w[name]
        X = make_blobs_full(w)
        rows = {}
        for method in args.methods.split(","):
            lls, iters, secs = [], [], []
            for seed in range(args.seeds):
                start = time.perf_counter()
                if method == "sklearn":
                    params, n_iter = fit_sklearn(X, w, seed)
                else:
                    params, n_iter = fit_gaussmix(X, w, seed, "auto" if method == "sampled" else None)
                secs.append(time.perf_counter() - start)
                lls.append(avg_loglik(X, params, w.covariance_type))
                iters.append(n_iter)
            rows[method] = {"loglik": lls, "mean": float(np.mean(lls)), "std": float(np.std(lls)),
                            "n_iter": iters, "seconds": secs}
            print(f"{name} {method:8s} mean {np.mean(lls):.5f} std {np.std(lls):.5f} min {np.min(lls):.5f} "
                  f"iters {np.mean(iters):.1f} s {np.median(secs):.3f}", flush=True)
        report[name] = {"shape": w.shape_label(), **rows}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
