"""The bench's measuring pieces on tiny sizes: what they count and return (never how fast)."""

import numpy as np
import pytest

from autograd_rnn import bench, threads
from autograd_rnn.bench import Config, bench_sampling, product_share
from autograd_rnn.train import TrainConfig
from autograd_rnn.train.loop import Run

TINY = Config("tiny", 11, 4, 6, 3, 5, "adam", 1e-3)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("fused", [True, False])
def test_the_share_of_a_step_counts_every_product_of_the_step(cell, fused):
    before = threads.setting()
    r = product_share(TINY, cell, fused, steps=1)
    assert threads.POLICY.record is None and threads.setting() == before
    # T recurrent products forward and T backward; the input and output projections forward (2) and
    # backward (dx and dW each: 4); the recurrent weights' gradient (1)
    assert r["count"] >= 2 * TINY.seq_len + 7
    assert r["step"] > 0 and r["products"] > 0 and r["products 1 thread"] > 0


def test_sampling_is_timed_for_ours_alone_without_torch():
    r = bench_sampling(TINY, "gru", 7, with_torch=False, rounds=2)
    assert set(r) == {"ours"} and np.isfinite(r["ours"]) and r["ours"] > 0


def test_the_threads_comparison_times_every_setting_beside_every_neighbour_and_compares_the_weights(
        corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "NEIGHBOURS", {"none": [], "one busy loop": [["-c", "while True: pass"]]})
    monkeypatch.setattr(bench, "default_job", lambda tmp: Run(TrainConfig(
        corpus=corpus, level="word", hidden=40, embed=8, seq_len=6, batch=4, out=tmp, progress=False, plot=False)))
    monkeypatch.setattr(bench.time, "sleep", lambda s: None)
    before = threads.setting()
    lines = bench.compare_threads(quick=True, repeats=2)
    assert threads.setting() == before
    rows = {line.split("  ")[0]: line for line in lines}
    assert "none" in rows and "one busy loop" in rows
    settings = ["auto", "1"] + ([str(threads.cores())] if threads.cores() > 1 else [])
    assert all(f"{s} thr" in lines[1] for s in settings)
    for kind in ("none", "one busy loop"):
        ratio = float(rows[kind].split()[-1])
        assert ratio > 0
    assert lines[-1].endswith("the same in every block (every setting, every neighbour)")
