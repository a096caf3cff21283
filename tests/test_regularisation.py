"""The language model's regularisers: locked (variational) dropout, embedding dropout, weight drop
(DropConnect on weight_hh), weight tying; their masks, gradients (finite differences with the masks
held fixed), fused/composed agreement, checkpoints and bit-exact resume."""

import dataclasses

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn.checkpoint import load_checkpoint, save_checkpoint
from autograd_rnn.errors import CheckpointError, ConfigError
from autograd_rnn.gates import Dropout, EmbeddingGate
from autograd_rnn.graph.walk import topological_order
from autograd_rnn.models import FrozenModel, LanguageModel
from autograd_rnn.train import model_from_checkpoint, train
from autograd_rnn.train.config import MODEL_OPTIONS
from autograd_rnn.train.schema import check_model, check_training

from .test_train import small, weights

ALL = dict(dropout=0.3, dropout_input=0.2, dropout_output=0.25, dropout_embed=0.15, weight_drop=0.4,
           locked_dropout=True, tie_weights=True)


def model(cell="lstm", fused=True, V=7, H=4, layers=2, rng=0, **kw):
    return LanguageModel(V, cell=cell, embed_size=H, hidden_size=H, layers=layers, dtype=np.float64, rng=rng,
                         fused=fused, **kw)


def shaken(m, seed=0):
    """``m`` with every parameter moved off its initial value (gains off 1, biases off 0)."""
    rng = np.random.default_rng(seed)
    for p in m.parameters().values():
        p.data += rng.normal(0, 0.3, p.shape)
    return m


def tokens(T=5, B=3, V=7, seed=1):
    return np.random.default_rng(seed).integers(0, V, (T, B))


def dropout_applications(loss):
    """(input shape, mask) of every Dropout gate the loss was computed through, in forward order."""
    return [(op.inputs[0].shape, op.gate.saved.m) for op in topological_order([loss])
            if isinstance(op.gate, Dropout)]


# ----- the masks ---------------------------------------------------------------------------------------------
def test_shared_axes_fix_the_mask_along_them_and_draw_it_along_the_others():
    x = ar.Tensor(np.ones((6, 8, 16)))
    locked = ar.dropout(x, 0.5, rng=0, shared_axes=(0,)).data
    assert set(np.unique(locked)) == {0.0, 2.0}
    assert (locked == locked[0]).all()                                   # one mask for every time step
    assert not all(np.array_equal(locked[0, 0], locked[0, b]) for b in range(1, 8))  # per batch row
    plain = ar.dropout(x, 0.5, rng=0).data
    assert not (plain == plain[0]).all()
    rows = ar.dropout(ar.Tensor(np.ones((50, 4))), 0.5, rng=0, shared_axes=(-1,)).data
    assert (rows == rows[:, :1]).all() and 0 < (rows[:, 0] == 0).sum() < 50  # whole rows dropped
    assert ar.dropout(x, 0.5, rng=0, shared_axes=(0,), training=False) is x
    with pytest.raises(ar.GateInputError, match="shared_axes=\\(3,\\)"):
        ar.dropout(x, 0.5, rng=0, shared_axes=(3,))


def test_locked_dropout_masks_are_fixed_across_time_and_differ_across_sequences():
    m = model(**{**ALL, "tie_weights": False}, H=6)
    x = tokens(T=6, B=5)
    loss, _ = m.loss(x, x)
    masks = dropout_applications(loss)
    table, sequence_masks, weight_masks = [], [], []
    for shape, mask in masks:
        (table if shape == (7, 6) else weight_masks if shape == (24, 6) else sequence_masks).append(mask)
    assert len(table) == 1 and len(weight_masks) == 2 and len(sequence_masks) == 3  # input, between, output
    for mask in sequence_masks:
        assert mask.shape == (6, 5, 6)
        assert (mask == mask[0]).all(), "a locked mask changes between time steps"
        assert len({mask[0, b].tobytes() for b in range(5)}) > 1, "every sequence got the same mask"
        assert set(np.unique(mask)) <= {0.0, 1 / (1 - 0.2), 1 / (1 - 0.3), 1 / (1 - 0.25)}
    (emb,) = table
    assert (emb == emb[:, :1]).all() and set(np.unique(emb)) <= {0.0, 1 / 0.85}
    for mask in weight_masks:
        assert set(np.unique(mask)) == {0.0, 1 / 0.6}


def test_unlocked_dropout_draws_every_element():
    m = model(dropout=0.3, dropout_input=0.3, dropout_output=0.3, H=6)
    x = tokens(T=6, B=5)
    masks = [mask for shape, mask in dropout_applications(m.loss(x, x)[0])]
    assert len(masks) == 3
    for mask in masks:
        assert not (mask == mask[0]).all()


@pytest.mark.parametrize("cell", ["lstm", "gru", "lnlstm"])
def test_every_regulariser_is_off_in_eval_and_draws_nothing(cell):
    m = model(cell, **ALL)
    x = tokens()
    m.eval()
    state = m.rng.bit_generator.state
    loss, _ = m.loss(x, x)
    assert dropout_applications(loss) == []
    assert m.rng.bit_generator.state == state
    plain = model(cell, tie_weights=True)
    plain.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(plain.eval()(x)[0].data, m(x)[0].data)
    m.train()
    assert not np.array_equal(m(x)[0].data, m(x)[0].data)


def test_embedding_dropout_zeroes_whole_tokens():
    m = model(dropout_embed=0.5, H=3, V=6, layers=1)
    x = np.array([[0, 1, 2, 3, 4, 5] * 3])
    with ar.no_grad():
        table = ar.dropout(m.embedding.weight, 0.5, m.rng, shared_axes=(1,))
    kept = (table.data != 0).all(axis=1)
    assert 0 < kept.sum() < 6 and ((table.data == 0).all(axis=1) == ~kept).all()
    np.testing.assert_allclose(table.data[kept], 2 * m.embedding.weight.data[kept])
    one_hot = LanguageModel(6, embed_size=1, hidden_size=3, one_hot=True, dropout_embed=0.5, rng=0, dtype=np.float64)
    rows = one_hot.embed(x).data  # (1, 18, 6): each token's one-hot row, all or nothing for every occurrence
    for token in range(6):
        occurrences = rows[0, x[0] == token]
        assert (occurrences == occurrences[0]).all()
        assert occurrences[0, token] in (0.0, 2.0) and occurrences[0].sum() == occurrences[0, token]
    assert one_hot.eval().embed(x).data.sum() == 18


def test_weight_drop_runs_the_masked_weight_and_restores_the_parameter():
    m = model(weight_drop=0.5, layers=1, H=3)
    cell = m.rnn.l0.cell
    W = cell.weight_hh
    x = tokens()
    loss, _ = m.loss(x, x)
    assert cell.weight_hh is W and m.rnn.l0.kernel_path() is not None  # the fused kernel ran, the parameter is back
    (_, mask), = [(s, k) for s, k in dropout_applications(loss) if s == W.shape]
    loss.backward()
    # the gradient reaches W_hh through the mask: zero where an entry was dropped
    assert (W.grad[mask == 0] == 0).all() and (W.grad[mask != 0] != 0).all()
    with pytest.raises(ConfigError, match="weight_hh.*LeakyCell has none"):
        ar.Recurrent(LeakyCell, 2, 3, weight_drop=0.1)


class LeakyCell(ar.nodes.Cell):
    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        self.parameter("W", ar.init.uniform((hidden_size, input_size), rng=rng))

    def step(self, x, h):
        return h * 0.5 + (x @ self.W.T).tanh()


# ----- gradients with the masks held fixed -------------------------------------------------------------------
def fixed_mask_loss(m, x):
    """The model's loss as a function of its parameters' arrays, every call drawing the same masks."""
    names = list(m.parameters())
    start = m.rng.bit_generator.state

    def loss(*arrays):
        m.rng.bit_generator.state = start
        with m.substituted(dict(zip(names, arrays))):
            return m.loss(x, x)[0]

    return loss, [p.data.copy() for p in m.parameters().values()]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "lnlstm"])
def test_finite_differences_with_every_regulariser_on(cell, fused):
    m = shaken(model(cell, fused, H=3, **ALL))
    loss, arrays = fixed_mask_loss(m, tokens(T=4, B=2))
    assert ar.gradcheck(loss, arrays, seed=0).passed


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "lnlstm"])
def test_fused_and_composed_agree_with_the_same_masks(cell):
    x = tokens(T=6, B=3)
    out = []
    for fused in (True, False):
        m = shaken(model(cell, fused, rng=3, **ALL))
        loss, _ = m.loss(x, x)
        loss.backward()
        out.append((loss.item(), {k: p.grad for k, p in m.parameters().items()}))
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-13)
    for k, g in out[0][1].items():
        np.testing.assert_allclose(g, out[1][1][k], rtol=1e-10, atol=1e-13, err_msg=k)


def table_lookups(loss):
    """The shapes of the tables the loss's embedding lookups read."""
    return [op.inputs[0].shape for op in topological_order([loss]) if isinstance(op.gate, EmbeddingGate)]


def test_the_projected_table_path_equals_the_direct_one_with_the_table_dropped(monkeypatch):
    """A batch with at least as many tokens as the vocabulary projects the embedding table once; with
    embedding dropout it projects the dropped table, and gives the direct path's loss and gradients."""
    x = tokens(T=6, B=3)  # 18 tokens >= V = 7
    results = []
    for direct in (False, True):
        m = model(rng=5, dropout_embed=0.4, weight_drop=0.3)
        if direct:
            monkeypatch.setattr(m, "projected_table", lambda table=None: None)
        loss, _ = m.loss(x, x)
        assert table_lookups(loss) == ([(7, 4)] if direct else [(7, 16)])
        loss.backward()
        results.append([loss.data, *[p.grad for p in m.parameters().values()]])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    m = model(rng=5, dropout_input=0.4)  # the input mask acts on the embedded rows: no projected table
    assert table_lookups(m.loss(x, x)[0]) == [(7, 4)]
    assert table_lookups(m.eval().loss(x, x)[0]) == [(7, 16)]


# ----- weight tying ------------------------------------------------------------------------------------------
def test_tied_weights_are_one_parameter_with_both_gradients():
    tied = model(tie_weights=True, layers=1)
    assert "proj.weight" not in tied.parameters() and tied.output_weight() is tied.embedding.weight
    untied = model(layers=1)
    untied.load_state_dict({**tied.state_dict(), "proj.weight": tied.embedding.weight.data.copy()})
    x = tokens()
    for m in (tied, untied):
        m.loss(x, x)[0].backward()
    np.testing.assert_allclose(tied.embedding.weight.grad,
                               untied.embedding.weight.grad + untied.proj.weight.grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(FrozenModel(tied)(x)[0], tied.eval()(x)[0].data, rtol=1e-12)


def test_tying_mismatched_sizes_is_refused_saying_what_to_set():
    with pytest.raises(ConfigError, match=r"embed_size=8, hidden_size=4: set embed_size=4 \(--embed 4\)"):
        LanguageModel(7, embed_size=8, hidden_size=4, tie_weights=True)
    with pytest.raises(ConfigError, match="one_hot=True has none"):
        LanguageModel(7, hidden_size=7, one_hot=True, tie_weights=True)
    with pytest.raises(ConfigError, match="must equal --hidden; got --embed 64 and --hidden 256: set --embed 256"):
        ar.TrainConfig(tie_weights=True).validate()
    for bad in (dict(dropout_input=1.0), dict(weight_drop=-0.1), dict(dropout_embed=True), dict(locked_dropout=1)):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            LanguageModel(7, **bad)


def test_a_tied_checkpoint_stores_the_table_once_and_loads_back(corpus, tmp_path):
    out = tmp_path / "tied"
    train(small(corpus, out, steps=4, embed=12, tie_weights=True, dropout_embed=0.1))
    ck = load_checkpoint(out / "last.npz")
    assert "embedding.weight" in ck.model and "proj.weight" not in ck.model
    assert ck.config["model"]["tie_weights"] is True
    m, vocab = model_from_checkpoint(ck)
    assert m.tied and m.output_weight() is m.embedding.weight
    np.testing.assert_array_equal(m.embedding.weight.data, ck.model["embedding.weight"])


# ----- checkpoints and resume ------------------------------------------------------------------------------
VARIANTS = {
    "locked-input-output": dict(dropout_input=0.2, dropout_output=0.2, locked_dropout=True),
    "between-layers-locked": dict(dropout=0.3, layers=2, locked_dropout=True),
    "embedding-dropout": dict(dropout_embed=0.2),
    "weight-drop": dict(weight_drop=0.3, layers=2),
    "tied": dict(tie_weights=True, embed=12),
    "lnlstm": dict(cell="lnlstm", dropout=0.2, layers=2),
    "warmcos": dict(schedule="warmcos:4,0.1"),
    "everything": dict(cell="lnlstm", layers=2, embed=12, schedule="warmcos:3,0.05", **ALL),
}


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_resume_is_bit_exact_with_the_option_on(corpus, tmp_path, variant):
    train(small(corpus, tmp_path / "full", steps=9, **variant))
    part = train(small(corpus, tmp_path / "part", steps=9, stop_after=5, **variant))
    assert part.steps == 5
    train(small(corpus, tmp_path / "part", steps=9, resume=True))
    a, b = weights(tmp_path / "full"), weights(tmp_path / "part")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    ck = load_checkpoint(tmp_path / "part" / "last.npz")
    for k, v in variant.items():
        assert ck.config["train"][k] == v
        if k in MODEL_OPTIONS:
            assert ck.config["model"][k] == v


def test_a_checkpoint_without_the_options_loads_and_resumes_with_them_off(corpus, tmp_path):
    """A checkpoint written before the options existed: loaded, they are off; resumed, they stay off
    whatever the command line says (every setting comes from the checkpoint)."""
    train(small(corpus, tmp_path / "full", steps=8))
    out = tmp_path / "old"
    train(small(corpus, out, steps=8, stop_after=4))
    ck = load_checkpoint(out / "last.npz")
    for section in (ck.config["model"], ck.config["train"]):
        for k in MODEL_OPTIONS:
            del section[k]
    save_checkpoint(out / "last.npz", model=ck.model, optimizer=ck.optimizer, rng_state=ck.rng_state,
                    vocab=ck.vocab, config=ck.config, progress=ck.progress)
    loaded = load_checkpoint(out / "last.npz")
    m, _ = model_from_checkpoint(loaded)
    assert (m.p_input, m.p_output, m.p_embed, m.rnn.weight_drop, m.locked, m.tied) == (0, 0, 0, 0, False, False)
    cfg = check_training(loaded)
    assert not cfg.tie_weights and cfg.weight_drop == 0.0
    train(small(corpus, out, steps=8, resume=True, dropout_input=0.5, weight_drop=0.5))
    a, b = weights(tmp_path / "full"), weights(out)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("key, value", [("dropout_input", 1.0), ("weight_drop", "0.1"), ("locked_dropout", 1),
                                        ("tie_weights", "yes"), ("tie_weights", True)])
def test_the_schema_refuses_bad_option_values(corpus, tmp_path, key, value):
    out = tmp_path / "bad"
    train(small(corpus, out, steps=2, eval_every=2))
    ck = load_checkpoint(out / "last.npz")
    ck.config["model"][key] = value  # tie_weights True with embed 8 != hidden 12: sizes disagree
    with pytest.raises(CheckpointError, match=f"config.model.{key}"):
        check_model(ck)


def test_train_config_passes_the_options_to_the_model(corpus, tmp_path):
    cfg = small(corpus, tmp_path / "o", **{k: v for k, v in ALL.items() if k != "tie_weights"})
    assert cfg.model_options() == {**{k: v for k, v in ALL.items() if k not in ("dropout", "tie_weights")},
                                   "tie_weights": False}
    assert {f.name for f in dataclasses.fields(cfg)} >= set(cfg.model_options())
