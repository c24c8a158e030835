"""Benchmark workloads: data, identical initial parameters, and the digits sweep.

Every workload is generated from a fixed seed, written once to a scratch directory
as ``.npy`` files, and loaded by each timing process, so all libraries see the
same bytes.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

SEED = 20240101


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    n_samples: int
    n_features: int
    n_components: int
    covariance_type: str
    iters: int  # fixed EM iterations for the per-iteration timing
    description: str = ""
    sweep: tuple = ()  # W5 only: the n_components swept

    @property
    def is_sweep(self):
        return bool(self.sweep)

    def flops_per_iter(self):
        """The issue's flop count for one full-covariance EM iteration, 4*N*K*D^2."""
        if self.covariance_type != "full" or self.is_sweep:
            return None
        return 4.0 * self.n_samples * self.n_components * self.n_features**2

    def bytes_per_iter(self, itemsize=8):
        """One read of X per iteration, N*D*itemsize (reported for diag and D=2)."""
        if self.is_sweep:
            return None
        if self.covariance_type == "full" and self.n_features > 2:
            return None
        return float(self.n_samples * self.n_features * itemsize)

    def shape_label(self):
        if self.is_sweep:
            return (f"digits PCA(0.99) N={self.n_samples} D={self.n_features}, "
                    f"K={self.sweep[0]}..{self.sweep[-1]} step {self.sweep[1] - self.sweep[0]} "
                    f"{self.covariance_type}")
        return (f"N={self.n_samples:,} D={self.n_features} K={self.n_components} "
                f"{self.covariance_type}")


def workloads(quick=False):
    """The issue-3 workloads; ``quick`` shrinks N (same D, K) for a smoke run."""
    s = 10 if quick else 1
    ws = [
        Workload("W1", 1_000_000 // s, 2, 4, "full", 4 if quick else 20),
        Workload("W2", 200_000 // s, 16, 16, "full", 4 if quick else 10),
        Workload("W3", 50_000 // s, 64, 32, "full", 4 if quick else 5),
        Workload("W4", 1_000_000 // s, 32, 32, "diag", 3 if quick else 5),
        # n_samples / n_features of W5 are filled in from the data (1797 x 41).
        Workload("W5", 1797, 41, 0, "full", 0,
                 sweep=tuple(range(50, 80, 10)) if quick else tuple(range(50, 210, 10))),
    ]
    return {w.name: w for w in ws}


def make_blobs_full(w: Workload, seed=SEED):
    """Random full-covariance Gaussian clusters.

    Means are spread so that neighbouring clusters are ~8 standard deviations
    apart in expectation; covariances are random Wishart-like matrices with
    average variance 1 plus a floor (condition numbers of a few tens), weights
    from a Dirichlet(5), rows shuffled.
    """
    rng = np.random.default_rng([seed, int(w.name[1:])])
    n, d, k = w.n_samples, w.n_features, w.n_components
    means = rng.normal(size=(k, d)) * (8.0 / np.sqrt(2.0 * d))
    weights = rng.dirichlet(np.full(k, 5.0))
    counts = rng.multinomial(n, weights)
    X = np.empty((n, d))
    start = 0
    for j in range(k):
        a = rng.normal(size=(d, d)) / np.sqrt(d)
        cov = 0.9 * a @ a.T + 0.1 * np.eye(d)
        chol = np.linalg.cholesky(cov)
        z = rng.standard_normal((counts[j], d))
        X[start:start + counts[j]] = z @ chol.T + means[j]
        start += counts[j]
    perm = rng.permutation(n)
    return np.ascontiguousarray(X[perm])


def load_digits_pca():
    """The handbook's data: load_digits -> PCA(0.99, whiten=True) (41 dimensions)."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    digits = load_digits()
    data = PCA(0.99, whiten=True).fit_transform(digits.data)
    return np.ascontiguousarray(data, dtype=np.float64)


def initial_parameters(X, n_components, covariance_type, reg_covar=1e-6, seed=0,
                       kmeans_sample=200_000):
    """Identical starting point for every library: one k-means, then one M-step.

    k-means runs on at most ``kmeans_sample`` rows (the starting point only has to be
    the same for everybody, not optimal); every row is then assigned to its nearest
    centre and the weights, means and covariances of those hard responsibilities are
    computed as scikit-learn's ``_initialize`` does (covariances plus ``reg_covar``).

    Returns ``weights (K,)``, ``means (K, D)`` and ``precisions`` in scikit-learn's
    ``precisions_init`` layout: ``(K, D, D)`` for full, ``(K, D)`` for diag.
    """
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    n, d = X.shape
    sub = X if n <= kmeans_sample else X[np.sort(rng.choice(n, kmeans_sample, replace=False))]
    km = KMeans(n_clusters=n_components, n_init=1, random_state=seed).fit(sub)
    labels = km.predict(X) if sub is not X else km.labels_
    counts = np.bincount(labels, minlength=n_components).astype(np.float64)
    weights = counts / n
    means = np.zeros((n_components, d))
    _grouped_sum(X, labels, means)
    means /= counts[:, None]
    if covariance_type == "full":
        prec = np.empty((n_components, d, d))
        for k in range(n_components):
            diff = X[labels == k] - means[k]
            cov = diff.T @ diff / counts[k]
            cov.flat[:: d + 1] += reg_covar
            c_inv = np.linalg.inv(np.linalg.cholesky(cov))
            prec[k] = c_inv.T @ c_inv
            prec[k] = 0.5 * (prec[k] + prec[k].T)
    elif covariance_type == "diag":
        prec = np.empty((n_components, d))
        for k in range(n_components):
            diff = X[labels == k] - means[k]
            prec[k] = 1.0 / (np.einsum("ij,ij->j", diff, diff) / counts[k] + reg_covar)
    else:
        raise ValueError(covariance_type)
    return weights, means, prec


def _grouped_sum(X, labels, out):
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(out.shape[0] + 1))
    for k in range(out.shape[0]):
        out[k] = X[order[bounds[k]:bounds[k + 1]]].sum(axis=0)


def prepare(w: Workload, scratch: str):
    """Write X (and the initial parameters) of one workload to ``scratch``; return paths."""
    os.makedirs(scratch, exist_ok=True)
    xpath = os.path.join(scratch, f"{w.name}_X.npy")
    ipath = os.path.join(scratch, f"{w.name}_init.npz")
    if w.is_sweep:
        X = load_digits_pca()
        np.save(xpath, X)
        return xpath, None, X.shape
    X = make_blobs_full(w)
    np.save(xpath, X)
    weights, means, prec = initial_parameters(X, w.n_components, w.covariance_type)
    np.savez(ipath, weights=weights, means=means, precisions=prec)
    return xpath, ipath, X.shape
