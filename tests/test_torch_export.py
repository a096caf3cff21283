"""to_torch: every cell made of the package's gates (built in, the examples', one with a gate of
its own registered, a few more from papers, the engine tests' unusual ones), as a step, a Sequence
under every truncation policy, a Recurrent stack and a LanguageModel, computes in PyTorch what it
computes here: outputs and the gradients of every parameter and input agree to 1e-10 (relative)
in float64 over random inputs and several steps, fused and composed, and within float32's
round-off in float32. Refusals name what is wrong; the weights go both ways."""

import importlib.util
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_rnn as ar
from autograd_rnn.errors import ConfigError, ExportError, GateInputError
from autograd_rnn.gates import Gate, Tanh
from autograd_rnn.gates.activations import stable_sigmoid
from autograd_rnn.nodes import Cell, GRULayer, LayerNorm, LSTMLayer, RNNLayer
from tests.test_engine import Aliasing, Forgetful, PassThrough, Residual
from tests.torch_referee import load_torch

torch = load_torch()
from autograd_rnn.torch_interop import TORCH, load_from_torch, register_torch, to_torch  # noqa: E402

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cells, custom_cell = example("cells"), example("custom_cell")
Swish = example("custom_gate").Swish


class SwishRNN(Cell):
    """A cell with a gate of its own: h' = swish(x W^T + h U^T + b)."""

    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng = ar.as_rng(rng)
        self.parameter("W", rng.uniform(-0.5, 0.5, (hidden_size, input_size)))
        self.parameter("U", rng.uniform(-0.5, 0.5, (hidden_size, hidden_size)))
        self.parameter("b", rng.uniform(-0.5, 0.5, hidden_size))

    def step(self, x, h):
        return ar.apply(Swish(), ar.linear(x, self.W, self.b) + h @ self.U.T)


class SRUState(Cell):
    """The simple recurrent unit's state (Lei et al. 2018): c' = f * c + (1 - f) * (x W^T), its
    reset gate computed and left unread (a hoisted split with an unread output)."""

    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng = ar.as_rng(rng)
        self.parameter("W", rng.normal(size=(3 * hidden_size, input_size)) * 0.4)
        self.parameter("v", rng.normal(size=(2, hidden_size)) * 0.4)
        self.parameter("b", np.zeros(hidden_size))

    def step(self, x, c):
        xt, f_in, _ = (x @ self.W.T).split(3)
        f = (f_in + self.v[0] * c + self.b).sigmoid()
        return f * c + (1.0 - f) * xt


class MultiplicativeLSTM(Cell):
    """Krause et al. 2016: the LSTM's gates read m = (x W_mx^T) * (h W_mh^T) instead of h."""

    n_state = 2
    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng, H = ar.as_rng(rng), hidden_size
        self.parameter("W_mx", rng.normal(size=(H, input_size)) * 0.4)
        self.parameter("W_mh", rng.normal(size=(H, H)) * 0.4)
        self.parameter("W_x", rng.normal(size=(4 * H, input_size)) * 0.4)
        self.parameter("W_m", rng.normal(size=(4 * H, H)) * 0.4)
        self.parameter("b", np.zeros(4 * H))

    def step(self, x, state):
        h, c = state
        m = (x @ self.W_mx.T) * (h @ self.W_mh.T)
        i, f, o, u = (ar.linear(x, self.W_x, self.b) + m @ self.W_m.T).split(4)
        c_new = f.sigmoid() * c + i.sigmoid() * u.tanh()
        return o.sigmoid() * c_new.tanh(), c_new


class Assorted(Cell):
    """Three state parts and many gates: concat, slicing, stack, mean, maximum, minimum, power,
    log, divide, abs, exp, rsqrt, relu, transposes, reshape, a layer norm."""

    n_state = 3
    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng = ar.as_rng(rng)
        self.parameter("W", rng.normal(size=(2 * hidden_size, input_size + hidden_size)) * 0.4)
        self.parameter("s", rng.uniform(0.5, 1.5, hidden_size))
        self.ln = LayerNorm(hidden_size, dtype=dtype)

    def step(self, x, state):
        h, a, b = state
        z, H = ar.concat([x, h]) @ self.W.T, self.hidden_size
        p, q = z[:, :H], z[:, H:]
        g = ar.graph.maximum(p, q) - ar.graph.minimum(p, q * 0.5)
        n = (ar.stack([p, q]).mean(axis=0).tanh() + (g ** 2 + 1.0).log() / (abs(q) + 1.0)
             + self.ln(a).sigmoid() * self.s).tanh()
        return n, (a * a + n.exp() * 0.1).rsqrt() * 0.1 + b.relu(), (b + n).transpose().T.reshape(-1, H) * 0.9


@pytest.fixture(autouse=True)
def swish_registered():
    register_torch(Swish, lambda gate: lambda x: x * torch.sigmoid(x))
    yield
    TORCH.pop(Swish, None)


CELLS = {
    "rnn_tanh": lambda i, h, **k: RNNLayer(i, h, **k),
    "rnn_relu": lambda i, h, **k: RNNLayer(i, h, nonlinearity="relu", **k),
    "lstm": lambda i, h, **k: LSTMLayer(i, h, **k),
    "gru": lambda i, h, **k: GRULayer(i, h, **k),
    "PeepholeLSTM": lambda i, h, **k: cells.PeepholeLSTM(i, h, **k),
    "IndRNN_relu": lambda i, h, **k: cells.IndRNN(i, h, **k),
    "IndRNN_tanh": lambda i, h, **k: cells.IndRNN(i, h, activation="tanh", **k),
    "LayerNormLSTM": lambda i, h, **k: cells.LayerNormLSTM(i, h, **k),
    "MinimalGatedUnit": lambda i, h, **k: custom_cell.MinimalGatedUnit(i, h, **k),
    "SwishRNN": lambda i, h, **k: SwishRNN(i, h, **k),
    **{cls.__name__: cls for cls in (SRUState, MultiplicativeLSTM, Assorted)},
    **{cls.__name__: cls for cls in (Aliasing, Forgetful, PassThrough, Residual)},  # outputs aliased, all hoisted,
}                                                                                 # an input returned, a residual
POLICIES = [lambda k: ar.Full(), lambda k: ar.Truncated(k), lambda k: ar.LookBack(k - 1),
            lambda k: ar.Truncated(k, k + 1)]


def close(ours, theirs, what, dtype=np.float64):
    """Equal to 1e-10 (relative, float64) or float32's round-off; a gradient that is None (nothing
    reached it) counts as zeros."""
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    if ours is None and theirs is None:  # a gradient nothing reached, on both sides
        return
    ours = np.zeros_like(theirs) if ours is None else ours
    theirs = np.zeros_like(ours) if theirs is None else theirs
    scale = max(1.0, float(np.abs(theirs).max(initial=0)))
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (2e-4, 2e-5)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol * scale, err_msg=what)


def parts(state):
    return state if isinstance(state, tuple) else (state,)


def compare_sequence(seq, T, B, seed):
    """Outputs, final state and the gradients of a random linear function of both with respect to
    xs, state0 and every parameter: ours against the module's."""
    cell, dtype = seq.cell, seq.dtype
    rng = np.random.default_rng(seed)
    shape = (B, T, cell.input_size) if seq.batch_first else (T, B, cell.input_size)
    xs = rng.normal(size=shape).astype(dtype)
    s0 = [rng.normal(size=(B, cell.hidden_size)).astype(dtype) for _ in range(cell.n_state)]
    g_hs = rng.normal(size=shape[:2] + (cell.hidden_size,)).astype(dtype)
    g_fin = [rng.normal(size=(B, cell.hidden_size)).astype(dtype) for _ in range(cell.n_state)]

    x = ar.Tensor(xs, requires_grad=True)
    a0 = [ar.Tensor(s, requires_grad=True) for s in s0]
    hs, fin = seq(x, tuple(a0) if len(a0) > 1 else a0[0])
    loss = (hs * g_hs).sum()
    for f, g in zip(parts(fin), g_fin):
        loss = loss + (f * g).sum()
    seq.zero_grad()
    loss.backward()

    module = to_torch(seq)
    tx = torch.tensor(xs, requires_grad=True)
    t0 = [torch.tensor(s, requires_grad=True) for s in s0]
    ths, tfin = module(tx, tuple(t0) if len(t0) > 1 else t0[0])
    tloss = (ths * torch.tensor(g_hs)).sum() + sum((f * torch.tensor(g)).sum() for f, g in zip(parts(tfin), g_fin))
    tloss.backward()

    close(hs.data, ths, "hs", dtype)
    for k, (f, t) in enumerate(zip(parts(fin), parts(tfin))):
        close(f.data, t, f"final state part {k}", dtype)
    close(x.grad, tx.grad, "grad of xs", dtype)
    for k, (a, t) in enumerate(zip(a0, t0)):
        close(a.grad, t.grad, f"grad of state0 part {k}", dtype)
    theirs = dict(module.named_parameters())
    assert list(theirs) == list(seq.parameters())
    for name, p in seq.parameters().items():
        close(p.grad, theirs[name].grad, f"grad of {name}", dtype)


@pytest.mark.parametrize("name", list(CELLS))
@settings(max_examples=6, deadline=None)
@given(T=st.integers(1, 7), B=st.integers(1, 3), In=st.integers(1, 4), H=st.integers(1, 4), k=st.integers(1, 3),
       policy=st.integers(0, len(POLICIES) - 1), fused=st.booleans(), seed=st.integers(0, 2**16))
def test_sequence_of_every_cell_matches_in_float64(name, T, B, In, H, k, policy, fused, seed):
    cell = CELLS[name](In, H, rng=seed)
    seq = ar.Sequence(cell, truncation=POLICIES[policy](k), fused=fused, batch_first=bool(seed % 2))
    compare_sequence(seq, T, B, seed)


@pytest.mark.parametrize("name", ["lstm", "gru", "LayerNormLSTM", "SwishRNN"])
@settings(max_examples=4, deadline=None)
@given(T=st.integers(1, 6), B=st.integers(1, 3), seed=st.integers(0, 2**16), fused=st.booleans())
def test_sequence_matches_in_float32(name, T, B, seed, fused):
    seq = ar.Sequence(CELLS[name](3, 4, rng=seed, dtype=np.float32), truncation=ar.Truncated(2), fused=fused)
    assert all(p.dtype == torch.float32 for p in to_torch(seq).parameters())
    compare_sequence(seq, T, B, seed)


@pytest.mark.parametrize("name", list(CELLS))
def test_the_cell_module_is_the_step_over_several_steps(name):
    """``module(x, state)`` takes and returns what ``cell.step`` does, step after step."""
    cell = CELLS[name](3, 4, rng=1)
    module = to_torch(cell)
    rng = np.random.default_rng(1)
    xs = rng.normal(size=(3, 2, 3))
    state = tuple(ar.Tensor(rng.normal(size=(2, 4)), requires_grad=True) for _ in range(cell.n_state))
    tstate = tuple(torch.tensor(s.data, requires_grad=True) for s in state)
    ours, theirs = state if cell.n_state > 1 else state[0], tstate if cell.n_state > 1 else tstate[0]
    loss, tloss = 0.0, 0.0
    for t in range(3):
        ours, theirs = cell.step(ar.Tensor(xs[t]), ours), module(torch.tensor(xs[t]), theirs)
        assert isinstance(theirs, tuple) == isinstance(ours, tuple)
        for k, (a, b) in enumerate(zip(parts(ours), parts(theirs))):
            close(a.data, b, f"step {t} part {k}")
            loss, tloss = (a * a).sum() * (t + 1.0) + loss, (b * b).sum() * (t + 1.0) + tloss
    cell.zero_grad()
    loss.backward()
    tloss.backward()
    for a, b in zip(state, tstate):
        close(a.grad, b.grad, "grad of the first state")
    for name_, p in cell.parameters().items():
        close(p.grad, module.get_parameter(name_).grad, f"grad of {name_}")


@pytest.mark.parametrize("name", ["lstm", "PeepholeLSTM", "SwishRNN"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_recurrent_stack_matches(name, fused):
    rec = ar.Recurrent(type(CELLS[name](1, 1)), 3, 4, layers=2, dropout=0.25, rng=2, fused=fused)
    module = to_torch(rec)
    assert [n for n, _ in module.named_parameters()] == list(rec.parameters())
    assert module.dropout.p == 0.25 and module.training
    rec.eval()
    module.eval()
    rng = np.random.default_rng(2)
    xs = rng.normal(size=(5, 2, 3))
    x, tx = ar.Tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
    hs, states = rec(x)
    ths, tstates = module(tx)
    assert len(tstates) == 2
    (hs * hs).sum().backward()
    (ths * ths).sum().backward()
    close(hs.data, ths, "hs")
    close(x.grad, tx.grad, "grad of xs")
    theirs = dict(module.named_parameters())
    for n, p in rec.parameters().items():
        close(p.grad, theirs[n].grad, f"grad of {n}")


@pytest.mark.parametrize("cell", ["lstm", "gru", "LayerNormLSTM", "SwishRNN"])
@pytest.mark.parametrize("one_hot", [False, True], ids=["embedded", "one-hot"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_language_model_loss_and_gradients_match(cell, one_hot, dtype):
    cls = {"lstm": "lstm", "gru": "gru"}.get(cell) or type(CELLS[cell](1, 1))
    rng = np.random.default_rng(3)
    for fused in (True, False):
        model = ar.LanguageModel(7, cell=cls, embed_size=3, hidden_size=4, layers=2, one_hot=one_hot, dtype=dtype,
                                 rng=3, fused=fused)
        module = to_torch(model)
        assert [n for n, _ in module.named_parameters()] == list(model.parameters())
        inputs, targets = rng.integers(0, 7, (6, 3)), rng.integers(0, 7, (6, 3))
        mask = (rng.random((6, 3)) > 0.3).astype(dtype)
        loss, _ = model.loss(inputs, targets, mask)
        model.zero_grad()
        loss.backward()
        tloss, tstate = module.loss(inputs, targets, mask)
        tloss.backward()
        assert len(tstate) == 2
        close(np.asarray(loss.data), tloss, "loss", dtype)
        theirs = dict(module.named_parameters())
        for n, p in model.parameters().items():
            close(p.grad, theirs[n].grad, f"grad of {n}", dtype)
        logits, _ = model(inputs[:2])
        close(logits.data, module(torch.from_numpy(inputs[:2]))[0], "logits", dtype)


def test_weights_go_both_ways():
    model = ar.LanguageModel(7, cell=cells.LayerNormLSTM, embed_size=3, hidden_size=4, dtype=np.float64, rng=0)
    module = to_torch(model)
    assert set(module.state_dict()) == set(model.state_dict())
    for k, v in module.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), model.state_dict()[k], err_msg=k)
    opt = torch.optim.SGD(module.parameters(), lr=0.5)
    tokens = np.random.default_rng(0).integers(0, 7, (5, 2))
    for _ in range(3):
        opt.zero_grad()
        module.loss(tokens[:-1], tokens[1:])[0].backward()
        opt.step()
    load_from_torch(model, module)
    for k, v in module.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), model.state_dict()[k], err_msg=k)
    close(model(tokens)[0].data, module(tokens)[0], "logits after training in PyTorch")
    model.load_state_dict({k: v.numpy() for k, v in module.state_dict().items()})  # a plain state dict works too
    with pytest.raises(ConfigError, match="missing: proj.bias"):
        load_from_torch(model, {k: v for k, v in module.state_dict().items() if k != "proj.bias"})


# ----- refusals -------------------------------------------------------------------------------------------------------
class SloppyTanh(Tanh):
    """A subclass of a built-in gate: not that gate, so no counterpart of its own."""


class Sloppy(Cell):
    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        self.parameter("W", ar.as_rng(rng).normal(size=(hidden_size, input_size)))

    def step(self, x, h):
        return ar.apply(SloppyTanh(), x @ self.W.T + h)


class Unregistered(Gate):
    def forward(self, x):
        self.save(s=stable_sigmoid(x))
        return x * self.saved.s

    def backward(self, g):
        s = self.saved.s
        return (g * s,)


class Foreign(Sloppy):
    def step(self, x, h):
        return ar.apply(Unregistered(), x @ self.W.T + h)


class Noisy(Sloppy):
    def step(self, x, h):
        return ar.dropout(x @ self.W.T + h, 0.5).tanh()


class FixedBatch(Sloppy):
    def step(self, x, h):
        return (x @ self.W.T + ar.Tensor(np.ones((x.shape[0], self.hidden_size), self.dtype))).tanh() + h


@pytest.mark.parametrize("cls, words", [
    (Sloppy, ["SloppyTanh()", "no PyTorch counterpart", "register_torch(SloppyTanh"]),
    (Foreign, ["Foreign.step applies Unregistered()", "no PyTorch counterpart"]),
    (Noisy, ["Noisy.step is not the same program for two steps", "Dropout"]),
    (FixedBatch, ["FixedBatch.step is not the same program for two batch sizes", "constant"]),
])
def test_what_pytorch_cannot_compute_alike_is_refused_with_the_reason(cls, words):
    for obj in (cls(3, 4, rng=0), ar.Sequence(cls(3, 4, rng=0)), ar.Recurrent(cls, 3, 4, layers=2, rng=0),
                ar.LanguageModel(5, cell=cls, embed_size=3, hidden_size=4, rng=0)):
        with pytest.raises(ExportError) as e:
            to_torch(obj)
        assert all(w in str(e.value) for w in words), str(e.value)


def test_a_registered_counterpart_is_used_and_a_subclass_needs_its_own():
    assert Swish in TORCH and SloppyTanh not in TORCH
    register_torch(SloppyTanh, lambda gate: torch.tanh)
    try:
        compare_sequence(ar.Sequence(Sloppy(3, 4, rng=0)), 4, 2, 0)
    finally:
        TORCH.pop(SloppyTanh)
    with pytest.raises(ExportError, match="expected a Gate subclass"):
        register_torch(Tanh(), torch.tanh)


def test_bad_inputs_to_the_modules_are_named():
    module = to_torch(ar.Sequence(LSTMLayer(3, 4, rng=0)))
    with pytest.raises(GateInputError, match=r"LSTMLayer module: x has shape \(5, 2\)"):
        module(torch.zeros(5, 2))
    with pytest.raises(GateInputError, match="expected 2 part"):
        module(torch.zeros(5, 2, 3), torch.zeros(2, 4))
    with pytest.raises(GateInputError, match="tokens"):
        to_torch(ar.LanguageModel(5, cell="gru", embed_size=3, hidden_size=4))(torch.zeros(3, 2))
    with pytest.raises(ExportError, match="expected a Cell, Sequence, Recurrent or LanguageModel"):
        to_torch(ar.nodes.Linear(2, 3))


def test_the_steps_read_the_hoisted_rows_through_one_unbind():
    """Each step's slice of the hoisted input projection (and of xs) comes from one ``unbind``: a
    ``select`` per step would give each step's backward a zero-filled (T, B, 4H) tensor to write
    into, T of them per backward (quadratic in T)."""
    module = to_torch(ar.Sequence(LSTMLayer(3, 4, rng=0)))
    hs, _ = module(torch.zeros(6, 2, 3, requires_grad=True))
    seen, todo, names = set(), [hs.grad_fn], []
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names.append(type(fn).__name__)
        todo.extend(f for f, _ in fn.next_functions)
    assert "UnbindBackward0" in names and "SelectBackward0" not in names, sorted(set(names))


def test_dropout_acts_between_layers_only_and_only_while_training():
    with pytest.warns(UserWarning, match="does nothing"):
        one = to_torch(ar.Recurrent("gru", 3, 4, layers=1, dropout=0.5, rng=0))
    two = to_torch(ar.Recurrent("gru", 3, 4, layers=2, dropout=0.5, rng=0))
    xs = torch.randn(5, 2, 3)
    assert one.training and two.training
    assert torch.equal(one(xs)[0], one.eval()(xs)[0])  # none before the first layer, none after the last
    assert not torch.allclose(two(xs)[0], two.eval()(xs)[0])


class Picky(Sloppy):
    def step(self, x, h):
        return (x - 1.0).sqrt() @ self.W.T + h


def test_a_step_that_cannot_run_on_the_probes_says_so():
    with pytest.raises(ExportError, match=r"Picky.step could not be recorded on random inputs in \(0.1, 0.9\).*Sqrt"):
        to_torch(Picky(3, 4, rng=0))
