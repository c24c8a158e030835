"""The scikit-learn compatible estimator over the C++ core."""

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from numbers import Integral, Real
import os
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import assert_all_finite, check_is_fitted, validate_data

from . import _missing
from . import _sources
from ._dispatch import core as _gmm
from ._layout import as_core, parameter_shape

_INT_MAX = 2**31 - 1

_FLOAT_DTYPES = (np.float64, np.float32)


def _random_seed(random_state):
    """A 63-bit seed for the core drawn from a scikit-learn random_state."""
    if isinstance(random_state, Integral):
        return _seed_of_int(int(random_state))
    return _draw_seed(random_state)


def _draw_seed(random_state):
    return int(check_random_state(random_state).randint(np.iinfo(np.int64).max, dtype=np.int64))


@lru_cache(maxsize=1024)
def _seed_of_int(random_state):
    # Seeding a fresh RandomState (Mersenne Twister) takes about 0.5 ms: a sweep's every fit
    # would pay it for the same draw.
    return _draw_seed(random_state)


def _check_shape(param, shape, name):
    if param.shape != shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {shape}, but got {param.shape}"
        )


def _check_weights(weights, n_components, dtype):
    weights = check_array(weights, dtype=dtype, ensure_2d=False)
    _check_shape(weights, (n_components,), "weights")
    if np.any(weights < 0.0) or np.any(weights > 1.0):
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got max value "
            f"{weights.max():.5f}, min value {weights.min():.5f}"
        )
    atol = 1e-6 if weights.dtype == np.float32 else 1e-8
    if not np.isclose(abs(1.0 - float(weights.sum())), 0.0, atol=atol):
        raise ValueError(
            f"The parameter 'weights' should be normalized, but got sum(weights) = {weights.sum():.5f}"
        )
    return weights


def _check_precisions(precisions, covariance_type, n_components, n_features, dtype):
    precisions = check_array(precisions, dtype=dtype, ensure_2d=False, allow_nd=covariance_type == "full")
    _check_shape(precisions, parameter_shape(covariance_type, n_components, n_features),
                 f"{covariance_type} precision")
    if covariance_type in ("diag", "spherical"):
        if np.any(precisions <= 0.0):
            raise ValueError(f"'{covariance_type} precision' should be positive")
    else:
        for matrix in precisions.reshape(-1, n_features, n_features):
            if not (np.allclose(matrix, matrix.T) and np.all(np.linalg.eigvalsh(matrix) > 0.0)):
                raise ValueError(f"'{covariance_type} precision' should be symmetric, positive-definite")
    return precisions


def _check_sample_weight(sample_weight, n_samples, dtype):
    """Weights as a contiguous array of X's dtype; finite, non-negative, not all zero.

    They are scaled by their largest value first: the model does not depend on the weights'
    units, and weights beyond float32's range (or below its smallest number) stay usable.
    """
    if sample_weight is None:
        return np.empty(0, dtype=dtype)
    if np.isscalar(sample_weight):
        sample_weight = np.full(n_samples, sample_weight)
    try:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"sample_weight must be numeric: {error}") from None
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected ({n_samples},)"
        )
    if not np.all(np.isfinite(sample_weight)):
        raise ValueError("sample_weight contains NaN or infinity")
    if np.any(sample_weight < 0):
        raise ValueError("sample_weight must be non-negative")
    largest = sample_weight.max()
    if not largest > 0:
        raise ValueError("sample_weight must not sum to zero")
    scaled = sample_weight / largest
    if dtype == np.float32 and not np.any(scaled.astype(np.float32) > 0):
        raise ValueError("sample_weight must not sum to zero")
    return np.ascontiguousarray(scaled, dtype=dtype)


_as_2d = as_core  # the name the estimator's callers use


def _check_sample_size(n_samples, n_features, itemsize):
    """A MemoryError at once for draws that cannot fit in this machine's memory."""
    needed = n_samples * (n_features * itemsize + 8)  # samples and their int64 labels
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: leave it to the allocator
        return
    if needed > available:
        raise MemoryError(
            f"sample({n_samples}) needs {needed / 2**30:.3g} GiB for {n_features} features, "
            f"more than this machine's {available / 2**30:.3g} GiB of memory"
        )


def _scaled_statistics(stats, factor):
    """Statistics times a constant (every sum scales; the shift does not)."""
    return _combined_statistics(stats, factor, None, 0.0)


def _combined_statistics(a, alpha, b, beta):
    """alpha a + beta b for statistics about the same shift (b may be None)."""
    out = dict(a)
    for name in ("resp_sum", "first", "second", "log_likelihood_sum", "weight_sum"):
        out[name] = alpha * a[name] + (beta * b[name] if b is not None else 0.0)
    return out


def _is_dask(X):
    from ._dask import is_dask_collection

    return is_dask_collection(X)


#: Restarts in flight at once on a source with concurrent_restarts.
_MAX_CONCURRENT_RESTARTS = 16


def _concurrent_restarts(run, initial, seed, n_init):
    """n_init restarts of the core's driver, each on a thread of its own that submits its own graphs
    (the scheduler interleaves them), from the starts em_fit's own loop would draw (restart i
    seeded with derive_seed(seed, i)). The best is kept by the core's rule (keep_best in
    cpp/src/em_loop.hpp: the highest lower bound, the first on ties), with every restart's report
    in order."""

    def restart(index):
        began = time.perf_counter()
        result = run(n_init=1, seed=seed, start=initial(_gmm.derive_seed(seed, index)), lower_bound=-np.inf)
        result["inits"][0]["seconds"] = time.perf_counter() - began
        return result

    with ThreadPoolExecutor(min(n_init, _MAX_CONCURRENT_RESTARTS), thread_name_prefix="gaussmix-restart") as pool:
        results = list(pool.map(restart, range(n_init)))
    best = results[0]
    for result in results[1:]:
        if result["lower_bound"] > best["lower_bound"]:
            best = result
    return dict(best, inits=[result["inits"][0] for result in results])


def _check_int_range(name, value, low, high):
    """The core takes C ints: a clear message instead of a binding's argument error."""
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")


class _SweepFit:
    """What :func:`~gaussmix.sweep` hands one of its fits (as ``estimator._sweep_fit``, taken by
    ``fit``): X, validated once for all fits, and the shared k-means++ seeding (or None); the fit
    leaves in ``score`` its model's mean log-likelihood of X, computed by the core, for AIC/BIC."""

    __slots__ = ("X", "kmeans_seeds", "score")

    def __init__(self, X, kmeans_seeds=None):
        self.X = X
        self.kmeans_seeds = kmeans_seeds
        self.score = None


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by expectation-maximisation in C++.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: the same parameters,
    defaults, fitted attributes and methods, computed by an Eigen/OpenMP core. In addition,
    ``fit``, ``fit_predict`` and ``score`` accept ``sample_weight`` (an integer weight counts a
    sample that many times) and ``sample`` accepts a ``random_state``. float32 input is fitted
    in float32 and float32 attributes and outputs come back.

    Results do not depend on where the data sit or on the units of ``sample_weight``: k-means
    runs about the column means, weights are scaled to mean one, and data whose sums of squares
    would overflow the dtype are fitted at an exact power-of-two scale (a ``ValueError`` only
    when the covariances themselves are beyond the dtype). Points far from every component get
    a log-density of ``-inf`` and finite posteriors, never NaN. Ctrl-C stops a fit within
    about a second with ``KeyboardInterrupt`` and leaves the estimator as it was.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Shape of the component covariances.
    tol : float, default=1e-3
        EM stops when the lower bound (mean log-likelihood) changes by less than ``tol``.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance so it stays positive definite.
    max_iter : int, default=100
        EM iterations per initialisation.
    n_init : int, default=1
        Number of initialisations; the best lower bound is kept. On a Dask array the
        restarts run concurrently.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How EM starts when no initial parameters are given. 'kmeans' is k-means on a
        bounded sample (``kmeans_sample_size``) in memory, on a bounded sample of 100 000 rows
        for a memmap or ``Chunks``, and k-means|| over all rows on the workers for a Dask
        array; in each case every row is then assigned to its nearest center. The other
        starts draw from that bounded sample out of core.
    kmeans_sample_size : int, 'auto' or None, default='auto'
        In memory, ``init_params='kmeans'`` only: k-means (k-means++ seeding, Lloyd's
        iterations) runs on this many rows drawn uniformly, then every row is assigned to its
        nearest center once, and EM starts from those labels. 'auto': max(32768,
        1024 * n_components) rows when the data hold at least twice as many, else all of
        them. None: all rows, as scikit-learn's start does (slower on large data, same
        quality: see the README).
    weights_init, means_init, precisions_init : array-like, default=None
        Initial weights (n_components,), means (n_components, n_features) and precisions
        (shaped like ``precisions_``).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and ``sample``.
    warm_start : bool, default=False
        Continue from the previous fit on the next call to ``fit``.
    verbose : int, default=0
        Print a summary of every initialisation (and iterations when >= 2).
    verbose_interval : int, default=10
        Iterations between lines when ``verbose >= 2``.
    missing : {'error', 'marginalize'}, default='error'
        What NaN entries in X mean. 'error': they are rejected, as by scikit-learn.
        'marginalize': they are missing values (at random). ``fit`` runs exact EM on the
        incomplete data (marginal likelihood of each row's observed features, expected
        sufficient statistics), and ``score_samples``, ``score``, ``predict`` and
        ``predict_proba`` use the marginal densities. A row with every entry missing has
        likelihood one: it scores 0, its posterior is ``weights_`` and it does not affect the
        fit. A column with no observed value is rejected by ``fit``. Without NaN the results
        are identical to 'error'. This is an input policy, read at each call, so a model
        fitted on complete data can score incomplete data after ``set_params``.
        ``impute`` accepts NaN under either setting.
    learning_decay : float in (0.5, 1], default=0.7
        ``partial_fit`` only: the step size of batch t is ``(t + learning_offset) ** -learning_decay``
        (scikit-learn's online LDA names); (0.5, 1] is the range in which stepwise EM converges.
    learning_offset : float >= 0, default=10.0
        ``partial_fit`` only: damps the steps of the first batches.

    Data that do not fit in memory
    ------------------------------
    ``fit``, ``predict``, ``predict_proba``, ``score_samples`` and ``score`` also accept a NumPy
    ``memmap``, a ``dask.array`` (or Dask DataFrame) and :class:`gaussmix.Chunks`. EM then makes
    one pass over the chunks per iteration with the same driver as the in-memory fit, so from the
    same initial parameters the result equals it to rounding; the start comes from a bounded
    sample of the rows (k-means on at most 100 000 rows, then one pass assigning every row to its
    nearest center). On Dask input the inference methods return lazy Dask arrays.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
        Fitted parameters, shaped as in scikit-learn.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
    lower_bounds_ : list of float
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]], dtype=float)
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.sort(gm.means_[:, 0]).round(1)
    array([ 1., 10.])
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++"})],
        "kmeans_sample_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "missing": [StrOptions(set(_missing.MISSING_OPTIONS))],
        "learning_decay": [Interval(Real, 0.5, 1.0, closed="right")],
        "learning_offset": [Interval(Real, 0.0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        kmeans_sample_size="auto",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        missing="error",
        learning_decay=0.7,
        learning_offset=10.0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.kmeans_sample_size = kmeans_sample_size
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.missing = missing
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the parameters with EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, dask.array or Chunks
            In memory, or out of core (see "Data that do not fit in memory" above).
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; an integer weight equals repeating the sample. A Dask array
            for a Dask X (rechunked like X's rows); inside the chunks for :class:`Chunks`.

        Returns
        -------
        self : GaussianMixture
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most probable component of each sample, shape (n_samples,)."""
        validated = self._fit(X, sample_weight)
        return self.predict(X) if validated is None else self._call("predict", validated)

    def _fit(self, X, sample_weight):
        """Runs EM and sets the fitted attributes; returns the validated X.

        If anything fails or is interrupted (Ctrl-C), the estimator is left as it was.
        """
        # A sweep validates X once for all its fits and hands each its _SweepFit.
        sweep = self.__dict__.pop("_sweep_fit", None)
        if sweep is not None and sweep.X is not X:
            sweep = None  # validated was another array: this one is checked as usual
        state = dict(self.__dict__)
        try:
            return self._fit_or_raise(X, sample_weight, sweep)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _validate_for_fit(self, X):
        # Finiteness is left to the core, whose summary of X (its first pass) is non-finite
        # exactly when X is: scikit-learn's check is one more serial pass over X (~8 ms of a
        # 0.62 s default fit of 10^6 x 32 float64). _core_fit() reports it as scikit-learn would.
        extra = _missing.validation(self) or {"ensure_all_finite": False}
        return validate_data(self, X, dtype=list(_FLOAT_DTYPES), ensure_min_samples=2, order="C", **extra)

    def _core_fit(self, name, X, *args, **kwargs):
        """The core's fitting function ``name`` on X; X's NaN or infinity raised in
        scikit-learn's words (with its hint on missing values)."""
        try:
            return _missing.core_function(self, name)(X, *args, **kwargs)
        except ValueError:
            if _missing.marginalizes(self):
                raise
            try:
                with _missing.nan_hint(self):
                    assert_all_finite(X, estimator_name=type(self).__name__, input_name="X")
            except ValueError as non_finite:
                raise non_finite from None  # the core's message for the same fault adds nothing
            raise

    def _fit_or_raise(self, X, sample_weight, sweep=None):
        validated = sweep is not None
        self._validate_params()
        _check_int_range("max_iter", self.max_iter, 0, _INT_MAX)
        _check_int_range("n_init", self.n_init, 1, _INT_MAX)
        self.__dict__.pop("_online", None)  # partial_fit continues from this fit, afresh
        if validated:
            self.n_features_in_ = X.shape[1]  # what validate_data sets for an ndarray
            self.__dict__.pop("feature_names_in_", None)
        else:
            source = _sources.as_source(X, sample_weight)
            if source is not None:
                if _missing.marginalizes(self):
                    raise ValueError("missing='marginalize' takes in-memory arrays; memmap, Dask and Chunks "
                                     "sources need complete data")
                self._fit_source(source)
                return None
            X = self._validate_for_fit(X)
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got "
                f"n_components = {self.n_components}, n_samples = {n_samples}"
            )
        weight = _check_sample_weight(sample_weight, n_samples, X.dtype)
        start_from_previous = self.warm_start and hasattr(self, "converged_")
        if start_from_previous:
            self._check_warm_start(n_features)
            dtype = X.dtype
            result = self._core_fit(
                "fit_from",
                X,
                self.covariance_type,
                np.ascontiguousarray(self.weights_, dtype=dtype),
                np.ascontiguousarray(self.means_, dtype=dtype),
                np.ascontiguousarray(_as_2d(self.precisions_cholesky_, self.covariance_type), dtype=dtype),
                tol=float(self.tol),
                reg_covar=float(self.reg_covar),
                max_iter=int(self.max_iter),
                sample_weight=weight,
                lower_bound=float(self.lower_bound_),
            )
        else:
            weights_init, means_init, precisions_init = self._initial_parameters(n_features, X.dtype)
            extra = {} if _missing.marginalizes(self) else {"kmeans_sample_size": self._kmeans_sample()}
            if validated and not _missing.marginalizes(self):
                # The sweep's shared k-means++ seeding, and its AIC/BIC from the core's fitted model.
                if sweep.kmeans_seeds is not None:
                    extra["kmeans_seeds"] = sweep.kmeans_seeds
                extra["score_data"] = True
            result = self._core_fit(
                "fit",
                X,
                n_components=int(self.n_components),
                covariance_type=self.covariance_type,
                tol=float(self.tol),
                reg_covar=float(self.reg_covar),
                max_iter=int(self.max_iter),
                n_init=int(self.n_init),
                init_params=self.init_params,
                seed=_random_seed(self.random_state),
                sample_weight=weight,
                weights_init=weights_init,
                means_init=means_init,
                precisions_init=precisions_init,
                **extra,
            )
        self._finish_fit(result, n_features)
        if "score" in result:
            sweep.score = float(result["score"])
        return X

    def _kmeans_sample(self):
        """kmeans_sample_size as the core takes it: -1 automatic, 0 all rows."""
        size = self.kmeans_sample_size
        if size is None:
            return 0
        if isinstance(size, str):
            return -1
        _check_int_range("kmeans_sample_size", size, 1, 2**62)
        return int(size)

    def _finish_fit(self, result, n_features):
        self._set_fitted_parameters(result, n_features)
        self._report(result)
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init parameters, "
                "or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )

    def _fit_source(self, source):
        """EM over a memmap, Chunks or a Dask array: the core's driver calls back for each pass."""
        source.scan()
        n_samples, n_features, dtype = source.n_samples, source.n_features, np.dtype(source.dtype)
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got "
                f"n_components = {self.n_components}, n_samples = {n_samples}"
            )
        start, lower_bound = None, -np.inf
        if self.warm_start and hasattr(self, "converged_"):
            self._check_warm_start(n_features)
            start = self._fitted_parameters(dtype)[1:]
            lower_bound = float(self.lower_bound_)
        given = self._initial_parameters(n_features, dtype)
        covariance_type = self.covariance_type

        def statistics(weights, means, precisions_cholesky):
            return source.fold(_sources.expectation_statistics, (covariance_type, weights, means, precisions_cholesky))

        def initial(seed):
            return _sources.initial_model(source, self, seed, given)

        run = partial(_gmm.em_fit, dtype.name, statistics, initial, n_components=int(self.n_components),
                      covariance_type=covariance_type, tol=float(self.tol), reg_covar=float(self.reg_covar),
                      max_iter=int(self.max_iter))
        seed = _random_seed(self.random_state)
        if start is None and self.n_init > 1 and getattr(source, "concurrent_restarts", False):
            result = _concurrent_restarts(run, initial, seed, int(self.n_init))
        else:
            result = run(n_init=int(self.n_init), seed=seed, start=start, lower_bound=lower_bound)
        self.n_features_in_ = n_features
        self.__dict__.pop("feature_names_in_", None)
        self._finish_fit(result, n_features)

    def partial_fit(self, X, y=None, sample_weight=None):
        """One step of online (stepwise) EM on a batch of a stream.

        Keeps exponentially weighted mean statistics s: batch t's statistics under the current
        model, ŝ_t, enter as ``s = (1 - eta_t) s + eta_t ŝ_t`` with
        ``eta_t = (t + learning_offset) ** -learning_decay``, then one M-step. The first call
        (on an unfitted estimator) starts from its batch with ``init_params`` and needs at
        least ``n_components`` rows; on a fitted estimator it continues from the fit. Memory
        is one batch plus O(n_components n_features^2). Prefer the exact out-of-core ``fit``
        (a memmap, Chunks or Dask) when the data can be read repeatedly; ``partial_fit`` is
        for data seen once, or drifting.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixture

        Examples
        --------
        >>> import numpy as np
        >>> from gaussmix import GaussianMixture
        >>> rng = np.random.RandomState(0)
        >>> gm = GaussianMixture(2, random_state=0)
        >>> for _ in range(20):
        ...     gm = gm.partial_fit(np.r_[rng.randn(50, 1), rng.randn(50, 1) + 8])
        >>> np.sort(gm.means_[:, 0]).round()
        array([0., 8.])
        """
        state = dict(self.__dict__)
        try:
            self._partial_fit(X, sample_weight)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise
        return self

    def _partial_fit(self, X, sample_weight):
        first = not hasattr(self, "converged_")
        if first:
            self._validate_params()
            with _missing.nan_hint(self, online=True):
                X = validate_data(self, X, dtype=list(_FLOAT_DTYPES), order="C")
            if X.shape[0] < self.n_components:
                raise ValueError(
                    f"partial_fit(): the first batch must have at least n_components = {self.n_components} "
                    f"rows to start from, got {X.shape[0]}"
                )
        else:
            self._validate_params()
            with _missing.nan_hint(self, online=True):
                X = validate_data(self, X, reset=False, dtype=list(_FLOAT_DTYPES), order="C")
            if "_online" not in self.__dict__:
                self._check_warm_start(X.shape[1])
        weight = _check_sample_weight(sample_weight, X.shape[0], X.dtype)
        if first:
            weights_init, means_init, precisions_init = self._initial_parameters(X.shape[1], X.dtype)
            start = _gmm.fit(
                X, n_components=int(self.n_components), covariance_type=self.covariance_type, tol=0.0,
                reg_covar=float(self.reg_covar), max_iter=0, n_init=1, init_params=self.init_params,
                seed=_random_seed(self.random_state), sample_weight=weight, weights_init=weights_init,
                means_init=means_init, precisions_init=precisions_init)
            self._set_fitted_parameters(start, X.shape[1])
        online = self.__dict__.get("_online")
        dtype = np.asarray(self.means_).dtype
        X = np.ascontiguousarray(X, dtype=dtype)
        batch = _gmm.expectation_step(X, *self._fitted_parameters(dtype), weight.astype(dtype))
        batch = _scaled_statistics(batch, 1.0 / batch["weight_sum"])
        if online is None:
            statistics, t = batch, 1
        else:
            t = online["t"] + 1
            eta = (t + self.learning_offset) ** -self.learning_decay
            previous = _gmm.recentred_statistics(online["statistics"], batch["shift"])
            statistics = _combined_statistics(previous, 1.0 - eta, batch, eta)
        model = _gmm.maximization_step(statistics, float(self.reg_covar), dtype.name)
        mean_log_likelihood = batch["log_likelihood_sum"] / batch["weight_sum"]
        self._set_fitted_parameters(dict(model, converged=False, n_iter=t, lower_bound=mean_log_likelihood,
                                         lower_bounds=[mean_log_likelihood]), X.shape[1])
        self._online = {"statistics": statistics, "t": t}

    def _check_warm_start(self, n_features):
        """A warm start continues the previous fit, so the problem must be the same one."""
        previous = {
            "n_components": self.means_.shape[0],
            "n_features": self.means_.shape[1],
            "covariance_type": self._fitted_covariance_type,
        }
        current = {"n_components": self.n_components, "n_features": n_features,
                   "covariance_type": self.covariance_type}
        for name, value in current.items():
            if value != previous[name]:
                raise ValueError(
                    f"warm_start=True continues the previous fit, which had {name}={previous[name]!r}, "
                    f"but got {name}={value!r}; set warm_start=False to fit anew"
                )

    def _initial_parameters(self, n_features, dtype):
        """Validated initial parameters as the core takes them; empty arrays when absent."""
        K = self.n_components
        weights = np.empty(0, dtype=dtype)
        means = np.empty((0, 0), dtype=dtype)
        precisions = np.empty((0, 0), dtype=dtype)
        if self.weights_init is not None:
            weights = _check_weights(self.weights_init, K, dtype)
        if self.means_init is not None:
            means = check_array(self.means_init, dtype=dtype, ensure_2d=False)
            _check_shape(means, (K, n_features), "means")
        if self.precisions_init is not None:
            precisions = _check_precisions(self.precisions_init, self.covariance_type, K, n_features, dtype)
            precisions = _as_2d(precisions, self.covariance_type)
        return tuple(np.ascontiguousarray(a, dtype=dtype) for a in (weights, means, precisions))

    def _set_fitted_parameters(self, result, n_features):
        shape = parameter_shape(self.covariance_type, self.n_components, n_features)
        self._fitted_covariance_type = self.covariance_type
        self.weights_ = result["weights"]
        self.means_ = result["means"]
        self.covariances_ = result["covariances"].reshape(shape)
        self.precisions_ = result["precisions"].reshape(shape)
        self.precisions_cholesky_ = result["precisions_cholesky"].reshape(shape)
        self.converged_ = bool(result["converged"])
        self.n_iter_ = int(result["n_iter"])
        self.lower_bound_ = float(result["lower_bound"])
        self.lower_bounds_ = list(result["lower_bounds"])

    def _report(self, result):
        """verbose output, from the core's per-initialisation reports."""
        if not self.verbose:
            return
        for index, init in enumerate(result["inits"]):
            print(f"Initialization {index}")
            state = "converged" if init["converged"] else "did not converge"
            if self.verbose >= 2:
                print(
                    f"Initialization {state}. time lapse {init['seconds']:.5f}s\t "
                    f"lower bound {init['lower_bound']:.5f}\t n_iter {init['n_iter']}"
                )
            else:
                print(f"Initialization {state}.")
        if self.verbose >= 2:
            bounds = self.lower_bounds_
            for n_iter in range(self.verbose_interval, len(bounds) + 1, self.verbose_interval):
                change = bounds[n_iter - 1] - (bounds[n_iter - 2] if n_iter >= 2 else -np.inf)
                print(f"  Iteration {n_iter}\t lower bound {bounds[n_iter - 1]:.5f}\t ll change {change:.5f}")

    # ---------------------------------------------------------------- inference

    def _validated(self, X):
        check_is_fitted(self)
        with _missing.nan_hint(self):
            return validate_data(self, X, reset=False, dtype=list(_FLOAT_DTYPES), order="C", **_missing.validation(self))

    def _fitted_parameters(self, dtype):
        """(covariance_type, weights, means, precisions_cholesky) as the core takes them.

        Inference uses what was fitted, whatever set_params changed since; attributes a user
        edited are checked here (shapes) and in the core (finiteness, simplex, triangular form).
        """
        covariance_type = self._fitted_covariance_type
        arrays = []
        for name in ("weights_", "means_", "precisions_cholesky_"):
            try:
                arrays.append(np.asarray(getattr(self, name), dtype=dtype))
            except (TypeError, ValueError) as error:
                raise TypeError(f"{name} must be a numeric array: {error}") from None
        weights, means, cholesky = arrays
        if means.ndim != 2 or means.size == 0:
            raise ValueError(f"means_ must have shape (n_components, n_features), got {means.shape}")
        n_components, n_features = means.shape
        expected = {
            "weights_": (n_components,),
            "precisions_cholesky_": parameter_shape(covariance_type, n_components, n_features),
        }
        for name, array in (("weights_", weights), ("precisions_cholesky_", cholesky)):
            if array.shape != expected[name]:
                raise ValueError(
                    f"{name} has shape {array.shape}, but a fitted {covariance_type!r} mixture with "
                    f"means_ of shape {means.shape} needs {expected[name]}"
                )
        return (covariance_type, np.ascontiguousarray(weights), np.ascontiguousarray(means),
                np.ascontiguousarray(as_core(cholesky, covariance_type)))

    def _call(self, function, X, *extra):
        """One core call on validated X with the fitted parameters in X's dtype."""
        name = f"{function}_missing" if _missing.marginalizes(self) else function
        return getattr(_gmm, name)(X, *self._fitted_parameters(X.dtype), *extra)

    def _out_of_core(self, X, function, out_dtype=None, n_columns=None):
        """function over the chunks of a memmap, Chunks or Dask X (lazy for Dask); None otherwise."""
        if not isinstance(X, (np.memmap, _sources.Chunks)) and not _is_dask(X):
            return None
        check_is_fitted(self)
        n_features = np.asarray(self.means_).shape[1]
        dtype = np.asarray(self.means_).dtype
        parameters = self._fitted_parameters(dtype)

        def call(block):
            if block.shape[1] != n_features:
                raise ValueError(f"X has {block.shape[1]} features, but GaussianMixture is expecting "
                                 f"{n_features} features as input")
            return getattr(_gmm, function)(np.ascontiguousarray(block, dtype=dtype), *parameters)

        if _is_dask(X):
            from ._dask import map_blocks

            return map_blocks(X, call, dtype, n_features, out_dtype, n_columns)
        source = _sources.as_source(X)
        source.n_features, source.dtype = n_features, dtype.type
        return source.map(call)

    def score_samples(self, X):
        """Log-density of each sample, shape (n_samples,) (a lazy Dask array for Dask input)."""
        out = self._out_of_core(X, "score_samples", np.asarray(self.means_).dtype if hasattr(self, "means_") else None)
        return self._call("score_samples", self._validated(X)) if out is None else out

    def score(self, X, y=None, sample_weight=None):
        """Mean log-likelihood of X, weighted by ``sample_weight`` when given."""
        if isinstance(X, (np.memmap, _sources.Chunks)) or _is_dask(X):
            check_is_fitted(self)
            if _is_dask(X):
                from ._dask import weighted_sum

                total, mass = weighted_sum(X, lambda b: self.score_samples(b), np.asarray(self.means_).dtype,
                                           sample_weight)
            else:
                source = _sources.as_source(X, sample_weight)
                source.n_features = np.asarray(self.means_).shape[1]
                source.dtype = np.asarray(self.means_).dtype.type
                total, mass = source.weighted_sum(lambda b: self._call("score_samples", b))
            if not mass > 0:
                raise ValueError("sample_weight must not sum to zero")
            return total / mass
        X = self._validated(X)
        weight = _check_sample_weight(sample_weight, X.shape[0], X.dtype)
        return float(self._call("score", X, weight))

    def predict(self, X):
        """Most probable component of each sample, shape (n_samples,) (lazy for Dask input)."""
        out = self._out_of_core(X, "predict", np.int64)
        return self._call("predict", self._validated(X)) if out is None else out

    def predict_proba(self, X):
        """Posterior probability of each component, shape (n_samples, n_components) (lazy for Dask)."""
        out = self._out_of_core(X, "predict_proba", np.asarray(self.means_).dtype if hasattr(self, "means_") else None,
                                n_columns=np.asarray(self.means_).shape[0] if hasattr(self, "means_") else None)
        return self._call("predict_proba", self._validated(X)) if out is None else out

    def impute(self, X, sample=False, random_state=None):
        """Fill the NaN entries of X from the fitted mixture (whatever ``missing`` is).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN marks a missing entry; observed entries are returned unchanged.
        sample : bool, default=False
            False: each missing entry becomes its conditional mean given the row's observed
            entries, ``sum_k p(k | x_obs) E[x_mis | x_obs, k]``. True: one draw from
            ``p(x_mis | x_obs)`` (a component, then a Gaussian), for multiple imputation.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws when ``sample=True``; defaults to the estimator's ``random_state``.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features), X's float dtype

        Examples
        --------
        >>> import numpy as np
        >>> from gaussmix import GaussianMixture
        >>> rng = np.random.RandomState(0)
        >>> X = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], size=500)
        >>> X[::5, 1] = np.nan
        >>> gm = GaussianMixture(missing="marginalize", random_state=0).fit(X)
        >>> X_new = gm.impute(np.array([[2.0, np.nan]]))
        >>> bool(abs(X_new[0, 1] - 0.9 * 2.0) < 0.3)
        True
        """
        return _missing.impute(self, X, sample, random_state)

    def sample(self, n_samples=1, random_state=None):
        """Draw samples from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            Defaults to the estimator's ``random_state``, like scikit-learn (so an int seed
            gives the same draws on every call).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples, grouped by component.
        y : ndarray of shape (n_samples,)
            Component of each sample.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool):
            raise TypeError(f"n_samples must be an integer, got {type(n_samples).__name__}")
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples} . The sampling requires at least one sample."
            )
        rng = self.random_state if random_state is None else random_state
        dtype = np.float32 if np.asarray(self.means_).dtype == np.float32 else np.float64
        parameters = self._fitted_parameters(dtype)
        _check_sample_size(int(n_samples), parameters[2].shape[1], np.dtype(dtype).itemsize)
        return _gmm.sample(int(n_samples), _random_seed(rng), *parameters)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = _missing.marginalizes(self)
        return tags

    def _n_parameters(self):
        n_components, n_features = self.means_.shape
        return _gmm.n_parameters(self._fitted_covariance_type, n_components, n_features)

    def bic(self, X):
        """Bayesian information criterion on X (lower is better)."""
        return self._information_criteria(X)[1]

    def aic(self, X):
        """Akaike information criterion on X (lower is better)."""
        return self._information_criteria(X)[0]

    def _information_criteria(self, X, validated=False, score=None):
        """(AIC, BIC) on X from one pass over it; ``validated``: X is validated already (a
        sweep's), and ``score`` its mean log-likelihood when the fit computed it."""
        if not validated:
            X = self._validated(X)
        if score is None:
            score = float(self._call("score", X, np.empty(0, dtype=X.dtype)))
        deviance = -2 * score * X.shape[0]
        return deviance + 2 * self._n_parameters(), deviance + self._n_parameters() * np.log(X.shape[0])

    # ------------------------------------------------------- models as objects (issue 11)

    @classmethod
    def from_parameters(cls, weights, means, covariances=None, precisions=None, precisions_cholesky=None,
                        covariance_type="full"):
        """A fitted mixture from given parameters, without a fit.

        Give exactly one of ``covariances``, ``precisions`` and ``precisions_cholesky``, shaped
        like the fitted attributes of that name. The result scores, predicts, samples, saves
        and conditions like a fitted estimator (``converged_=True``, ``n_iter_=0``,
        ``lower_bound_=-inf``). float32 parameters give a float32 model.

        Parameters
        ----------
        weights : array-like of shape (n_components,)
            On the simplex.
        means : array-like of shape (n_components, n_features)
        covariances, precisions, precisions_cholesky : array-like
            full (n_components, n_features, n_features), tied (n_features, n_features),
            diag (n_components, n_features), spherical (n_components,); symmetric positive
            definite (or positive), or upper-triangular factors with a positive diagonal.
        covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'

        Returns
        -------
        GaussianMixture

        Raises
        ------
        ValueError
            Bad shapes, non-finite values, weights off the simplex, a covariance that is not
            positive definite (``gaussmix.NumericalError``).

        Examples
        --------
        >>> from gaussmix import GaussianMixture
        >>> gm = GaussianMixture.from_parameters([0.5, 0.5], [[0.0], [4.0]], covariances=[1.0, 1.0],
        ...                                      covariance_type="spherical")
        >>> gm.predict([[0.1], [3.9]]).tolist()
        [0, 1]
        """
        from ._models import from_parameters

        return from_parameters(cls, weights, means, covariances, precisions, precisions_cholesky, covariance_type)

    def save(self, path):
        """Write the fitted model to ``path`` in the portable model file format.

        The file (docs/model-format.md: safetensors, a JSON header and little-endian tensors)
        holds the covariance type, dtype, parameters and ``n_iter_``, ``lower_bound_``,
        ``converged_``, ``feature_names_in_`` and the library version; :func:`gaussmix.load`
        and the C++ ``gaussmix::load_model`` read it back bit for bit.

        Parameters
        ----------
        path : str or os.PathLike
        """
        from ._models import save

        save(self, path)

    def to_sklearn(self):
        """An equal, fitted :class:`sklearn.mixture.GaussianMixture` (parameters copied exactly)."""
        from ._models import to_sklearn

        return to_sklearn(self)

    def marginal(self, features):
        """The mixture of a subset of the features.

        Parameters
        ----------
        features : sequence of int or str
            Feature indices (or names, when fitted on a DataFrame), in the order wanted.

        Returns
        -------
        GaussianMixture
            The same weights; the selected means and covariance blocks.
        """
        from ._conditioning import marginal

        return marginal(self, features)

    def condition(self, features, values):
        """The conditional mixture p(x_rest | x_features = values).

        Component weights are re-weighted by each component's likelihood of the given values
        (in log space), means and covariances follow from the Schur complement. Diag and
        spherical models stay diagonal, tied and full give full covariances (tied stays tied).

        Parameters
        ----------
        features : sequence of int or str
            The given features; empty returns a copy of this model.
        values : array-like of shape (len(features),)

        Returns
        -------
        GaussianMixture
            Over the remaining features, in increasing order.

        Examples
        --------
        >>> import numpy as np
        >>> from gaussmix import GaussianMixture
        >>> gm = GaussianMixture.from_parameters([1.0], [[0.0, 0.0]], covariances=[[[1.0, 0.8], [0.8, 1.0]]])
        >>> gm.condition([0], [1.0]).means_.round(3).tolist()
        [[0.8]]
        """
        from ._conditioning import condition

        return condition(self, features, values)

    def condition_batch(self, features, values):
        """Conditionals given each row of ``values`` (n_samples, len(features)), computed in the core.

        Returns
        -------
        ConditionalMixtures
            ``weights`` (n_samples, n_components), ``means`` (n_samples, n_components, n_rest),
            ``covariances``, ``mean`` and ``variance`` (n_samples, n_rest).
        """
        from ._conditioning import condition_batch

        return condition_batch(self, features, values)

    def icl(self, X):
        """Integrated completed likelihood on X (lower is better).

        ``bic(X) + 2 * sum_i sum_k -tau_ik log tau_ik`` with tau the posterior: BIC plus a
        penalty for overlapping components (mclust's ICL with scikit-learn's sign).
        """
        from ._models import core_parameters

        X = self._validated(X)
        return float(_gmm.icl(X, *core_parameters(self, X.dtype)))
