"""The wheel's builds of the core (baseline, AVX2, AVX-512) are chosen at import and agree."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gaussmix
from gaussmix import _gmm

SUPPORTED = ["baseline"] + list(_gmm.build_info()["cpu_supports"])

FIT = """
import json, numpy as np, gaussmix
rng = np.random.RandomState(0)
X = np.vstack([rng.randn(3000, 5) + 6 * rng.randn(5) for _ in range(4)])
gm = gaussmix.GaussianMixture(4, random_state=1, tol=1e-8).fit(X)
print(json.dumps({"core": gaussmix.show_config()["core"], "means": gm.means_.tolist(),
                  "covariances": gm.covariances_.tolist(), "lower_bound": gm.lower_bound_}))
"""


# The start of a sampled k-means (max_iter=0): every row assigned to the sample's centers by the
# register-blocked product kernel (D >= 8, no bounds), K not a multiple of its group of centers.
SAMPLED_START = """
import json, numpy as np, gaussmix
rng = np.random.RandomState(0)
X = np.vstack([rng.randn(2500, 9) + 8 * rng.randn(9) for _ in range(7)])
out = {"core": gaussmix.show_config()["core"]}
for dtype in ("float64", "float32"):
    gm = gaussmix.GaussianMixture(7, random_state=2, kmeans_sample_size=3000, max_iter=0).fit(X.astype(dtype))
    out[dtype] = np.sort(gm.means_.astype(float), axis=0).tolist()
print(json.dumps(out))
"""


def fit_with(isa, script=FIT):
    env = dict(os.environ, GAUSSMIX_ISA=isa, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_show_config_names_the_core_in_use(capsys):
    info = gaussmix.show_config()
    assert info["core"] in SUPPORTED
    assert "core:" in capsys.readouterr().out
    # The best supported build is the default.
    assert info["core"] == SUPPORTED[-1]


@pytest.mark.parametrize("isa", SUPPORTED)
def test_every_supported_core_gives_the_same_fit(isa):
    reference = fit_with("baseline")
    result = fit_with(isa)
    assert result["core"] == isa
    np.testing.assert_allclose(result["means"], reference["means"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result["covariances"], reference["covariances"], rtol=1e-9, atol=1e-12)
    assert result["lower_bound"] == pytest.approx(reference["lower_bound"], rel=1e-12)


@pytest.mark.parametrize("isa", SUPPORTED)
def test_every_supported_core_gives_the_same_sampled_start(isa):
    reference = fit_with("baseline", SAMPLED_START)
    result = fit_with(isa, SAMPLED_START)
    assert result["core"] == isa
    np.testing.assert_allclose(result["float64"], reference["float64"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result["float32"], reference["float32"], rtol=1e-5, atol=1e-5)


def test_unknown_or_unsupported_core_is_a_clear_import_error():
    env = dict(os.environ, GAUSSMIX_ISA="sse9")
    out = subprocess.run([sys.executable, "-c", "import gaussmix"], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "GAUSSMIX_ISA" in out.stderr
