"""The graph: composition gives gradients with no hand-written backward, fan-out sums, deep
graphs need no recursion, detach / no_grad / grad / zero_grad behave."""

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn import Parameter, Tensor, gradcheck

rng = np.random.default_rng(2)


def tanh_rnn_step_then_loss(x, h, W_ih, W_hh, b_ih, b_hh, V, c):
    """The tutorial's RNN box followed by its softmax cross-entropy, from graph ops only."""
    h_new = (ar.linear(x, W_ih, b_ih) + ar.linear(h, W_hh, b_hh)).tanh()
    logits = h_new @ V.T + c
    return ar.softmax_cross_entropy(logits, np.array([2, 0, 1]))


def test_composed_rnn_step_with_softmax_ce_passes_gradcheck():
    B, In, H, C = 3, 4, 5, 3
    shapes = [(B, In), (B, H), (H, In), (H, H), (H,), (H,), (C, H), (C,)]
    report = gradcheck(tanh_rnn_step_then_loss, [rng.normal(size=s) for s in shapes])
    assert report.passed and report.max_rel_err < 1e-6


def test_composed_lstm_like_step_with_split_concat_sigmoid():
    def step(x, h, c, W, b):
        z = ar.linear(ar.concat([x, h], axis=-1), W, b)
        i, f, g, o = z.split(4)
        c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h_new = o.sigmoid() * c_new.tanh()
        return (h_new * 1.5 - c_new).sum()

    B, In, H = 2, 3, 2
    report = gradcheck(step, [rng.normal(size=s) for s in [(B, In), (B, H), (B, H), (4 * H, In + H), (4 * H,)]])
    assert report.passed


def test_fan_out_gradients_add_up():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * x + x * 3.0 + x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data + 4.0)


def test_backward_twice_accumulates_and_zero_grad_clears():
    W = Parameter(np.ones((2, 2)))
    loss = (W * 3.0).sum()
    loss.backward()
    loss.backward()
    np.testing.assert_array_equal(W.grad, np.full((2, 2), 6.0))
    W.zero_grad()
    assert W.grad is None


def test_backward_does_not_mutate_returned_gradient_arrays():
    a = Tensor(np.ones(3), requires_grad=True)
    out = a + a
    out.backward(np.ones(3))
    first = a.grad
    out.backward(np.ones(3))
    np.testing.assert_array_equal(first, np.full(3, 2.0))
    np.testing.assert_array_equal(a.grad, np.full(3, 4.0))


def test_ten_thousand_step_chain_backprops_without_recursion():
    W = Parameter(np.eye(3) * 0.5)
    h = Tensor(np.ones((1, 3)))
    for _ in range(10_000):
        h = (h @ W + 0.1).tanh()
    h.sum().backward()
    assert W.grad.shape == (3, 3) and np.all(np.isfinite(W.grad))


def test_grad_function_leaves_dot_grad_untouched_and_is_repeatable():
    x = Parameter(rng.normal(size=(2, 3)))
    y = (x.tanh() * x).sum()
    (g1,) = ar.grad(y, [x])
    (g2,) = ar.grad(y, [x])
    assert x.grad is None
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_allclose(g1, np.tanh(x.data) + x.data * (1 - np.tanh(x.data) ** 2))


def test_grad_of_an_intermediate_tensor():
    x = Parameter(rng.normal(size=3))
    mid = x * 2.0
    out = (mid * mid).sum()
    (g,) = ar.grad(out, [mid])
    np.testing.assert_allclose(g, 2 * mid.data)


def test_detach_cuts_the_graph():
    x = Parameter(np.array([1.0, -1.0]))
    y = (x * 2.0).detach() * x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)


def test_no_grad_records_nothing():
    x = Parameter(np.ones(2))
    with ar.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.is_leaf


def test_constants_need_no_gradient_and_keep_dtype():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = 1 - x * 2.0 + 0.5
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        Tensor(np.arange(3), requires_grad=True)


def test_non_scalar_backward_needs_upstream_gradient():
    x = Parameter(np.ones(3))
    with pytest.raises(ValueError, match="explicit upstream gradient"):
        (x * 2.0).backward()


def test_multi_output_gate_with_unused_output():
    x = Parameter(rng.normal(size=(2, 4)))
    a, b = x.split(2)
    (a * 3.0).sum().backward()
    expected = np.zeros((2, 4))
    expected[:, :2] = 3.0
    np.testing.assert_array_equal(x.grad, expected)


def test_wrong_gradient_shape_from_a_user_gate_is_named():
    class Bad(ar.gates.Tanh):
        def backward(self, g):
            return (g.ravel(),)

    x = Parameter(np.ones((2, 2)))
    y = ar.apply(Bad(), x)
    with pytest.raises(ValueError, match="Bad.backward returned a gradient of shape"):
        y.sum().backward()


def test_the_walk_trusts_exactly_the_packages_own_gates():
    """The walk skips its run-time check of a backward's results only for the package's own gate
    classes (their backwards are checked here against finite differences); a subclass, however
    small, is a user gate and is checked (above)."""
    from autograd_rnn.gates import BUILTIN
    from autograd_rnn.testing.registry import gate_subclasses

    own = {c for c in gate_subclasses() if c.__module__.startswith("autograd_rnn.gates.")}
    assert BUILTIN == own
    assert not any(issubclass(c, ar.gates.Tanh) and c is not ar.gates.Tanh for c in BUILTIN)
