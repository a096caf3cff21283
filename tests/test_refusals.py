"""The text of every refusal in the graph, the gates, the sequence layer and the checkers: each is
triggered with a bad argument placed where a wrong name or index would show (the second of
several inputs, an output list of two before the inputs), and its message must name exactly that
argument, index or value. A test reads the source of those modules and fails when a refusal is
added that no row here triggers, and another checks every built-in gate's refusal of a wrong
dtype at each of its inputs in turn."""

import ast
import functools
import inspect
import pathlib
import re
import sys
import traceback

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn import gates as G
from autograd_rnn.errors import ConfigError, GateInputError, GateTypeError, GradcheckError, NonFiniteError
from autograd_rnn.gates.base import Gate
from autograd_rnn.graph.walk import backprop
from autograd_rnn.nodes import Cell, LSTMLayer, RNNLayer
from autograd_rnn.sequence import (
    ComposedKernel,
    LookBack,
    Recurrent,
    Sequence,
    SequenceGate,
    Truncated,
    check_cell_options,
    parse_truncation,
    register_fused,
)
from autograd_rnn.sequence.fused import FusedCell, LNLSTMKernel, RNNKernel
from autograd_rnn.testing import builtin_gate_classes, example_case

ROOT = pathlib.Path(ar.__file__).resolve().parent
CHECKED = ["graph", "gates", "sequence", "gradcheck.py", "seqcheck.py"]


def t(*shape, dtype=np.float64) -> ar.Tensor:
    return ar.Tensor(np.ones(shape, dtype), requires_grad=True)


class TwoIn(Gate):
    """A user gate (so the walk checks what its backward returns): out = a + b, with the
    gradients ``grads(a, b)`` returns."""

    def __init__(self, grads):
        self.grads = grads

    def forward(self, a, b):
        self.save(a=a, b=b)
        return a + b

    def backward(self, g):
        return self.grads(self.saved.a, self.saved.b)


def user_gate(grads):
    return lambda: ar.apply(TwoIn(grads), t(2), t(2)).sum().backward()


def applied_twice():
    gate = G.Tanh()
    ar.apply(gate, t(2))
    ar.apply(gate, t(2))


def backward_raises(self, g):
    raise ZeroDivisionError("no")


class NoGrads(G.Tanh):
    def backward(self, g):
        return (None,)


class OneGrad(G.HadamardGate):
    def backward(self, g):
        return (g * self.saved.b,)


FOREIGN = ar.Tensor(np.ones(3), requires_grad=True, name="foreign")


class BadStep(Cell):
    def __init__(self, out_shape=None, out_dtype=None, foreign=False):
        super().__init__(2, 3)
        self.out_shape, self.out_dtype, self.foreign = out_shape, out_dtype, foreign
        self.parameter("w", np.ones((3, 2)))

    def step(self, x, h):
        out = h + x @ self.w.T
        if self.foreign:
            return out * FOREIGN
        if self.out_dtype is not None:
            return ar.Tensor(out.data.astype(self.out_dtype), requires_grad=True)
        return out if self.out_shape is None else ar.Tensor(np.zeros(self.out_shape), requires_grad=True)


def composed(cell, T=2):
    return lambda: ComposedKernel(cell).forward(np.ones((T, 2, 2)), (np.zeros((2, 3)),),
                                                {n: p.data for n, p in cell.parameters().items()})


def lstm_sequence_gate():
    return SequenceGate(functools.partial(ComposedKernel, LSTMLayer(2, 3)), ("a",), 2)


def frozen(fused=True):
    return Sequence(LSTMLayer(2, 3), fused=fused).frozen()


def rnn_kernel(W_shape=(2, 2), b_shape=(2,), zx_width=2):
    return lambda: RNNKernel().forward(np.ones((3, 1, zx_width)), (np.zeros((1, 2)),),
                                       {"weight_hh": np.ones(W_shape), "bias_hh": np.ones(b_shape)})


lstm = LSTMLayer(2, 3)
x = np.arange(6.0).reshape(2, 3)

# (id, call, error type, fragments the message must contain: the argument, index or value named)
class NoRng(Cell):
    """A cell whose constructor takes no rng=: every layer builds its cell with one."""

    def __init__(self, input_size, hidden_size, dtype=np.float64):
        super().__init__(input_size, hidden_size, dtype)


class NoWeightHH(Cell):
    """A cell whose recurrent weight has another name: weight drop has nothing to drop."""

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        self.parameter("U", np.zeros((hidden_size, input_size), dtype))

    def step(self, x, h):
        return (x @ self.U.T).tanh()


REFUSALS = [
    # ----- graph: grad() and the walk
    ("grad-output-not-tensor", lambda: ar.grad([t(2), 3], [t(2)]), GateTypeError, ["grad: outputs[1] is a int"]),
    ("grad-input-not-tensor", lambda: ar.grad([t(2), t(2)], [t(2), "w"]), GateTypeError,
     ["grad: inputs[1] is a str"]),
    ("grad-count", lambda: ar.grad([t(2), t(2)], [t(2)], [np.ones(2)]), GateInputError,
     ["1 grad_outputs for 2 outputs"]),
    ("grad-dtype", lambda: ar.grad([t(2), t(2)], [t(2)], [np.ones(2), np.array(["a", "b"])]), GateTypeError,
     ["grad_outputs[1] has dtype <U1"]),
    ("grad-shape", lambda: ar.grad([t(2), t(3)], [t(2)], [np.ones(2), np.ones(2)]), GateInputError,
     ["grad_outputs[1] has shape (2,); expected the output's shape (3,)"]),
    ("walk-not-tuple", user_gate(lambda a, b: a), GateTypeError,
     ["TwoIn.backward returned a ndarray", "one gradient per input (2)"]),
    ("walk-count", user_gate(lambda a, b: (a,)), GateInputError, ["TwoIn.backward returned 1 gradients for 2 inputs"]),
    ("walk-type", user_gate(lambda a, b: (a.copy(), [1.0, 1.0])), GateTypeError,
     ["TwoIn.backward returned a list for input 1"]),
    ("walk-shape", user_gate(lambda a, b: (a.copy(), np.ones(3))), GateInputError,
     ["shape (3,) for input 1; expected that input's shape (2,)"]),
    ("walk-dtype", user_gate(lambda a, b: (a.copy(), b.astype(np.float32))), GateTypeError,
     ["a float32 gradient for input 1; expected that input's dtype float64"]),
    ("backprop-root-shape", lambda: backprop([t(2)], [np.ones(3)]), GateInputError,
     ["upstream gradient has shape (3,); expected (2,)"]),
    ("tensor-int-grad", lambda: ar.Tensor(np.ones(2, int), requires_grad=True, name="w"), GateTypeError,
     ["Tensor 'w': dtype int64 cannot require a gradient"]),
    ("tensor-len-0d", lambda: len(ar.Tensor(1.0)), GateTypeError, ["len() of a 0-d Tensor"]),
    ("tensor-iter-0d", lambda: iter(ar.Tensor(1.0)), GateTypeError, ["iteration over a 0-d Tensor"]),
    ("tensor-pow-tensor", lambda: t(2) ** t(2), GateTypeError, ["Tensor ** Tensor"]),
    ("backward-non-scalar", lambda: (t(3) * 2.0).backward(), GateInputError, ["this tensor has shape (3,)"]),
    ("backward-dtype", lambda: (t(2) * 2.0).backward(np.array(["a", "b"])), GateTypeError,
     ["the upstream gradient has dtype <U1"]),
    ("backward-shape", lambda: (t(2) * 2.0).backward(np.ones(3)), GateInputError,
     ["upstream gradient has shape (3,); expected the tensor's shape (2,)"]),
    ("apply-twice", applied_twice, GateInputError, ["Tanh: this gate instance was already applied"]),
    # ----- gates: shared checks (base.py)
    ("not-ndarray", lambda: G.HadamardGate().forward(x, [1.0]), GateTypeError, ["input 'b' is a list"]),
    ("int-dtype", lambda: G.Divide().forward(x, np.ones((2, 3), int)), GateTypeError,
     ["Divide: input 'b' has dtype int64"]),
    ("mixed-dtypes", lambda: G.LinearGate().forward(x, np.ones((4, 3), np.float32), np.ones(4)), GateTypeError,
     ["'W' is float32"]),
    ("ndim", lambda: G.MultiplyGate().forward(x, np.ones((3, 1, 1))), GateInputError,
     ["MultiplyGate: input 'b' has shape (3, 1, 1) (3-D)"]),
    ("indices-dtype", lambda: G.EmbeddingGate().forward(np.ones((5, 2)), np.ones(2)), GateTypeError,
     ["input 'indices' has dtype float64"]),
    ("indices-range", lambda: G.EmbeddingGate().forward(np.ones((5, 2)), np.array([[0, 1], [7, 2]])), GateInputError,
     ["input 'indices' holds 7 at index (1, 0)", "[0, 5)"]),
    ("axis-kind", lambda: G.Sum(axis="rows").forward(x), GateInputError, ["Sum: axis='rows'"]),
    ("axis-range", lambda: G.Mean(axis=(0, 5)).forward(x), GateInputError,
     ["Mean: axis 5 is out of range for an input with 2 dimension(s)"]),
    ("axis-twice", lambda: G.Var(axis=(1, -1)).forward(x), GateInputError, ["Var: axis=(1, -1) names an axis twice"]),
    ("no-broadcast", lambda: G.SubtractGate().forward(x, np.ones(4)), GateInputError,
     ["inputs 'a' (2, 3) and 'b' (4,) do not broadcast"]),
    ("outer-broadcast", lambda: G.Maximum().forward(np.ones((3, 1)), np.ones(3)), GateInputError,
     ["Maximum: inputs 'a' (3, 1) and 'b' (3,) would broadcast to (3, 3)"]),
    # ----- gates: arithmetic
    ("matmul-inner", lambda: G.MultiplyGate().forward(x, np.ones((4, 5))), GateInputError,
     ["input 'b' has shape (4, 5); expected first dimension 3"]),
    ("linear-x-0d", lambda: G.LinearGate().forward(np.array(1.0), np.ones((2, 1)), np.ones(2)), GateInputError,
     ["input 'x' is 0-d"]),
    ("linear-W", lambda: G.LinearGate().forward(x, np.ones((4, 2)), np.ones(4)), GateInputError,
     ["input 'W' has shape (4, 2); expected (out, 3)"]),
    ("linear-b", lambda: G.LinearGate().forward(x, np.ones((4, 3)), np.ones(3)), GateInputError,
     ["input 'b' has shape (3,); expected (4,)"]),
    # ----- gates: elementwise domains (the first bad element, its index and the count)
    ("exp-overflow", lambda: G.Exp().forward(np.array([1.0, 800.0, 900.0])), GateInputError,
     ["Exp: input 'x' holds 800.0 at index (1,) (2 value(s))"]),
    ("exp-nan", lambda: G.Exp().forward(np.array([1.0, np.nan])), NonFiniteError, ["Exp: input 'x' holds NaN"]),
    ("log-domain", lambda: G.Log().forward(np.array([[1.0, 2.0], [0.0, -1.0]])), GateInputError,
     ["Log: input 'x' holds 0.0 at index (1, 0) (2 value(s))"]),
    ("sqrt-domain", lambda: G.Sqrt().forward(np.array([0.0, 1.0, -2.0])), GateInputError,
     ["Sqrt: input 'x' holds -2.0 at index (2,)"]),
    ("rsqrt-domain", lambda: G.Rsqrt().forward(np.array([1.0, 0.0])), GateInputError,
     ["Rsqrt: input 'x' holds 0.0 at index (1,)"]),
    ("power-fraction", lambda: G.Power(1.5).forward(np.array([0.0, -1.0])), GateInputError,
     ["Power: input 'x' holds -1.0 at index (1,)", "non-integer exponent 1.5"]),
    ("power-negative-fraction", lambda: G.Power(-0.5).forward(np.array([1.0, 0.0])), GateInputError,
     ["Power: input 'x' holds 0.0 at index (1,)", "x > 0", "exponent -0.5"]),
    ("power-negative", lambda: G.Power(-2).forward(np.array([1.0, 0.0])), GateInputError,
     ["Power: input 'x' holds 0.0 at index (1,)", "negative exponent -2"]),
    ("power-exponent", lambda: G.Power(np.nan), GateInputError, ["Power: exponent p=nan"]),
    ("reciprocal-zero", lambda: G.Reciprocal().forward(np.array([2.0, 0.0])), GateInputError,
     ["Reciprocal: input 'x' holds 0.0 at index (1,)"]),
    ("divide-zero", lambda: G.Divide().forward(x, np.array([[1.0, 2.0, 3.0], [4.0, 0.0, 6.0]])), GateInputError,
     ["Divide: input 'b' holds 0.0 at index (1, 1)"]),
    # ----- gates: loss, reductions, dropout, shapes
    ("ce-reduction", lambda: G.SoftmaxCrossEntropy("avg"), ConfigError, ["reduction='avg'"]),
    ("ce-targets-shape", lambda: G.SoftmaxCrossEntropy().forward(x, np.zeros(3, int)), GateInputError,
     ["input 'targets' has shape (3,); expected (2,)"]),
    ("ce-targets-range", lambda: G.SoftmaxCrossEntropy(ignore_index=-1).forward(
        np.zeros((3, 4)), np.array([-1, 0, 9])), GateInputError, ["input 'targets' holds 9 at index (2,)", "[0, 4)"]),
    ("ce-mask-shape", lambda: G.SoftmaxCrossEntropy().forward(x, np.zeros(2, int), np.ones(3)), GateInputError,
     ["input 'mask' has shape (3,); expected (2,)"]),
    ("ce-all-masked", lambda: G.SoftmaxCrossEntropy().forward(x, np.zeros(2, int), np.zeros(2)), GateInputError,
     ["every row is masked or ignored"]),
    ("ce-mask-negative", lambda: G.SoftmaxCrossEntropy().forward(x, np.zeros(2, int), np.array([1.0, -1.0])),
     GateInputError, ["input 'mask' holds -1.0 at index 1; expected finite row weights >= 0"]),
    ("ce-mask-nan", lambda: G.SoftmaxCrossEntropy().forward(x, np.zeros(2, int), np.array([1.0, np.nan])),
     GateInputError, ["input 'mask' holds nan at index 1"]),
    ("ce-mask-dtype", lambda: G.SoftmaxCrossEntropy().forward(x, np.zeros(2, int), np.array(["a", "b"])),
     GateInputError, ["input 'mask' has dtype <U1; expected bool or numbers"]),
    ("ce-mask-overflow", lambda: G.SoftmaxCrossEntropy().forward(x.astype(np.float32), np.zeros(2, int),
                                                                np.array([1.0, 1e300])),
     GateInputError, ["input 'mask' holds 1e+300 at index 1, not finite in float32"]),
    ("ce-nan", lambda: G.SoftmaxCrossEntropy().forward(np.array([[0.0, 1.0, 2.0], [1.0, 2.0, np.inf]]),
                                                       np.zeros(2, int)), NonFiniteError,
     ["input 'logits' holds NaN or inf (first at (1, 2))"]),
    ("mean-empty", lambda: G.Mean(axis=0).forward(np.ones((0, 3))), GateInputError,
     ["the reduced axes (0,) of x (0, 3) hold no elements"]),
    ("var-ddof", lambda: G.Var(ddof=-1), GateInputError, ["Var: ddof=-1"]),
    ("var-too-few", lambda: G.Var(axis=1, ddof=2).forward(np.ones((3, 2))), GateInputError,
     ["the reduced axes (1,) of x (3, 2) hold 2 element(s); expected more than ddof=2"]),
    ("dropout-p", lambda: G.Dropout.sample((2,), 1.0, np.random.default_rng(0)), GateInputError, ["Dropout: p=1.0"]),
    ("dropout-shape", lambda: G.Dropout(np.ones(3)).forward(np.ones(2)), GateInputError,
     ["input 'x' has shape (2,); expected the mask's shape (3,)"]),
    ("concat-none", lambda: G.Concat().forward(), GateInputError, ["Concat: got no inputs"]),
    ("concat-axis", lambda: G.Concat(axis=1.5), GateInputError, ["Concat: axis=1.5; expected an int"]),
    ("concat-float", lambda: G.Concat().forward(x, x, np.ones((2, 1), int)), GateTypeError,
     ["input 'xs[2]' has dtype int64"]),
    ("concat-0d", lambda: G.Concat().forward(x, np.array(1.0)), GateInputError, ["input 'xs[1]' is 0-d"]),
    ("concat-shape", lambda: G.Concat().forward(x, x, np.ones((3, 1))), GateInputError,
     ["input 'xs[2]' has shape (3, 1); expected the shape of xs[0] (2, 3)"]),
    ("concat-dtype", lambda: G.Concat().forward(x, x.astype(np.float32)), GateTypeError,
     ["input 'xs[1]' has dtype float32; expected float64"]),
    ("split-count", lambda: G.Split(2).forward(np.ones((2, 5))), GateInputError,
     ["input 'x' has size 5 along axis -1; expected a multiple of sections=2"]),
    ("split-sizes", lambda: G.Split([2, 2]).forward(np.ones((2, 5))), GateInputError,
     ["sizes [2, 2] sum to 4", "x's size 5"]),
    ("split-sections", lambda: G.Split([2, 0]), GateInputError, ["Split: sections=[2, 0]"]),
    ("index-range", lambda: G.Index((slice(None), 5)).forward(x), GateInputError,
     ["key (slice(None, None, None), 5) is out of range for x of shape (2, 3)"]),
    ("index-key", lambda: G.Index((0, "a")).forward(x), GateTypeError,
     ["key (0, 'a') cannot index x of shape (2, 3)"]),
    ("index-slice", lambda: G.Index(slice(0, 1.5)).forward(x), GateTypeError,
     ["key slice(0, 1.5, None) cannot index x of shape (2, 3)"]),
    ("stack-dtype", lambda: G.Stack().forward(x, x, x.astype(np.float32)), GateTypeError,
     ["input 'xs[2]' has dtype float32; expected float64"]),
    ("stack-shape", lambda: G.Stack().forward(x, x, np.ones((3, 2))), GateInputError,
     ["input 'xs[2]' is float64 (3, 2); expected float64 (2, 3) like xs[0]"]),
    ("reshape", lambda: G.Reshape((4,)).forward(x), GateInputError,
     ["input 'x' of shape (2, 3) (6 values) cannot be reshaped to (4,)"]),
    ("transpose-axes", lambda: G.Transpose((0,)).forward(x), GateInputError,
     ["axes=(0,) for x of shape (2, 3); expected a permutation of all 2 axes"]),
    # ----- sequence
    ("sequence-gate-xs", lambda: lstm_sequence_gate().forward(np.ones((2, 3)), np.ones((1, 3)), np.ones((1, 3)),
                                                               np.ones(1)), GateInputError,
     ["input 'xs' has shape (2, 3); expected (T, batch, input)"]),
    ("sequence-gate-count", lambda: lstm_sequence_gate().forward(np.ones((1, 1, 2)), np.ones((1, 3))),
     GateInputError, ["got 2 inputs; expected xs, 2 state part(s) and the parameters a"]),
    ("sequence-gate-state", lambda: lstm_sequence_gate().forward(np.ones((1, 2, 2)), np.ones((2, 3)),
                                                                  np.ones((2, 4)), np.ones(1)), GateInputError,
     ["input 'state0[1]' has shape (2, 4); expected (batch=2, hidden) like state0[0]"]),
    ("sequence-gate-dtype", lambda: lstm_sequence_gate().forward(np.ones((1, 2, 2)), np.ones((2, 3)),
                                                                  np.ones((2, 3), np.float32), np.ones(1)),
     GateTypeError, ["'state0[1]' is float32"]),
    ("composed-step-shape", composed(BadStep(out_shape=(2, 5))), GateInputError,
     ["BadStep.step returned [(2, 5)]; expected a state like its input, [(2, 3)]"]),
    ("composed-step-dtype", composed(BadStep(out_dtype=np.float32)), GateInputError,
     ["BadStep.step returned dtypes ['float32']; expected the state's float64"]),
    ("composed-foreign", composed(BadStep(foreign=True)), GateInputError,
     ["BadStep.step reads a tensor that requires a gradient but is not x_t", "'foreign'"]),
    ("frozen-projected", lambda: frozen(fused=False)(np.ones((1, 1, 12)), projected=True), GateInputError,
     ["projected=True needs the fused kernel"]),
    ("frozen-xs", lambda: frozen()(np.ones((1, 1, 3))), GateInputError,
     ["FrozenSequence: xs has shape (1, 1, 3) and dtype float64; expected (T, batch, 2)"]),
    ("frozen-state", lambda: frozen()(np.ones((1, 2, 2)), (np.zeros((2, 3)),)), GateInputError,
     ["state0 is not 2 float64 array(s) of shape (batch=2, hidden=3)"]),
    ("kernel-zx", rnn_kernel(zx_width=3), GateInputError,
     ["RNNKernel: the input projection x W_ih^T + b_ih has shape (3, 1, 3); expected (3, 1, 2)"]),
    ("kernel-weight", rnn_kernel(W_shape=(2, 3)), GateInputError,
     ["RNNKernel: parameter 'weight_hh' has shape (2, 3); expected (2, 2)"]),
    ("kernel-bias", rnn_kernel(b_shape=(3,)), GateInputError,
     ["RNNKernel: parameter 'bias_hh' has shape (3,); expected (2,)"]),
    ("kernel-nonlinearity", lambda: RNNKernel("sigmoid"), GateInputError, ["nonlinearity='sigmoid'"]),
    ("register-fused", lambda: register_fused(int, FusedCell(RNNKernel)), TypeError,
     ["register_fused: <class 'int'> is not a Cell subclass"]),
    ("cell-options", lambda: check_cell_options(RNNLayer, {"nonlinearity": "tanh", "bias": False}), ConfigError,
     ["RNNLayer: no cell option 'bias'", "options are nonlinearity"]),
    ("recurrent-layers", lambda: Recurrent("rnn", 2, 3, layers=2000), ConfigError, ["Recurrent: layers=2000"]),
    ("recurrent-dropout", lambda: Recurrent("rnn", 2, 3, dropout=1.5), ConfigError, ["Recurrent: dropout=1.5"]),
    ("sequence-cell", lambda: Sequence("lstm"), GateTypeError, ["Sequence: cell is a str"]),
    ("sequence-xs", lambda: Sequence(lstm)(np.ones((2, 1, 3))), GateInputError,
     ["Sequence: xs has shape (2, 1, 3); expected (T, batch, input_size) with input_size=2"]),
    ("sequence-xs-dtype", lambda: Sequence(lstm)(np.ones((2, 1, 2), np.float32)), GateInputError,
     ["Sequence: xs has dtype float32; expected the cell's float64"]),
    ("sequence-projected", lambda: Sequence(lstm, fused=False).forward_projected(np.ones((1, 1, 12))),
     GateInputError, ["forward_projected needs the fused kernel", "LSTMLayer runs composed"]),
    ("sequence-zx", lambda: Sequence(lstm).forward_projected(np.ones((1, 12))), GateInputError,
     ["Sequence: zx has shape (1, 12)"]),
    ("sequence-state-parts", lambda: Sequence(lstm)(np.ones((1, 2, 2)), (np.zeros((2, 3)),)), GateInputError,
     ["state0 has 1 part(s); LSTMLayer expects 2"]),
    ("sequence-state-shape", lambda: Sequence(lstm)(np.ones((1, 2, 2)), (np.zeros((2, 3)), np.zeros((2, 4)))),
     GateInputError, ["Sequence: state0[1] has shape (2, 4); expected (batch=2, hidden_size=3)"]),
    ("sequence-state-dtype", lambda: Sequence(lstm)(np.ones((1, 2, 2)),
                                                    (np.zeros((2, 3)), np.zeros((2, 3), np.float32))),
     GateInputError, ["Sequence: state0[1] has dtype float32"]),
    ("lookback-k", lambda: LookBack(-1), ConfigError, ["LookBack: k=-1"]),
    ("truncated-k", lambda: Truncated(3, 2), ConfigError, ["Truncated: k1=3, k2=2"]),
    ("truncation-kind", lambda: parse_truncation(3.5), ConfigError, ["truncation=3.5"]),
    ("truncation-number", lambda: parse_truncation("lookback:x"), ConfigError, ["truncation 'lookback:x'"]),
    ("truncation-name", lambda: parse_truncation("bogus"), ConfigError, ["truncation 'bogus'"]),
    # ----- gradcheck and gradcheck_sequence
    ("gradcheck-backward-raises", lambda: ar.gradcheck(type("Raises", (G.Tanh,), {"backward": backward_raises}),
                                                       [x]), GradcheckError,
     ["gradcheck: Raises.backward raised ZeroDivisionError: no", "x float64 (2, 3)"]),
    ("gradcheck-count", lambda: ar.gradcheck(OneGrad, [x, x]), GradcheckError,
     ["OneGrad.backward returned tuple of length 1", "one gradient per input (2)"]),
    ("gradcheck-wrt-int", lambda: ar.gradcheck(G.EmbeddingGate, [np.ones((3, 2)), np.array([1])], wrt=[1]),
     ConfigError, ["wrt=[1] names a non-float input; expected indices of float inputs [0]"]),
    ("gradcheck-no-grad", lambda: ar.gradcheck(NoGrads, [x]), GradcheckError,
     ["NoGrads has no float input with a gradient"]),
    ("gradcheck-mode", lambda: ar.gradcheck(G.Tanh, [x], mode="dense"), ConfigError, ["mode='dense'"]),
    ("gradcheck-kinks", lambda: ar.gradcheck(G.Tanh, [x], kinks="ignore"), ConfigError, ["kinks='ignore'"]),
    ("gradcheck-rtol", lambda: ar.gradcheck(G.Tanh, [x], rtol=-1.0), ConfigError, ["rtol=-1.0"]),
    ("gradcheck-wrt", lambda: ar.gradcheck(G.AddGate, [x, x], wrt=[0, 2]), ConfigError,
     ["wrt=[0, 2]; expected distinct input indices in [0, 2)"]),
    ("gradcheck-grad-outputs", lambda: ar.gradcheck(G.Tanh, [x], grad_outputs=np.ones((2, 3))), ConfigError,
     ["grad_outputs is a ndarray"]),
    ("gradcheck-seed", lambda: ar.gradcheck(G.Tanh, [x], seed=-1), ConfigError, ["seed=-1"]),
    ("seqcheck-dropout", lambda: ar.gradcheck_sequence(Recurrent("rnn", 2, 3, layers=2, dropout=0.5),
                                                       np.ones((1, 1, 2))), GateInputError,
     ["this Recurrent applies dropout between layers"]),
    ("seqcheck-subject", lambda: ar.gradcheck_sequence(lstm, np.ones((1, 1, 2))), GateInputError,
     ["gradcheck_sequence: got a LSTMLayer"]),
    ("seqcheck-xs", lambda: ar.gradcheck_sequence(Sequence(lstm), np.ones((1, 1, 3))), GateInputError,
     ["gradcheck_sequence: xs has shape (1, 1, 3); expected (T, batch, input_size=2)"]),
    ("seqcheck-state0", lambda: ar.gradcheck_sequence(Recurrent("gru", 2, 3, layers=2), np.ones((1, 1, 2)),
                                                      state0=[np.zeros((1, 3))] * 3), GateInputError,
     ["state0 has 3 entries; expected one per layer (2)"]),
    ("seqcheck-grad-hs", lambda: ar.gradcheck_sequence(Sequence(lstm), np.ones((2, 1, 2)), grad_hs=np.ones((2, 1, 4))),
     GateInputError, ["grad_hs is float64 of shape (2, 1, 4); expected numbers of shape (2, 1, 3)"]),
    ("seqcheck-grad-final-layers", lambda: ar.gradcheck_sequence(Recurrent("rnn", 2, 3, layers=2), np.ones((1, 1, 2)),
                                                                 grad_final=[np.ones((1, 3))] * 3), GateInputError,
     ["grad_final has 3 entries; expected one per layer (2)"]),
    ("seqcheck-grad-final-parts", lambda: ar.gradcheck_sequence(Sequence(lstm), np.ones((1, 1, 2)),
                                                                grad_final=(np.ones((1, 3)),) * 3), GateInputError,
     ["grad_final has 3 parts; expected one per part of the state (2)"]),
    ("gradcheck-no-tensor", lambda: ar.gradcheck(lambda a: a.data * 2, [x]), GateTypeError,
     ["returned a ndarray value; expected a Tensor"]),
    ("hook-not-callable", lambda: Sequence(lstm).register_hook(3), GateTypeError,
     ["Sequence.register_hook: got a int; expected a callable"]),
    ("recurrent-states", lambda: Recurrent("rnn", 2, 3, layers=2)(ar.Tensor(np.ones((1, 1, 2))), [None]),
     GateInputError, ["Recurrent: states0 is 1 states; expected a list with one state per layer (2)"]),
    ("cell-option-size", lambda: check_cell_options(RNNLayer, {"hidden_size": 3}), ConfigError,
     ["RNNLayer: no cell option 'hidden_size'"]),
    ("cell-constructor", lambda: check_cell_options(NoRng, {}), ConfigError,
     ["the cell NoRng", "its constructor takes no rng="]),
    ("dropout-shared-axes", lambda: ar.dropout(ar.Tensor(np.ones((2, 3))), 0.5, 0, shared_axes=(2,)), GateInputError,
     ["dropout: shared_axes=(2,); expected axes of the input's 2 dimension(s)"]),
    ("lnlstm-parameter", lambda: LNLSTMKernel().forward(np.ones((1, 1, 12)), (np.zeros((1, 3)),) * 2, {
        "weight_hh": np.ones((12, 3)), "gain_hh": np.ones(12), "gain_c": np.ones(4), "bias_c": np.ones(3)}),
     GateInputError, ["LNLSTMKernel: parameter 'gain_c' has shape (4,); expected (3,)"]),
    ("lnlstm-input-part", lambda: LNLSTMKernel().forward(np.ones((1, 1, 8)), (np.zeros((1, 3)),) * 2, {
        "weight_hh": np.ones((12, 3)), "gain_hh": np.ones(12), "gain_c": np.ones(3), "bias_c": np.ones(3)}),
     GateInputError, ["LNLSTMKernel: the input part has shape (1, 1, 8); expected (1, 1, 12)"]),
    ("recurrent-locked", lambda: Recurrent("lstm", 2, 3, locked=1), ConfigError,
     ["Recurrent: locked=1; expected True or False"]),
    ("recurrent-weight-drop", lambda: Recurrent(NoWeightHH, 2, 3, weight_drop=0.1), ConfigError,
     ["Recurrent: weight_drop=0.1", "NoWeightHH has none"]),
]


def raise_site(e: BaseException) -> tuple[str, int]:
    """(file, line) of the statement that raised ``e``."""
    frame = traceback.extract_tb(e.__traceback__)[-1]
    return str(pathlib.Path(frame.filename).resolve()), frame.lineno


@pytest.mark.parametrize("call,error,fragments", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_refusal_names_the_argument(call, error, fragments):
    with pytest.raises(error) as info, np.errstate(invalid="ignore"):
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in the message: {message}"


def refusal_sites() -> dict:
    """Every ``raise SomeError(<message>)`` in the checked modules, ``(file, line) -> source``: a
    refusal worded there (a report raised as it is, ``raise GradcheckError(str(report), report)``,
    and NotImplementedError are not refusals of an argument)."""
    sites = {}
    paths = [p for name in CHECKED for p in ((ROOT / name).rglob("*.py") if (ROOT / name).is_dir() else [ROOT / name])]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                continue
            if not isinstance(node.exc.args[0], ast.Constant | ast.JoinedStr):
                continue
            sites[(str(path.resolve()), node.lineno)] = ast.unparse(node)[:100]
    return sites


def test_every_refusal_is_triggered_by_a_row_above():
    hit = set()
    for _, call, error, _ in REFUSALS:
        try:
            with np.errstate(invalid="ignore"):
                call()
        except error as e:
            hit.add(raise_site(e))
    missing = {f"{pathlib.Path(f).relative_to(ROOT)}:{line}": src for (f, line), src in refusal_sites().items()
               if (f, line) not in hit}
    assert not missing, "refusals no row of REFUSALS triggers (add one that checks the argument it names):\n" + \
        "\n".join(f"  {k}: {v}" for k, v in sorted(missing.items()))


GATES = [c for c in builtin_gate_classes() if c.__module__.startswith("autograd_rnn.gates")]


def float_inputs(cls) -> list:
    """(index, name) of each float input of the gate's registered case, named as forward names it."""
    case = example_case(cls, seed=0)
    params = [p for p in inspect.signature(cls.forward).parameters.values() if p.name != "self"]
    names = []
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            names += [f"{p.name}[{i}]" for i in range(len(case.inputs) - len(names))]
        else:
            names.append(p.name)
    return [(i, names[i]) for i, a in enumerate(case.inputs) if a.dtype.kind == "f"]


@pytest.mark.parametrize("cls", GATES, ids=lambda c: c.__name__)
def test_a_wrong_dtype_is_named_at_every_input_of_every_gate(cls):
    """Each float input in turn given as integers: the refusal names that input, as forward
    calls it (``xs[2]`` for the third of a variable number)."""
    for i, name in float_inputs(cls):
        case = example_case(cls, seed=0)
        inputs = list(case.inputs)
        inputs[i] = np.ones(inputs[i].shape, np.int64)
        gate = case.gate() if isinstance(case.gate, type) else case.gate.fresh()
        with pytest.raises(GateTypeError) as info:
            gate.forward(*inputs)
        assert re.search(rf"input '{re.escape(name)}' has dtype int64|'{re.escape(name)}' is int64", str(info.value)), \
            f"{cls.__name__} with input {i} ('{name}') as int64: {info.value}"


def test_the_table_covers_every_checked_module():
    """A guard for the guard: the modules read for refusals exist and hold some."""
    files = {pathlib.Path(f).relative_to(ROOT).parts[0] for f, _ in refusal_sites()}
    assert {"graph", "gates", "sequence", "gradcheck.py", "seqcheck.py"} <= files
    assert sys.version_info >= (3, 10)
