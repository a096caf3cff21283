"""The allocator tuning is explicit and harmless to call twice."""

import sys

from autograd_rnn.allocator import allocator_tuned, tune_allocator


def test_tune_allocator_is_idempotent():
    first = tune_allocator()
    assert tune_allocator() == first
    assert allocator_tuned() == first
    if sys.platform.startswith("linux"):
        assert first
