"""The table of PyTorch counterparts (torch_interop.ops.TORCH): every built-in gate has an entry,
and every entry computes its gate's forward and, through PyTorch's autograd, its backward, to
1e-10 over the gate's own generated cases; a planted mismatch in any one entry, in its forward or
in its backward alone, is caught."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_rnn import gates as G
from autograd_rnn.errors import ExportError, GradcheckError
from autograd_rnn.testing import cases, example_case
from tests.torch_referee import load_torch

torch = load_torch()
from autograd_rnn.torch_interop import TORCH, check_counterpart  # noqa: E402
from autograd_rnn.torch_interop.ops import counterpart  # noqa: E402

ENTRIES = sorted(G.BUILTIN, key=lambda c: c.__name__)


def test_every_builtin_gate_has_a_counterpart():
    assert set(TORCH) >= G.BUILTIN, sorted(c.__name__ for c in G.BUILTIN - set(TORCH))


def applied(case):
    return case.gate() if isinstance(case.gate, type) else case.gate


@pytest.mark.parametrize("gate_cls", ENTRIES, ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_every_entry_matches_its_gate_forward_and_backward(gate_cls, data):
    case = data.draw(cases(gate_cls))
    assert check_counterpart(applied(case), case.inputs, rtol=1e-10) <= 1e-10


def planted(gate_cls, where: str):
    """The entry of ``gate_cls`` with a relative error of 1e-6 in its forward (``where="forward"``)
    or in its backward alone: ``y + 1e-6 * (y - y.detach())`` has the same value, and its gradient
    is scaled by 1 + 1e-6."""
    original = TORCH[gate_cls]

    def wrong(gate):
        fn = original(gate)

        def off(y):
            return y * (1 + 1e-6) if where == "forward" else y + 1e-6 * (y - y.detach())

        def apply(*xs):
            out = fn(*xs)
            return tuple(map(off, out)) if isinstance(out, tuple | list) else off(out)

        return apply

    return wrong


@pytest.mark.parametrize("where", ["forward", "backward"])
@pytest.mark.parametrize("gate_cls", ENTRIES, ids=lambda c: c.__name__)
def test_a_planted_mismatch_in_any_entry_is_caught(gate_cls, where, monkeypatch):
    for seed in range(20):  # a case whose outputs and gradients are not all zero
        case = example_case(gate_cls, seed)
        gate = applied(case)
        out = gate.fresh().forward(*case.inputs)
        if all(np.any(o) for o in (out if isinstance(out, tuple) else (out,))):
            break
    monkeypatch.setitem(TORCH, gate_cls, planted(gate_cls, where))
    with pytest.raises(GradcheckError, match=gate_cls.__name__):
        check_counterpart(gate, case.inputs, rtol=1e-10)


def test_counterparts_read_the_configuration_of_each_application():
    x = np.arange(12.0).reshape(3, 4)
    assert [p.shape for p in counterpart(G.Split([1, 3]))(torch.tensor(x))] == [(3, 1), (3, 3)]
    assert counterpart(G.Split(2, axis=0))(torch.tensor(np.ones((4, 1))))[1].shape == (2, 1)
    assert counterpart(G.Var(axis=0, keepdims=True, ddof=1))(torch.tensor(x)).shape == (1, 4)
    np.testing.assert_allclose(counterpart(G.Power(3))(torch.tensor(x)).numpy(), x ** 3)
    with pytest.raises(ExportError, match=r"SequenceGate.* has no PyTorch counterpart"):
        counterpart(G.Gate.__new__(type("SequenceGate", (G.Gate,), {})))


@pytest.mark.parametrize("key", [np.s_[::-1], np.s_[:, ::-2], np.s_[..., None, 1], (np.array([0, 0, 2]),),
                                 np.s_[np.array([1, 0]), :, np.array([2, 2])], np.s_[1:, np.array([0, 3, 0])],
                                 np.array([[True, False, True, False]] * 3)],
                         ids=["reversed", "negative step", "ellipsis and newaxis", "repeated", "advanced apart",
                              "mixed", "boolean"])
def test_index_means_what_numpy_means(key):
    x = np.random.default_rng(0).normal(size=(3, 4) if isinstance(key, np.ndarray) else (3, 4, 3))
    check_counterpart(G.Index(key), (x,), rtol=1e-12)
