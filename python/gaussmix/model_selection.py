"""Choosing the number of components and the covariance type of a Gaussian mixture.

Two entry points:

* :func:`sweep` fits one :class:`~gaussmix.GaussianMixture` per candidate setting
  (``n_components`` x ``covariance_type``), scores every fit by AIC, BIC and, on
  request, k-fold cross-validated mean log-likelihood, and returns a
  :class:`SweepResult` (table of scores, best setting per criterion, the fitted
  models, criterion-curve plot).
* :class:`AutoGaussianMixture` is an estimator that runs such a sweep in ``fit``
  and then behaves as the selected fitted mixture; it can sit in a
  :class:`~sklearn.pipeline.Pipeline` or a
  :class:`~sklearn.model_selection.GridSearchCV`.

This is the "How many components?" section of the Python Data Science Handbook's
chapter on Gaussian mixtures, made reusable.
"""

import copy
import time
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin, clone
from sklearn.model_selection import check_cv
from sklearn.utils.validation import check_is_fitted

from ._dispatch import core as _gmm
from ._estimator import GaussianMixture, _SweepFit

__all__ = ["AutoGaussianMixture", "SweepResult", "sweep"]

#: Criteria a sweep can rank by; ``"icl"`` is the integrated completed likelihood
#: (:meth:`~gaussmix.GaussianMixture.icl`), ``"cv"`` the held-out mean log-likelihood.
CRITERIA = ("aic", "bic", "icl", "cv")
#: Covariance types understood by :class:`~gaussmix.GaussianMixture`.
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
# Information criteria are minimised, the held-out log-likelihood is maximised.
_LOWER_IS_BETTER = {"aic": True, "bic": True, "icl": True, "cv": False}
# Fitted attributes AutoGaussianMixture copies from the selected mixture.
_FITTED_ATTRIBUTES = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_",
    "precisions_cholesky_",
    "converged_",
    "n_iter_",
    "lower_bound_",
)


def _candidate_components(n_components):
    """Return the candidate component counts as a list of ints.

    An int ``k`` means ``1, ..., k``; an iterable is taken as given.
    """
    if isinstance(n_components, Integral):
        values = list(range(1, int(n_components) + 1))
    else:
        values = [int(n) for n in np.ravel(np.asarray(list(n_components)))]
    if not values or min(values) < 1:
        raise ValueError(
            f"n_components must be a positive int or a non-empty iterable of "
            f"positive ints, got {n_components!r}"
        )
    return values


def _candidate_covariance_types(covariance_type):
    """Return the candidate covariance types as a list of valid strings."""
    types = [covariance_type] if isinstance(covariance_type, str) else list(covariance_type)
    bad = [t for t in types if t not in COVARIANCE_TYPES]
    if not types or bad:
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES} or a non-empty list "
            f"of them, got {covariance_type!r}"
        )
    return types


def _check_criterion(criterion, available):
    if criterion not in available:
        raise ValueError(f"criterion must be one of {tuple(available)}, got {criterion!r}")


class _Progress:
    """Progress report for a sweep: a tqdm bar when installed, else one line per fit.

    ``verbose=0`` is silent; ``verbose=1`` shows a tqdm bar (or lines when tqdm is
    missing); ``verbose>=2`` prints one line per fit (through the bar if any).
    """

    def __init__(self, total, verbose):
        self.verbose = verbose
        self.bar = None
        if verbose >= 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc="gaussmix sweep", unit="fit")

    def update(self, message, postfix=""):
        if self.bar is not None:
            self.bar.set_postfix_str(postfix, refresh=False)
            self.bar.update()
            if self.verbose >= 2:
                self.bar.write(message)
        elif self.verbose >= 1:
            print(message, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class SweepResult:
    """Scores of a sweep over mixture settings, as returned by :func:`sweep`.

    Attributes
    ----------
    table : dict of str to ndarray
        One entry per completed setting, in sweep order. Keys:
        ``"n_components"`` (int), ``"covariance_type"`` (str), ``"aic"``,
        ``"bic"`` (float, of the fit on all of ``X``), ``"cv"`` and ``"cv_std"``
        (mean and standard deviation over folds of the held-out mean
        log-likelihood per sample; only when ``cv`` was given), ``"cv_scores"``
        (shape ``(n_settings, n_splits)``; only with ``cv``), ``"lower_bound"``,
        ``"converged"``, ``"n_iter"`` and ``"fit_time"`` (seconds for the full-data
        fit plus the fold fits).
    models : list of GaussianMixture
        The mixtures fitted on all of ``X``, aligned with the rows of ``table``.
    criteria : tuple of str
        Criteria that were scored: ``("aic", "bic")`` plus ``"cv"`` with ``cv``.
    criterion : str
        The default criterion, used by :attr:`best_estimator`.
    best_index : dict of str to int
        Row of ``table`` that is best for each criterion (lowest AIC/BIC,
        highest ``cv``).
    best_params : dict of str to dict
        ``{"n_components": ..., "covariance_type": ...}`` of the best row per
        criterion.
    interrupted : bool
        True when the sweep was stopped by ``KeyboardInterrupt`` before every
        planned setting was fitted; ``table`` then holds the completed ones.
    n_planned : int
        Number of settings the sweep was asked to fit.
    """

    def __init__(self, rows, models, criteria, criterion, interrupted=False, n_planned=None):
        if not rows:
            raise ValueError("a SweepResult needs at least one completed fit")
        self.models = list(models)
        self.criteria = tuple(criteria)
        self.criterion = criterion
        self.interrupted = bool(interrupted)
        self.n_planned = len(rows) if n_planned is None else int(n_planned)
        self.table = {key: np.asarray([row[key] for row in rows]) for key in rows[0]}
        self.best_index = {}
        for name in self.criteria:
            values = self.table[name]
            pick = np.nanargmin if _LOWER_IS_BETTER[name] else np.nanargmax
            self.best_index[name] = int(pick(values))
        self.best_params = {
            name: {
                "n_components": int(self.table["n_components"][i]),
                "covariance_type": str(self.table["covariance_type"][i]),
            }
            for name, i in self.best_index.items()
        }

    @property
    def best_estimator(self):
        """GaussianMixture : the fitted mixture that is best by :attr:`criterion`."""
        return self.best_model(self.criterion)

    def best_model(self, criterion=None):
        """Return the fitted mixture that is best by ``criterion``.

        Parameters
        ----------
        criterion : {"aic", "bic", "cv"}, default=None
            Defaults to :attr:`criterion`.

        Returns
        -------
        GaussianMixture
            Fitted on all of the sweep's ``X``.
        """
        criterion = self.criterion if criterion is None else criterion
        _check_criterion(criterion, self.criteria)
        return self.models[self.best_index[criterion]]

    def curve(self, criterion, covariance_type=None):
        """Return one criterion curve as ``(n_components, values)``.

        Parameters
        ----------
        criterion : {"aic", "bic", "cv"}
        covariance_type : str, default=None
            Restrict to this covariance type; default the first one swept.

        Returns
        -------
        n_components : ndarray of shape (n_points,)
        values : ndarray of shape (n_points,)
        """
        _check_criterion(criterion, self.criteria)
        types = self.table["covariance_type"]
        covariance_type = types[0] if covariance_type is None else covariance_type
        mask = types == covariance_type
        return self.table["n_components"][mask], self.table[criterion][mask]

    def plot(self, ax=None, criteria=None):
        """Draw criterion against ``n_components``, one line per criterion and type.

        Needs matplotlib; see :func:`gaussmix.plotting.plot_criteria`.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; default the current axes.
        criteria : sequence of str, default=None
            Criteria to draw; default all that were scored.

        Returns
        -------
        ax : matplotlib Axes
        """
        from .plotting import plot_criteria

        return plot_criteria(self, ax=ax, criteria=criteria)

    def summary(self):
        """Return the table and the best settings as plain text."""
        columns = ["n_components", "covariance_type", *self.criteria, "converged", "n_iter"]
        lines = ["  ".join(f"{c:>15}" for c in columns)]
        for i in range(len(self.models)):
            cells = []
            for c in columns:
                value = self.table[c][i]
                floating = isinstance(value, np.floating)
                cells.append(f"{value:>15.6g}" if floating else f"{value!s:>15}")
            lines.append("  ".join(cells))
        for name, params in self.best_params.items():
            lines.append(f"best by {name}: {params}")
        if self.interrupted:
            lines.append(f"interrupted after {len(self.models)} of {self.n_planned} settings")
        return "\n".join(lines)

    def __repr__(self):
        best = ", ".join(f"{name}={params['n_components']}/{params['covariance_type']}"
                         for name, params in self.best_params.items())
        state = ", interrupted" if self.interrupted else ""
        return f"SweepResult({len(self.models)} of {self.n_planned} settings{state}; best {best})"


#: Largest X (in values) for which sweep() fits its settings concurrently by default.
CONCURRENT_SWEEP_VALUES = 1 << 18


def _sweep_jobs(n_jobs, X, n_settings):
    if n_jobs is not None:
        if not isinstance(n_jobs, Integral) or isinstance(n_jobs, bool) or n_jobs < 1:
            raise ValueError(f"n_jobs must be a positive int or None, got {n_jobs!r}")
        return int(min(n_jobs, max(1, n_settings)))
    if X.size > CONCURRENT_SWEEP_VALUES or n_settings < 2:
        return 1
    return max(1, min(int(_gmm.build_info()["max_threads"]), n_settings))


def _one_thread_per_fit():
    """A sweep worker's OpenMP threads: one (the ICV is per calling thread)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="openmp")


def _shared_seeding_groups(template, X, settings):
    """Settings whose k-means++ seedings are prefixes of one: {largest k: [setting indices]}.

    With one seed (an int or RandomState ``random_state``: every clone draws the same one) and
    k-means on all rows, greedy k-means++ for k clusters picks the first k rows of its pick for
    any larger count with the same number of trials per step, so one seeding per trial count
    gives every fit exactly the start it would compute. Nothing is shared otherwise.
    """
    t = template
    if (t.init_params != "kmeans" or t.random_state is None or t.missing != "error"
            or any(p is not None for p in (t.weights_init, t.means_init, t.precisions_init))
            or X.dtype not in (np.float32, np.float64) or not X.flags.c_contiguous):
        return {}
    n = X.shape[0]

    size = t._kmeans_sample()  # as the core takes it: -1 automatic, 0 all rows

    def on_all_rows(k):  # in one k-means run, as kmeans_seeds asks
        return ((size == 0 or size >= n or (size == -1 and _gmm.automatic_kmeans_sample(n, k) == 0))
                and _gmm.kmeans_start_runs(n, k, size) == 1)

    groups = {}
    for index, (_, k) in enumerate(settings):
        if 1 <= k <= n and on_all_rows(k):
            groups.setdefault(_gmm.kmeans_plusplus_trials(k), []).append(index)
    return {max(settings[i][1] for i in members): members for members in groups.values() if len(members) > 1}


def _seeding(template, X, k):
    """The k-means++ rows of every restart of a fit of ``template`` with k components."""
    from ._estimator import _random_seed

    seed = _random_seed(copy.deepcopy(template.random_state))  # what each clone's fit draws
    no_weight = np.empty(0, dtype=X.dtype)
    try:
        return np.stack([np.asarray(_gmm.kmeans_plusplus(X, k, _gmm.derive_seed(seed, i), no_weight), dtype=np.int64)
                         for i in range(int(template.n_init))])
    except (ValueError, ArithmeticError):
        return None  # e.g. data the fit rescales first: each fit seeds itself


def _fit_setting(template, X, cov_type, k, criteria, splits, seeding=None):
    """One setting of a sweep: the fit on all of X, its criteria and CV scores. ``seeding``: a
    future of the shared k-means++ rows of a larger count (see _shared_seeding_groups)."""
    start = time.perf_counter()
    model = clone(template).set_params(n_components=k, covariance_type=cov_type)
    seeds = seeding.result() if seeding is not None else None
    fit = _SweepFit(X, np.ascontiguousarray(seeds[:, :k]) if seeds is not None else None)
    model._sweep_fit = fit  # X validated already; taken by fit
    model.fit(X)
    aic, bic = model._information_criteria(X, validated=True, score=fit.score)
    row = {"n_components": k, "covariance_type": cov_type, "aic": float(aic), "bic": float(bic)}
    if "icl" in criteria:
        row["icl"] = float(model.icl(X))
    if splits:
        fold_scores = [clone(model).fit(X[train]).score(X[test]) for train, test in splits]
        row.update(cv=float(np.mean(fold_scores)), cv_std=float(np.std(fold_scores)), cv_scores=fold_scores)
    row.update(
        lower_bound=float(model.lower_bound_),
        converged=bool(model.converged_),
        n_iter=int(model.n_iter_),
        fit_time=time.perf_counter() - start,
    )
    return row, model


def sweep(
    X,
    n_components=10,
    covariance_type="full",
    *,
    cv=None,
    criterion="bic",
    criteria=None,
    estimator=None,
    verbose=0,
    n_jobs=None,
    **params,
):
    """Fit one mixture per candidate setting and score each by AIC, BIC and CV.

    For every ``(covariance_type, n_components)`` pair a mixture is fitted on all
    of ``X`` and scored with its own :meth:`~gaussmix.GaussianMixture.aic` and
    :meth:`~gaussmix.GaussianMixture.bic`. With ``cv``, a fresh mixture is also
    fitted on each training fold and scored on the held-out fold with
    :meth:`~gaussmix.GaussianMixture.score` (mean log-likelihood per sample);
    the ``"cv"`` score is the mean over folds.

    Pressing Ctrl-C (``KeyboardInterrupt``) during a sweep stops it, warns, and
    returns the settings completed so far (``result.interrupted`` is True). An
    interrupt before the first setting completes is re-raised.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int or iterable of int, default=10
        Candidate component counts; an int ``k`` means ``1, ..., k``.
    covariance_type : str or sequence of str, default="full"
        Candidate covariance types among ``"full"``, ``"tied"``, ``"diag"``,
        ``"spherical"``.
    cv : int, cross-validation generator or iterable, default=None
        Also score by cross-validated log-likelihood. An int is the number of
        folds of an unshuffled :class:`~sklearn.model_selection.KFold`, as in
        :func:`~sklearn.model_selection.check_cv`.
    criterion : {"bic", "aic", "icl", "cv"}, default="bic"
        Default criterion of the result (``"cv"`` needs ``cv``).
    criteria : sequence of str, default=None
        Criteria to score, among ``"aic"``, ``"bic"``, ``"icl"`` and ``"cv"``; default
        ``("aic", "bic")``, plus ``"icl"`` when ``criterion="icl"`` and ``"cv"`` with ``cv``.
    estimator : GaussianMixture, default=None
        Unfitted template, cloned for every fit with the candidate
        ``n_components`` and ``covariance_type``; default
        ``GaussianMixture(**params)``.
    verbose : int, default=0
        0 silent; 1 a tqdm progress bar (one line per fit when tqdm is not
        installed); 2 and more one line per fit.
    n_jobs : int, default=None
        Settings fitted at once, each on one thread (Python threads; the core releases the
        GIL). None: as many as the core has threads when X is small (at most 2**18 values),
        where one thread per fit beats sharing every small fit between threads; else 1, each
        fit using all threads. Results equal the serial sweep's up to the rounding of
        per-thread sums. Ctrl-C with n_jobs > 1 waits for the running fits to end.
        With a fixed ``random_state`` (an int or a RandomState) and a k-means start on all
        rows, the counts with the same number of k-means++ candidates per step share one
        seeding (the largest count's, whose first k rows are each smaller count's own): every
        fit is still the one ``GaussianMixture(k, random_state=...).fit(X)`` gives.
    **params
        Other :class:`~gaussmix.GaussianMixture` parameters (``random_state``,
        ``max_iter``, ``tol``, ``reg_covar``, ``n_init``, ``init_params``, ...),
        set on the template.

    Returns
    -------
    SweepResult

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from gaussmix.model_selection import sweep
    >>> X, _ = make_blobs(n_samples=400, centers=4, cluster_std=0.6, random_state=0)
    >>> result = sweep(X, n_components=range(1, 8), random_state=0)
    >>> result.best_params["bic"]
    {'n_components': 4, 'covariance_type': 'full'}
    """
    counts = _candidate_components(n_components)
    types = _candidate_covariance_types(covariance_type)
    if criteria is None:
        criteria = ("aic", "bic") + (("icl",) if criterion == "icl" else ()) + (("cv",) if cv is not None else ())
    else:
        criteria = tuple(criteria)
        for name in criteria:
            _check_criterion(name, CRITERIA)
        if ("cv" in criteria) != (cv is not None):
            raise ValueError('the "cv" criterion needs cv, and cv needs the "cv" criterion')
    _check_criterion(criterion, criteria)
    template = GaussianMixture() if estimator is None else clone(estimator)
    if params:
        template.set_params(**params)
    # Validated once for every fit (a C-contiguous float array, as each fit would copy it).
    X = template._validate_for_fit(np.asarray(X))
    splits = list(check_cv(cv).split(X)) if cv is not None else []

    settings = [(t, k) for t in types for k in counts]
    n_jobs = _sweep_jobs(n_jobs, X, len(settings))
    done = {}  # setting index -> (row, model)
    progress = _Progress(len(settings), verbose)
    interrupted = False

    def report(index, row):
        scores = " ".join(f"{c}={row[c]:.6g}" for c in criteria)
        cov_type, k = settings[index]
        progress.update(
            f"[{len(done)}/{len(settings)}] n_components={k} covariance_type={cov_type} "
            f"{scores} ({row['fit_time']:.2f} s)",
            postfix=f"n_components={k} {cov_type}",
        )

    from concurrent.futures import Future, ThreadPoolExecutor, as_completed

    seeding_groups = _shared_seeding_groups(template, X, settings)
    seeding_of = {}  # setting index -> Future of its group's k-means++ rows
    executor = None
    try:
        if n_jobs == 1:
            for largest, members in seeding_groups.items():
                seeding = Future()
                seeding.set_result(_seeding(template, X, largest))
                seeding_of.update(dict.fromkeys(members, seeding))
            for index, (cov_type, k) in enumerate(settings):
                done[index] = _fit_setting(template, X, cov_type, k, criteria, splits, seeding_of.get(index))
                report(index, done[index][0])
        else:
            executor = ThreadPoolExecutor(n_jobs, initializer=_one_thread_per_fit)
            # The shared seedings first: a fit waits for its group's, which a worker has already
            # taken (the queue is first in, first out), so no worker waits on a queued task.
            for largest, members in sorted(seeding_groups.items(), reverse=True):
                seeding_of.update(dict.fromkeys(members, executor.submit(_seeding, template, X, largest)))
            # Costliest fits first (full before tied, diag and spherical; many components before
            # few), so that the last ones to start are short and the workers finish together: a
            # sweep in increasing order ends with one worker idle while another runs the largest.
            cost_rank = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}
            order = sorted(range(len(settings)), key=lambda i: (cost_rank[settings[i][0]], -settings[i][1]))
            futures = {executor.submit(_fit_setting, template, X, *settings[index], criteria, splits,
                                       seeding_of.get(index)): index
                       for index in order}
            for future in as_completed(futures):
                done[futures[future]] = future.result()
                report(futures[future], done[futures[future]][0])
    except KeyboardInterrupt:
        if executor is not None:  # the running fits end; those that did are kept
            executor.shutdown(wait=True, cancel_futures=True)
            for future, index in futures.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    done.setdefault(index, future.result())
        if not done:
            raise
        interrupted = True
        warnings.warn(
            f"sweep interrupted after {len(done)} of {len(settings)} settings; "
            f"returning the partial result",
            RuntimeWarning,
            stacklevel=2,
        )
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        progress.close()
    rows = [done[index][0] for index in sorted(done)]
    models = [done[index][1] for index in sorted(done)]
    return SweepResult(rows, models, criteria, criterion, interrupted, len(settings))


class AutoGaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture that chooses its own ``n_components`` and ``covariance_type``.

    ``fit`` runs :func:`sweep` over the candidates and keeps the mixture that is
    best by ``criterion``; the estimator then behaves as that fitted
    :class:`~gaussmix.GaussianMixture` (``predict``, ``predict_proba``,
    ``score_samples``, ``score``, ``sample``, ``aic``, ``bic``) and exposes its
    fitted attributes.

    Parameters
    ----------
    n_components : int or iterable of int, default=10
        Candidate component counts; an int ``k`` means ``1, ..., k``.
    covariance_type : str or sequence of str, default="full"
        Candidate covariance types among ``"full"``, ``"tied"``, ``"diag"``,
        ``"spherical"``.
    criterion : {"bic", "aic", "icl", "cv"}, default="bic"
        ``"bic"``/``"aic"``/``"icl"`` minimise the information criterion of the fit on all
        of ``X``; ``"cv"`` maximises the ``cv``-fold held-out mean log-likelihood.
    cv : int or cross-validation generator, default=5
        Folds used when ``criterion="cv"``; ignored otherwise.
    tol, reg_covar, max_iter, n_init, init_params, random_state
        Passed to every :class:`~gaussmix.GaussianMixture` fitted.
    verbose : int, default=0
        Progress of the sweep, as in :func:`sweep`.

    Attributes
    ----------
    best_estimator_ : GaussianMixture
        The selected mixture, fitted on all of ``X``.
    sweep_ : SweepResult
        Scores of every candidate.
    n_components_ : int
    covariance_type_ : str
        The selected setting.
    weights_, means_, covariances_, precisions_, precisions_cholesky_, \
converged_, n_iter_, lower_bound_
        Those of ``best_estimator_``.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from gaussmix.model_selection import AutoGaussianMixture
    >>> X, _ = make_blobs(n_samples=300, centers=3, random_state=1)
    >>> model = AutoGaussianMixture(n_components=6, random_state=0).fit(X)
    >>> model.n_components_, model.covariance_type_
    (3, 'full')
    >>> model.predict(X[:2]).shape
    (2,)
    """

    def __init__(
        self,
        n_components=10,
        covariance_type="full",
        criterion="bic",
        cv=5,
        *,
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.criterion = criterion
        self.cv = cv
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None):
        """Sweep the candidates on ``X`` and keep the best mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : AutoGaussianMixture
        """
        _check_criterion(self.criterion, CRITERIA)
        result = sweep(
            X,
            self.n_components,
            self.covariance_type,
            cv=self.cv if self.criterion == "cv" else None,
            criterion=self.criterion,
            verbose=self.verbose,
            tol=self.tol,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            n_init=self.n_init,
            init_params=self.init_params,
            random_state=self.random_state,
        )
        best = result.best_estimator
        self.sweep_ = result
        self.best_estimator_ = best
        self.n_components_ = best.n_components
        self.covariance_type_ = best.covariance_type
        for name in _FITTED_ATTRIBUTES:
            setattr(self, name, getattr(best, name))
        self.n_features_in_ = best.means_.shape[1]
        return self

    def fit_predict(self, X, y=None):
        """Fit, then return the component label of each sample of ``X``.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.fit(X).predict(X)

    def _best(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    def predict(self, X):
        """Component label of each sample; see :meth:`GaussianMixture.predict`."""
        return self._best().predict(X)

    def predict_proba(self, X):
        """Posterior of each component, shape (n_samples, n_components_)."""
        return self._best().predict_proba(X)

    def score_samples(self, X):
        """Log-density of each sample under the selected mixture, shape (n_samples,)."""
        return self._best().score_samples(X)

    def score(self, X, y=None):
        """Mean log-likelihood per sample of ``X`` (higher is better)."""
        return float(self._best().score(X))

    def sample(self, n_samples=1, random_state=None):
        """Draw samples from the selected mixture.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        labels : ndarray of shape (n_samples,)
        """
        return self._best().sample(n_samples, random_state=random_state)

    def aic(self, X):
        """Akaike information criterion of the selected mixture on ``X``."""
        return self._best().aic(X)

    def bic(self, X):
        """Bayesian information criterion of the selected mixture on ``X``."""
        return self._best().bic(X)
