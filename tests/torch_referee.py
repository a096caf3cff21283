"""Import torch for the PyTorch referee tests: skip the module when torch is missing, except
under CI=true, where a missing torch is an error (the referee must run in CI)."""

import os

import pytest


def load_torch():
    try:
        import torch
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise RuntimeError("CI=true but torch is not installed: the PyTorch referee tests must run in CI "
                               "(pip install torch==2.13.0)") from None
        pytest.skip("torch not installed (pip install torch==2.13.0 runs the PyTorch referee)", allow_module_level=True)
    torch.set_default_dtype(torch.float64)
    return torch
