"""The printed handbook chapter's code cells run with `from gaussmix import GMM` in place of
`from sklearn.mixture import GMM`, and print what the book prints: the shapes and converged_.

The cells are embedded as text (tests/python/data/), so the test reads nothing outside the
repository. Besides the one changed import, the only edits are for the rest of the ecosystem
since 2016: `sklearn.datasets.samples_generator` is now `sklearn.datasets` (scikit-learn 0.24),
matplotlib takes Ellipse's angle as a keyword (3.8), seaborn is optional, and the notebook magic
`%matplotlib inline` is dropped."""

import contextlib
import io
import pathlib
import re
import sys
import types

import numpy as np
import pytest

CELLS = pathlib.Path(__file__).parent / "data" / "handbook_05.12_gmm_cells.txt"


def _cells():
    text = CELLS.read_text()
    parts = re.split(r"^# In\[(\d+)\]:\n", text, flags=re.M)
    return {int(number): body for number, body in zip(parts[1::2], parts[2::2])}


def _modernised(source):
    edits = [
        ("from sklearn.mixture import GMM", "from gaussmix import GMM"),  # the one changed import
        ("from sklearn.datasets.samples_generator import", "from sklearn.datasets import"),
        ("angle, **kwargs))", "angle=angle, **kwargs))"),
        ("%matplotlib inline\n", ""),
    ]
    for old, new in edits:
        source = source.replace(old, new)
    return source


def test_cells_were_transcribed_from_the_printed_chapter():
    cells = _cells()
    assert sorted(cells) == list(range(1, 25))
    assert "from sklearn.mixture import GMM" in cells[7]
    assert "gmm.covars_" in cells[10] and "gmm.sample(100, random_state=0)" in cells[23]


def test_handbook_chapter_runs_with_gaussmix_gmm(monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "seaborn" not in sys.modules:
        try:
            import seaborn  # noqa: F401
        except ImportError:  # the chapter only calls sns.set() for its look
            monkeypatch.setitem(sys.modules, "seaborn", types.SimpleNamespace(set=lambda *a, **k: None))
    namespace = {"__name__": "handbook"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for number, source in sorted(_cells().items()):
            exec(compile(_modernised(source), f"In[{number}]", "exec"), namespace)
    plt.close("all")
    printed = out.getvalue().split("\n")

    from gaussmix import GMM

    assert isinstance(namespace["gmm"], GMM) and namespace["gmm"].covariance_type == "full"
    assert namespace["probs"].shape == (400, 4)
    assert printed[0].startswith("[[") and len(re.findall(r"\[", "\n".join(printed[:5]))) == 6  # 5 rows printed
    assert "(1797, 64)" in printed and "(1797, 41)" in printed  # Out[18], Out[20]
    assert "True" in printed  # In[22]: print(gmm.converged_)
    assert "(100, 41)" in printed  # Out[23]: samples only, no labels
    assert namespace["Xnew"].shape == (400, 2)
    assert namespace["digits_new"].shape == (100, 64)
    # The legacy default is 'diag', and covars_ has one row per component.
    assert GMM().covariance_type == "diag"
    assert namespace["gmm2"].covars_.shape == (2, 2, 2)
    assert len(namespace["aics"]) == 16 and np.all(np.isfinite(namespace["aics"]))


def test_legacy_api_details():
    from gaussmix import GMM, GaussianMixture

    X = np.random.RandomState(0).randn(300, 2)
    gmm = GMM(3, random_state=0).fit(X)
    assert gmm.covars_.shape == (3, 2)  # diag
    assert GMM(3, covariance_type="spherical", random_state=0).fit(X).covars_.shape == (3, 2)
    logprob, resp = gmm.score_samples(X)
    assert logprob.shape == (300,) and resp.shape == (300, 3)
    np.testing.assert_allclose(gmm.score(X), logprob)
    reference = GaussianMixture(3, covariance_type="diag", reg_covar=1e-3, random_state=0).fit(X)
    np.testing.assert_allclose(gmm.means_, reference.means_)
    sample = gmm.sample(7)
    assert sample.shape == (7, 2)
    np.testing.assert_array_equal(sample, gmm.sample(7))  # random_state defaults to the estimator's
    with pytest.raises(ValueError, match="params"):
        GMM(params="wm").fit(X)
    with pytest.raises(TypeError):
        gmm.sample(2.5)
