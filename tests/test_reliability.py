"""The promises of docs/reliability.md, one case at a time: divergence never saved as good, no
silent wrong answer from bad input, grad mode per thread, one run per output folder, checkpoint
metadata checked before use, gradcheck refusing a random function."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn import checkpoint as ckpt
from autograd_rnn.errors import AutogradRNNError, CheckpointError, ConfigError, TrainingDiverged
from autograd_rnn.nodes import GRULayer, Linear, LSTMLayer, RNNLayer
from autograd_rnn.train import Run
from autograd_rnn.train.lock import OutLock
from autograd_rnn.train.schema import check_training


def blow_up(monkeypatch, lr=1e39):
    """A resumed run continues with learning rate ``lr``: the next steps diverge (a resumed run takes
    every setting from its checkpoint, so the command line cannot ask for this)."""
    restore = Run._restore

    def restore_then_raise_the_lr(self, ck):
        restore(self, ck)
        self.optimizer.lr = lr

    monkeypatch.setattr(Run, "_restore", restore_then_raise_the_lr)


def small(corpus, out, **kw):
    base = dict(corpus=corpus, hidden=8, embed=4, batch=2, seq_len=8, eval_every=2, eval_tokens=200,
                sample_length=5, out=str(out), progress=False, plot=False)
    base.update(kw)
    return ar.TrainConfig(**base)


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "autograd_rnn", *args], capture_output=True, text=True, **kw)


def one_error_line(result, code=2):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and lines and lines[-1].startswith("error: "), result.stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


# ----- divergence ---------------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the run is made to overflow on purpose
@pytest.mark.parametrize("eval_every", [1, 1000])
def test_divergence_is_never_saved_and_names_the_last_good_checkpoint(corpus, tmp_path, eval_every, monkeypatch):
    out = tmp_path / "d"
    ar.fit(small(corpus, out, steps=2, eval_every=eval_every, optimizer="sgd", clip=None, batch=1, seq_len=4))
    good = ar.load_checkpoint(out / "last.npz")
    blow_up(monkeypatch)
    with pytest.raises(TrainingDiverged) as e:
        ar.fit(small(corpus, out, steps=6, resume=True))
    assert "last good checkpoint" in str(e.value) and str(out / "last.npz") in str(e.value)
    after = ar.load_checkpoint(out / "last.npz")
    for k in good.model:
        np.testing.assert_array_equal(after.model[k], good.model[k])
    assert all(np.isfinite(a).all() for a in after.model.values())


@pytest.mark.parametrize("scale", [1e5, 1e15])
def test_a_finite_but_absurd_loss_is_divergence_like_an_infinite_one(corpus, tmp_path, scale):
    """A loss above 1000 nats per token (a probability below e^-1000 for the data) only comes from
    blown-up weights: the step refuses it before any update, finite or not."""
    run = Run(small(corpus, tmp_path / "r", steps=3))
    before = {k: v.copy() for k, v in run.model.state_dict().items()}
    run.model.proj.weight.data[...] = np.where(np.arange(run.model.proj.weight.shape[0])[:, None] % 2, scale, -scale)
    with pytest.raises(TrainingDiverged, match="step 1: the loss is"):
        run.train_step()
    assert run.progress.step == 0
    after = run.model.state_dict()
    assert all(np.array_equal(after[k], before[k]) for k in before if k != "proj.weight")


def test_divergence_from_the_command_line_exits_3_and_sample_never_reads_inf(corpus, tmp_path):
    out = tmp_path / "c"
    r = cli("train", "--corpus", corpus, "--lr", "1e39", "--optimizer", "sgd", "--eval-every", "1", "--steps", "5",
            "--batch", "1", "--seq-len", "4", "--out", str(out), "--no-progress", "--no-plot")
    line = one_error_line(r, code=3)
    assert "step 1:" in line and "No checkpoint was written" in line
    assert not (out / "last.npz").exists()


def test_sample_and_evaluate_refuse_non_finite_weights(corpus, tmp_path):
    out = tmp_path / "n"
    ar.fit(small(corpus, out, steps=2))
    ck = ar.load_checkpoint(out / "last.npz")
    name = next(iter(ck.model))
    for bad in (np.nan, np.inf):
        ck.model[name] = ck.model[name].copy()
        ck.model[name].flat[0] = bad
        ckpt.save_checkpoint(out / "bad.npz", model=ck.model, optimizer=ck.optimizer, rng_state=ck.rng_state,
                             vocab=ck.vocab, config=ck.config, progress=ck.progress)
        assert "NaN or infinity" in one_error_line(cli("sample", "--checkpoint", str(out / "bad.npz")))
        assert "NaN or infinity" in one_error_line(cli("evaluate", "--checkpoint", str(out / "bad.npz"),
                                                       "--corpus", corpus))


# ----- grad mode ------------------------------------------------------------------------------------------------------
def test_no_grad_on_a_recursive_function_restores_the_mode():
    @ar.no_grad()
    def depth(n):
        assert not ar.is_grad_enabled()
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(5) == 5 and ar.is_grad_enabled()
    x = ar.Tensor(np.ones(3), requires_grad=True)
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_no_grad_in_one_thread_leaves_other_threads_recording():
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def quiet():
        with ar.no_grad():
            inside.set()
            done.wait(5)
            seen["quiet"] = ar.is_grad_enabled()

    t = threading.Thread(target=quiet)
    t.start()
    inside.wait(5)
    x = ar.Tensor(np.ones(2), requires_grad=True)
    (x * 3.0).sum().backward()
    seen["main"] = ar.is_grad_enabled()
    done.set()
    t.join()
    assert seen == {"quiet": False, "main": True}
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    with ar.no_grad(), ar.enable_grad():
        assert ar.is_grad_enabled()


# ----- the graph's arguments ---------------------------------------------------------------------------------------
def test_grad_refuses_mismatched_grad_outputs_and_keeps_float32():
    x = ar.Tensor(np.ones(3, np.float32), requires_grad=True)
    a, b = x * 2.0, x * 3.0
    with pytest.raises(ValueError, match="2 grad_outputs"):
        ar.grad([a], [x], grad_outputs=[np.ones(3), np.ones(3)])
    with pytest.raises(ValueError, match="1 grad_outputs for 2 outputs"):
        ar.grad([a, b], [x], grad_outputs=[np.ones(3)])
    (g,) = ar.grad([a, b], [x], grad_outputs=[np.ones(3), np.ones(3)])
    assert g.dtype == np.float32 and np.array_equal(g, [5.0, 5.0, 5.0])


def test_axes_out_of_range_are_refused_not_wrapped():
    t = ar.Tensor(np.ones((2, 3)), requires_grad=True)
    for call in (lambda: ar.concat([t, t], axis=2), lambda: t.transpose(0, 5), lambda: t.transpose(0, 0),
                 lambda: ar.stack([t, t], axis=3), lambda: t.split(3, axis=4), lambda: t.sum(axis=2)):
        with pytest.raises(AutogradRNNError, match="axis|axes"):
            call()
    assert [r.shape for r in t] == [(3,), (3,)]
    with pytest.raises(TypeError):
        list(ar.Tensor(np.float64(1.0)))


@pytest.mark.parametrize("make", [lambda: RNNLayer(3, 0), lambda: LSTMLayer(0, 2), lambda: GRULayer(2.5, 3),
                                  lambda: Linear(2, -1), lambda: ar.nodes.Embedding(True, 3),
                                  lambda: RNNLayer(3, 10**12), lambda: ar.LookBack(float("inf")),
                                  lambda: ar.LookBack(2.5), lambda: ar.Truncated(3, 2),
                                  lambda: ar.Sequence(RNNLayer(2, 3), truncation=5),
                                  lambda: ar.Recurrent("lstm", 2, 3, layers=0), lambda: ar.LanguageModel(0),
                                  lambda: ar.dropout(ar.Tensor(np.ones(3)), 1.5, 0)])
def test_bad_constructor_arguments_are_named(make):
    with pytest.raises(AutogradRNNError):
        make()


def test_dropout_takes_a_seed():
    a = ar.dropout(ar.Tensor(np.ones(100)), 0.5, 0).data
    b = ar.dropout(ar.Tensor(np.ones(100)), 0.5, np.random.default_rng(0)).data
    np.testing.assert_array_equal(a, b)


def test_user_gate_backward_returning_a_list_works_and_a_wrong_dtype_is_named():
    class ListTanh(ar.gates.Tanh):
        def backward(self, g):
            return [g * (1 - self.saved.y ** 2)]

    class Float32Tanh(ar.gates.Tanh):
        def backward(self, g):
            return ((g * (1 - self.saved.y ** 2)).astype(np.float32),)

    x = ar.Tensor(np.ones(2), requires_grad=True)
    ar.apply(ListTanh(), x).sum().backward()
    np.testing.assert_allclose(x.grad, 1 - np.tanh(1.0) ** 2)
    with pytest.raises(TypeError, match="Float32Tanh.backward returned a float32 gradient .* expected .* float64"):
        ar.apply(Float32Tanh(), x).sum().backward()


def test_loading_values_that_overflow_the_models_dtype_is_refused():
    cell = RNNLayer(2, 3, dtype=np.float32)
    state = cell.state_dict()
    state["weight_ih"] = np.full((3, 2), 1e300)
    with pytest.raises(AutogradRNNError, match="overflow float32"):
        cell.load_state_dict(state)


def test_gradcheck_options_are_checked():
    for bad in (dict(eps=0), dict(eps=-1e-3), dict(eps=float("nan")), dict(atol=-1), dict(rtol=float("inf")),
                dict(mode="bogus"), dict(wrt=[3]), dict(kinks="maybe"), dict(seed=-1)):
        with pytest.raises(ConfigError):
            ar.gradcheck(ar.gates.Tanh, [np.ones(2)], **bad)


def test_gradcheck_refuses_a_function_that_draws_from_the_global_generator():
    class Random(ar.gates.Tanh):
        def forward(self, x):
            y = np.tanh(x) + 1e-3 * np.random.normal(size=x.shape)  # noqa: NPY002  (the point of the test)
            self.save(y=y)
            return y

        def backward(self, g):
            return (10.0 * g * (1 - self.saved.y ** 2),)  # 10x wrong

    for seed in range(5):
        np.random.seed(seed)  # noqa: NPY002
        report = ar.gradcheck(Random, [np.linspace(-1, 1, 6)], raise_exception=False)
        assert not report.passed and report.nondeterministic and "random function" in str(report)


# ----- runs and their folders -------------------------------------------------------------------------------------
def test_a_second_run_into_a_busy_out_folder_is_refused(corpus, tmp_path):
    out = tmp_path / "busy"
    first = subprocess.Popen([sys.executable, "-m", "autograd_rnn", "train", "--corpus", corpus, "--steps", "100000",
                              "--hidden", "8", "--embed", "4", "--batch", "2", "--seq-len", "8", "--eval-every",
                              "1000", "--out", str(out), "--no-progress", "--no-plot"], stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.time() + 30
        while not (out / ".lock").exists() or not (out / ".lock").read_text():
            assert time.time() < deadline and first.poll() is None, "the first run did not start"
            time.sleep(0.05)
        second = cli("train", "--corpus", corpus, "--steps", "2", "--out", str(out), "--no-progress", "--no-plot")
        assert "is in use by another run (pid" in one_error_line(second)
        with pytest.raises(ConfigError, match="in use by another run"):
            ar.fit(small(corpus, out, steps=2))
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(30)
    assert first.returncode == 130
    with OutLock(out):  # free again once the first run ended
        pass
    with pytest.raises(ConfigError, match="already holds a run"):  # which is kept whole
        ar.fit(small(corpus, out, steps=2))


def test_a_killed_run_leaves_no_stale_lock(corpus, tmp_path):
    out = tmp_path / "killed"
    p = subprocess.Popen([sys.executable, "-m", "autograd_rnn", "train", "--corpus", corpus, "--steps", "100000",
                          "--hidden", "8", "--embed", "4", "--batch", "2", "--seq-len", "8", "--out", str(out),
                          "--no-progress", "--no-plot"])
    deadline = time.time() + 30
    while not (out / ".lock").exists() or not (out / ".lock").read_text():
        assert time.time() < deadline
        time.sleep(0.05)
    p.kill()
    p.wait()
    assert ar.fit(small(corpus, out, steps=2)).steps == 2


def test_a_corpus_whose_name_is_not_utf8_trains_and_checkpoints(corpus, tmp_path):
    name = os.fsdecode(b"corpus-\xff.txt")
    path = tmp_path / name
    path.write_bytes(open(corpus, "rb").read())
    result = ar.fit(small(str(path), tmp_path / "u", steps=2))
    ck = ar.load_checkpoint(tmp_path / "u" / "last.npz")
    assert result.steps == 2 and os.fsencode(ck.config["train"]["corpus"]).endswith(b"corpus-\xff.txt")


def test_resume_with_another_corpus_than_the_built_in_one_is_refused(corpus, tmp_path):
    out = tmp_path / "r"
    ar.fit(small(corpus, out, steps=2))
    ck = ar.load_checkpoint(out / "last.npz")
    ck.config["train"]["corpus"] = None  # as if trained on the built-in corpus
    ckpt.save_checkpoint(out / "last.npz", model=ck.model, optimizer=ck.optimizer, rng_state=ck.rng_state,
                         vocab=ck.vocab, config=ck.config, progress=ck.progress)
    with pytest.raises(ValueError, match="differs from the one the checkpoint was trained on"):
        ar.fit(small(corpus, out, steps=4, resume=True))


# ----- checkpoint metadata ----------------------------------------------------------------------------------------
def damaged(ck, where: str, value):
    """A copy of the checkpoint with one metadata value replaced (or deleted: value is ...)."""
    config, progress = json.loads(json.dumps(ck.config)), dict(ck.progress)
    section, _, key = where.partition(".")
    target = {"config": config, "model": config["model"], "train": config["train"], "progress": progress}[section]
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return ckpt.Checkpoint(ck.model, ck.optimizer, ck.rng_state, ck.vocab, config, progress)


BAD_META = [("config.model", ...), ("model.hidden_size", -1), ("model.hidden_size", 10**12),
            ("model.hidden_size", "8"), ("model.dtype", "int32"), ("model.vocab_size", "29"),
            ("model.layers", 1_000_000), ("model.one_hot", "no"), ("model.dropout", 1.5), ("model.cell", 7),
            ("model.embed_size", 10**9), ("train.lowercase", "no"), ("train.batching", "paragraphs"),
            ("train.seq_len", 0), ("train.lr", "fast"), ("progress.step", -1), ("progress.total", "x"),
            ("progress.ema", [1.0]), ("progress.carry", [[np.ones(3)]])]


@pytest.mark.parametrize("where, value", BAD_META, ids=[f"{w}={v!r}"[:40] for w, v in BAD_META])
def test_checkpoint_metadata_is_checked_before_use(corpus, tmp_path, where, value):
    out = tmp_path / "m"
    ar.fit(small(corpus, out, steps=2))
    ck = damaged(ar.load_checkpoint(out / "last.npz"), where, value)
    start = time.time()
    with pytest.raises(CheckpointError, match="checkpoint"):
        if where.startswith(("train", "progress")):
            check_training(ck)
        else:
            ar.model_from_checkpoint(ck)
    assert time.time() - start < 5


def test_checkpoint_metadata_errors_are_one_line_on_the_command_line(corpus, tmp_path):
    out = tmp_path / "cl"
    ar.fit(small(corpus, out, steps=2))
    for where, value in BAD_META[:8]:
        ck = damaged(ar.load_checkpoint(out / "last.npz"), where, value)
        ckpt.save_checkpoint(out / "bad.npz", model=ck.model, optimizer=ck.optimizer, rng_state=ck.rng_state,
                             vocab=ck.vocab, config=ck.config, progress=ck.progress)
        assert one_error_line(cli("sample", "--checkpoint", str(out / "bad.npz")))


# ----- the command line's arguments -------------------------------------------------------------------------------
@pytest.mark.parametrize("args, expected", [
    (["--epochs", "inf"], "finite"), (["--epochs", "nan"], "finite"), (["--hidden", "100000000"], "--no-limits"),
    (["--layers", "100000"], "--no-limits"), (["--out", ""], "directory"), (["--dropout", "1.5"], "less than 1"),
    (["--lr", "nan"], "finite"), (["--truncation", "lookback:-1"], "LookBack"), (["--schedule", "sometimes"],
                                                                               "schedule"),
    (["--seq-len", "100000000"], "--no-limits"), (["--cell", "nope"], "cell")])
def test_bad_command_line_values_get_one_line(args, expected, corpus, tmp_path):
    line = one_error_line(cli("train", "--corpus", corpus, "--out", str(tmp_path / "o"), "--no-progress", *args))
    assert expected in line, line


def test_limits_are_lifted_by_no_limits(corpus):
    cfg = small(corpus, "x", hidden=20000)
    with pytest.raises(ConfigError, match="--no-limits"):
        cfg.validate()
    cfg.no_limits = True
    assert cfg.validate() is cfg
    with pytest.raises(ConfigError, match="parameters"):
        small(corpus, "x", hidden=16000, layers=64).check_size(100)


def test_sampling_refuses_non_finite_logits():
    model = ar.LanguageModel(5, cell="rnn", embed_size=2, hidden_size=3, rng=0)
    model.proj.bias.data[2] = np.nan
    with pytest.raises(ar.errors.NonFiniteError, match="logits hold NaN or infinity"):
        ar.sample_ids(model, np.array([1]), 3, rng=0)


def test_a_mean_the_dtype_can_hold_does_not_overflow_in_its_sum():
    big = np.finfo(np.float64).max
    assert ar.Tensor(np.array([[big, big]])).mean().item() == big
    assert ar.Tensor(np.array([[big, -big]])).mean().item() == 0.0


# ----- odd corners of the API ---------------------------------------------------------------------------------------
def test_sampling_at_a_vanishing_temperature_is_greedy_not_nan(corpus, tmp_path):
    from autograd_rnn.models import FrozenModel, sample_ids

    out = tmp_path / "s"
    ar.fit(small(corpus, out, steps=2))
    model, vocab = ar.model_from_checkpoint(ar.load_checkpoint(out / "last.npz"))
    prime = vocab.encode("the ")
    step, greedy = FrozenModel(model), []
    logits, state = step(prime[:, None], None)
    for _ in range(12):
        greedy.append(int(np.argmax(logits[-1, 0])))
        logits, state = step(np.array([[greedy[-1]]]), state)
    for temperature in (1e-310, 5e-324, 1e-300):
        for top_k in (None, 3, 1):
            assert sample_ids(model, prime, 12, temperature, top_k, rng=0).tolist() == greedy, (temperature, top_k)
    r = cli("sample", "--checkpoint", str(out / "last.npz"), "--prime", "the ", "--temperature", "1e-310",
            "--top-k", "3", "--length", "12")
    assert r.returncode == 0 and r.stdout.rstrip("\n") == "the " + vocab.decode(greedy), r.stdout


def test_no_grad_on_a_generator_runs_its_body_without_gradients_and_its_caller_with():
    @ar.no_grad()
    def rows(x):
        for i in range(len(x)):
            yield ar.is_grad_enabled(), x[i] * 2.0

    x = ar.Tensor(np.ones((3, 2)), requires_grad=True)
    seen = []
    for enabled, row in rows(x):
        seen.append((enabled, row.requires_grad, ar.is_grad_enabled()))
    assert seen == [(False, False, True)] * 3


def test_a_negative_or_nan_mask_is_named_not_blamed_on_the_logits():
    logits, targets = ar.Tensor(np.zeros((3, 4))), np.array([0, 1, 2])
    for mask in (np.array([1.0, -1.0, 1.0]), np.array([1.0, np.nan, 1.0]), np.array([1.0, 1.0, np.inf])):
        with pytest.raises(ar.GateInputError, match="input 'mask' holds .* at index [12]") as e:
            ar.softmax_cross_entropy(logits, targets, mask=mask)
        assert "logits" not in str(e.value)
    assert ar.softmax_cross_entropy(logits, targets, mask=np.array([0.5, 0.0, 2.0])).item() == pytest.approx(np.log(4))


def test_grad_of_one_tensor_is_a_list_of_one_gradient():
    x = ar.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (g,) = ar.grad((x * x).sum(), x)
    np.testing.assert_array_equal(g, 2 * x.data)


@pytest.mark.parametrize("returns", [lambda a: a.data, lambda a: 1.0, lambda a: None, lambda a: (a * 2, a.data)])
def test_gradcheck_of_a_function_that_returns_no_tensor_says_so(returns):
    with pytest.raises(ar.GateTypeError, match="expected a Tensor, or a tuple of Tensors"):
        ar.gradcheck(returns, [np.ones(3)])


def test_gradcheck_sequence_names_a_misshaped_upstream_gradient():
    seq = ar.Sequence(LSTMLayer(3, 4, rng=0))
    with pytest.raises(ar.GateInputError, match=r"grad_hs is float64 of shape \(5, 2\); expected .*\(5, 2, 4\)"):
        ar.gradcheck_sequence(seq, np.ones((5, 2, 3)), grad_hs=np.ones((5, 2)))
    with pytest.raises(ar.GateInputError, match="grad_final has 1 parts; expected one per part of the state"):
        ar.gradcheck_sequence(seq, np.ones((5, 2, 3)), grad_final=np.ones((2, 4)))
    assert ar.gradcheck_sequence(ar.Sequence(RNNLayer(3, 4, rng=0)), np.ones((5, 2, 3)),
                                 grad_final=np.ones((2, 4))).passed  # one state's gradient, not iterated by rows


def test_recurrent_names_a_states_list_of_the_wrong_length():
    rec = ar.Recurrent("lstm", 3, 4, layers=2, rng=0)
    with pytest.raises(ar.GateInputError, match=r"states0 is 1 states; expected .* one state per layer \(2\)"):
        rec(ar.Tensor(np.ones((5, 2, 3))), [None])
    hs, states = rec(ar.Tensor(np.ones((5, 2, 3))), [None, None])
    assert len(states) == 2


@pytest.mark.parametrize("table, indices", [((0, 3), (0,)), ((5, 0), (2,)), ((5, 3), (0, 2)), ((300, 3), (0,))])
def test_the_gradient_of_an_empty_lookup_is_zero(table, indices):
    w = ar.Tensor(np.ones(table), requires_grad=True)
    ar.embedding(w, np.zeros(indices, np.int64)).sum().backward()
    assert w.grad.shape == table and not w.grad.any()


def test_save_archive_round_trips_big_integers_and_refuses_one_too_long_for_text(tmp_path):
    ckpt.save_archive(tmp_path / "a.npz", {}, {"n": 2**1000, "m": -(10**4000)})
    assert ckpt.load_archive(tmp_path / "a.npz")[1] == {"n": 2**1000, "m": -(10**4000)}
    with pytest.raises(CheckpointError, match=r"meta\['n'\] is an integer of .* bits"):
        ckpt.save_archive(tmp_path / "b.npz", {}, {"n": 10**5000})
    assert not (tmp_path / "b.npz").exists()


def test_maximum_and_minimum_are_functions_and_methods():
    a = ar.Tensor(np.array([1.0, 5.0]), requires_grad=True)
    np.testing.assert_array_equal(ar.maximum(a, 2.0).data, [2.0, 5.0])
    np.testing.assert_array_equal(a.minimum(2.0).data, [1.0, 2.0])
    np.testing.assert_array_equal(a.maximum(np.array([3.0, 3.0])).data, [3.0, 5.0])
    assert ar.gradcheck(lambda x, y: x.maximum(y) + ar.minimum(x, y) * 2.0,
                        [np.array([1.0, 5.0]), np.array([2.0, 3.0])]).passed


def test_the_training_package_imports_as_a_module_and_fit_trains():
    import importlib

    import autograd_rnn.train as t

    assert t is importlib.import_module("autograd_rnn.train") and callable(t.train) and ar.fit is t.train
    assert ar.errors.CellImportError is ar.cellspec.CellImportError  # documented where it lives


def test_a_gate_keeping_results_as_attributes_warns_once_that_replay_is_off():
    class OldTanh(ar.gates.Gate):
        def forward(self, x):
            self.y = np.tanh(x)
            return self.y

        def backward(self, g):
            return (g * (1 - self.y**2),)

    class OldCell(RNNLayer):
        static_step = True

        def step(self, x, h):
            return ar.apply(OldTanh(), ar.linear(x, self.weight_ih, self.bias_ih) + h @ self.weight_hh.T)

    xs = ar.Tensor(np.ones((5, 1, 2)), requires_grad=True)
    with pytest.warns(UserWarning, match=r"OldTanh keeps what forward computed as attributes \(y\)") as record:
        hs, _ = ar.Sequence(OldCell(2, 3, rng=0), fused=False)(xs)
        ar.Sequence(OldCell(2, 3, rng=0), fused=False)(xs)
    assert len([w for w in record if "OldTanh" in str(w.message)]) == 1
    assert not hs._op.gate.saved.kernel.saved.replayed
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the package's own gates never warn
        hs, _ = ar.Sequence(LSTMLayer(2, 3, rng=0), fused=False)(xs)
    assert hs._op.gate.saved.kernel.saved.replayed


def test_max_vocab_on_a_char_run_builds_unk_and_no_message_names_max_size(corpus, tmp_path):
    result = ar.fit(small(corpus, tmp_path / "m", steps=2, max_vocab=200, unk=False))
    vocab = ar.model_from_checkpoint(ar.load_checkpoint(result.out / "last.npz"))[1]
    assert vocab.unk_id is not None
    line = one_error_line(cli("train", "--corpus", corpus, "--batching", "lines", "--max-vocab", "4", "--out",
                              str(tmp_path / "l"), "--no-progress"))
    assert "--max-vocab 4" in line and "max_size" not in line


def test_help_says_each_default_once_and_names_values_plainly():
    text = cli("train", "--help").stdout
    assert "(default: None)" not in text and "(default: the built-in" in text
    for bad in ("CELL_OPTIONS", "ALLOW_IMPORT", "SEQ_LEN", "EVAL_EVERY"):
        assert bad not in text
    assert "--cell-option KEY=VALUE" in text and "--allow-import SOURCE" in text and "--out DIR" in text
    assert "(default: None)" not in cli("sample", "--help").stdout
