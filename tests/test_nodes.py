"""Node: named parameters, state dicts, dtype; Linear and Embedding; cells' steps pass gradcheck."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_rnn as ar
from autograd_rnn import Recurrent
from autograd_rnn.errors import ConfigError
from autograd_rnn.nodes import Embedding, GRULayer, Linear, LSTMLayer, Node, RNNLayer

CELLS = [RNNLayer, LSTMLayer, GRULayer]


def test_parameters_are_named_in_a_stable_dotted_order():
    rec = Recurrent("lstm", 3, 4, layers=2, rng=0)
    names = list(rec.parameters())
    assert names == [f"l{k}.cell.{p}" for k in (0, 1) for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert rec.parameters()["l1.cell.weight_ih"].shape == (16, 4)
    assert rec.n_parameters() == sum(p.size for p in rec.parameters().values())


def test_state_dict_round_trip_and_copies():
    a, b = RNNLayer(3, 4, rng=0), RNNLayer(3, 4, rng=1)
    state = a.state_dict()
    state["weight_ih"][0, 0] = 99.0
    assert a.weight_ih.data[0, 0] != 99.0
    b.load_state_dict(a.state_dict())
    for k in a.parameters():
        np.testing.assert_array_equal(a.parameters()[k].data, b.parameters()[k].data)


def test_load_state_dict_lists_every_difference():
    cell = LSTMLayer(3, 4)
    state = cell.state_dict()
    del state["bias_hh"]
    state["extra"] = np.zeros(2)
    state["weight_ih"] = np.zeros((5, 3))
    with pytest.raises(ValueError) as e:
        cell.load_state_dict(state)
    msg = str(e.value)
    assert "missing: bias_hh" in msg and "unexpected: extra" in msg
    assert "weight_ih: got (5, 3), expected (16, 3)" in msg


def test_dtype_is_set_once_for_the_node():
    cell = GRULayer(2, 3, dtype=np.float32)
    assert all(p.dtype == np.float32 for p in cell.parameters().values())
    with pytest.raises(TypeError, match="expected the node's float32"):
        cell.weight_ih = ar.Parameter(np.zeros((9, 2)))
    with pytest.raises(TypeError, match="float32 or float64"):
        RNNLayer(2, 3, dtype=np.int32)
    cell.load_state_dict({k: v.astype(np.float64) for k, v in cell.state_dict().items()})
    assert cell.weight_ih.dtype == np.float32


def test_zero_grad_and_seeded_initialisation():
    a, b = LSTMLayer(3, 4, rng=7), LSTMLayer(3, 4, rng=7)
    np.testing.assert_array_equal(a.weight_hh.data, b.weight_hh.data)
    k = 1 / np.sqrt(4)
    assert np.all(np.abs(a.weight_hh.data) <= k)
    h, c = a.step(ar.Tensor(np.ones((2, 3))), a.initial_state(2))
    (h.sum() + c.sum()).backward()
    assert a.weight_ih.grad is not None
    a.zero_grad()
    assert all(p.grad is None for p in a.parameters().values())


def test_node_subclass_must_call_init():
    class Broken(Node):
        def __init__(self):
            self.w = 1

    with pytest.raises(ConfigError, match="super"):
        Broken()


def test_linear_and_embedding_gradcheck():
    lin = Linear(3, 2, rng=0)
    x = np.random.default_rng(0).normal(size=(4, 5, 3))

    def f(x, W, b):
        with lin.substituted({"weight": W, "bias": b}):
            return lin(x)

    assert ar.gradcheck(f, [x, lin.weight.data, lin.bias.data]).passed
    emb = Embedding(5, 3, rng=0)
    out = emb(np.array([[0, 4], [4, 1]]))
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[4], np.full(3, 2.0))


def step_function(cell):
    names = list(cell.parameters())

    def step(x, *rest):
        n = cell.n_state
        state, params = rest[:n], rest[n:]
        with cell.substituted(dict(zip(names, params))):
            out = cell.step(x, state if n > 1 else state[0])
        return out

    return step


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@given(B=st.integers(1, 3), In=st.integers(1, 3), H=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_cell_step_passes_gradcheck(cls, B, In, H, seed):
    rng = np.random.default_rng(seed)
    cell = cls(In, H, rng=rng)
    states = [rng.normal(size=(B, H)) for _ in range(cell.n_state)]
    inputs = [rng.normal(size=(B, In)), *states, *[p.data for p in cell.parameters().values()]]
    report = ar.gradcheck(step_function(cell), inputs)
    assert report.passed and report.max_rel_err < 1e-6


def test_rnn_relu_step_passes_gradcheck_away_from_kinks():
    rng = np.random.default_rng(3)
    cell = RNNLayer(3, 4, nonlinearity="relu", rng=rng)
    inputs = [rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), *[p.data for p in cell.parameters().values()]]
    assert ar.gradcheck(step_function(cell), inputs).passed


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_one_fused_step_equals_step(cls):
    rng = np.random.default_rng(0)
    cell = cls(3, 4, rng=rng)
    state = cell.initial_state(2) if cell.n_state == 1 else tuple(ar.Tensor(rng.normal(size=(2, 4))) for _ in range(2))
    x = ar.Tensor(rng.normal(size=(2, 3)))
    a = cell.step(x, state)
    _, b = ar.Sequence(cell)(x.reshape(1, 2, 3), state)
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        np.testing.assert_allclose(u.data, v.data, rtol=1e-13, atol=1e-14)
