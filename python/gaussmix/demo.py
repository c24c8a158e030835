"""Reproduce the Python Data Science Handbook's chapter "In Depth: Gaussian Mixture Models".

Run it as ``python -m gaussmix demo [--out DIR] [--quick]``. Every figure of the
chapter is written to ``DIR`` as a PNG, and every printed result (plus the
chosen component counts, ``converged_``, the PCA dimensions and timings) to
``DIR/summary.txt``. Data come from scikit-learn's ``make_blobs``,
``make_moons`` and ``load_digits``; nothing is downloaded. Needs matplotlib.
"""

import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs, make_moons
from sklearn.decomposition import PCA

from . import plotting
from ._estimator import GaussianMixture
from .generation import ReducedMixture
from .model_selection import AutoGaussianMixture, sweep

__all__ = ["DIGIT_COMPONENTS", "QUICK_DIGIT_COMPONENTS", "FIGURES", "run_demo"]

#: The chapter's AIC sweep for the PCA-reduced digits.
DIGIT_COMPONENTS = tuple(range(50, 210, 10))
#: The shrunken sweep of ``--quick``.
QUICK_DIGIT_COMPONENTS = (10, 20, 30)
#: File name (without ``.png``) and title of every figure, in chapter order.
FIGURES = {
    "01_kmeans_blobs": "k-means labels on four blobs",
    "02_kmeans_circles": "k-means circles on four blobs",
    "03_kmeans_stretched": "k-means circles on stretched blobs",
    "04_gmm_labels": "GMM labels on four blobs",
    "05_gmm_certainty": "GMM labels, size = certainty (50 * p_max^2)",
    "06_gmm_ellipses": "GMM 1-3 sigma ellipses on four blobs",
    "07_gmm_ellipses_stretched": "GMM (full) ellipses on stretched blobs",
    "08_covariance_types": "covariance_type diag, spherical, full",
    "09_moons": "make_moons data",
    "10_moons_gmm2": "moons, 2 components",
    "11_moons_gmm16": "moons, 16 components as a density",
    "12_moons_samples": "400 new points from the 16-component model",
    "13_moons_aic_bic": "AIC and BIC against n_components, moons",
    "14_digits": "the first 100 digits",
    "15_digits_aic": "AIC against n_components, PCA-reduced digits",
    "16_digits_generated": "100 new digits from the mixture",
}


def _new_figure(figsize=(6, 4.5), layout="constrained"):
    # A bare Figure needs no pyplot and no interactive backend: it saves with Agg.
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout=layout)


class _Report:
    """Collects figures, summary lines and section timings of the demo."""

    def __init__(self, out_dir, log):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.lines = []
        self.figures = {}
        self.timings = {}

    def say(self, line=""):
        self.lines.append(line)
        self.log(line)

    def save(self, name, fig, ax=None):
        if ax is not None:
            ax.set_title(FIGURES[name])
        path = self.out_dir / f"{name}.png"
        fig.savefig(path, dpi=80)
        self.figures[name] = path

    def timed(self, section, start):
        self.timings[section] = time.perf_counter() - start


def _kmeans_section(report, X, X_stretched):
    start = time.perf_counter()
    report.say("== Weaknesses of k-means ==")
    fig = _new_figure()
    ax = fig.subplots()
    labels = KMeans(4, random_state=0).fit(X).predict(X)
    ax.scatter(X[:, 0], X[:, 1], c=labels, s=40, cmap="viridis")
    report.save("01_kmeans_blobs", fig, ax)
    for name, data in (("02_kmeans_circles", X), ("03_kmeans_stretched", X_stretched)):
        fig = _new_figure()
        plotting.plot_kmeans(KMeans(n_clusters=4, random_state=0), data, ax=fig.subplots())
        report.save(name, fig, fig.axes[0])
    report.timed("k-means", start)


def _blob_mixture_section(report, X, X_stretched):
    start = time.perf_counter()
    report.say("== GMM on blobs ==")
    gmm = GaussianMixture(n_components=4, random_state=42).fit(X)
    fig = _new_figure()
    report.save("04_gmm_labels", fig,
                plotting.plot_mixture(gmm, X, ellipses=False, ax=fig.subplots()))
    report.say("probs[:5].round(3) =")
    report.say(str(gmm.predict_proba(X)[:5].round(3)))
    fig = _new_figure()
    report.save("05_gmm_certainty", fig,
                plotting.plot_mixture(gmm, X, certainty=True, ellipses=False, ax=fig.subplots()))
    fig = _new_figure()
    report.save("06_gmm_ellipses", fig, plotting.plot_mixture(gmm, X, ax=fig.subplots()))
    stretched = GaussianMixture(n_components=4, covariance_type="full", random_state=42)
    stretched.fit(X_stretched)
    fig = _new_figure()
    report.save("07_gmm_ellipses_stretched", fig,
                plotting.plot_mixture(stretched, X_stretched, ax=fig.subplots()))
    report.say(f"converged_: blobs {gmm.converged_}, stretched blobs {stretched.converged_}")

    # The appendix figure: one elongated cluster under three covariance types.
    rng = np.random.RandomState(5)
    Xc = np.dot(rng.randn(500, 2), rng.randn(2, 2))
    fig = _new_figure(figsize=(13, 4.2))
    axes = fig.subplots(1, 3)
    for ax, covariance_type in zip(axes, ("diag", "spherical", "full")):
        model = GaussianMixture(1, covariance_type=covariance_type, random_state=0).fit(Xc)
        ax.scatter(Xc[:, 0], Xc[:, 1], alpha=0.5, s=15)
        ax.axis("equal")
        plotting.draw_ellipses(model, ax=ax)
        ax.set_title(f'covariance_type="{covariance_type}"', family="monospace")
    fig.suptitle(FIGURES["08_covariance_types"])
    report.save("08_covariance_types", fig)
    report.timed("GMM on blobs", start)


def _moons_section(report):
    start = time.perf_counter()
    report.say("== GMM as density estimation: moons ==")
    Xmoon, _ = make_moons(200, noise=0.05, random_state=0)
    fig = _new_figure()
    ax = fig.subplots()
    ax.scatter(Xmoon[:, 0], Xmoon[:, 1])
    report.save("09_moons", fig, ax)
    gmm2 = GaussianMixture(n_components=2, covariance_type="full", random_state=0).fit(Xmoon)
    fig = _new_figure()
    report.save("10_moons_gmm2", fig, plotting.plot_mixture(gmm2, Xmoon, ax=fig.subplots()))
    gmm16 = GaussianMixture(n_components=16, covariance_type="full", random_state=0).fit(Xmoon)
    fig = _new_figure()
    report.save("11_moons_gmm16", fig,
                plotting.plot_mixture(gmm16, Xmoon, label=False, ax=fig.subplots()))
    Xnew, _ = gmm16.sample(400, random_state=0)
    fig = _new_figure()
    ax = fig.subplots()
    ax.scatter(Xnew[:, 0], Xnew[:, 1])
    report.save("12_moons_samples", fig, ax)
    result = sweep(Xmoon, range(1, 21), covariance_type="full", random_state=0)
    fig = _new_figure()
    report.save("13_moons_aic_bic", fig, result.plot(ax=fig.subplots()))
    aic_n = result.best_params["aic"]["n_components"]
    bic_n = result.best_params["bic"]["n_components"]
    report.say(f"moons: AIC picks {aic_n} components, BIC picks {bic_n} (the chapter: AIC 8-12, "
               f"BIC fewer); 16-component converged_ {gmm16.converged_}")
    report.timed("moons", start)
    return {"moons_aic_n_components": aic_n, "moons_bic_n_components": bic_n}


def _digits_section(report, quick):
    start = time.perf_counter()
    report.say("== Generating new digits ==")
    digits = load_digits().data
    report.say(f"digits.data.shape = {digits.shape}")
    fig = _new_figure(figsize=(8, 8), layout=None)
    plotting.plot_digits(digits, fig=fig)
    fig.suptitle(FIGURES["14_digits"])
    report.save("14_digits", fig)

    candidates = QUICK_DIGIT_COMPONENTS if quick else DIGIT_COMPONENTS
    model = ReducedMixture(
        reducer=PCA(0.99, whiten=True),
        mixture=AutoGaussianMixture(candidates, "full", criterion="aic", random_state=0),
    ).fit(digits)
    mixture = model.mixture_
    report.say(f"PCA(0.99, whiten=True): data.shape = ({len(digits)}, {model.n_reduced_features_})")
    fig = _new_figure()
    report.save("15_digits_aic", fig, mixture.sweep_.plot(ax=fig.subplots(), criteria=["aic"]))
    report.say(f"AIC over n_components {candidates[0]}..{candidates[-1]} picks "
               f"{mixture.n_components_}; converged_ = {mixture.converged_}")

    digits_new, _ = model.sample(100, random_state=0)
    report.say(f"data_new.shape = ({len(digits_new)}, {model.n_reduced_features_}); "
               f"digits_new.shape = {digits_new.shape}")
    fig = _new_figure(figsize=(8, 8), layout=None)
    plotting.plot_digits(digits_new, fig=fig)
    fig.suptitle(FIGURES["16_digits_generated"])
    report.save("16_digits_generated", fig)
    report.timed("digits", start)
    return {
        "pca_dimensions": model.n_reduced_features_,
        "digits_aic_n_components": int(mixture.n_components_),
        "digits_converged": bool(mixture.converged_),
    }


def run_demo(out_dir="gaussmix-demo", quick=False, log=print):
    """Reproduce every figure and printed result of the handbook chapter.

    Parameters
    ----------
    out_dir : str or Path, default="gaussmix-demo"
        Directory for the PNGs and ``summary.txt``; created if missing.
    quick : bool, default=False
        Sweep the digits over :data:`QUICK_DIGIT_COMPONENTS` instead of the
        chapter's 50..200 (for tests).
    log : callable, default=print
        Receives every summary line as it is produced.

    Returns
    -------
    summary : dict
        ``"figures"`` (name to PNG path, one per entry of :data:`FIGURES`),
        ``"summary_path"``, ``"timings"`` (seconds per section and
        ``"total"``), the chosen component counts and the PCA dimension.

    Examples
    --------
    >>> summary = run_demo("/tmp/gaussmix-demo", quick=True, log=lambda line: None)
    >>> sorted(summary["figures"]) == sorted(FIGURES)
    True
    """
    from matplotlib import style
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    report = _Report(out_dir, log)
    blobs, _ = make_blobs(n_samples=400, centers=4, cluster_std=0.60, random_state=0)
    X = blobs[:, ::-1]  # flip axes for better plotting, as the chapter does
    X_stretched = np.dot(X, np.random.RandomState(13).randn(2, 2))
    results = {}
    # Every BLAS call here is on a matrix of at most 1797 x 64: a threaded BLAS
    # only adds overhead, and spins badly (10-20x slower) when another process
    # holds a core. The library's own OpenMP threads are left alone.
    seaborn = "seaborn-v0_8" if "seaborn-v0_8" in style.available else "default"
    with style.context(seaborn), threadpool_limits(limits=1, user_api="blas"):
        _kmeans_section(report, X, X_stretched)
        _blob_mixture_section(report, X, X_stretched)
        results.update(_moons_section(report))
        results.update(_digits_section(report, quick))
    report.timed("total", start)
    report.say("== Timings ==")
    for section, seconds in report.timings.items():
        report.say(f"{section}: {seconds:.1f} s")
    summary_path = report.out_dir / "summary.txt"
    summary_path.write_text("\n".join(report.lines) + "\n")
    return {"figures": report.figures, "summary_path": summary_path,
            "timings": report.timings, **results}
