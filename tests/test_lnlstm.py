"""The layer-normalised LSTM: its step against the equations written out in numpy, its fused kernel
against the composed step (every truncation policy, to float64 round-off) and finite differences,
a planted backward bug caught, and the faces a built-in cell gets (the language model, sampling,
checkpoints, the command line)."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_rnn as ar
import autograd_rnn.sequence.fused.lnlstm as fused_lnlstm
from autograd_rnn import Full, LookBack, Sequence, Truncated
from autograd_rnn.errors import ConfigError, GateInputError
from autograd_rnn.models import FrozenModel, LanguageModel
from autograd_rnn.nodes import CELLS, LayerNormLSTM
from autograd_rnn.sequence.fused import FUSED, LNLSTMKernel

from .test_sequence import assert_grads_close, policies, reference_grads, sequence_grads


def random_cell(In, H, seed, dtype=np.float64, eps=1e-5):
    """A cell whose every parameter is drawn at random (gains away from 1, biases away from 0), so
    a gain or bias the backward forgets shows."""
    rng = np.random.default_rng(seed)
    cell = LayerNormLSTM(In, H, eps=eps, dtype=dtype, rng=rng)
    for p in cell.parameters().values():
        p.data[...] = rng.normal(0.2, 0.8, p.shape)
    return cell


def case(T, B, In, H, seed, eps=1e-5):
    rng = np.random.default_rng(seed + 1)
    return (random_cell(In, H, seed, eps=eps), rng.normal(size=(T, B, In)),
            tuple(rng.normal(size=(B, H)) for _ in range(2)), rng.normal(size=(T, B, H)),
            tuple(rng.normal(size=(B, H)) for _ in range(2)))


def by_hand(cell, x, h, c):
    """The docstring's equations in numpy."""
    p = {k: v.data for k, v in cell.parameters().items()}

    def N(a):
        return (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + cell.eps)

    def sig(v):
        return 1 / (1 + np.exp(-v))

    z = p["gain_ih"] * N(x @ p["weight_ih"].T) + p["gain_hh"] * N(h @ p["weight_hh"].T) + p["bias"]
    zi, zf, zg, zo = np.split(z, 4, axis=-1)
    c_new = sig(zf) * c + sig(zi) * np.tanh(zg)
    return sig(zo) * np.tanh(p["gain_c"] * N(c_new) + p["bias_c"]), c_new


def test_step_and_both_paths_compute_the_equations():
    cell, xs, (h0, c0), *_ = case(5, 3, 4, 6, seed=0)
    h, c = cell.step(ar.Tensor(xs[0]), (ar.Tensor(h0), ar.Tensor(c0)))
    want_h, want_c = by_hand(cell, xs[0], h0, c0)
    np.testing.assert_allclose(h.data, want_h, rtol=1e-12)
    np.testing.assert_allclose(c.data, want_c, rtol=1e-12)
    for fused in (True, False):
        hs, (h_T, c_T) = Sequence(cell, fused=fused)(ar.Tensor(xs), (ar.Tensor(h0), ar.Tensor(c0)))
        h, c = h0, c0
        for t in range(5):
            h, c = by_hand(cell, xs[t], h, c)
            np.testing.assert_allclose(hs.data[t], h, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(c_T.data, c, rtol=1e-11, atol=1e-13)


def test_it_is_a_built_in_cell_run_by_its_own_kernel():
    assert CELLS["lnlstm"] is LayerNormLSTM and ar.nodes.cell_class("LNLSTM") is LayerNormLSTM
    seq = Sequence(LayerNormLSTM(3, 4, rng=0))
    assert seq.kernel_path() is FUSED[LayerNormLSTM] and FUSED[LayerNormLSTM].kernel is LNLSTMKernel
    assert seq.project(ar.Tensor(np.zeros((5, 3)))).shape == (5, 16)  # the input part, row by row
    assert Sequence(LayerNormLSTM(3, 4, rng=0), fused=False).kernel_path() is None
    assert LayerNormLSTM(3, 4, eps=1e-3).config() == {"eps": 1e-3}
    with pytest.raises(ConfigError, match="eps=0"):
        LayerNormLSTM(3, 4, eps=0)
    with pytest.raises(GateInputError, match="the input part has shape \\(2, 1, 12\\); expected \\(2, 1, 16\\)"):
        seq.forward_projected(ar.Tensor(np.zeros((2, 1, 12))))


sizes = st.tuples(st.integers(1, 6), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4))


@given(size=sizes, policy=policies, seed=st.integers(0, 2**16))
def test_fused_and_composed_agree_to_round_off(size, policy, seed):
    cell, xs, state0, g_hs, g_final = case(*size, seed)
    hs_f, fused = sequence_grads(cell, xs, state0, g_hs, g_final, policy, fused=True)
    hs_c, composed = sequence_grads(cell, xs, state0, g_hs, g_final, policy, fused=False)
    np.testing.assert_allclose(hs_f, hs_c, rtol=1e-12, atol=1e-14)
    assert_grads_close(fused, composed, rtol=1e-11)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@given(size=sizes, policy=policies, seed=st.integers(0, 2**16))
def test_truncation_equals_the_explicit_detach_reference(fused, size, policy, seed):
    cell, xs, state0, g_hs, g_final = case(*size, seed)
    _, ours = sequence_grads(cell, xs, state0, g_hs, g_final, policy, fused)
    assert_grads_close(ours, reference_grads(cell, xs, state0, g_hs, g_final, policy))


@settings(max_examples=12)
@given(size=sizes, policy=st.sampled_from([Full(), LookBack(0), LookBack(2), Truncated(2), Truncated(2, 3)]),
       seed=st.integers(0, 2**16))
def test_fused_gradients_pass_finite_differences(size, policy, seed):
    """With eps = 0.1: a layer norm's curvature grows as 1 / (var + eps) of its row, and a row of
    x W^T with one or two inputs can have almost no variance (with one input, N(x w) is sign(x) N(w)
    but for |x| below about sqrt(eps)), where central differences with the checker's step are off
    by more than 1e-6 (smaller steps agree). The kernel's arithmetic is the same for any eps."""
    cell, xs, state0, *_ = case(*size, seed, eps=0.1)
    report = ar.gradcheck_sequence(Sequence(cell, truncation=policy), xs, state0, seed=seed)
    assert report.passed and report.max_rel_err < 1e-6


def wrong_normalize_back(n, r, dn):
    """The layer norm's backward without its ``n * mean(dn * n)`` term (forgetting that the variance
    depends on the input)."""
    dn -= dn.mean(axis=-1, keepdims=True)
    dn *= r
    return dn


def test_a_planted_backward_bug_is_caught(monkeypatch):
    monkeypatch.setattr(fused_lnlstm, "normalize_back", wrong_normalize_back)
    cell, xs, state0, g_hs, g_final = case(3, 1, 2, 2, seed=1)
    _, fused = sequence_grads(cell, xs, state0, g_hs, g_final, Full(), fused=True)
    _, composed = sequence_grads(cell, xs, state0, g_hs, g_final, Full(), fused=False)
    with pytest.raises(AssertionError):
        assert_grads_close(fused, composed, rtol=1e-6)
    report = ar.gradcheck_sequence(Sequence(cell), xs, state0, raise_exception=False)
    assert not report.passed and sorted(report.bad_steps) == [0, 1, 2]  # wrong at every step, as it is


def test_float32_follows_float64():
    cell64, xs, state0, g_hs, g_final = case(8, 4, 5, 6, seed=3)
    cell32 = LayerNormLSTM(5, 6, dtype=np.float32)
    cell32.load_state_dict(cell64.state_dict())
    hs64, _ = Sequence(cell64)(ar.Tensor(xs))
    hs32, _ = Sequence(cell32)(ar.Tensor(xs.astype(np.float32)))
    assert hs32.dtype == np.float32
    np.testing.assert_allclose(hs32.data, hs64.data, rtol=1e-4, atol=1e-5)


def test_a_parameter_of_the_wrong_shape_is_named():
    cell = LayerNormLSTM(3, 4, rng=0)
    cell.gain_c = ar.Parameter(np.ones(5))
    with pytest.raises(GateInputError, match=r"parameter 'gain_c' has shape \(5,\); expected \(4,\)"):
        Sequence(cell)(ar.Tensor(np.zeros((2, 1, 3))))


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("one_hot", [False, True], ids=["embedding", "one_hot"])
def test_language_model_and_sampling(fused, one_hot):
    """FrozenModel (sampling) computes the eval forward; a fused first layer looks tokens up in the
    table of its input part (gain * N(E W_ih^T) + bias, made once), as the LSTM's does."""
    model = LanguageModel(7, cell="lnlstm", embed_size=3, hidden_size=4, layers=2, dropout=0.4, eps=1e-4,
                          one_hot=one_hot, dtype=np.float64, rng=0, fused=fused)
    assert model.cell_options() == {"eps": 1e-4}
    x = np.array([[1, 4], [6, 6], [0, 2], [3, 5], [5, 0]])
    frozen = FrozenModel(model)
    assert frozen.projected == fused
    want, _ = model.eval()(x)
    np.testing.assert_allclose(frozen(x)[0], want.data, rtol=1e-12, atol=1e-14)
    steps, state = [], None
    for t in range(len(x)):
        logits, state = frozen(x[t : t + 1], state)
        steps.append(logits[0])
    np.testing.assert_allclose(np.array(steps), want.data, rtol=1e-12, atol=1e-14)


def test_command_line_trains_samples_and_evaluates(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a small corpus of repeated words, and some more words to learn from.\n" * 60)
    out = tmp_path / "run"

    def run(*args):
        return subprocess.run([sys.executable, "-m", "autograd_rnn", *args], capture_output=True, text=True)

    r = run("train", "--corpus", str(corpus), "--cell", "lnlstm", "--hidden", "16", "--embed", "16", "--layers", "2",
            "--batch", "4", "--seq-len", "16", "--steps", "6", "--eval-every", "3", "--out", str(out),
            "--no-progress", "--no-plot", "--dropout-input", "0.1", "--dropout", "0.1", "--dropout-output", "0.2",
            "--locked-dropout", "--dropout-embed", "0.1", "--weight-drop", "0.2", "--tie-weights",
            "--schedule", "warmcos:2,0.1", "--cell-option", "eps=0.001")
    assert r.returncode == 0, r.stderr
    ck = ar.load_checkpoint(out / "last.npz")
    assert ck.config["model"]["cell"] == "lnlstm" and ck.config["model"]["cell_options"] == {"eps": 0.001}
    assert ck.config["model"]["tie_weights"] and ck.config["model"]["locked_dropout"]
    assert run("sample", "--checkpoint", str(out / "last.npz"), "--length", "20").returncode == 0
    ev = run("evaluate", "--checkpoint", str(out / "last.npz"), "--corpus", str(corpus))
    assert ev.returncode == 0 and "nats" in ev.stdout + ev.stderr
    bad = run("train", "--corpus", str(corpus), "--tie-weights", "--hidden", "16", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "--embed must equal --hidden" in bad.stderr and "Traceback" not in bad.stderr
    bad = run("train", "--corpus", str(corpus), "--schedule", "warmcos:ten,0.1", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "warmcos:WARMUP,FLOOR" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
