"""A recurrent cell that is not built in, written as a Node with only a ``step``.

The minimal gated unit (Zhou et al. 2016) has one gate::

    f  = sigmoid(x W_xf^T + h W_hf^T + b_f)
    h~ = tanh(x W_xh^T + (f * h) W_hh^T + b_h)
    h' = (1 - f) * h + f * h~

Its backward is never written: the graph derives it, Sequence unrolls it (with any truncation),
and autograd_rnn.gradcheck / gradcheck_sequence check it against finite differences.

Run: python examples/custom_cell.py
"""

import numpy as np

import autograd_rnn as ar
from autograd_rnn.init import as_rng, uniform
from autograd_rnn.nodes import Cell, Linear


class MinimalGatedUnit(Cell):
    static_step = True  # the same graph every step: Sequence may record it once and replay it

    def __init__(self, input_size: int, hidden_size: int, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng = as_rng(rng)
        k = 1 / np.sqrt(hidden_size)  # PyTorch's bound for recurrent layers
        self.parameter("W_xf", uniform((hidden_size, input_size), k, rng))
        self.parameter("W_hf", uniform((hidden_size, hidden_size), k, rng))
        self.parameter("b_f", uniform(hidden_size, k, rng))
        self.parameter("W_xh", uniform((hidden_size, input_size), k, rng))
        self.parameter("W_hh", uniform((hidden_size, hidden_size), k, rng))
        self.parameter("b_h", uniform(hidden_size, k, rng))

    def step(self, x: ar.Tensor, h: ar.Tensor) -> ar.Tensor:
        f = (ar.linear(x, self.W_xf, self.b_f) + h @ self.W_hf.T).sigmoid()
        h_tilde = (ar.linear(x, self.W_xh, self.b_h) + (f * h) @ self.W_hh.T).tanh()
        return (1.0 - f) * h + f * h_tilde


def train(steps: int = 60, T: int = 12, batch: int = 8, hidden: int = 16, seed: int = 0) -> list:
    """Teach the cell to output, at every step, the running sign of the sum of its inputs."""
    rng = np.random.default_rng(seed)
    cell = MinimalGatedUnit(1, hidden, rng=rng)
    seq = ar.Sequence(cell, truncation=ar.Truncated(6))
    head = Linear(hidden, 2, rng=rng)
    params = {**seq.parameters(), **{f"head.{k}": p for k, p in head.parameters().items()}}
    losses = []
    for _ in range(steps):
        x = rng.normal(size=(T, batch, 1))
        y = (np.cumsum(x, axis=0)[..., 0] > 0).astype(np.int64)
        hs, _ = seq(ar.Tensor(x))
        logits = head(hs).reshape(T * batch, 2)
        loss = ar.softmax_cross_entropy(logits, y.reshape(-1))
        for p in params.values():
            p.grad = None
        loss.backward()
        for p in params.values():
            p.data -= 0.5 * p.grad
        losses.append(loss.item())
    return losses


def step_function(cell: MinimalGatedUnit):
    """The cell's step as a function of (x, h, *parameters), for gradcheck."""
    names = list(cell.parameters())

    def step(x, h, *params):
        with cell.substituted(dict(zip(names, params))):
            return cell.step(x, h)

    return step


def step_case(d):
    """autograd_rnn.testing case function: one MGU step at random sizes (property_check input)."""
    from autograd_rnn.testing import GateCase

    B, In, H = d.integers(1, 3), d.integers(1, 3), d.integers(1, 4)
    cell = MinimalGatedUnit(In, H)
    params = [d.floats(p.shape, -1, 1) for p in cell.parameters().values()]
    return GateCase(step_function(cell), (d.floats((B, In)), d.floats((B, H), -1, 1), *params))


def sequence_case(d):
    """A random-size MGU sequence under a random truncation policy: (sequence, xs, h0)."""
    T, B, In, H = d.integers(1, 5), d.integers(1, 3), d.integers(1, 3), d.integers(1, 3)
    cell = MinimalGatedUnit(In, H, rng=d.integers(0, 2**16))
    k1 = d.integers(1, 2)
    policy = d.sampled_from([ar.Full(), ar.LookBack(d.integers(0, 3)), ar.Truncated(k1, k1 + d.integers(0, 2))])
    return ar.Sequence(cell, truncation=policy), d.floats((T, B, In)), d.floats((B, H), -1, 1)


def check(seed: int = 0) -> None:
    """Finite-difference checks of the cell's step and of a truncated sequence of it."""
    rng = np.random.default_rng(seed)
    cell = MinimalGatedUnit(3, 4, rng=rng)
    inputs = [rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), *[p.data for p in cell.parameters().values()]]
    ar.gradcheck(step_function(cell), inputs)
    for policy in (ar.Full(), ar.LookBack(2), ar.Truncated(2, 3)):
        ar.gradcheck_sequence(ar.Sequence(cell, truncation=policy), rng.normal(size=(5, 2, 3)), rng.normal(size=(2, 4)))


def main() -> None:
    losses = train()
    print(f"minimal gated unit: loss {losses[0]:.3f} -> {np.mean(losses[-10:]):.3f} over {len(losses)} steps")
    check()
    print("gradcheck of the step and of Full / LookBack(2) / Truncated(2, 3) sequences: passed")


if __name__ == "__main__":
    main()
