"""A gate of your own, property-tested in a few lines.

Swish (x * sigmoid(x)) is not built in. Write its forward and backward, then let
autograd_rnn.testing generate inputs and check the backward against finite differences, plus
the hygiene checks (re-entrant, linear in the upstream gradient, no mutation, no aliasing).

Run: python examples/custom_gate.py
"""

import numpy as np

from autograd_rnn import Tensor, apply, gradcheck
from autograd_rnn.gates import Gate
from autograd_rnn.gates.activations import stable_sigmoid
from autograd_rnn.gates.base import check_float
from autograd_rnn.testing import Draw, GateCase


class Swish(Gate):
    """y = x * sigmoid(x). Backward: dx = g * (s + x * s * (1 - s)), s = sigmoid(x)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        s = stable_sigmoid(x)
        self.save(x=x, s=s)  # what backward needs, kept apart from the gate's configuration
        return x * s

    def backward(self, g: np.ndarray) -> tuple:
        x, s = self.saved.x, self.saved.s
        return (g * (s + x * s * (1.0 - s)),)


def swish_case(d: Draw) -> GateCase:
    """Valid inputs for Swish: any small shape, values in [-4, 4]."""
    shape = (d.integers(1, 4), d.integers(1, 5))
    return GateCase(Swish, (d.floats(shape, -4.0, 4.0),))


def main() -> None:
    x = np.random.default_rng(0).normal(size=(3, 4))
    print(gradcheck(Swish, [x]))

    # The gate inside a graph: backward is automatic.
    t = Tensor(x, requires_grad=True)
    apply(Swish(), t).sum().backward()
    print("d sum(swish(x)) / dx[0] =", t.grad[0])

    try:
        from autograd_rnn.testing import property_check
    except ImportError:
        print("install hypothesis (pip install 'autograd_rnn[dev]') for the property check")
        return
    property_check(swish_case, max_examples=50)
    print("property check: 50 generated cases passed")


if __name__ == "__main__":
    main()
