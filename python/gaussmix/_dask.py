"""Dask arrays as a source of statistics: per-block core calls on the workers, a tree reduction.

Imported only when a Dask collection is passed (``is_dask_collection`` looks at
``sys.modules`` and never imports Dask itself). Each pass maps a per-block function over the
blocks of the persisted X, each block returning only its statistics (O(K D^2) bytes), reduces
them in a tree of fixed shape (so the result does not depend on which worker ran what), and
computes on the active ``dask.distributed`` client, or the local scheduler without one.
"""

import sys
from functools import partial

import numpy as np

from ._dispatch import core as _gmm
from ._sources import call_on_chunk, check_chunk

#: Blocks' statistics merged per node of the reduction tree.
_FAN_IN = 8


def is_dask_collection(X):
    if "dask" not in sys.modules:
        return False
    import dask

    return dask.is_dask_collection(X)


def _merge_all(parts, merge=None):
    merge = merge or _gmm.merge_statistics  # resolved on the worker: the core's functions do not pickle
    total = parts[0]
    for part in parts[1:]:
        total = merge(total, part)
    return total


def _block_call(function, X, weight, index, dtype, n_features, args):
    checked = check_chunk(X, weight, n_features, dtype, index)
    if checked is None:
        return None
    return call_on_chunk(function, checked[0], checked[1], index, *args)


def _merge_present(parts, merge):
    parts = [p for p in parts if p is not None]
    return _merge_all(parts, merge) if parts else None


def _take(X, weight, local, dtype):
    X = np.asarray(X)[local]
    w = np.ones(local.size) if weight is None else np.asarray(weight, dtype=np.float64)[local]
    return X.astype(dtype), w.astype(dtype)


def _map_block(X, function, dtype, args):
    return function(np.ascontiguousarray(X, dtype=dtype), *args)


class DaskSource:
    """X (a dask.array or Dask DataFrame) persisted once; sample_weight co-chunked with its rows."""

    def __init__(self, X, sample_weight=None):
        import dask
        import dask.array as da

        if hasattr(X, "to_dask_array"):  # a Dask DataFrame
            X = X.to_dask_array(lengths=True)
        if not isinstance(X, da.Array):
            raise TypeError(f"expected a dask.array or a Dask DataFrame, got {type(X).__name__}")
        if X.ndim != 2:
            raise ValueError(f"Expected a 2-D dask array, got shape {X.shape}")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must be numeric, got dtype {X.dtype}")
        if any(np.isnan(c) for c in X.chunks[0]):
            X = X.compute_chunk_sizes()
        self.dtype = np.float32 if X.dtype == np.float32 else np.float64
        self.n_samples, self.n_features = (int(s) for s in X.shape)
        if self.n_samples == 0 or self.n_features == 0:
            raise ValueError(f"Found array with shape {X.shape}; expected at least one sample and one feature")
        X = X.rechunk({1: -1})
        weight = None
        if sample_weight is not None:
            weight = da.asarray(sample_weight)
            if weight.shape != (self.n_samples,):
                raise ValueError(f"sample_weight.shape == {weight.shape}, expected ({self.n_samples},)")
            weight = weight.rechunk((X.chunks[0],))
        # dask.persist uses the active distributed client when there is one.
        if weight is None:
            (self.X,), self.weight = dask.persist(X), None
        else:
            self.X, self.weight = dask.persist(X, weight)
        self._X_blocks = list(self.X.to_delayed().ravel())
        self._w_blocks = list(self.weight.to_delayed().ravel()) if self.weight is not None else [None] * len(self._X_blocks)

    #: The k-means start: k-means|| over all rows, each of its passes a map over the blocks.
    kmeans_start = "kmeans||"
    #: n_init restarts run concurrently, each its own sequence of graphs.
    concurrent_restarts = True

    def scan(self):
        return self

    @staticmethod
    def _shared(args):
        """The per-pass arguments (the model) as one graph key that every block task refers to.
        In the graph, not scattered: a worker killed during client.scatter(broadcast=True) leaves
        the scheduler retrying the replication for ever (dask/distributed#5704, seen here as a
        hung fit), and scattered data lost with its worker cannot be recomputed; a graph key can."""
        import dask

        return dask.delayed(args, traverse=False)

    def fold(self, function, *args, merge=None):
        import dask

        shared = self._shared(args)
        call = dask.delayed(_block_call, pure=True)
        level = [call(function, X, w, i, self.dtype, self.n_features, shared)
                 for i, (X, w) in enumerate(zip(self._X_blocks, self._w_blocks))]
        merge_task = dask.delayed(_merge_present, pure=True)
        while len(level) > 1:
            level = [merge_task(level[i:i + _FAN_IN], merge) for i in range(0, len(level), _FAN_IN)]
        result = self._compute(level[0])
        if result is None:
            raise ValueError("the Dask array holds no samples with positive weight")
        return result

    @staticmethod
    def _compute(value):
        return value.compute()

    def take(self, rows):
        import dask

        bounds = np.cumsum((0,) + self.X.chunks[0])
        parts = []
        for i, (X, w) in enumerate(zip(self._X_blocks, self._w_blocks)):
            local = rows[(rows >= bounds[i]) & (rows < bounds[i + 1])] - bounds[i]
            if local.size:
                parts.append(dask.delayed(_take, pure=True)(X, w, local, self.dtype))
        parts = self._compute(dask.delayed(list)(parts))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def map_blocks(X, function, dtype, n_features, out_dtype, n_columns=None):
    """Lazy per-row inference on a Dask array: function(X_block) for every block."""
    import dask.array as da

    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise ValueError("expected a 2-D dask array")
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but GaussianMixture is expecting {n_features} features as input")
    X = X.rechunk({1: -1})
    call = partial(_map_block, function=function, dtype=dtype, args=())
    if n_columns is None:
        return X.map_blocks(call, drop_axis=1, dtype=out_dtype)
    return X.map_blocks(call, chunks=(X.chunks[0], (n_columns,)), dtype=out_dtype)


def weighted_sum(X, function, dtype, sample_weight):
    """(sum_i w_i f(x_i), sum_i w_i), computed."""
    import dask.array as da

    values = map_blocks(X, function, dtype, X.shape[1], np.float64)
    w = da.ones(values.shape[0], chunks=values.chunks[0]) if sample_weight is None else \
        da.asarray(sample_weight).rechunk(values.chunks[0])
    result = da.stack([(values.astype(np.float64) * w).sum(), w.sum()]).compute()
    return float(result[0]), float(result[1])
