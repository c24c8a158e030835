"""Read and write mlpack's ``GMMType`` (the model object of ``mlpack.gmm_train``).

mlpack's Python model objects pickle to the binary cereal archive of the C++
``mlpack::GMM``; this module builds one from NumPy parameters (so mlpack can start
EM from the same initial parameters as every other library, via ``input_model``)
and reads the fitted parameters back (so its final log-likelihood is evaluated by
the same code as everybody else's).

Layout (little-endian), checked against mlpack 4.x by a round trip in ``_selftest``::

    u32 version | u64 gaussians | u64 dimensionality | u64 len(dists) | u32 version
    per component: mean, covariance, covLower, invCov (each arma: u64 n_rows,
                   u64 n_cols, u64 vec_state, n_rows*n_cols f64 column-major),
                   f64 logDetCov
    weights (arma column vector)
"""

from __future__ import annotations

import struct

import numpy as np


def _arma(a, vec_state):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        rows, cols = a.shape[0], 1
    else:
        rows, cols = a.shape
    return struct.pack("<QQQ", rows, cols, vec_state) + np.asfortranarray(a).tobytes(order="F")


def dumps(weights, means, covariances):
    """Cereal bytes of an ``mlpack::GMM`` with full ``covariances`` (K, D, D)."""
    k, d = means.shape
    out = [struct.pack("<IQQQI", 0, k, d, k, 0)]
    for j in range(k):
        cov = 0.5 * (covariances[j] + covariances[j].T)
        low = np.linalg.cholesky(cov)
        inv_low = np.linalg.inv(low)
        inv = inv_low.T @ inv_low
        logdet = 2.0 * np.sum(np.log(np.diag(low)))
        out += [_arma(means[j], 1), _arma(cov, 0), _arma(low, 0), _arma(inv, 0),
                struct.pack("<d", logdet)]
    out.append(_arma(weights, 1))
    return b"".join(out)


class _Reader:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, fmt):
        vals = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return vals

    def arma(self):
        rows, cols, _ = self.take("<QQQ")
        n = rows * cols
        a = np.frombuffer(self.buf, dtype="<f8", count=n, offset=self.pos).copy()
        self.pos += 8 * n
        return a.reshape((rows, cols), order="F")


def loads(buf):
    """``(weights (K,), means (K, D), covariances (K, D, D))`` from cereal bytes."""
    r = _Reader(buf)
    _, k, d, ndist, _ = r.take("<IQQQI")
    means = np.empty((k, d))
    covs = np.empty((k, d, d))
    for j in range(ndist):
        means[j] = r.arma()[:, 0]
        covs[j] = r.arma()
        r.arma()  # covLower
        r.arma()  # invCov
        r.take("<d")  # logDetCov
    weights = r.arma()[:, 0]
    if r.pos != len(buf):
        raise ValueError(f"mlpack model: {len(buf) - r.pos} unparsed bytes; unknown layout")
    return weights, means, covs


def make_model(weights, means, covariances):
    """A ``GMMType`` usable as ``gmm_train(input_model=...)``."""
    from mlpack.gmm_train import GMMType

    m = GMMType()
    m.__setstate__(dumps(weights, means, covariances))
    return m


def model_params(model):
    return loads(model.__getstate__())


def _selftest():
    import mlpack

    X = np.random.default_rng(0).normal(size=(500, 3))
    m = mlpack.gmm_train(input_=X, gaussians=2, max_iterations=3, seed=1)["output_model"]
    buf = m.__getstate__()
    w, mu, cov = loads(buf)
    rebuilt = dumps(w, mu, cov)
    w2, mu2, cov2 = loads(rebuilt)
    assert len(rebuilt) == len(buf)
    assert np.allclose(w, w2) and np.allclose(mu, mu2) and np.allclose(cov, cov2)
    return True


if __name__ == "__main__":
    print("round trip ok:", _selftest())
