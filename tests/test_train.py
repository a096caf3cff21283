"""Training: exact resume, bit-for-bit seeds, NaN guard, Ctrl-C, checkpoints, the language model."""

import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn.checkpoint import CheckpointError, load_checkpoint
from autograd_rnn.errors import GateInputError
from autograd_rnn.models import FrozenModel, LanguageModel, sample_ids, sample_text
from autograd_rnn.nodes import GRULayer, LSTMLayer
from autograd_rnn.train import TrainConfig, TrainingDiverged, model_from_checkpoint, train

from .corpora import word_corpus
from .test_engine import Residual
from .test_reliability import blow_up


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return word_corpus(tmp_path_factory.mktemp("corpus") / "small.txt", lines=400)


def small(corpus, out, **kw):
    base = dict(corpus=corpus, hidden=12, embed=8, batch=4, seq_len=16, eval_every=4, eval_tokens=500,
                sample_length=10, out=str(out), progress=False, plot=False)
    base.update(kw)
    return TrainConfig(**base)


def weights(out):
    return load_checkpoint(os.path.join(out, "last.npz")).model


@pytest.mark.parametrize("variant", [
    dict(cell="lstm", batching="stream", dropout=0.3, layers=2, schedule="cosine"),
    dict(cell="gru", batching="lines", level="word", optimizer="adamw", schedule="halve"),
    dict(cell="rnn", batching="stream", optimizer="momentum", truncation="lookback:3", schedule="step:3,0.5"),
], ids=["lstm-stream-dropout", "gru-lines-word", "rnn-lookback"])
def test_interrupted_and_resumed_run_ends_with_identical_weights(corpus, tmp_path, variant):
    full = train(small(corpus, tmp_path / "full", steps=11, **variant))
    assert full.stopped == "finished"
    part = train(small(corpus, tmp_path / "part", steps=11, stop_after=6, **variant))
    assert part.stopped == "interrupted" and part.steps == 6
    resumed = train(small(corpus, tmp_path / "part", steps=11, resume=True, **variant))
    assert resumed.steps == 11
    a, b = weights(tmp_path / "full"), weights(tmp_path / "part")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    fa = load_checkpoint(tmp_path / "full" / "last.npz")
    fb = load_checkpoint(tmp_path / "part" / "last.npz")
    for k in fa.optimizer["arrays"]:
        np.testing.assert_array_equal(fa.optimizer["arrays"][k], fb.optimizer["arrays"][k])


def test_same_seed_same_weights_bit_for_bit(corpus, tmp_path):
    train(small(corpus, tmp_path / "a", steps=6, dropout=0.2, layers=2, seed=3))
    train(small(corpus, tmp_path / "b", steps=6, dropout=0.2, layers=2, seed=3))
    train(small(corpus, tmp_path / "c", steps=6, dropout=0.2, layers=2, seed=4))
    a, b, c = weights(tmp_path / "a"), weights(tmp_path / "b"), weights(tmp_path / "c")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_training_learns_and_writes_everything(corpus, tmp_path):
    out = tmp_path / "run"
    result = train(small(corpus, out, steps=60, eval_every=20, hidden=32, plot=True))
    vals = [h["val"] for h in result.history]
    assert vals[-1] < vals[0] and vals[-1] < result.unigram_nats
    for name in ("last.npz", "best.npz", "loss_curve.png", "history.json"):
        assert (out / name).exists(), name
    ck = load_checkpoint(out / "best.npz")
    assert ck.progress["best_val"] == min(vals)
    assert ck.config["model"]["cell"] == "lstm" and ck.vocab["level"] == "char"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_guard_stops_naming_the_step_and_keeps_the_last_good_checkpoint(corpus, tmp_path, monkeypatch):
    out = tmp_path / "nan"
    train(small(corpus, out, steps=4, eval_every=1000, optimizer="sgd", clip=None))
    good = weights(out)
    blow_up(monkeypatch, lr=1e38)
    with pytest.raises(TrainingDiverged, match=r"step \d+: (non-finite logits|the loss is|the gradient norm is)") as e:
        train(small(corpus, out, steps=400, resume=True))
    assert "last good checkpoint" in str(e.value)
    after = weights(out)
    assert all(np.array_equal(good[k], after[k]) for k in good)


def test_resume_refuses_a_different_corpus(corpus, tmp_path):
    out = tmp_path / "r"
    train(small(corpus, out, steps=2, eval_every=2))
    other = tmp_path / "other.txt"
    other.write_text("completely different text, long enough for a batch or two. " * 20)
    with pytest.raises(ValueError, match="differs from the one the checkpoint"):
        train(small(str(other), out, steps=4, resume=True))


def test_ctrl_c_writes_a_checkpoint_and_resume_continues(corpus, tmp_path):
    out = tmp_path / "sigint"
    cmd = [sys.executable, "-m", "autograd_rnn", "train", "--corpus", corpus, "--hidden", "16", "--batch", "4",
           "--seq-len", "8", "--steps", "100000", "--eval-every", "100000", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    head = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the training loop runs
        line = proc.stderr.readline()
        head.append(line)
        if line.startswith("model:") or not line:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    stdout, rest = proc.communicate(timeout=60)
    stderr = "".join(head) + rest
    assert proc.returncode == 130, stderr
    assert "stopped at step" in stderr and "--resume" in stderr
    ck = load_checkpoint(out / "last.npz")
    assert ck.progress["step"] > 0
    resumed = train(small(corpus, out, steps=ck.progress["step"] + 2, resume=True))
    assert resumed.steps == ck.progress["step"] + 2


def test_corrupted_checkpoint_gives_a_clear_error(corpus, tmp_path):
    out = tmp_path / "c"
    train(small(corpus, out, steps=2, eval_every=2))
    path = out / "last.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)
    result = subprocess.run([sys.executable, "-m", "autograd_rnn", "sample", "--checkpoint", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "error:" in result.stderr and "last.npz" in result.stderr


def test_language_model_gradcheck_float64():
    model = LanguageModel(7, cell="gru", embed_size=3, hidden_size=4, layers=2, dtype=np.float64, rng=0)
    x = np.array([[1, 2], [3, 4], [5, 6]])
    y = np.array([[2, 3], [4, 5], [6, 0]])
    names = list(model.parameters())

    def loss(*params):
        with model.substituted(dict(zip(names, params))):
            return model.loss(x, y)[0]

    assert ar.gradcheck(loss, [p.data for p in model.parameters().values()]).passed


def test_one_hot_option_equals_embedding_of_the_input_weights():
    a = LanguageModel(6, cell="rnn", hidden_size=5, one_hot=True, dtype=np.float64, rng=0)
    b = LanguageModel(6, cell="rnn", embed_size=6, hidden_size=5, dtype=np.float64, rng=0)
    b.load_state_dict({**a.state_dict(), "embedding.weight": np.eye(6)})
    x = np.array([[0, 5], [3, 2]])
    np.testing.assert_allclose(a(x)[0].data, b(x)[0].data, rtol=1e-13)


def test_dropout_is_off_in_eval():
    model = LanguageModel(5, cell="lstm", embed_size=3, hidden_size=4, layers=2, dropout=0.5, dtype=np.float64, rng=0)
    x = np.array([[1], [2], [3]])
    model.eval()
    a, b = model(x)[0].data, model(x)[0].data
    np.testing.assert_array_equal(a, b)
    model.train()
    assert not np.array_equal(model(x)[0].data, model(x)[0].data)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", Residual])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("one_hot", [False, True], ids=["embedding", "one_hot"])
def test_frozen_model_is_the_eval_forward_on_arrays(cell, fused, one_hot):
    """FrozenModel (what sampling runs) computes model.eval()'s forward: over a whole batch of
    sequences, one token at a time with its state carried, and from a given state; dropout off."""
    model = LanguageModel(7, cell=cell, embed_size=3, hidden_size=4, layers=2, dropout=0.4, one_hot=one_hot,
                          dtype=np.float64, rng=0, fused=fused)
    x = np.array([[1, 4], [6, 6], [0, 2], [3, 5], [5, 0]])
    frozen = FrozenModel(model)
    assert frozen.projected == (fused and cell != Residual)
    model.eval()
    want, want_state = model(x)
    got, state = frozen(x)
    np.testing.assert_allclose(got, want.data, rtol=1e-12, atol=1e-14)
    for s, w in zip(state, want_state):
        for a, b in zip(s, w if isinstance(w, tuple) else (w,)):
            np.testing.assert_allclose(a, b.data, rtol=1e-12, atol=1e-14)
    steps, state = [], None
    for t in range(len(x)):
        logits, state = frozen(x[t : t + 1], state)
        steps.append(logits[0])
    np.testing.assert_allclose(np.array(steps), want.data, rtol=1e-12, atol=1e-14)
    mid = frozen(x[:2])[1]
    later, _ = model(x[2:], [tuple(ar.Tensor(p) for p in s) if len(s) > 1 else ar.Tensor(s[0]) for s in mid])
    np.testing.assert_allclose(frozen(x[2:], mid)[0], later.data, rtol=1e-12, atol=1e-14)


def test_frozen_model_refuses_bad_input_by_name():
    model = LanguageModel(7, cell="lstm", embed_size=3, hidden_size=4, layers=2, dtype=np.float64, rng=0)
    frozen = FrozenModel(model)
    with pytest.raises(GateInputError, match=r"tokens.*holds 9.*\[0, 7\)"):
        frozen(np.array([[9]]))
    with pytest.raises(GateInputError, match=r"tokens have shape \(3,\)"):
        frozen(np.array([1, 2, 3]))
    with pytest.raises(GateInputError, match="one per layer"):
        frozen(np.array([[1]]), [None])
    _, state = frozen(np.array([[1, 2]]))
    with pytest.raises(GateInputError, match=r"state0 is not 2 float64 array\(s\) of shape \(batch=1, hidden=4\)"):
        frozen(np.array([[1]]), state)  # a state of batch 2 for a batch of 1
    layer = model.rnn.l0.frozen()
    with pytest.raises(GateInputError, match=r"xs has shape \(2, 1, 5\).*expected \(T, batch, 3\)"):
        layer(np.zeros((2, 1, 5)))
    with pytest.raises(GateInputError, match="float64"):
        layer(np.zeros((2, 1, 3), np.float32))
    composed = ar.Sequence(LSTMLayer(3, 4, rng=0), fused=False).frozen()
    with pytest.raises(GateInputError, match="projected=True needs the fused kernel"):
        composed(np.zeros((2, 1, 16)), projected=True)


def test_frozen_sequence_is_the_sequence_on_arrays():
    seq = ar.Sequence(GRULayer(3, 4, rng=0))
    xs = np.random.default_rng(0).standard_normal((6, 2, 3))
    h0 = np.random.default_rng(1).standard_normal((2, 4))
    want, final = seq(xs, ar.Tensor(h0))
    got, (got_final,) = seq.frozen()(xs, (h0,))
    np.testing.assert_allclose(got, want.data, rtol=1e-12)
    np.testing.assert_allclose(got_final, final.data, rtol=1e-12)
    np.testing.assert_array_equal(seq.frozen()(xs, h0)[0], got)  # a one-part state may come alone


def test_sampling_seed_temperature_top_k(corpus, tmp_path):
    out = tmp_path / "s"
    train(small(corpus, out, steps=20, eval_every=20, hidden=24))
    model, vocab = model_from_checkpoint(load_checkpoint(out / "last.npz"))
    a = sample_text(model, vocab, prime="the ", length=40, seed=1)
    b = sample_text(model, vocab, prime="the ", length=40, seed=1)
    assert a == b and a.startswith("the ")
    greedy1 = sample_ids(model, vocab.encode("the"), 20, temperature=1e-4, rng=0)
    greedy2 = sample_ids(model, vocab.encode("the"), 20, temperature=1e-4, rng=5)
    np.testing.assert_array_equal(greedy1, greedy2)
    top1 = sample_ids(model, vocab.encode("the"), 20, top_k=1, rng=3)
    np.testing.assert_array_equal(top1, greedy1)
    with pytest.raises(ValueError, match="temperature"):
        sample_ids(model, vocab.encode("a"), 3, temperature=0)


def test_word_level_sampling_unknown_words(corpus, tmp_path):
    out = tmp_path / "w"
    train(small(corpus, out, steps=4, eval_every=4, level="word", batching="lines", max_vocab=10))
    model, vocab = model_from_checkpoint(load_checkpoint(out / "last.npz"))
    text = sample_text(model, vocab, prime="the zebra", length=5, seed=0)
    assert text.startswith("the zebra")
    assert vocab.unk_id is not None


def test_bits_per_token_and_perplexity_are_consistent():
    from autograd_rnn.train import nats_report

    report = nats_report(math.log(8))
    assert "3.0000 bits" in report and "perplexity 8" in report


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sample_ids_draws_from_the_forward_of_the_prefix(cell, fused):
    """Each token is drawn from softmax of the eval forward's last logits over the whole prefix
    (dropout off, although the model is in training mode, which sampling leaves as it is)."""
    model = LanguageModel(7, cell=cell, embed_size=3, hidden_size=4, layers=2, dropout=0.5, dtype=np.float64,
                          rng=1, fused=fused)
    ids = sample_ids(model, np.array([2, 5]), 12, rng=np.random.default_rng(5))
    assert model.training
    model.eval()
    rng, prefix, expected = np.random.default_rng(5), [2, 5], []
    with ar.no_grad():
        for _ in range(12):
            logits, _ = model(np.array(prefix)[:, None])
            z = logits.data[-1, 0]
            p = np.exp(z - z.max())
            cdf = np.cumsum(p)
            nxt = int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), z.size - 1))
            expected.append(nxt)
            prefix.append(nxt)
    assert ids.tolist() == expected


def test_composed_replay_engages_for_static_cells_only():
    from autograd_rnn.nodes import LSTMLayer, RNNLayer

    def replayed(cell, T=5):
        hs, _ = ar.Sequence(cell, fused=False)(ar.Tensor(np.ones((T, 1, 2)), requires_grad=True))
        return hs._op.gate.saved.kernel.saved.replayed

    assert replayed(LSTMLayer(2, 3, rng=0))
    assert not replayed(LSTMLayer(2, 3, rng=0), T=2)

    class Dynamic(RNNLayer):
        def step(self, x, h):
            return super().step(x, h)

    assert not replayed(Dynamic(2, 3, rng=0))

    masks = np.random.default_rng(0)

    class NoisyStatic(RNNLayer):
        static_step = True  # wrongly declared: a new dropout mask every step

        def step(self, x, h):
            return ar.dropout(super().step(x, h), 0.5, rng=masks)

    assert not replayed(NoisyStatic(2, 32, rng=0))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_training_step_stays_float32(cell):
    from autograd_rnn.optim import Adam

    model = LanguageModel(11, cell=cell, embed_size=4, hidden_size=6, layers=2, dtype=np.float32, rng=0)
    opt = Adam(model.parameters())
    x = np.array([[1, 2, 3], [4, 5, 6]])
    mask = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # a float64 mask must not upcast anything
    loss, state = model.loss(x, x, mask)
    parts = [p for s in state for p in (s if isinstance(s, tuple) else (s,))]
    assert loss.dtype == np.float32 and all(p.dtype == np.float32 for p in parts)
    opt.zero_grad()
    loss.backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters().values())
    opt.step()
    assert all(p.dtype == np.float32 for p in model.parameters().values())


def test_resume_needs_no_flags_repeated(corpus, tmp_path):
    variant = dict(cell="lstm", clip=0.01, clip_value=0.001, schedule="cosine", dropout=0.2, layers=2, seed=5)
    train(small(corpus, tmp_path / "full", steps=9, **variant))
    train(small(corpus, tmp_path / "part", steps=9, stop_after=4, **variant))
    resumed = train(TrainConfig(out=str(tmp_path / "part"), resume=True, progress=False, plot=False))
    assert resumed.steps == 9
    a, b = weights(tmp_path / "full"), weights(tmp_path / "part")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_checkpoint_of_a_custom_cell_imports_nothing(corpus, tmp_path):
    out = tmp_path / "c"
    train(small(corpus, out, steps=2, eval_every=2))
    ck = load_checkpoint(out / "last.npz")
    ck.config["model"]["cell"] = "this:s"  # importing `this` prints the Zen of Python
    had = "this" in sys.modules
    with pytest.raises(ValueError, match=r"loading it runs the code in this; .*allow_import=\['this'\]"):
        model_from_checkpoint(ck)
    assert ("this" in sys.modules) == had


def test_bad_schedule_is_named(corpus, tmp_path):
    with pytest.raises(ValueError, match="schedule 'step:x'"):
        train(small(corpus, tmp_path / "s", steps=2, schedule="step:x"))
