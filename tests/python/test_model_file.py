"""The portable model file: bit-exact round trips, conformance to the documented layout checked
by an independent NumPy reader and writer (and the safetensors package when installed), and a
loader fuzz campaign in which every damaged file gives a clear ValueError."""

import json
import os
import struct
import subprocess

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import gaussmix
from gaussmix import GaussianMixture

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
_NUMPY_DTYPES = {"F64": "<f8", "F32": "<f4"}


def _fitted(covariance_type, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(150, 3) @ rng.randn(3, 3), rng.randn(150, 3) + 6]).astype(dtype)
    return GaussianMixture(3, covariance_type=covariance_type, random_state=seed).fit(X), X


def _read_with_numpy(path):
    """The documented layout read with json and NumPy only: (metadata, {name: array})."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    metadata = header.pop("__metadata__")
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype=_NUMPY_DTYPES[info["dtype"]]).reshape(info["shape"])
    return metadata, tensors


def _write_with_numpy(path, metadata, tensors):
    """The documented layout written with json and NumPy only."""
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        code = {np.dtype("<f8"): "F64", np.dtype("<f4"): "F32"}[array.dtype.newbyteorder("<")]
        payload = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(payload)]}
        chunks.append(payload)
        offset += len(payload)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def _assert_same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_round_trip_is_bit_exact(tmp_path, covariance_type, dtype):
    gm, X = _fitted(covariance_type, dtype)
    path = tmp_path / "model.safetensors"
    gm.save(path)
    loaded = gaussmix.load(path)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        _assert_same_bits(getattr(loaded, name), getattr(gm, name))
    assert loaded.means_.dtype == dtype
    assert (loaded.n_iter_, loaded.lower_bound_, loaded.converged_) == (gm.n_iter_, gm.lower_bound_, gm.converged_)
    assert loaded.covariance_type == covariance_type and loaded.n_components == 3
    _assert_same_bits(loaded.score_samples(X), gm.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), gm.predict(X))
    # Saving the loaded model gives the same bytes.
    gm.save(tmp_path / "again.safetensors")
    assert (tmp_path / "again.safetensors").read_bytes() == path.read_bytes()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_file_is_the_documented_layout(tmp_path, covariance_type):
    """An independent reader (json + NumPy) finds the parameters, bit for bit, where the
    documentation says they are."""
    gm, _ = _fitted(covariance_type, np.float32)
    path = tmp_path / "model.safetensors"
    gm.save(path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0
    metadata, tensors = _read_with_numpy(path)
    assert metadata["format"] == "gaussmix" and metadata["format_version"] == "1"
    assert metadata["covariance_type"] == covariance_type
    assert metadata["library_version"] == gaussmix.__version__
    assert int(metadata["n_iter"]) == gm.n_iter_ and float(metadata["lower_bound"]) == gm.lower_bound_
    assert metadata["converged"] == ("true" if gm.converged_ else "false")
    assert sorted(tensors) == ["covariances", "means", "precisions_cholesky", "weights"]
    for name in tensors:
        _assert_same_bits(tensors[name], getattr(gm, name + "_"))


def test_safetensors_package_reads_the_file(tmp_path):
    numpy_io = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    gm, _ = _fitted("full")
    path = tmp_path / "model.safetensors"
    gm.save(path)
    tensors = numpy_io.load_file(str(path))
    for name in ("weights", "means", "covariances", "precisions_cholesky"):
        _assert_same_bits(tensors[name], getattr(gm, name + "_"))
    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata()["covariance_type"] == "full"
    # ... and gaussmix reads what safetensors writes (given the metadata).
    other = tmp_path / "written_by_safetensors.safetensors"
    numpy_io.save_file(tensors, str(other), metadata={"format": "gaussmix", "format_version": "1",
                                                      "covariance_type": "full"})
    _assert_same_bits(gaussmix.load(other).precisions_cholesky_, gm.precisions_cholesky_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_loads_a_file_written_without_gaussmix(tmp_path, covariance_type):
    """A file written by the independent NumPy writer loads bit for bit."""
    rng = np.random.RandomState(1)
    K, D = 2, 3
    weights = np.array([0.25, 0.75])
    means = rng.randn(K, D)
    A = rng.randn(K, D, D)
    full = A @ A.transpose(0, 2, 1) + np.eye(D)
    covariances = {"full": full, "tied": full[0], "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
                   "spherical": np.array([0.5, 2.0])}[covariance_type]
    reference = GaussianMixture.from_parameters(weights, means, covariances=covariances,
                                                covariance_type=covariance_type)
    path = tmp_path / "numpy.safetensors"
    _write_with_numpy(path, {"format": "gaussmix", "format_version": "1", "covariance_type": covariance_type,
                             "n_iter": "7", "feature_names": json.dumps(["a", "b", "c"])},
                      {"weights": weights, "means": means, "covariances": reference.covariances_,
                       "precisions_cholesky": reference.precisions_cholesky_})
    loaded = gaussmix.load(path)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        _assert_same_bits(getattr(loaded, name), getattr(reference, name))
    assert loaded.n_iter_ == 7 and list(loaded.feature_names_in_) == ["a", "b", "c"]
    assert loaded.lower_bound_ == -np.inf and loaded.converged_ is False  # absent metadata: defaults


def test_feature_names_round_trip(tmp_path):
    gm = GaussianMixture.from_parameters([1.0], [[0.0, 1.0]], covariances=[[1.0, 1.0]], covariance_type="diag")
    gm.feature_names_in_ = np.array(['a "quoted" name', "naïve\\x\n"], dtype=object)
    gm.save(tmp_path / "m.safetensors")
    loaded = gaussmix.load(tmp_path / "m.safetensors")
    assert list(loaded.feature_names_in_) == list(gm.feature_names_in_)


def test_save_and_load_errors(tmp_path):
    with pytest.raises(NotFittedError):
        GaussianMixture().save(tmp_path / "x.safetensors")
    gm, _ = _fitted("diag")
    with pytest.raises(OSError):
        gm.save(tmp_path / "no" / "such" / "dir" / "x.safetensors")
    with pytest.raises(FileNotFoundError):
        gaussmix.load(tmp_path / "absent.safetensors")
    with pytest.raises(FileNotFoundError):
        gaussmix.load(tmp_path)  # a directory
    with pytest.raises(TypeError):
        gaussmix.load(42)
    (tmp_path / "text.safetensors").write_text("hello, I am not a model")
    with pytest.raises(ValueError, match="header length"):
        gaussmix.load(tmp_path / "text.safetensors")


def _load_outcome(path, raw):
    """'ok' or 'ValueError'; anything else (another exception, a crash) fails the test."""
    path.write_bytes(raw)
    try:
        gaussmix.load(path)
    except ValueError as error:
        assert str(error), "an empty error message"
        return "ValueError"
    return "ok"


def test_loader_fuzz(tmp_path):
    gm, _ = _fitted("full")
    good_path = tmp_path / "good.safetensors"
    gm.save(good_path)
    good = good_path.read_bytes()
    path = tmp_path / "bad.safetensors"
    # Every truncation is a clear error.
    for length in range(len(good)):
        assert _load_outcome(path, good[:length]) == "ValueError", length
    assert _load_outcome(path, good + b"\0") == "ValueError"
    # Every byte flipped: loads or a clear error.
    outcomes = {"ok": 0, "ValueError": 0}
    for at in range(len(good)):
        bad = bytearray(good)
        bad[at] ^= 0xFF
        outcomes[_load_outcome(path, bytes(bad))] += 1
    assert outcomes["ValueError"] > len(good) // 2
    # Random multi-byte damage, fixed seed.
    rng = np.random.RandomState(0)
    for _ in range(300):
        bad = bytearray(good)
        for at in rng.randint(0, len(bad), size=rng.randint(1, 6)):
            bad[at] = rng.randint(256)
        _load_outcome(path, bytes(bad))


def _with_tensor_header(tmp_path, change):
    """The minimal valid file, with its header changed by change(header dict)."""
    gm = GaussianMixture.from_parameters([1.0], [[0.0]], covariances=[[1.0]], covariance_type="diag")
    path = tmp_path / "minimal.safetensors"
    gm.save(path)
    metadata, tensors = _read_with_numpy(path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    change(header)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + raw[8 + n:]


@pytest.mark.parametrize("change, message", [
    (lambda h: h["weights"].update(shape=[2 ** 40, 2 ** 40]), "do not match|overflow"),
    (lambda h: h["weights"].update(shape=[2 ** 64 - 1]), "do not match|overflow"),
    (lambda h: h["weights"].update(dtype="I64"), "dtype"),
    (lambda h: h["weights"].update(dtype="F16"), "dtype"),
    (lambda h: h["means"].update(dtype="F32"), "dtype"),
    (lambda h: h["weights"].update(data_offsets=[0, 16]), "do not match"),
    (lambda h: h["means"].update(data_offsets=[0, 8]), "overlap"),
    (lambda h: h.pop("precisions_cholesky"), "no tensor"),
    (lambda h: h.update(extra={"dtype": "F64", "shape": [0], "data_offsets": [32, 32]}), "other than"),
    (lambda h: h["__metadata__"].update(format_version="2"), "format_version"),
    (lambda h: h["__metadata__"].update(format="pytorch"), "not a gaussmix model"),
    (lambda h: h["__metadata__"].update(covariance_type="full"), "shape"),
    (lambda h: h["__metadata__"].update(n_iter="many"), "n_iter"),
    (lambda h: h["__metadata__"].update(feature_names="[1, 2]"), "feature_names"),
    (lambda h: h["__metadata__"].update(feature_names='["a", "b"]'), "feature_names"),
    (lambda h: h["__metadata__"].update(converged="yes"), "converged"),
])
def test_hostile_headers(tmp_path, change, message):
    path = tmp_path / "hostile.safetensors"
    path.write_bytes(_with_tensor_header(tmp_path, change))
    with pytest.raises(ValueError, match=message):
        gaussmix.load(path)


def test_hostile_header_lengths_and_nesting(tmp_path):
    path = tmp_path / "hostile.safetensors"
    path.write_bytes(struct.pack("<Q", 2 ** 63) + b"{}")
    with pytest.raises(ValueError, match="header length"):
        gaussmix.load(path)
    deep = b"[" * 100000
    path.write_bytes(struct.pack("<Q", len(deep)) + deep)
    with pytest.raises(ValueError, match="nested"):
        gaussmix.load(path)
    bad_utf8 = b'{"__metadata__": {"format": "gaussmix\xff"}}'
    path.write_bytes(struct.pack("<Q", len(bad_utf8)) + bad_utf8)
    with pytest.raises(ValueError, match="UTF-8"):
        gaussmix.load(path)


def test_non_finite_and_inconsistent_parameters_are_rejected(tmp_path):
    gm = GaussianMixture.from_parameters([1.0], [[0.0]], covariances=[[1.0]], covariance_type="diag")
    for name, value, message in [("means", np.nan, "NaN"), ("weights", -1.0, "negative|sum"),
                                 ("covariances", 4.0, "match"), ("precisions_cholesky", -1.0, "positive")]:
        tensors = {n: np.array(getattr(gm, n + "_"), copy=True) for n in
                   ("weights", "means", "covariances", "precisions_cholesky")}
        tensors[name].flat[0] = value
        path = tmp_path / f"{name}.safetensors"
        _write_with_numpy(path, {"format": "gaussmix", "format_version": "1", "covariance_type": "diag"}, tensors)
        with pytest.raises(ValueError, match=message):
            gaussmix.load(path)


@pytest.mark.skipif(not os.environ.get("GAUSSMIX_NATIVE_PREDICT"),
                    reason="set GAUSSMIX_NATIVE_PREDICT to the built examples/native predict_model (CI does)")
def test_native_example_predicts_like_python(tmp_path):
    """Python -> file -> C++: the native example's output equals Python's predictions."""
    gm, X = _fitted("full")
    gm.save(tmp_path / "model.safetensors")
    np.savetxt(tmp_path / "X.csv", X[:20], delimiter=",", fmt="%.17g")
    out = subprocess.run([os.environ["GAUSSMIX_NATIVE_PREDICT"], str(tmp_path / "model.safetensors"),
                          str(tmp_path / "X.csv")], check=True, capture_output=True, text=True).stdout
    rows = [line.split(",") for line in out.strip().splitlines()[1:]]
    np.testing.assert_array_equal([int(r[0]) for r in rows], gm.predict(X[:20]))
    np.testing.assert_allclose([float(r[1]) for r in rows], gm.score_samples(X[:20]), rtol=1e-12)
