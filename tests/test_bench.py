"""The bench's measuring pieces on tiny sizes: what they count and return (never how fast)."""

import numpy as np
import pytest

from autograd_rnn import threads
from autograd_rnn.bench import Config, bench_sampling, product_share

TINY = Config("tiny", 11, 4, 6, 3, 5, "adam", 1e-3)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("fused", [True, False])
def test_the_share_of_a_step_counts_every_product_of_the_step(cell, fused):
    before = threads.POLICY.fixed
    r = product_share(TINY, cell, fused, steps=1)
    assert threads.POLICY.record is None and threads.POLICY.fixed == before
    # T recurrent products forward and T backward; the input and output projections forward (2) and
    # backward (dx and dW each: 4); the recurrent weights' gradient (1)
    assert r["count"] >= 2 * TINY.seq_len + 7
    assert r["step"] > 0 and r["products"] > 0 and r["products 1 thread"] > 0


def test_sampling_is_timed_for_ours_alone_without_torch():
    r = bench_sampling(TINY, "gru", 7, with_torch=False, rounds=2)
    assert set(r) == {"ours"} and np.isfinite(r["ours"]) and r["ours"] > 0
