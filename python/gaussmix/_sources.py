"""Data that need not fit in memory: a NumPy memmap, a chunk iterator, (in _dask.py) a Dask array.

A *source* makes passes over chunks of rows. Each pass folds a per-chunk core call (the E-step,
the statistics of hard labels, ...) into one set of statistics with the core's ``merge``; the
core's EM driver (``_gmm.em_fit``) calls ``statistics`` once per iteration. The start is
computed from a bounded random sample of the rows plus one pass over the chunks, so no pass
holds more than one chunk (and the sample) in memory.
"""

import operator

import numpy as np

from ._dispatch import core as _gmm
from ._layout import as_core

#: Rows of the bounded sample that k-means (or k-means++) runs on to start EM.
SAMPLE_ROWS = 100_000
#: Bytes of X per chunk when a memmap is cut into chunks.
CHUNK_BYTES = 32 << 20


class Chunks:
    """Data delivered in chunks, for fitting and scoring data that do not fit in memory.

    EM makes one pass over the data per iteration, so the data must be readable more than
    once: ``Chunks`` wraps a *function* that starts a new pass, not an iterator.

    Parameters
    ----------
    chunks : callable
        Called with no arguments at the start of every pass; returns an iterable of chunks,
        each either a 2-D array ``X_chunk`` of shape (n_rows, n_features) or a pair
        ``(X_chunk, sample_weight_chunk)`` with weights of shape (n_rows,). Every pass must
        yield the same rows in the same order. Chunks with no rows (or zero total weight) are
        skipped; float32 chunks (all of them) are fitted in float32, anything else in float64.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import Chunks, GaussianMixture
    >>> X = np.random.RandomState(0).randn(1000, 2)
    >>> chunks = Chunks(lambda: (X[i:i + 250] for i in range(0, 1000, 250)))
    >>> gm = GaussianMixture(2, random_state=0).fit(chunks)
    >>> gm.predict(chunks).shape
    (1000,)
    """

    def __init__(self, chunks):
        if not callable(chunks):
            raise TypeError(
                "Chunks needs a function that starts a new pass over the chunks (EM reads the data "
                f"once per iteration), got {type(chunks).__name__}; wrap a generator in a lambda"
            )
        self.chunks = chunks

    def __repr__(self):
        return f"Chunks({self.chunks!r})"


def _chunk_dtype(X):
    return np.float32 if X.dtype == np.float32 else np.float64


def check_chunk(X, weight, n_features, dtype, index):
    """A chunk as the core takes it (C-contiguous, dtype), or None when it holds no data."""
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"chunk {index}: expected a 2-D numeric array, got {type(X).__name__}")
    try:
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"dtype {X.dtype}")
        X = np.ascontiguousarray(X, dtype=dtype if dtype is not None else _chunk_dtype(X))
    except (TypeError, ValueError) as error:
        raise TypeError(f"chunk {index}: expected a 2-D numeric array: {error}") from None
    if X.ndim != 2:
        raise ValueError(f"chunk {index}: expected a 2-D array, got {X.ndim} dimension(s) of shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"chunk {index} has {X.shape[1]} features, expected {n_features} as in the first chunk")
    if weight is None:
        weight = np.empty(0, dtype=X.dtype)
    else:
        try:
            weight = np.asarray(weight, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(f"chunk {index}: sample_weight must be numeric: {error}") from None
        if weight.shape != (X.shape[0],):
            raise ValueError(f"chunk {index}: sample_weight has shape {weight.shape}, expected ({X.shape[0]},)")
        if not np.all(np.isfinite(weight)):
            raise ValueError(f"chunk {index}: sample_weight contains NaN or infinity")
        if np.any(weight < 0):
            raise ValueError(f"chunk {index}: sample_weight must be non-negative")
        weight = np.ascontiguousarray(weight, dtype=X.dtype)
        if X.shape[0] and not weight.sum() > 0:
            return None
    if X.shape[0] == 0:
        return None
    if X.shape[1] == 0:
        raise ValueError(f"chunk {index} has 0 features")
    return X, weight


class ChunkedSource:
    """Passes over chunks in this process, one chunk at a time (the core threads each chunk)."""

    def __init__(self, chunks, n_features=None, dtype=None):
        self._chunks = chunks  # callable: a new iterable of (X, weight or None) per pass
        self.n_features = n_features
        self.dtype = dtype
        self.n_samples = None
        self._rows = None  # rows per non-empty chunk, from scan()

    def __iter__(self):
        index = -1
        for index, (X, weight) in enumerate(self._chunks()):
            checked = check_chunk(X, weight, self.n_features, self.dtype, index)
            if checked is None:
                continue
            if self.n_features is None:
                self.n_features, self.dtype = checked[0].shape[1], checked[0].dtype.type
            yield index, checked[0], checked[1]

    def scan(self):
        """One pass that checks every chunk and counts the rows (the sample needs them)."""
        self._rows = [(index, X.shape[0]) for index, X, _ in self]
        self.n_samples = sum(rows for _, rows in self._rows)
        if self.n_samples == 0:
            raise ValueError("the chunks hold no samples (every chunk was empty or had zero weight)")
        return self

    #: The k-means start: k-means on a bounded sample read in one pass (a pass is a read of the file).
    kmeans_start = "sample"

    def fold(self, function, *args, merge=None):
        """function(X, weight, index, *args) -> a partial result, merged over every chunk in order
        (with the core's merge of statistics unless `merge` is given)."""
        merge = merge or _gmm.merge_statistics
        total = None
        for index, X, weight in self:
            part = call_on_chunk(function, X, weight, index, *args)
            total = part if total is None else merge(total, part)
        if total is None:
            raise ValueError("the chunks hold no samples (every chunk was empty or had zero weight)")
        return total

    def map(self, function, *args):
        """function(X, *args) on every chunk, concatenated (the per-row results of inference)."""
        return np.concatenate([call_on_chunk(lambda X, w, i, *a: function(X, *a), X, weight, index, *args)
                               for index, X, weight in self])

    def weighted_sum(self, function, *args):
        """(sum_i w_i f(x_i), sum_i w_i) over all chunks, for score()."""
        total, mass = 0.0, 0.0
        for index, X, weight in self:
            values = call_on_chunk(lambda X, w, i, *a: function(X, *a), X, weight, index, *args)
            w = weight.astype(np.float64) if weight.size else np.ones(X.shape[0])
            total += float(values.astype(np.float64) @ w)
            mass += float(w.sum())
        return total, mass

    def take(self, rows):
        """The rows at the given sorted global positions, with their weights."""
        X_parts, w_parts, start = [], [], 0
        rows = np.asarray(rows)
        for index, X, weight in self:
            end = start + X.shape[0]
            local = rows[(rows >= start) & (rows < end)] - start
            if local.size:
                X_parts.append(X[local])
                w_parts.append(weight[local] if weight.size else np.ones(local.size, dtype=X.dtype))
            start = end
        return np.concatenate(X_parts), np.concatenate(w_parts)


def call_on_chunk(function, X, weight, index, *args):
    """A core call on one chunk, its errors naming the chunk."""
    try:
        return function(X, weight, index, *args)
    except ValueError as error:
        raise type(error)(f"chunk {index}: {error}") from None


def array_source(X, sample_weight):
    """A memmap (or any array-like too large to copy) cut into row ranges of CHUNK_BYTES."""
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D array, got shape {X.shape}")
    n_rows = X.shape[0]
    rows = max(4096, CHUNK_BYTES // max(1, X.shape[1] * X.dtype.itemsize))
    if sample_weight is not None:
        if np.isscalar(sample_weight):
            sample_weight = np.full(n_rows, float(sample_weight))
        sample_weight = np.asarray(sample_weight)
        if sample_weight.shape != (n_rows,):
            raise ValueError(f"sample_weight.shape == {sample_weight.shape}, expected ({n_rows},)")

    def chunks():
        for start in range(0, n_rows, rows):
            yield X[start:start + rows], None if sample_weight is None else sample_weight[start:start + rows]

    source = ChunkedSource(chunks, dtype=_chunk_dtype(X) if X.dtype.kind in "biuf" else None)
    if n_rows == 0:
        raise ValueError("Found array with 0 sample(s)")
    return source


def chunks_source(chunks):
    def passes():
        for chunk in chunks.chunks():
            if isinstance(chunk, tuple):
                if len(chunk) != 2:
                    raise ValueError(f"a chunk must be X or (X, sample_weight), got a tuple of {len(chunk)}")
                yield chunk
            else:
                yield chunk, None

    return ChunkedSource(passes)


# ----------------------------------------------------------------------- per-chunk core calls
# Module-level functions, so that a Dask worker can unpickle them.

def expectation_statistics(X, weight, index, model):
    return _gmm.expectation_step(X, *model, weight)


def _nearest(X, centers):
    K = centers.shape[0]
    # The nearest center is the most probable component of equal weights and unit variances.
    return _gmm.predict(X, "spherical", np.full(K, 1.0 / K, dtype=X.dtype), centers, np.ones((K, 1), dtype=X.dtype))


def _row_weights(X, weight):
    return weight.astype(np.float64) if weight.size else np.ones(X.shape[0])


def label_statistics(X, weight, index, covariance_type, centers):
    """Statistics of the chunk's rows assigned to their nearest center, about the centers."""
    return _gmm.statistics_from_labels(X, _nearest(X, centers), weight, covariance_type, centers)


def oversample(X, weight, index, centers, cost, oversampling, seed, round_):
    """One k-means|| round on a chunk: the chunk's cost sum_i w_i d_i^2 to the nearest center, and
    its rows drawn independently with probability min(1, oversampling * w_i d_i^2 / cost)
    (none when cost is None). The draws depend on (seed, round, chunk index) only."""
    nearest = centers[_nearest(X, centers)]
    d2 = np.einsum("ij,ij->i", X - nearest, X - nearest, dtype=np.float64)
    w = _row_weights(X, weight)
    chosen = np.zeros(X.shape[0], dtype=bool)
    if cost is not None and cost > 0:
        u = np.random.default_rng([seed, round_, index]).uniform(size=X.shape[0])
        chosen = u * cost < oversampling * w * d2
    return {"rows": X[chosen], "cost": float(w @ d2)}


def merge_candidates(a, b):
    return {"rows": np.concatenate([a["rows"], b["rows"]]), "cost": a["cost"] + b["cost"]}


def center_mass(X, weight, index, centers):
    """Weight of the chunk's rows nearest each center."""
    return np.bincount(_nearest(X, centers), weights=_row_weights(X, weight), minlength=centers.shape[0])


def random_statistics(X, weight, index, covariance_type, shift, seed):
    """Statistics under uniform random responsibilities, normalised per row (init='random')."""
    rng = np.random.default_rng([seed, index])
    resp = rng.uniform(size=(X.shape[0], shift.shape[0])).astype(X.dtype)
    resp /= resp.sum(axis=1, keepdims=True)
    return _gmm.statistics_from_responsibilities(X, resp, weight, covariance_type, shift)


# ----------------------------------------------------------------------------- the start

def sample_rows(n_samples, seed):
    """Sorted positions of a uniform sample of at most SAMPLE_ROWS rows."""
    if n_samples <= SAMPLE_ROWS:
        return np.arange(n_samples)
    return np.sort(np.random.default_rng(seed).choice(n_samples, SAMPLE_ROWS, replace=False))


#: k-means|| (Bahmani et al., "Scalable k-means++", 2012): oversampling rounds, rows drawn per
#: round ~ OVERSAMPLING * n_components, then Lloyd passes over all rows from the reclustered candidates.
KMEANS_PARALLEL_ROUNDS = 5
OVERSAMPLING = 2.0
LLOYD_PASSES = 2


def kmeans_parallel(source, n_clusters, seed, dtype):
    """k-means|| centers over `source`, or None when fewer than n_clusters candidates carry weight
    (rows with fewer distinct values than clusters). Every heavy step is one `source.fold` (on
    Dask a map over the blocks on the workers, returning candidate rows, masses or per-center
    statistics only); the small candidate set is clustered here by the core's weighted k-means
    (k-means++ + Lloyd).

    The cost that normalises round r's draws is the one measured in round r - 1's pass (under
    fewer centers, so an over-estimate: a round draws somewhat fewer than OVERSAMPLING * K rows),
    which keeps each round one pass.
    """
    first = np.random.default_rng([seed]).integers(source.n_samples)
    centers = np.ascontiguousarray(source.take(np.array([first]))[0], dtype=dtype)
    cost, ell = None, OVERSAMPLING * n_clusters
    for round_ in range(KMEANS_PARALLEL_ROUNDS + 1):
        drawn = source.fold(oversample, centers, cost, ell, seed, round_, merge=merge_candidates)
        if drawn["rows"].shape[0]:
            centers = np.ascontiguousarray(np.concatenate([centers, drawn["rows"]]), dtype=dtype)
        cost = drawn["cost"]
        if not np.isfinite(cost):
            raise ValueError("Input X contains NaN or infinity (the k-means|| cost is not finite)")
    mass = source.fold(center_mass, centers, merge=operator.add)
    if np.count_nonzero(mass) < n_clusters:
        return None  # fewer distinct rows than clusters: the bounded sample's k-means decides as in memory
    centers = np.ascontiguousarray(_gmm.kmeans(centers, n_clusters, seed, mass.astype(dtype))["centers"], dtype=dtype)
    for _ in range(LLOYD_PASSES):
        stats = source.fold(label_statistics, "spherical", centers)
        count = np.asarray(stats["resp_sum"])[:, None]
        moved = np.asarray(stats["shift"]) + np.asarray(stats["first"]) / np.where(count > 0, count, 1)
        centers = np.ascontiguousarray(np.where(count > 0, moved, centers), dtype=dtype)
    return centers


def initial_model(source, estimator, seed, given):
    """(weights, means, precisions_cholesky) to start EM over `source`, as the core stores them.

    'kmeans' finds centers by k-means on a bounded sample (source.kmeans_start == "sample",
    chunked sources: one read of the file) or by k-means|| over all rows ("kmeans||", Dask:
    passes on the workers), then one pass over all chunks assigns every row to its nearest
    center and the M-step of those hard labels is the start. The others use the bounded sample: 'k-means++' and 'random_from_data' put one component on each chosen sample row;
    'random' takes one pass with random responsibilities. Given initial parameters replace the
    derived ones, as in the in-memory fit.
    """
    K, covariance_type, dtype = estimator.n_components, estimator.covariance_type, source.dtype
    weights_init, means_init, precisions_init = given
    init = estimator.init_params
    derive = not (weights_init.size and means_init.size and precisions_init.size)
    centers = None
    if derive and init == "kmeans" and source.kmeans_start == "kmeans||":
        centers = kmeans_parallel(source, K, seed, dtype)
    if centers is not None:
        stats = source.fold(label_statistics, covariance_type, centers)
        derived = _gmm.maximization_step(stats, float(estimator.reg_covar), np.dtype(dtype).name)
        weights, means, cholesky = derived["weights"], derived["means"], derived["precisions_cholesky"]
    elif derive:
        X_sample, w_sample = source.take(sample_rows(source.n_samples, seed))
        X_sample = np.ascontiguousarray(X_sample, dtype=dtype)
        w_sample = np.ascontiguousarray(w_sample, dtype=dtype)
        reg = estimator.reg_covar if estimator.reg_covar > 0 else 1e-6
        if init == "kmeans":
            centers = np.ascontiguousarray(_gmm.kmeans_start(X_sample, K, seed, w_sample)["centers"], dtype=dtype)
            stats = source.fold(label_statistics, covariance_type, centers)
            derived = _gmm.maximization_step(stats, float(estimator.reg_covar), np.dtype(dtype).name)
        elif init == "random":
            mean = np.average(X_sample.astype(np.float64), axis=0, weights=w_sample.astype(np.float64))
            shift = np.ascontiguousarray(np.tile(mean, (K, 1)), dtype=dtype)
            stats = source.fold(random_statistics, covariance_type, shift, seed)
            derived = _gmm.maximization_step(stats, float(estimator.reg_covar), np.dtype(dtype).name)
        else:
            if X_sample.shape[0] < K or np.count_nonzero(w_sample) < K:
                raise ValueError(f"{init} needs at least n_components = {K} samples with positive weight")
            if init == "k-means++":
                rows = np.asarray(_gmm.kmeans_plusplus(X_sample, K, seed, w_sample))
            else:
                p = w_sample.astype(np.float64)
                rows = np.random.default_rng(seed).choice(X_sample.shape[0], K, replace=False, p=p / p.sum())
            chosen = np.ascontiguousarray(X_sample[rows])
            stats = _gmm.statistics_from_labels(chosen, np.arange(K), np.ascontiguousarray(w_sample[rows]),
                                                covariance_type, chosen)
            derived = _gmm.maximization_step(stats, float(reg), np.dtype(dtype).name)
        weights, means, cholesky = derived["weights"], derived["means"], derived["precisions_cholesky"]
    weights = weights_init if weights_init.size else weights
    means = means_init if means_init.size else means
    if precisions_init.size:
        cholesky = _gmm.model_from("precisions", covariance_type, np.ascontiguousarray(weights, dtype=dtype),
                                   np.ascontiguousarray(means, dtype=dtype),
                                   np.ascontiguousarray(precisions_init, dtype=dtype))["precisions_cholesky"]
    return tuple(np.ascontiguousarray(a, dtype=dtype) for a in (weights, means, as_core(cholesky, covariance_type)))


def as_source(X, sample_weight=None):
    """The source for X when it is not an in-memory array (else None): memmap, Chunks, Dask."""
    if isinstance(X, Chunks):
        if sample_weight is not None:
            raise TypeError("with Chunks, give sample_weight inside the chunks as (X_chunk, weight_chunk) pairs")
        return chunks_source(X)
    if isinstance(X, np.memmap):
        return array_source(X, sample_weight)
    from ._dask import is_dask_collection

    if is_dask_collection(X):
        from ._dask import DaskSource

        return DaskSource(X, sample_weight)
    if hasattr(X, "__next__"):
        raise TypeError("an iterator can be read only once and EM needs several passes: wrap a function that "
                        "returns a new iterator in gaussmix.Chunks")
    return None


