"""The checking kit beyond plain finite differences: report, hygiene, random upstream gradients,
per-input step and sweep, kinks, full Jacobian vs projection."""

import numpy as np
import pytest

from autograd_rnn import GradcheckError, Tensor, gates, gradcheck
from autograd_rnn.gradcheck import HYGIENE_CHECKS

rng = np.random.default_rng(1)


def hygiene_failure(gate, inputs, check):
    with pytest.raises(GradcheckError) as info:
        gradcheck(gate, inputs)
    report = info.value.report
    assert report.hygiene[check] != "ok", report.hygiene
    assert check in str(info.value)
    return report.hygiene[check]


# ----- report -----
def test_success_returns_a_report_with_errors_and_hygiene():
    report = gradcheck(gates.Tanh, [rng.normal(size=(3, 2))])
    assert report.passed and report.mode == "full" and report.n_checked == 36
    assert report.max_rel_err < 1e-6
    assert set(report.hygiene) == set(HYGIENE_CHECKS)
    assert all(v == "ok" for v in report.hygiene.values())
    assert "gradcheck passed for Tanh" in str(report)


def test_failures_are_ranked_worst_first_and_counted():
    class HalfWrongTanh(gates.Tanh):
        def backward(self, g):
            d = g * (1 - self.saved.y**2)
            d[0] *= 2
            return (d,)

    x = rng.normal(size=(2, 4))
    with pytest.raises(GradcheckError) as info:
        gradcheck(HalfWrongTanh, [x], mode="vjp")
    report = info.value.report
    errs = [m.abs_err for m in report.failures]
    assert errs == sorted(errs, reverse=True) and len(errs) == 4
    assert all(m.index[0] == 0 for m in report.failures)
    assert "4 of 8 elements disagree" in str(info.value)


def test_returns_report_instead_of_raising_when_asked():
    class Wrong(gates.Tanh):
        def backward(self, g):
            return (g.copy(),)

    report = gradcheck(Wrong, [rng.normal(size=(3,))], raise_exception=False)
    assert not report.passed and report.failures


# ----- hygiene -----
def test_detects_non_reentrant_backward():
    class Consuming(gates.Tanh):
        def backward(self, g):
            d = g * (1 - self.saved.y**2)
            self.saved.y *= 0.5  # mutates what forward kept
            return (d,)

    msg = hygiene_failure(Consuming, [rng.normal(size=(2, 2))], "reentrant")
    assert "not re-entrant" in msg


def test_detects_mutation_of_saved_values():
    class Mutating(gates.Tanh):
        def backward(self, g):
            d = g * (1 - self.saved.y**2)
            self.saved.y += 0.0 * d + 1e-3
            return (d,)

    assert "Mutating.saved.y" in hygiene_failure(Mutating, [rng.normal(size=(2, 2))], "no_mutation")


def test_detects_mutation_of_upstream_gradient():
    class InPlace(gates.Tanh):
        def backward(self, g):
            g *= 1 - self.saved.y**2
            return (g,)

    msg = hygiene_failure(InPlace, [rng.normal(size=(2, 2))], "no_mutation")
    assert "upstream" in msg


def test_detects_aliasing_add_gate_trap():
    class AliasingAdd(gates.AddGate):
        def backward(self, g):
            return g, g

    msg = hygiene_failure(AliasingAdd, [rng.normal(size=(2, 2)), rng.normal(size=(2, 2))], "no_aliasing")
    assert "shares memory with the upstream gradient" in msg
    assert "'a' and 'b' share memory" in msg


def test_detects_backward_not_linear_in_upstream():
    class Squared(gates.Tanh):
        def backward(self, g):
            return (g * np.abs(g) * (1 - self.saved.y**2),)

    hygiene_failure(Squared, [rng.normal(size=(2, 2))], "linear")


def test_detects_nonzero_output_for_zero_upstream():
    class Offset(gates.Tanh):
        def backward(self, g):
            return (g * (1 - self.saved.y**2) + 1e-3,)

    hygiene_failure(Offset, [rng.normal(size=(2, 2))], "zero_in_zero_out")


def test_detects_wrong_dtype_and_shape():
    class Upcasting(gates.Tanh):
        def backward(self, g):
            return ((g * (1 - self.saved.y**2)).astype(np.float64),)

    msg = hygiene_failure(Upcasting, [rng.normal(size=(2, 2)).astype(np.float32)], "shapes_dtypes")
    assert "float64" in msg and "float32" in msg


def test_backward_exception_is_reported_with_the_gate_name():
    class Broken(gates.MultiplyGate):
        def backward(self, g):
            return g @ self.saved.b, self.saved.a.T @ g  # missing transpose: shapes do not fit

    with pytest.raises(GradcheckError, match="Broken.backward raised"):
        gradcheck(Broken, [rng.normal(size=(2, 3)), rng.normal(size=(3, 4))])


# ----- random upstream gradients -----
def test_random_upstream_catches_what_an_all_ones_upstream_hides():
    class IgnoresUpstreamValues(gates.Tanh):
        def backward(self, g):
            return (np.ones_like(g) * (1 - self.saved.y**2),)

    x = rng.normal(size=(3, 3))
    ones = [np.ones((3, 3))]
    assert gradcheck(IgnoresUpstreamValues, [x], mode="vjp", grad_outputs=ones, hygiene=False).passed
    with pytest.raises(GradcheckError):
        gradcheck(IgnoresUpstreamValues, [x], mode="vjp", hygiene=False)


# ----- step and precision -----
class Float32Only(gates.Tanh):
    """A user gate that computes in float32 whatever it is given."""

    def forward(self, x):
        y = np.tanh(x.astype(np.float32))
        self.save(y=y)
        return y


def test_float32_gate_checked_without_false_failures():
    x = rng.normal(size=(4, 3)).astype(np.float32)
    report = gradcheck(Float32Only, [x])
    assert report.passed
    assert report.fd_dtype == "float32"
    assert report.steps["x"] > 1e-3
    assert any("did not run in float64" in n for n in report.notes)


def test_float64_fd_of_a_float32_gate_uses_small_step():
    x = rng.normal(size=(4, 3)).astype(np.float32)
    report = gradcheck(gates.Tanh, [x])
    assert report.passed and report.fd_dtype == "float64" and report.steps["x"] < 1e-5


def test_bad_step_shows_a_sweep_that_points_at_the_step():
    x = rng.normal(size=(4, 3)).astype(np.float32)
    with pytest.raises(GradcheckError) as info:
        gradcheck(Float32Only, [x], eps=1e-7, rtol=1e-3, atol=1e-5)
    msg = str(info.value)
    assert "step sweep" in msg and "suspect the step" in msg
    assert len(info.value.report.sweep) == 9


# ----- kinks -----
def test_kink_reported_as_non_differentiable_not_as_wrong():
    x = np.array([[0.0, 1.5], [-0.7, 0.0]])
    report = gradcheck(gates.ReLU, [x])
    assert report.passed
    assert {m.index for m in report.kinks} == {(0, 0), (1, 1)}
    assert "non-differentiable point" in str(report)
    with pytest.raises(GradcheckError):
        gradcheck(gates.ReLU, [x], kinks="fail")


def test_wrong_subgradient_at_a_kink_still_fails():
    class BadSubgradient(gates.ReLU):
        def backward(self, g):
            return (np.where(self.saved.positive, g, 0.0) + np.where(self.saved.positive, 0.0, -g),)

    with pytest.raises(GradcheckError):
        gradcheck(BadSubgradient, [np.array([0.0, 1.0, -1.0])])


def test_a_smooth_mismatch_is_not_mistaken_for_a_kink():
    class Wrong(gates.Tanh):
        def backward(self, g):
            return (2 * g * (1 - self.saved.y**2),)

    with pytest.raises(GradcheckError) as info:
        gradcheck(Wrong, [rng.normal(size=(3,))])
    assert not info.value.report.kinks


# ----- modes -----
def test_auto_mode_picks_full_for_small_and_projection_for_large():
    assert gradcheck(gates.Tanh, [rng.normal(size=(3, 3))]).mode == "full"
    assert gradcheck(gates.Tanh, [rng.normal(size=(30, 30))]).mode == "vjp"
    assert gradcheck(gates.Tanh, [rng.normal(size=(100, 100))]).mode == "projection"


def test_full_mode_compares_every_jacobian_entry():
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 2))
    report = gradcheck(gates.MultiplyGate, [a, b], mode="full")
    assert report.n_checked == (6 + 6) * 4
    assert any(m.output == "out[1, 0]" for m in report.worst) or report.worst


def test_projection_mode_catches_and_locates_a_bug_in_a_large_input():
    class OneBadElement(gates.Tanh):
        def backward(self, g):
            d = g * (1 - self.saved.y**2)
            d[7, 3] += 1.0
            return (d,)

    with pytest.raises(GradcheckError) as info:
        gradcheck(OneBadElement, [rng.normal(size=(100, 100))], mode="projection")
    assert info.value.report.failures[0].index == (7, 3)


# ----- functions built from graph ops -----
def test_function_of_tensors_is_checked_with_its_argument_names():
    def rnn_step_loss(x, h, W_ih, W_hh, b):
        h_new = (x @ W_ih.T + h @ W_hh.T + b).tanh()
        return (h_new * h_new).sum()

    shapes = [(2, 3), (2, 4), (4, 3), (4, 4), (4,)]
    report = gradcheck(rnn_step_loss, [rng.normal(size=s) for s in shapes])
    assert report.passed and report.steps.keys() == {"x", "h", "W_ih", "W_hh", "b"}


def test_tensor_inputs_and_integer_inputs_pass_through():
    def loss(logits, targets):
        return (logits.tanh() * 2.0).sum() + 0.0 * logits.sum() if targets is None else (logits.tanh()).sum()

    report = gradcheck(loss, [Tensor(rng.normal(size=(2, 3))), np.array([0, 1])])
    assert report.passed and list(report.steps) == ["logits"]


def test_rejects_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        gradcheck(gates.Tanh, [np.ones(2)], mode="fast")
