"""Invariant 5: PyTorch is the external referee. RNN (tanh and relu), LSTM and GRU, 1 and 2
layers, weights copied both ways: outputs, final states and the gradients of a scalar loss with
respect to inputs, initial states and every parameter match nn.RNN/LSTM/GRU in float64 to 1e-10
(relative); the cells match nn.RNNCell/LSTMCell/GRUCell."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_rnn as ar
from autograd_rnn import Recurrent
from autograd_rnn.nodes import GRULayer, LSTMLayer, RNNLayer
from autograd_rnn.torch_interop import load_torch_state_dict, to_torch_module, to_torch_state_dict
from tests.torch_referee import load_torch

torch = load_torch()

KINDS = [("rnn", {}), ("rnn", {"nonlinearity": "relu"}), ("lstm", {}), ("gru", {})]


def close(ours, theirs, what):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    scale = max(1.0, float(np.abs(theirs).max(initial=0)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12 * scale, err_msg=what)


def run_both(model, module, T, B, seed):
    rng = np.random.default_rng(seed)
    L, H, n_state = model.layers, model.hidden_size, model.cell_type.n_state
    xs = rng.normal(size=(T, B, model.input_size))
    h0 = [rng.normal(size=(L, B, H)) for _ in range(n_state)]
    g_hs = rng.normal(size=(T, B, H))
    g_fin = [rng.normal(size=(L, B, H)) for _ in range(n_state)]

    x = ar.Tensor(xs, requires_grad=True)
    s0 = [[ar.Tensor(h[k], requires_grad=True) for h in h0] for k in range(L)]
    hs, states = model(x, [tuple(s) if n_state > 1 else s[0] for s in s0])
    loss = (hs * g_hs).sum()
    for k, st_k in enumerate(states):
        for j, part in enumerate(st_k if n_state > 1 else (st_k,)):
            loss = loss + (part * g_fin[j][k]).sum()
    model.zero_grad()
    loss.backward()

    tx = torch.tensor(xs, requires_grad=True)
    th0 = [torch.tensor(h, requires_grad=True) for h in h0]
    out, fin = module(tx, tuple(th0) if n_state > 1 else th0[0])
    fin = fin if n_state > 1 else (fin,)
    tloss = (out * torch.tensor(g_hs)).sum() + sum((f * torch.tensor(g)).sum() for f, g in zip(fin, g_fin))
    tloss.backward()

    close(hs.data, out, "outputs")
    for j in range(n_state):
        close(np.stack([(s if n_state > 1 else (s,))[j].data for s in states]), fin[j], f"final state part {j}")
        close(np.stack([s0[k][j].grad for k in range(L)]), th0[j].grad, f"grad of initial state part {j}")
    close(x.grad, tx.grad, "grad of inputs")
    theirs = dict(module.named_parameters())
    for name, p in model.parameters().items():
        layer, _, pname = name.split(".")
        close(p.grad, theirs[f"{pname}_l{layer[1:]}"].grad, f"grad of {name}")


@pytest.mark.parametrize("kind,kwargs", KINDS, ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
@settings(max_examples=8)
@given(T=st.integers(1, 7), B=st.integers(1, 3), In=st.integers(1, 4), H=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_ours_to_torch(kind, kwargs, layers, T, B, In, H, seed):
    model = Recurrent(kind, In, H, layers=layers, rng=seed, **kwargs)
    run_both(model, to_torch_module(model), T, B, seed)


@pytest.mark.parametrize("kind,kwargs", KINDS, ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_torch_to_ours(kind, kwargs, layers, fused):
    torch.manual_seed(layers)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    module = cls(3, 5, num_layers=layers, **kwargs)
    model = Recurrent(kind, 3, 5, layers=layers, fused=fused, **kwargs)
    load_torch_state_dict(model, module.state_dict())
    run_both(model, module, T=6, B=2, seed=layers)


@pytest.mark.parametrize("cls,tcls", [(RNNLayer, "RNNCell"), (LSTMLayer, "LSTMCell"), (GRULayer, "GRUCell")])
def test_cells_load_torch_cell_state_dict_and_match_one_step(cls, tcls):
    torch.manual_seed(0)
    torch_cell = getattr(torch.nn, tcls)(4, 6)
    cell = cls(4, 6)
    cell.load_state_dict({k: v.numpy() for k, v in torch_cell.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    state = tuple(rng.normal(size=(3, 6)) for _ in range(cell.n_state))
    tx = torch.tensor(x, requires_grad=True)
    tstate = tuple(torch.tensor(s, requires_grad=True) for s in state)
    tout = torch_cell(tx, tstate if cell.n_state > 1 else tstate[0])
    tout = tout if cell.n_state > 1 else (tout,)
    def fused_step(x, state):
        _, final = ar.Sequence(cell)(x.reshape(1, *x.shape), state)
        return final

    assert ar.Sequence(cell).kernel_path() is not None
    for step in (cell.step, fused_step):
        ax = ar.Tensor(x, requires_grad=True)
        astate = tuple(ar.Tensor(s, requires_grad=True) for s in state)
        out = step(ax, astate if cell.n_state > 1 else astate[0])
        out = out if cell.n_state > 1 else (out,)
        for o, t in zip(out, tout):
            close(o.data, t, f"{tcls} output")
        cell.zero_grad()
        sum(((o * (k + 1.0)).sum() for k, o in enumerate(out)), start=ar.Tensor(np.zeros(()))).backward()
        for o_t in (tx, *tstate):
            o_t.grad = None
        torch_cell.zero_grad()
        sum((o * (k + 1.0)).sum() for k, o in enumerate(tout)).backward(retain_graph=True)
        close(ax.grad, tx.grad, "grad of x")
        for a, t in zip(astate, tstate):
            close(a.grad, t.grad, "grad of state")
        for name, p in torch_cell.named_parameters():
            close(cell.parameters()[name].grad, p.grad, f"grad of {name}")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_state_dict_helpers_round_trip(kind):
    model = Recurrent(kind, 3, 4, layers=2, rng=0)
    sd = to_torch_state_dict(model)
    assert set(sd) == {f"{w}_l{k}" for k in (0, 1) for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    other = Recurrent(kind, 3, 4, layers=2, rng=1)
    load_torch_state_dict(other, sd)
    for k, p in model.parameters().items():
        np.testing.assert_array_equal(p.data, other.parameters()[k].data)
    module = to_torch_module(model)
    assert module.num_layers == 2
    with pytest.raises(ValueError, match="unexpected PyTorch names"):
        load_torch_state_dict(other, {"weight_ih_l7": sd["weight_ih_l0"]})
