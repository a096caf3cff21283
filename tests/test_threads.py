"""The BLAS thread policy's decisions (not timings): by the product's size, the core count and whether the
machine is busy (measured from the time the process waits for a CPU)."""

import subprocess
import sys

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn import threads
from autograd_rnn.errors import ConfigError
from autograd_rnn.nodes import CELLS


def test_small_products_get_one_thread_large_ones_every_core():
    assert threads.decide(threads.SMALL_FLOPS - 1, 16) == 1
    assert threads.decide(threads.SMALL_FLOPS, 16) == 16
    assert threads.decide(1e12, 2) == 2 and threads.decide(1e12, 1) == 1
    for flops, cores in [(2 * 32 * 64 * 192, 2), (2 * 1 * 100 * 400, 16)]:  # a GRU step at batch 32, the tutorial's
        assert threads.decide(flops, cores) == 1
    assert threads.decide(2 * 64 * 512 * 2048, 16) == 16  # a C3 LSTM step


def test_a_busy_machine_gets_one_thread_for_every_product():
    assert threads.decide(1e12, 16, busy=True) == 1 and threads.decide(1e12, 16, busy=False) == 16
    assert threads.decide(1e12, 16, fixed=4, busy=True) == 4  # a fixed count is kept, busy or not


class FakeClock:
    def __init__(self):
        self.now, self.waited, self.reads = 0.0, 0.0, 0

    def clock(self):
        return self.now

    def read(self):
        self.reads += 1
        return self.waited


def test_the_load_watch_calls_busy_what_waits_for_a_cpu_and_reads_once_per_interval():
    f = FakeClock()
    watch = threads.LoadWatch(share=0.05, interval=0.2, clock=f.clock, read=f.read)
    assert not watch() and f.reads == 1  # nothing measured yet: not busy
    f.now, f.waited = 0.1, 0.09  # within the interval: not read again
    assert not watch() and f.reads == 1
    f.now = 0.2  # 0.09 s waited of 0.2 s: busy
    assert watch() and f.reads == 2
    f.now, f.waited = 0.4, 0.095  # 5 ms of 200 ms (2.5%): quiet again
    assert not watch()
    f.now, f.waited = 0.6, 0.105  # exactly the share (10 ms of 200 ms) is not more than it
    assert not watch()
    f.now, f.waited = 1.0, 0.2  # 95 ms of 400 ms
    assert watch()


def test_without_a_load_measure_only_the_size_decides():
    f = FakeClock()
    watch = threads.LoadWatch(clock=f.clock, read=lambda: None)
    f.now = 10.0
    assert not watch()
    policy = threads.Policy()
    policy.busy, policy.cores, policy.fixed = watch, 8, None
    assert policy.threads_for(1e12) == 8 and policy.threads_for(10) == 1


def test_the_policy_uses_one_thread_for_large_products_while_busy():
    f = FakeClock()
    policy = threads.Policy()
    policy.cores, policy.fixed = 8, None
    policy.busy = threads.LoadWatch(clock=f.clock, read=f.read)
    assert policy.threads_for(1e12) == 8
    f.now, f.waited = 1.0, 0.5
    assert policy.threads_for(1e12) == 1 and policy.threads_for(10) == 1
    f.now, f.waited = 2.0, 0.5
    assert policy.threads_for(1e12) == 8


def test_the_load_is_read_from_this_process_where_linux_says():
    waited = threads.read_wait()
    if waited is None:
        pytest.skip("no /proc/self/schedstat here")
    assert 0.0 <= waited < 1e6


def test_a_fixed_count_overrides_the_policy():
    assert threads.decide(10, 16, fixed=4) == 4 and threads.decide(1e12, 16, fixed=1) == 1
    assert threads.parse("auto") is None and threads.parse(None) is None and threads.parse("3") == 3
    for bad in ("0", "-1", "two", "1.5", True, 0):
        with pytest.raises(ConfigError, match="threads="):
            threads.parse(bad)


def test_the_policy_sets_the_blas_count_only_when_it_changes():
    policy = threads.Policy()
    if policy.blas is None:
        pytest.skip("threadpoolctl cannot control this BLAS")
    calls = []

    class Lib:
        def set_num_threads(self, n):
            calls.append(n)

    policy.blas, policy.cores, policy.fixed, policy.busy = [Lib()], 8, None, lambda: False
    for shape in [(1, 10, 10), (2, 10, 10), (512, 512, 512), (512, 512, 512), (1, 1, 1)]:
        policy.use(*shape)
    assert calls == [1, 8, 1]
    policy.record = []
    policy.use(3, 4, 5)
    assert policy.record == [(3, 4, 5)]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("fused", [True, False])
def test_every_product_of_a_sequence_asks_the_policy(cell, fused):
    """The recorded products are the products made: a T-step forward and its Full backward make T
    recurrent products each way (fused loops ask once for the run of T; the bench's table of where
    a step's time goes is built from this record)."""
    T, B, n_in, H = 5, 3, 4, 6
    layer = CELLS[cell](n_in, H, dtype=np.float64)
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    x = ar.Tensor(np.random.default_rng(0).normal(size=(T, B, n_in)))
    seq = ar.Sequence(layer, fused=fused)
    threads.POLICY.record = []
    try:
        hs = seq(x)[0]
        forward = list(threads.POLICY.record)
        hs.sum().backward()
        backward = threads.POLICY.record[len(forward):]
    finally:
        threads.POLICY.record = None
    assert forward.count((B, H, gates * H)) == T
    assert backward.count((B, gates * H, H)) == T


def test_the_environment_variable_and_the_command_line_fix_it():
    code = "import autograd_rnn.threads as t; print(t.POLICY.fixed, t.describe())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"AUTOGRAD_RNN_THREADS": "1", "PATH": ""}).stdout
    assert out.startswith("1 ")
    r = subprocess.run([sys.executable, "-m", "autograd_rnn", "gradcheck", "--cases", "1", "--threads", "zero"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "threads='zero'" in r.stderr


def test_the_same_product_with_the_same_thread_count_is_the_same():
    """Same sizes, same thread count: a product is computed the same way every time."""
    before = threads.POLICY.fixed
    threads.set_threads(1)
    try:
        _same_every_time()
    finally:
        threads.set_threads(before)


def _same_every_time():
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(64, 128)), rng.normal(size=(256, 128)), rng.normal(size=256)
    first = ar.linear(ar.Tensor(x), ar.Tensor(w), ar.Tensor(b)).data
    for _ in range(3):
        np.testing.assert_array_equal(ar.linear(ar.Tensor(x), ar.Tensor(w), ar.Tensor(b)).data, first)
