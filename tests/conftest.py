import os

import pytest
from hypothesis import HealthCheck, settings

from .corpora import word_corpus

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=60,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=30,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def torch():
    """The PyTorch referee. Skips when torch is missing, except under CI=true, where it fails."""
    try:
        import torch as _torch
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but torch is not installed: the PyTorch referee tests must run in CI")
        pytest.skip("torch not installed (pip install torch==2.13.0 to run the PyTorch referee)")
    _torch.set_default_dtype(_torch.float64)
    return _torch


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A 300-line word corpus (a module that needs another defines its own ``corpus``)."""
    return word_corpus(tmp_path_factory.mktemp("corpus") / "small.txt")
