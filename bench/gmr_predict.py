"""Time 10^5 Gaussian mixture regression predictions: gaussmix vs the gmr package, from the same
joint mixture, in one process, after a warm-up; median of 3 runs. Prints and writes JSON.

    python bench/gmr_predict.py [--n 100000] [--components 8] [--out bench/results]
"""

import argparse
import json
import os
import platform
import time

import numpy as np

import gaussmix


def _median_time(function, repeats=3):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import gmr

    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, (5000, 1))
    y = np.sin(2 * X[:, 0]) + 0.15 * rng.randn(5000)
    ours = gaussmix.GaussianMixtureRegressor(args.components, random_state=0).fit(X, y)
    mix = ours.mixture_
    theirs = gmr.GMM(n_components=args.components, priors=mix.weights_, means=mix.means_,
                     covariances=mix.covariances_)
    X_new = rng.uniform(-3, 3, (args.n, 1))
    same = np.allclose(ours.predict(X_new[:1000]), theirs.predict(np.array([0]), X_new[:1000])[:, 0], rtol=1e-8)
    t_ours = _median_time(lambda: ours.predict(X_new))
    t_gmr = _median_time(lambda: theirs.predict(np.array([0]), X_new))
    result = {"n_predictions": args.n, "n_components": args.components, "gaussmix_s": t_ours, "gmr_s": t_gmr,
              "speedup": t_gmr / t_ours, "same_means": bool(same), "gmr_version": getattr(gmr, "__version__", "?"),
              "machine": platform.processor() or platform.machine(),
              "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset")}
    print(json.dumps(result, indent=2))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "gmr_predict.json"), "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
