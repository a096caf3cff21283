"""to_torch of a language model with AWD-LSTM's regularisers (input, output, between-layer and
embedding dropout, locked or not, weight drop, tied weights) and of the layer-normalised LSTM.

* Eval mode: the module is the same function; outputs and every gradient agree to 1e-10 in
  float64, each option alone and all together, fused and composed, over random models.
* Training mode, our random numbers: with the module's masks drawn from a copy of the model's
  generator (``regularise.keep`` replaced), the module computes exactly what the model computes
  with its masks; so every mask has our shape, order, scaling and place.
* Training mode, torch's random numbers: each mask has the structure its option promises (locked
  masks fixed across time steps, whole rows of the table, one weight mask per layer and call that
  every step uses), and the tied table gets the gradients of both its uses.
* Tied weights are one parameter under our names, both ways and through ``export``'s .pt files.
* Refusals: an option or an override the module does not restate. Planted mismatches are caught.
"""

import contextlib
import inspect
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_rnn as ar
from autograd_rnn.errors import ExportError, GateInputError
from autograd_rnn.models import LanguageModel
from autograd_rnn.nodes import Cell
from autograd_rnn.sequence import Recurrent, Sequence
from autograd_rnn.train.config import MODEL_OPTIONS
from tests.test_export_cli import cli  # noqa: F401  (the command line in this process, a fixture)
from tests.test_torch_export import close
from tests.torch_referee import load_torch

torch = load_torch()
from autograd_rnn.torch_interop import load_from_torch, load_pt, regularise, save_pt, to_torch  # noqa: E402
from autograd_rnn.torch_interop.modules import REPRODUCED  # noqa: E402

ALL = dict(dropout=0.3, dropout_input=0.2, dropout_output=0.25, dropout_embed=0.15, weight_drop=0.4,
           locked_dropout=True, tie_weights=True)
ALONE = {"dropout": dict(dropout=0.3), "dropout_input": dict(dropout_input=0.3),
         "dropout_output": dict(dropout_output=0.3), "dropout_embed": dict(dropout_embed=0.3),
         "locked_dropout": dict(locked_dropout=True, dropout=0.3, dropout_input=0.2, dropout_output=0.25),
         "weight_drop": dict(weight_drop=0.4), "tie_weights": dict(tie_weights=True), "all": ALL}


class HiddenHidden(Cell):
    """A cell of the user's with a recurrent weight named ``weight_hh`` (so weight drop applies):
    h' = tanh(x W^T + h weight_hh^T) * s + h * (1 - s), s = sigmoid(a)."""

    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng = ar.as_rng(rng)
        self.parameter("W", rng.uniform(-0.6, 0.6, (hidden_size, input_size)))
        self.parameter("weight_hh", rng.uniform(-0.6, 0.6, (hidden_size, hidden_size)))
        self.parameter("a", rng.normal(size=hidden_size))

    def step(self, x, h):
        s = self.a.sigmoid()
        return (x @ self.W.T + h @ self.weight_hh.T).tanh() * s + h * (1.0 - s)


def lm(cell="lstm", fused=True, V=7, H=4, layers=2, dtype=np.float64, rng=0, **options) -> LanguageModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer does nothing, and says so
        return LanguageModel(V, cell=cell, embed_size=H, hidden_size=H, layers=layers, dtype=dtype, rng=rng,
                             fused=fused, **options)


@contextlib.contextmanager
def our_stream(rng: np.random.Generator):
    """Inside: the module's masks are drawn as our dropout draws them, ``keep = rng.random(shape) >=
    p``, from a copy of ``rng`` as it is now; run the model (which draws from ``rng``) and the
    module on the same inputs, and, drawing in the same order, they draw the same masks."""
    copy = np.random.Generator(type(rng.bit_generator)())
    copy.bit_generator.state = rng.bit_generator.state
    original = regularise.keep
    regularise.keep = lambda shape, p, like: torch.from_numpy(copy.random(shape) >= p).to(like.device)
    try:
        yield
    finally:
        regularise.keep = original


def parts(state):
    return state if isinstance(state, tuple) else (state,)


def compare_lm(model: LanguageModel, module, T: int, B: int, seed: int) -> None:
    """The masked loss, the final states, the logits and every parameter's gradient: ours against
    the module's, with the masks (while training) drawn from our stream."""
    rng = np.random.default_rng(seed)
    dtype = model.dtype
    inputs, targets = rng.integers(0, model.vocab_size, (2, T, B))
    mask = (rng.random((T, B)) > 0.3).astype(dtype)
    mask[0, 0] = 1.0
    with our_stream(model.rng):
        loss, state = model.loss(inputs, targets, mask)
        tloss, tstate = module.loss(inputs, targets, mask)
    model.zero_grad()
    loss.backward()
    module.zero_grad()
    tloss.backward()
    close(np.asarray(loss.data), tloss, "loss", dtype)
    for k, (ours, theirs) in enumerate(zip(state, tstate, strict=True)):
        for j, (a, b) in enumerate(zip(parts(ours), parts(theirs), strict=True)):
            close(a.data, b, f"final state of layer {k}, part {j}", dtype)
    theirs = dict(module.named_parameters())
    assert list(theirs) == list(model.parameters())
    for name, p in model.parameters().items():
        close(p.grad, theirs[name].grad, f"grad of {name}", dtype)
    with our_stream(model.rng):
        logits, _ = model(inputs)
        tlogits, _ = module(inputs)
    close(logits.data, tlogits, "logits", dtype)


def compare_recurrent(rec: Recurrent, module, T: int, B: int, seed: int) -> None:
    """Outputs and the gradients of a random linear function of them with respect to xs and every
    parameter, ours against the module's, the masks (while training) from our stream."""
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(T, B, rec.input_size))
    g = rng.normal(size=(T, B, rec.hidden_size))
    x, tx = ar.Tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
    with our_stream(rec.rng):
        hs, _ = rec(x)
        ths, _ = module(tx)
    rec.zero_grad()
    (hs * g).sum().backward()
    (ths * torch.tensor(g)).sum().backward()
    close(hs.data, ths, "hs")
    close(x.grad, tx.grad, "grad of xs")
    theirs = dict(module.named_parameters())
    for name, p in rec.parameters().items():
        close(p.grad, theirs[name].grad, f"grad of {name}")


# ----- the same function ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("training", [False, True], ids=["eval", "training-our-masks"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("cell", ["lstm", "lnlstm"])
@pytest.mark.parametrize("option", list(ALONE))
def test_each_option_and_all_together_compute_the_same_function(option, cell, fused, training):
    model = lm(cell, fused, **ALONE[option])
    model.train(training)
    module = to_torch(model)
    assert module.training == training
    before = torch.get_rng_state()
    compare_lm(model, module, 6, 3, seed=len(option))
    if not training:
        assert torch.equal(torch.get_rng_state(), before), "the module drew random numbers in eval mode"


def models():
    """Random language models: any cell (built in, or the user's with a weight_hh), fused or
    composed, embedded or one-hot, 1-3 layers, any subset of the regularisers at any rate."""
    p = st.floats(0.05, 0.9)
    return st.fixed_dictionaries(
        dict(cell=st.sampled_from(["rnn", "lstm", "gru", "lnlstm", HiddenHidden]), fused=st.booleans(),
             layers=st.integers(1, 3), V=st.integers(2, 9), H=st.integers(1, 4), one_hot=st.booleans(),
             rng=st.integers(0, 2**16)),
        optional=dict(dropout=p, dropout_input=p, dropout_output=p, dropout_embed=p, weight_drop=p,
                      locked_dropout=st.booleans(), tie_weights=st.booleans(),
                      truncation=st.sampled_from([ar.Truncated(2), ar.LookBack(1)])),
    ).map(lambda kw: {**kw, "tie_weights": kw.get("tie_weights", False) and not kw["one_hot"]})


@settings(max_examples=25, deadline=None)
@given(kw=models(), training=st.booleans(), T=st.integers(1, 6), B=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_random_regularised_models_compute_the_same_function(kw, training, T, B, seed):
    model = lm(**kw).train(training)
    compare_lm(model, to_torch(model), T, B, seed)


@pytest.mark.parametrize("training", [False, True], ids=["eval", "training-our-masks"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_a_layer_normalised_lstm_stack_with_its_regularisers_matches(fused, training):
    rec = Recurrent("lnlstm", 3, 5, layers=3, dropout=0.3, locked=True, weight_drop=0.4, rng=4, fused=fused)
    rec.train(training)
    module = to_torch(rec)
    assert module.dropout.shared == (0,) and module.weight_drop.p == 0.4
    compare_recurrent(rec, module, 7, 2, seed=4)


def test_all_together_in_float32_within_its_round_off():
    for cell in ("lstm", "lnlstm"):
        model = lm(cell, dtype=np.float32, **ALL)
        module = to_torch(model)
        assert all(p.dtype == torch.float32 for p in module.parameters())
        compare_lm(model.eval(), module.eval(), 5, 3, seed=0)
        compare_lm(model.train(), module.train(), 5, 3, seed=1)


# ----- the masks' structure, with torch's own random numbers ---------------------------------------------------------
def hooked(module, names: list[str], run) -> dict[str, list]:
    """``run()`` with a forward hook on each named submodule: ``{name: [(input, output), ...]}`` of
    every call, in order."""
    seen = {n: [] for n in names}
    handles = [module.get_submodule(n).register_forward_hook(
        lambda m, args, out, n=n: seen[n].append((args[0].detach().clone(), out.detach().clone()))) for n in names]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return seen


def mask_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mask ``y = x * m`` applied (x has no zeros)."""
    assert (x != 0).all()
    return y / x


def check_locked(module, T: int = 6, B: int = 5) -> None:
    """Every dropout on a (T, B, F) block (inputs, between layers, outputs) applies one mask per
    sequence at every time step; the masks differ between sequences; kept entries are scaled by
    1/(1-p)."""
    torch.manual_seed(0)
    tokens = torch.randint(0, module.vocab_size, (T, B))
    names = ["input_drop", "rnn.dropout", "output_drop"]
    seen = hooked(module, names, lambda: module(tokens))
    for name in names:
        p = module.get_submodule(name).p
        assert seen[name], f"{name} was not called"
        for x, y in seen[name]:
            m = mask_of(x, y)
            assert m.shape[:2] == (T, B)
            assert (m == m[0]).all(), f"{name}: the mask changes between time steps"
            assert len({tuple(m[0, b].tolist()) for b in range(B)}) > 1, f"{name}: every sequence got one mask"
            assert torch.unique(m).tolist() == pytest.approx([0.0, 1 / (1 - p)])


def test_locked_masks_are_one_per_sequence_for_all_time_steps():
    module = to_torch(lm("lnlstm", H=8, dropout=0.5, dropout_input=0.5, dropout_output=0.5, locked_dropout=True))
    check_locked(module)


def test_unlocked_masks_are_drawn_for_every_element():
    module = to_torch(lm(H=8, dropout=0.5, dropout_input=0.5, dropout_output=0.5))
    torch.manual_seed(0)
    seen = hooked(module, ["input_drop", "rnn.dropout", "output_drop"], lambda: module(torch.zeros(6, 5).long()))
    for name, [(x, y)] in seen.items():
        m = mask_of(x, y)
        assert not (m == m[0]).all(), name


def check_rows(module, tokens: torch.Tensor) -> None:
    """Embedding dropout zeroes whole rows of the table (a dropped token is zero at every one of
    its occurrences), scales the others by 1/(1-p), and the first layer reads the dropped table."""
    torch.manual_seed(0)
    seen = hooked(module, ["embed_drop", "input_drop"], lambda: module(tokens))
    [(table, dropped)], [(x, _)] = seen["embed_drop"], seen["input_drop"]
    p = module.embed_drop.p
    zero = (dropped == 0).all(dim=1)
    assert 0 < zero.sum() < len(zero), "no row, or every row, was dropped: not a test"
    assert ((dropped == 0) == zero[:, None]).all(), "a row of the table was dropped in part"
    torch.testing.assert_close(dropped[~zero], table[~zero] / (1 - p), rtol=1e-14, atol=0)
    if module.one_hot:
        assert (table == 1).all() and table.shape == (module.vocab_size, 1)
        dropped = torch.eye(module.vocab_size) * dropped
    torch.testing.assert_close(x, dropped[tokens], rtol=0, atol=0)


@pytest.mark.parametrize("one_hot", [False, True], ids=["embedded", "one-hot"])
def test_embedding_dropout_drops_whole_tokens(one_hot):
    model = LanguageModel(20, embed_size=3, hidden_size=4, one_hot=one_hot, dropout_embed=0.5, rng=0, dtype=np.float64)
    tokens = torch.arange(20).repeat(3).reshape(6, 10)  # every token, three times
    check_rows(to_torch(model), tokens)


def weight_drops(module, tokens):
    """The (weight, dropped weight) of every call of ``rnn.weight_drop`` in one forward."""
    return hooked(module, ["rnn.weight_drop"], lambda: module(tokens))["rnn.weight_drop"]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("cell", ["lstm", "lnlstm", HiddenHidden])
def test_weight_drop_draws_one_mask_per_layer_per_forward_and_every_step_uses_it(cell, fused):
    model = lm(cell, fused, layers=2, H=5, weight_drop=0.5)
    module = to_torch(model)
    tokens = np.random.default_rng(0).integers(0, 7, (6, 3))
    torch.manual_seed(0)
    first, second = weight_drops(module, tokens), weight_drops(module, tokens)
    assert len(first) == len(second) == 2, "expected one mask per layer per forward"
    for k, ((w, dropped), (_, again)) in enumerate(zip(first, second)):
        torch.testing.assert_close(w, module.get_parameter(f"rnn.l{k}.cell.weight_hh"), rtol=0, atol=0)
        assert set(torch.unique(mask_of(w, dropped)).tolist()) == {0.0, 2.0}
        assert not torch.equal(dropped, again), "the same mask on two forwards"
    np.testing.assert_array_equal(module.rnn.l0.cell.weight_hh.detach().numpy(), model.rnn.l0.cell.weight_hh.data)
    # the module's training forward is our model's eval forward with those dropped weights, at every step
    out = []
    drawn = hooked(module, ["rnn.weight_drop"], lambda: out.append(module(tokens)[0]))["rnn.weight_drop"]
    theirs = out[0]
    model.eval()
    with contextlib.ExitStack() as stack:
        for seq, (_, dropped) in zip(model.rnn.sequences(), drawn):
            stack.enter_context(seq.cell.substituted({"weight_hh": ar.Tensor(dropped.numpy())}))
        ours, _ = model(tokens)
    close(ours.data, theirs, "logits with the dropped weights")
    # the gradient reaches weight_hh through the mask: zero where an entry was dropped
    torch.manual_seed(2)
    [(w, dropped), _] = hooked(module, ["rnn.weight_drop"],
                               lambda: module.loss(tokens[:-1], tokens[1:])[0].backward())["rnn.weight_drop"]
    grad = module.rnn.l0.cell.weight_hh.grad
    assert (grad[dropped == 0] == 0).all() and (grad[dropped != 0] != 0).any()


def uses(loss: torch.Tensor, param: torch.Tensor) -> int:
    """How many edges of ``loss``'s autograd graph reach ``param`` (each a use of it)."""
    seen, todo, count = set(), [loss.grad_fn], 0
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        for nxt, _ in fn.next_functions:
            if nxt is not None and getattr(nxt, "variable", None) is param:
                count += 1
            todo.append(nxt)
    return count


def check_tied(model: LanguageModel, module) -> None:
    """One parameter, our names; the loss reaches the table by two edges (lookup and projection);
    rows no input token looks up get gradient (the projection's); equal to ours."""
    assert "proj.weight" not in module.state_dict() and set(module.state_dict()) == set(model.state_dict())
    assert [n for n, _ in module.named_parameters()] == list(model.parameters())
    tokens = np.array([[0, 1, 0], [1, 1, 0], [0, 0, 1]])  # rows 2.. are never looked up
    module.zero_grad()
    loss, _ = module.loss(tokens, tokens)
    assert uses(loss, module.embedding.weight) == 2, "the table is not reached by both of its uses"
    loss.backward()
    assert (module.embedding.weight.grad[2:] != 0).any(), "the projection's gradient does not reach the table"
    ours, _ = model.loss(tokens, tokens)
    model.zero_grad()
    ours.backward()
    close(model.embedding.weight.grad, module.embedding.weight.grad, "grad of the tied table")


@pytest.mark.parametrize("training", [False, True])
def test_tied_weights_are_one_parameter_with_the_gradients_of_both_uses(training):
    model = lm(V=9, tie_weights=True, **({"dropout_embed": 0.3, "dropout_input": 0.2} if training else {}))
    module = to_torch(model.train(training))
    assert isinstance(module.proj, regularise.TiedLinear) and not hasattr(module.proj, "weight")
    with our_stream(model.rng):
        check_tied(model, module)


def test_tied_weights_go_both_ways():
    model = lm("lnlstm", **ALL)
    module = to_torch(model)
    opt = torch.optim.Adam(module.parameters(), lr=0.05)
    tokens = np.random.default_rng(0).integers(0, 7, (6, 3))
    for _ in range(3):  # training mode: the module's own masks
        opt.zero_grad()
        module.loss(tokens[:-1], tokens[1:])[0].backward()
        opt.step()
    load_from_torch(model, module)
    for k, v in module.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[k], v.numpy(), err_msg=k)
    assert model.output_weight() is model.embedding.weight
    close(model.eval()(tokens)[0].data, module.eval()(tokens)[0], "logits after training in PyTorch")


# ----- refusals ------------------------------------------------------------------------------------------------------
def test_every_constructor_argument_is_reproduced():
    """A new option of LanguageModel, Recurrent or Sequence must be exported (or refused) before
    to_torch takes the object: the module would otherwise compute something else, silently."""
    for kind in (LanguageModel, Recurrent, Sequence):
        args = [n for n, p in inspect.signature(kind).parameters.items() if p.kind not in (p.VAR_KEYWORD,)]
        assert set(args) <= set(REPRODUCED[kind]), kind.__name__
    assert set(MODEL_OPTIONS) <= set(REPRODUCED[LanguageModel])


class WithHiddenDropout(LanguageModel):
    def __init__(self, *args, dropout_hidden: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.p_hidden = dropout_hidden


class Shouting(LanguageModel):
    def forward(self, tokens, state=None):
        logits, state = super().forward(tokens, state)
        return logits * 2.0, state


class StickyRecurrent(Recurrent):
    def dropped_weights(self, seq):
        return {}


class LoudSequence(Sequence):
    def forward(self, xs, state0=None):
        hs, state = super().forward(xs, state0)
        return hs * 2.0, state


def with_a_loud_layer():
    model = lm(layers=2)
    model.rnn.l1 = LoudSequence(model.rnn.l1.cell)
    return model


@pytest.mark.parametrize("make, words", [
    (lambda: WithHiddenDropout(5, embed_size=3, hidden_size=4, rng=0), ["WithHiddenDropout", "dropout_hidden"]),
    (lambda: Shouting(5, embed_size=3, hidden_size=4, rng=0), ["Shouting overrides LanguageModel.forward"]),
    (lambda: StickyRecurrent("lstm", 3, 4, weight_drop=0.3, rng=0),
     ["StickyRecurrent overrides Recurrent.dropped_weights"]),
    (with_a_loud_layer, ["LoudSequence overrides Sequence.forward"]),
])
def test_what_the_module_would_not_compute_alike_is_refused_by_name(make, words):
    with pytest.raises(ExportError) as e:
        to_torch(make())
    assert all(w in str(e.value) for w in words), str(e.value)


def test_weights_in_place_of_parameters_must_name_parameters():
    module = to_torch(Sequence(ar.nodes.LSTMLayer(3, 4, rng=0)))
    with pytest.raises(GateInputError, match="no parameter 'W_hh' to stand in for; its parameters are weight_ih"):
        module(torch.zeros(2, 1, 3), None, {"W_hh": torch.zeros(16, 4)})


# ----- planted mismatches --------------------------------------------------------------------------------------------
def unlocked(module):
    for name in ("input_drop", "rnn.dropout", "output_drop"):
        module.get_submodule(name).shared = ()  # a mask drawn for every step


def per_element_rows(module):
    module.embed_drop.shared = ()


def no_weight_drop(module):
    module.rnn.weight_drop.p = 0.0


def unscaled(monkeypatch):
    monkeypatch.setattr(regularise.Dropout, "forward",
                        lambda self, x: x * regularise.keep(x.shape, self.p, x).to(x.dtype) if self.active() else x)


def detached_projection(monkeypatch):
    monkeypatch.setattr(regularise.TiedLinear, "forward",
                        lambda self, x, weight: torch.nn.functional.linear(x, weight.detach(), self.bias))


@pytest.mark.parametrize("plant", [unlocked, per_element_rows, no_weight_drop])
def test_a_planted_mask_mismatch_is_caught_by_the_comparison(plant):
    model = lm("lstm", **ALL).train()
    module = to_torch(model)
    compare_lm(model, module, 6, 3, seed=0)
    plant(module)
    with pytest.raises(AssertionError):
        compare_lm(model, module, 6, 3, seed=0)


def test_planted_mismatches_are_caught_by_the_structure_checks(monkeypatch):
    module = to_torch(lm(H=8, dropout=0.5, dropout_input=0.5, dropout_output=0.5, locked_dropout=True))
    unlocked(module)
    with pytest.raises(AssertionError, match="changes between time steps"):
        check_locked(module)
    module = to_torch(LanguageModel(20, embed_size=3, hidden_size=4, dropout_embed=0.5, rng=0, dtype=np.float64))
    per_element_rows(module)
    with pytest.raises(AssertionError, match="dropped in part"):
        check_rows(module, torch.arange(20).reshape(2, 10))
    model = lm(V=9, tie_weights=True)
    detached_projection(monkeypatch)
    with pytest.raises(AssertionError, match="both of its uses"):
        check_tied(model, to_torch(model))


@pytest.mark.parametrize("plant", [unscaled, detached_projection])
def test_a_planted_function_mismatch_is_caught_by_the_comparison(plant, monkeypatch):
    model = lm("lstm", **ALL).train()
    module = to_torch(model)
    plant(monkeypatch)
    with pytest.raises(AssertionError):
        compare_lm(model, module, 6, 3, seed=0)


# ----- a tied, regularised run through export and back ---------------------------------------------------------------
def test_a_tied_regularised_run_goes_to_pytorch_and_back(cli, tmp_path):  # noqa: F811
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat and the dog sat on the log.\n" * 40)
    cli("train", "--corpus", str(corpus), "--cell", "lnlstm", "--hidden", "8", "--embed", "8", "--layers", "2",
        "--batch", "4", "--seq-len", "8", "--steps", "3", "--eval-every", "3", "--out", str(tmp_path / "run"),
        "--no-progress", "--no-plot", "--tie-weights", "--dropout", "0.2", "--dropout-input", "0.1",
        "--dropout-output", "0.2", "--dropout-embed", "0.1", "--weight-drop", "0.3", "--locked-dropout")
    source, pt = tmp_path / "run" / "last.npz", tmp_path / "model.pt"
    cli("export", "--checkpoint", str(source), "--out", str(pt))
    saved = torch.load(pt, weights_only=True)["state_dict"]
    original = ar.load_checkpoint(source)
    assert "proj.weight" not in saved and set(saved) == set(original.model)
    for k, v in saved.items():
        np.testing.assert_array_equal(v.numpy(), original.model[k], err_msg=k)

    ck = load_pt(pt)
    model, vocab = ar.model_from_checkpoint(ck)
    assert model.tied and model.rnn.locked and model.rnn.weight_drop == 0.3
    module = to_torch(model)
    module.load_state_dict(saved)
    module.train()
    opt = torch.optim.Adam(module.parameters(), lr=0.01)
    ids = np.array(vocab.encode(corpus.read_text()))
    for step in range(3):
        chunk = ids[step * 16:step * 16 + 33].reshape(-1, 1)
        opt.zero_grad()
        module.loss(chunk[:-1], chunk[1:])[0].backward()
        opt.step()
    trained, back = tmp_path / "trained.pt", tmp_path / "trained.npz"
    save_pt(trained, module, ck)
    cli("export", "--checkpoint", str(trained), "--out", str(back))
    loaded = ar.load_checkpoint(back)
    assert set(loaded.model) == set(module.state_dict())
    for k, v in module.state_dict().items():
        np.testing.assert_array_equal(loaded.model[k], v.numpy(), err_msg=k)
    assert not np.array_equal(loaded.model["embedding.weight"], original.model["embedding.weight"])
    again, _ = ar.model_from_checkpoint(loaded)
    chunk = ids[:20].reshape(-1, 2)
    close(again.eval()(chunk)[0].data, module.eval()(chunk)[0], "logits of the model brought back", again.dtype)
    text = cli("sample", "--checkpoint", str(back), "--prime", "the", "--length", "20", "--seed", "0").stdout
    assert text.startswith("the")
