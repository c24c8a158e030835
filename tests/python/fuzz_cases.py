"""The hostile-input campaign: generated cases, a supervised worker process, and outcome checks.

A case is a small JSON-able dict (data kind, magnitude, offset, weights, estimator settings);
the worker rebuilds the data from it, fits, calls every method, and reports one outcome:

* ``ok``      the fit succeeded and every output is sane (finite parameters, finite
              probabilities summing to one, no NaN density, score, AIC, BIC or sample);
* ``error``   a clean ``ValueError``/``TypeError`` with a message;
* ``bad``     a fit that "succeeded" with a NaN/infinite parameter or a NaN output;
* ``unclean`` any other exception, or one with an empty message;

and the supervisor adds ``crash`` (the worker died: segfault, abort) and ``hang`` (no answer
within the time limit). The worker runs in its own interpreter, so a crash or a hang is a
reported outcome with its case, not a dead test runner. ``library`` is ``gaussmix`` or
``sklearn`` (scikit-learn's outcome on the same cases, for the README's table).

Run as a script, this file is the worker: ``python fuzz_cases.py --worker gaussmix``.
"""

import json
import os
import select
import subprocess
import sys
import time
import warnings

import numpy as np

KINDS = ("blobs", "normal", "duplicates", "constant_feature", "cauchy", "grid", "far_outlier", "identical")
WEIGHTS = ("none", "ones", "some_zero", "tiny", "huge", "mixed", "single")
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INITS = ("kmeans", "k-means++", "random", "random_from_data")
REG_COVARS = (0.0, 1e-12, 1e-6, 1e-2, 1.0, 1e3)
OUTCOMES = ("ok", "error", "bad", "unclean", "crash", "hang", "unsupported")


def exponent_range(dtype):
    """Magnitudes a case may take: the dtype's range, short of its overflow."""
    return (-300, 300) if dtype == "float64" else (-35, 35)


def _space(dtype, n_samples):
    """The case space after dtype and n_samples: key -> spec. A spec is ("int", low, high),
    ("choice", values) or ("maybe", value, spec): `value` or a draw from spec."""
    low, high = exponent_range(dtype)
    return {
        "n_features": ("int", 1, 5),
        "kind": ("choice", KINDS),
        "exponent": ("maybe", 0, ("int", low, high)),
        "offset_exponent": ("maybe", None, ("int", -5, 12)),
        "weights": ("maybe", "none", ("choice", WEIGHTS[1:])),  # half the cases comparable with sklearn
        "covariance_type": ("choice", COVARIANCE_TYPES),
        "init_params": ("choice", INITS),
        "n_init": ("int", 1, 3),
        "max_iter": ("choice", (0, 1, 2, 5, 20, 100)),
        "tol": ("choice", (0.0, 1e-3)),
        "reg_covar": ("choice", REG_COVARS),
        "n_components": ("int", 1, min(5, n_samples)),
        "seed": ("int", 0, 2**31 - 1),
    }


def draw_case(rng):
    """A random case from numpy's Generator ``rng`` (the campaign script's generator)."""

    def draw(spec):
        if spec[0] == "int":
            return int(rng.integers(spec[1], spec[2] + 1))
        if spec[0] == "choice":
            return spec[1][int(rng.integers(len(spec[1])))]
        return spec[1] if rng.random() < 0.5 else draw(spec[2])

    dtype = ("float64", "float32")[int(rng.integers(2))]
    n_samples = int(rng.integers(2, 201))
    case = {"dtype": dtype, "n_samples": n_samples}
    case.update({key: draw(spec) for key, spec in _space(dtype, n_samples).items()})
    return case


def case_strategy():
    """The same case space as a hypothesis strategy (the pytest profile)."""
    from hypothesis import strategies as st

    def strategy(spec):
        if spec[0] == "int":
            return st.integers(spec[1], spec[2])
        if spec[0] == "choice":
            return st.sampled_from(spec[1])
        return st.one_of(st.just(spec[1]), strategy(spec[2]))

    @st.composite
    def cases(draw):
        dtype = draw(st.sampled_from(["float64", "float32"]))
        n_samples = draw(st.integers(2, 200))
        case = {"dtype": dtype, "n_samples": n_samples}
        case.update({key: draw(strategy(spec)) for key, spec in _space(dtype, n_samples).items()})
        return case

    return cases()


def make_data(case):
    """(X, sample_weight or None) for a case, deterministic in case['seed']."""
    with np.errstate(all="ignore"):
        return _make_data(case)


def _make_data(case):
    rng = np.random.default_rng(case["seed"])
    n, d = case["n_samples"], case["n_features"]
    kind = case["kind"]
    if kind == "blobs":
        centers = rng.normal(0, 10, size=(3, d))
        X = centers[rng.integers(0, 3, n)] + rng.normal(size=(n, d))
    elif kind == "normal":
        X = rng.normal(size=(n, d))
    elif kind == "duplicates":
        X = rng.normal(size=(max(1, n // 10), d))[rng.integers(0, max(1, n // 10), n)]
    elif kind == "constant_feature":
        X = rng.normal(size=(n, d))
        X[:, rng.integers(0, d)] = 3.0
    elif kind == "cauchy":
        X = rng.standard_cauchy(size=(n, d))
    elif kind == "grid":
        X = rng.integers(-2, 3, size=(n, d)).astype(float)
    elif kind == "far_outlier":
        X = rng.normal(size=(n, d))
        X[rng.integers(0, n)] = 1e6
    else:  # identical
        X = np.full((n, d), 1.5)
    dtype = np.dtype(case["dtype"])
    top = np.finfo(dtype).max / 16
    X = X * 10.0 ** case["exponent"]
    if case["offset_exponent"] is not None:
        X = X + 10.0 ** case["offset_exponent"] * max(1.0, float(np.abs(X).max(initial=0.0)))
    X = np.clip(np.nan_to_num(X, posinf=top, neginf=-top), -top, top).astype(dtype)

    scheme = case["weights"]
    if scheme == "none":
        return X, None
    weights = {
        "ones": lambda: np.ones(n),
        "some_zero": lambda: np.where(rng.random(n) < 0.3, 0.0, 1.0),
        "tiny": lambda: np.full(n, 1e-300),
        "huge": lambda: np.full(n, 1e300),
        "mixed": lambda: 10.0 ** rng.uniform(-200, 200, n),
        "single": lambda: np.eye(1, n, int(rng.integers(0, n)))[0],
    }[scheme]()
    return X, weights


def far_points(X):
    """Finite points far from every component: near the dtype's limits, and far along X[0]."""
    top = float(np.finfo(X.dtype).max) / 4
    d = X.shape[1]
    with np.errstate(all="ignore"):
        along = np.clip(np.nan_to_num(X[0].astype(np.float64) * 1e6 + 1e6), -top, top)
    return np.vstack([np.full(d, top), np.full(d, -top), along]).astype(X.dtype)


def _estimator(case, library):
    params = {key: case[key] for key in ("covariance_type", "init_params", "n_init", "max_iter", "tol",
                                         "reg_covar", "n_components")}
    if library == "sklearn":
        from sklearn.mixture import GaussianMixture
    else:
        from gaussmix import GaussianMixture
    return GaussianMixture(random_state=case["seed"] % 1000, **params)


def _problems(gm, X, K):
    """What is wrong with a fitted model's parameters and outputs (an empty list when nothing)."""
    problems = []
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        if not np.all(np.isfinite(getattr(gm, name))):
            problems.append(f"{name} not finite")
    tolerance = 1e-3 if X.dtype == np.float32 else 1e-6
    for label, points in (("data", X), ("far", far_points(X))):
        labels = gm.predict(points)
        if labels.min() < 0 or labels.max() >= K:
            problems.append(f"predict({label}) out of range")
        proba = gm.predict_proba(points)
        if not np.all(np.isfinite(proba)) or not np.allclose(proba.sum(axis=1), 1.0, atol=tolerance):
            problems.append(f"predict_proba({label}) not finite rows summing to one")
        if np.isnan(gm.score_samples(points)).any():
            problems.append(f"score_samples({label}) NaN")
        for criterion in ("score", "aic", "bic"):
            if np.isnan(getattr(gm, criterion)(points)):
                problems.append(f"{criterion}({label}) NaN")
    drawn = gm.sample(5)[0]
    if not np.all(np.isfinite(drawn)):
        problems.append("sample not finite")
    return problems


def run_case(case, library="gaussmix"):
    """The outcome of one case, as a dict with 'outcome' and 'detail'."""
    X, weights = make_data(case)
    gm = _estimator(case, library)
    if library == "sklearn" and weights is not None:
        return {"outcome": "unsupported", "detail": "scikit-learn's GaussianMixture takes no sample_weight"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if weights is None:
                gm.fit(X)
            else:
                gm.fit(X, sample_weight=weights)
            problems = _problems(gm, X, case["n_components"])
        except (ValueError, TypeError) as error:
            if not str(error).strip():
                return {"outcome": "unclean", "detail": f"{type(error).__name__} with an empty message"}
            return {"outcome": "error", "detail": f"{type(error).__name__}: {str(error)[:200]}"}
        except Exception as error:  # noqa: BLE001 - everything else is the finding
            return {"outcome": "unclean", "detail": f"{type(error).__name__}: {str(error)[:200]}"}
    if problems:
        return {"outcome": "bad", "detail": "; ".join(problems)}
    return {"outcome": "ok", "detail": ""}


class Supervisor:
    """Runs cases in a worker interpreter; restarts it after a crash or a hang."""

    def __init__(self, library="gaussmix", timeout=60.0):
        self.library = library
        self.timeout = timeout
        self.worker = None

    def _start(self):
        self.worker = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", self.library],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
        )

    def run(self, case):
        if self.worker is None or self.worker.poll() is not None:
            self._start()
        self.worker.stdin.write(json.dumps(case) + "\n")
        self.worker.stdin.flush()
        ready, _, _ = select.select([self.worker.stdout], [], [], self.timeout)
        if not ready:
            self.close()
            return {"outcome": "hang", "detail": f"no answer within {self.timeout:.0f} s"}
        line = self.worker.stdout.readline()
        if not line:
            code = self.worker.wait()
            self.worker = None
            return {"outcome": "crash", "detail": f"worker died with exit code {code}"}
        return json.loads(line)

    def close(self):
        if self.worker is not None:
            self.worker.kill()
            self.worker.wait()
            self.worker = None


def _serve(library):
    for line in sys.stdin:
        case = json.loads(line)
        if case.get("_abort"):  # the supervisor's own test: a worker that crashes ...
            os.abort()
        if case.get("_sleep"):  # ... and one that hangs
            time.sleep(case["_sleep"])
        print(json.dumps(run_case(case, library)), flush=True)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--worker":
    _serve(sys.argv[2])
