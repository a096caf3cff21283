"""Invariant 7: bad input raises a clear error naming the gate, the argument, what was received
and what was expected."""

import numpy as np
import pytest

from autograd_rnn import GateInputError, GateTypeError, gates


def test_multiply_shape_mismatch():
    with pytest.raises(GateInputError) as e:
        gates.MultiplyGate().forward(np.ones((2, 3)), np.ones((4, 5)))
    msg = str(e.value)
    assert "MultiplyGate" in msg and "'b'" in msg and "(4, 5)" in msg and "3" in msg and "(2, 3)" in msg


def test_add_shapes_that_do_not_broadcast():
    with pytest.raises(GateInputError, match=r"AddGate: inputs 'a' \(2, 3\) and 'b' \(4,\) do not broadcast"):
        gates.AddGate().forward(np.ones((2, 3)), np.ones(4))


def test_add_refuses_an_outer_broadcast():
    with pytest.raises(GateInputError, match=r"would broadcast to \(3, 3\), larger than both"):
        gates.AddGate().forward(np.ones((3, 1)), np.ones(3))


@pytest.mark.parametrize("gate", [gates.MultiplyGate(), gates.AddGate(), gates.HadamardGate()])
def test_integer_arrays_rejected_where_floats_are_needed(gate):
    expected = rf"{type(gate).__name__}: input 'a' has dtype int64; expected a floating-point array"
    with pytest.raises(GateTypeError, match=expected):
        gate.forward(np.ones((2, 2), dtype=np.int64), np.ones((2, 2)))


def test_object_arrays_rejected():
    with pytest.raises(GateTypeError, match="Tanh: input 'x' has dtype object"):
        gates.Tanh().forward(np.array([1.0, None], dtype=object))


def test_mixed_float_dtypes_rejected():
    with pytest.raises(GateTypeError, match="'a' is float32, 'b' is float64"):
        gates.AddGate().forward(np.ones(2, np.float32), np.ones(2))


def test_softmax_ce_target_out_of_range():
    with pytest.raises(GateInputError) as e:
        gates.SoftmaxCrossEntropy().forward(np.zeros((3, 4)), np.array([0, 4, 1]))
    msg = str(e.value)
    assert "SoftmaxCrossEntropy" in msg and "'targets'" in msg and "holds 4" in msg and "[0, 4)" in msg


def test_softmax_ce_negative_target():
    with pytest.raises(GateInputError, match="holds -1"):
        gates.SoftmaxCrossEntropy().forward(np.zeros((2, 4)), np.array([0, -1]))


def test_softmax_ce_targets_wrong_shape():
    with pytest.raises(GateInputError, match=r"'targets' has shape \(2, 2\); expected \(3,\)"):
        gates.SoftmaxCrossEntropy().forward(np.zeros((3, 4)), np.zeros((2, 2), dtype=np.int64))


def test_softmax_ce_float_targets():
    with pytest.raises(GateTypeError, match="'targets' has dtype float64; expected an integer array"):
        gates.SoftmaxCrossEntropy().forward(np.zeros((2, 4)), np.array([0.0, 1.0]))


def test_softmax_ce_logits_not_2d():
    with pytest.raises(GateInputError, match=r"'logits' has shape \(4,\)"):
        gates.SoftmaxCrossEntropy().forward(np.zeros(4), np.array([0]))


def test_softmax_ce_nan_logits():
    logits = np.zeros((2, 3))
    logits[1, 2] = np.nan
    with pytest.raises(GateInputError, match=r"'logits' holds NaN or inf \(first at \(1, 2\)\)"):
        gates.SoftmaxCrossEntropy().forward(logits, np.array([0, 1]))


def test_softmax_ce_everything_masked():
    with pytest.raises(GateInputError, match="every row is masked or ignored"):
        gates.SoftmaxCrossEntropy(ignore_index=-1).forward(np.zeros((2, 3)), np.array([-1, -1]))


def test_softmax_ce_ignored_targets_may_be_out_of_range():
    loss = gates.SoftmaxCrossEntropy(ignore_index=-1).forward(np.zeros((2, 4)), np.array([-1, 3]))
    assert np.isclose(loss, np.log(4))


def test_embedding_index_out_of_range():
    with pytest.raises(GateInputError) as e:
        gates.EmbeddingGate().forward(np.ones((5, 2)), np.array([[0, 7], [1, 2]]))
    msg = str(e.value)
    assert "EmbeddingGate" in msg and "'indices'" in msg and "holds 7 at index (0, 1)" in msg and "[0, 5)" in msg


def test_embedding_float_indices():
    with pytest.raises(GateTypeError, match="'indices' has dtype float64"):
        gates.EmbeddingGate().forward(np.ones((5, 2)), np.array([0.0, 1.0]))


def test_linear_weight_mismatch():
    with pytest.raises(GateInputError, match=r"LinearGate: input 'W' has shape \(3, 5\); expected \(out, 4\)"):
        gates.LinearGate().forward(np.ones((2, 4)), np.ones((3, 5)), np.ones(3))


def test_concat_mismatched_pieces():
    with pytest.raises(GateInputError, match=r"Concat: input 'xs\[1\]' has shape \(3, 2\)"):
        gates.Concat(-1).forward(np.ones((2, 2)), np.ones((3, 2)))


def test_split_uneven():
    with pytest.raises(GateInputError, match="expected a multiple of sections=4"):
        gates.Split(4).forward(np.ones((2, 6)))


def test_errors_are_value_and_type_errors():
    assert issubclass(GateInputError, ValueError) and issubclass(GateTypeError, TypeError)
