"""Random generators and weight initialisation, shared by the built-in nodes and by your own cells.

Every function takes ``rng``: None (fresh entropy), an int seed, or a ``numpy.random.Generator``
(used as is, so one Generator threaded through a model's constructors makes it reproducible).
"""

from __future__ import annotations

import numpy as np


def as_rng(rng=None) -> np.random.Generator:
    """A numpy Generator from None, a seed (int or sequence of ints), or a Generator."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
