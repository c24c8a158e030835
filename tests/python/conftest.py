"""Shared fixtures for the estimator tests.

Data sets follow scikit-learn's ``sklearn/mixture/tests/test_gaussian_mixture.py``:
well-separated blobs, overlapping (non-separated) clusters, and random initial
parameters for every covariance type. Plain helper functions live in
``estimator_helpers.py`` so test modules can import them directly.
"""

import os
import sys

import numpy as np
import pytest

# Make ``estimator_helpers`` importable whatever pytest's import mode is.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from estimator_helpers import (  # noqa: E402
    COVARIANCE_TYPES,
    RandomData,
    is_standin,
    make_blobs_data,
    make_overlapping_data,
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "beyond_sklearn: gaussmix promises more than scikit-learn here (API: "
        "sample_weight, sample(random_state=...); float32 accuracy; clear errors where "
        "scikit-learn fails obscurely); skipped when gaussmix.GaussianMixture is "
        "scikit-learn's own class.",
    )


def pytest_collection_modifyitems(config, items):
    if not is_standin():
        return
    skip = pytest.mark.skip(reason="gaussmix.GaussianMixture is scikit-learn's stand-in")
    for item in items:
        if "beyond_sklearn" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=COVARIANCE_TYPES)
def covariance_type(request):
    return request.param


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request):
    return request.param


@pytest.fixture
def random_data():
    """scikit-learn's RandomData: 2 well-separated components in 2-D."""
    return RandomData(np.random.RandomState(0))


@pytest.fixture
def blobs():
    """Well-separated blobs (X, y): 4 isotropic clusters in 3-D."""
    return make_blobs_data()


@pytest.fixture
def overlapping():
    """Non-separated clusters (X, y): 3 components whose means lie within 1.5 std."""
    return make_overlapping_data()


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas():
    """Run NumPy/SciPy BLAS on one thread. The reference computations
    (scikit-learn, scipy) call BLAS on tiny matrices, where a threaded OpenBLAS
    on a busy machine costs milliseconds per call and dominates the suite's run
    time. gaussmix's own OpenMP threads are not affected (user_api="blas")."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
