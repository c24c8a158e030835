"""One adapter per library: the same three operations for every implementation.

``fit_fixed``   EM from the given initial parameters for exactly ``n_iter`` iterations
                (``tol=0`` so it never stops early); returns the final parameters.
``fit_default`` the library's default fit (k-means initialisation, run to convergence).
``sweep``       the handbook's AIC sweep over ``n_components`` (W5).

Parameters come back as ``dict(weights, means, covariances | precisions_cholesky)`` so
that one evaluator (``avg_loglik``) scores every library's result on the same float64
data: a library cannot report its own (possibly wrong) likelihood.

Optional peers (``pip install gaussmix[bench]`` installs them):
    mlpack  -- ``pip install mlpack``  (``mlpack.gmm_train``, Armadillo + OpenMP)
    gmmx    -- ``pip install gmmx``    (JAX; float32 only; pulls in ``jax``/``jaxlib``)
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
from scipy.special import logsumexp

LIBRARIES = ("gaussmix", "sklearn", "mlpack", "gmmx")
IMPORT_NAME = {"gaussmix": "gaussmix._gmm", "sklearn": "sklearn.mixture", "mlpack": "mlpack",
               "gmmx": "gmmx"}


# ----------------------------------------------------------------------------- evaluation
def _prec_chol_from_cov(cov, covariance_type):
    if covariance_type == "diag":
        return 1.0 / np.sqrt(cov)
    out = np.empty_like(cov)
    for k in range(cov.shape[0]):
        low = np.linalg.cholesky(cov[k])
        out[k] = np.linalg.inv(low).T
    return out


def avg_loglik(X, params, covariance_type, block=16384):
    """Mean log-likelihood of X (float64) under a mixture, computed in float64 blocks."""
    X = np.asarray(X, dtype=np.float64)
    w = np.asarray(params["weights"], dtype=np.float64)
    mu = np.asarray(params["means"], dtype=np.float64)
    if "precisions_cholesky" in params:
        pc = np.asarray(params["precisions_cholesky"], dtype=np.float64)
    else:
        pc = _prec_chol_from_cov(np.asarray(params["covariances"], dtype=np.float64),
                                 covariance_type)
    n, d = X.shape
    k = w.shape[0]
    if covariance_type == "diag":
        logdet = np.sum(np.log(pc), axis=1)
    else:
        logdet = np.array([np.sum(np.log(np.diag(pc[j]))) for j in range(k)])
    const = np.log(w) + logdet - 0.5 * d * np.log(2 * np.pi)
    total = 0.0
    lp = np.empty((min(block, n), k))
    for s in range(0, n, block):
        xb = X[s:s + block]
        lpb = lp[: xb.shape[0]]
        for j in range(k):
            if covariance_type == "diag":
                y = (xb - mu[j]) * pc[j]
            else:
                y = (xb - mu[j]) @ pc[j]
            lpb[:, j] = const[j] - 0.5 * np.einsum("ij,ij->i", y, y)
        total += float(np.sum(logsumexp(lpb, axis=1)))
    return total / n


def n_parameters(n_components, n_features, covariance_type):
    k, d = n_components, n_features
    cov = k * d * (d + 1) / 2 if covariance_type == "full" else k * d
    return int(cov + k * d + k - 1)


# ----------------------------------------------------------------------------- adapters
class Adapter:
    name = ""
    dtypes = ("float64", "float32")
    jit = False  # warm-up must repeat the exact call (compiled per shape/static args)
    note = ""

    def version(self):
        return ""

    def config(self):
        return {}


class _SklearnLike(Adapter):
    """scikit-learn's estimator API (scikit-learn itself and gaussmix)."""

    def estimator(self):
        raise NotImplementedError

    def _params(self, gm):
        return {"weights": gm.weights_, "means": gm.means_,
                "precisions_cholesky": gm.precisions_cholesky_}

    def fit_fixed(self, X, init, n_iter, covariance_type):
        from sklearn.exceptions import ConvergenceWarning

        gm = self.estimator()(
            n_components=init["weights"].shape[0], covariance_type=covariance_type,
            max_iter=n_iter, tol=0.0, weights_init=init["weights"], means_init=init["means"],
            precisions_init=init["precisions"], random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X)
        return self._params(gm), {"n_iter": int(gm.n_iter_)}

    def fit_default(self, X, n_components, covariance_type, seed=0, max_iter=None):
        from sklearn.exceptions import ConvergenceWarning

        kw = {} if max_iter is None else {"max_iter": max_iter}
        gm = self.estimator()(n_components=n_components, covariance_type=covariance_type,
                              random_state=seed, **kw)
        with warnings.catch_warnings():
            if max_iter is not None:
                warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X)
        return self._params(gm), {"n_iter": int(gm.n_iter_), "converged": bool(gm.converged_)}

    def sweep(self, X, ns, seed=0):
        aics = []
        for n in ns:
            gm = self.estimator()(n_components=n, covariance_type="full",
                                  random_state=seed).fit(X)
            aics.append(float(gm.aic(X)))
        return aics


class Sklearn(_SklearnLike):
    name = "sklearn"

    def estimator(self):
        from sklearn.mixture import GaussianMixture

        return GaussianMixture

    def version(self):
        import sklearn

        return sklearn.__version__


class Gaussmix(_SklearnLike):
    name = "gaussmix"

    def estimator(self):
        from gaussmix import GaussianMixture

        return GaussianMixture

    def sweep(self, X, ns, seed=0):
        """The handbook's sweep as gaussmix writes it: ``gaussmix.sweep`` (one validation of
        X, one pass per fit for AIC and BIC, small fits run concurrently)."""
        from gaussmix import sweep

        return [float(a) for a in sweep(X, ns, covariance_type="full", random_state=seed).table["aic"]]

    def sweep_loop(self, X, ns, seed=0):
        return _SklearnLike.sweep(self, X, ns, seed)

    def version(self):
        import gaussmix

        return getattr(gaussmix, "__version__", "")

    def config(self):
        import gaussmix

        if not hasattr(gaussmix, "show_config"):
            return {}
        with contextlib.redirect_stdout(io.StringIO()):
            info = gaussmix.show_config()
        return {str(k): str(v) for k, v in dict(info or {}).items()}


class Mlpack(Adapter):
    """``mlpack.gmm_train``.

    Its Python binding always starts EM from its own k-means (``input_model`` is only
    a container: gmm_train calls ``GMM::Train(..., useExistingModel=false)``), so the
    per-iteration time is the difference of two fits with the same seed that differ
    only in ``max_iterations``, and its log-likelihood is from its own start.
    """

    name = "mlpack"
    dtypes = ("float64",)
    note = "own k-means start (gmm_train cannot start from given parameters)"
    differential = True

    def version(self):
        import mlpack

        return getattr(mlpack, "__version__", "")

    def _train(self, X, n_components, covariance_type, **kw):
        import mlpack

        from _mlpack_model import model_params

        out = mlpack.gmm_train(input_=X, gaussians=n_components,
                               diagonal_covariance=(covariance_type == "diag"), **kw)
        w, mu, cov = model_params(out["output_model"])
        if covariance_type == "diag":
            cov = np.stack([np.diag(c) for c in cov])
        return {"weights": w, "means": mu, "covariances": cov}

    def fit_fixed(self, X, init, n_iter, covariance_type, seed=7):
        # k-means is capped at 10 iterations here: it is the same in both fits and
        # cancels out of the difference; only the EM iterations are measured.
        params = self._train(X, init["weights"].shape[0], covariance_type,
                             max_iterations=n_iter, tolerance=0.0, seed=seed,
                             kmeans_max_iterations=10)
        return params, {"n_iter": n_iter}

    def fit_default(self, X, n_components, covariance_type, seed=7, max_iter=None):
        # scikit-learn's stopping rule, so that "to convergence" means the same thing:
        # tol 1e-3 on the mean log-likelihood (mlpack compares the total), 100 iterations.
        # (mlpack counts the starting point as iteration 1.)
        params = self._train(X, n_components, covariance_type, seed=seed,
                             tolerance=1e-3 * X.shape[0],
                             max_iterations=100 if max_iter is None else max_iter + 1)
        return params, {"n_iter": None, "converged": None}

    def sweep(self, X, ns, seed=7):
        aics = []
        for n in ns:
            p = self._train(X, n, "full", seed=seed, tolerance=1e-3 * X.shape[0],
                            max_iterations=100)
            ll = avg_loglik(X, p, "full")
            aics.append(-2.0 * ll * X.shape[0] + 2.0 * n_parameters(n, X.shape[1], "full"))
        return aics


class Gmmx(Adapter):
    """gmmx (JAX). float32 only.

    Calls ``EMFitter.fit`` ahead-of-time compiled (``.lower(...).compile()``, cached per
    shape and settings) on data put on the device once. The default fit mirrors
    ``GaussianMixtureSKLearn.fit`` (k-means with 10 restarts, tol 1e-3, 100 iterations).
    Known problem: with jax 0.10.2 a run of the compiled fit on W3 (50,000 x 64, K=32)
    sometimes never returns (every thread idle on a futex); run.py gives gmmx processes
    a shorter time limit so a hang costs minutes, not the run.
    """

    name = "gmmx"
    dtypes = ("float32",)
    jit = True
    note = "JAX, float32 only; JIT compilation excluded by the warm-up"

    def __init__(self):
        self._compiled = {}
        self._x = None

    def version(self):
        import jax

        try:
            from importlib.metadata import version

            return f"{version('gmmx')} (jax {jax.__version__})"
        except Exception:  # noqa: BLE001
            return f"jax {jax.__version__}"

    def _em(self, X, gmm, max_iter, tol):
        import jax
        from gmmx import EMFitter

        fitter = EMFitter(max_iter=max_iter, tol=tol, reg_covar=1e-6)
        if self._x is None or self._x[0] is not X:  # the data go to the device once
            self._x = (X, jax.device_put(X))
        xj = self._x[1]
        key = (X.shape, gmm.n_components, gmm.covariances.type, max_iter, tol)
        if key not in self._compiled:
            self._compiled[key] = EMFitter.fit.lower(fitter, xj, gmm).compile()
        res = self._compiled[key](fitter, xj, gmm)
        jax.block_until_ready(res)
        return res

    @staticmethod
    def _params(g, covariance_type):
        cov = np.asarray(g.covariances.values_numpy, dtype=np.float64)
        if covariance_type == "diag" and cov.ndim == 3:
            cov = np.stack([np.diag(c) for c in cov])
        return {"weights": g.weights_numpy, "means": g.means_numpy, "covariances": cov}

    def fit_fixed(self, X, init, n_iter, covariance_type):
        from gmmx import GaussianMixtureModelJax

        prec = init["precisions"]
        cov = np.linalg.inv(prec) if covariance_type == "full" else 1.0 / prec
        gmm = GaussianMixtureModelJax.from_squeezed(
            means=init["means"].astype(np.float32), covariances=cov.astype(np.float32),
            weights=init["weights"].astype(np.float32), covariance_type=covariance_type)
        # gmmx stops when |delta log-likelihood| < tol; with tol=0 it never does.
        res = self._em(X, gmm, n_iter, 0.0)
        return self._params(res.gmm, covariance_type), {"n_iter": int(res.n_iter)}

    def fit_default(self, X, n_components, covariance_type, seed=0, max_iter=None):
        from gmmx import GaussianMixtureModelJax

        gmm = GaussianMixtureModelJax.from_k_means(
            X, n_components=n_components, covariance_type=covariance_type,
            random_state=np.random.RandomState(seed))
        res = self._em(X, gmm, 100 if max_iter is None else max_iter, 1e-3)
        return (self._params(res.gmm, covariance_type),
                {"n_iter": int(res.n_iter), "converged": bool(res.converged)})

    def sweep(self, X, ns, seed=0):
        aics = []
        for n in ns:
            p, _ = self.fit_default(X, n, "full", seed=seed)
            ll = avg_loglik(X, p, "full")
            aics.append(-2.0 * ll * X.shape[0] + 2.0 * n_parameters(n, X.shape[1], "full"))
        return aics


ADAPTERS = {"sklearn": Sklearn, "gaussmix": Gaussmix, "mlpack": Mlpack, "gmmx": Gmmx}
