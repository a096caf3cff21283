"""Gradient flow through time: the measurement against an explicit unrolled computation, what a
truncation cuts off, the model left as it was, bad input, and the drawing."""

import sys

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn import GateInputError, GateTypeError, LanguageModel, LookBack, Recurrent
from autograd_rnn.errors import ConfigError
from autograd_rnn.viz import FlowRecord, draw_flow, flow_png, gradient_flow, plot_gradient_flow


def unrolled_states(model, first_inputs):
    """Every layer's h_t as a Tensor, each layer's cell stepped by hand (eval mode, no dropout)."""
    layers, inputs = [], list(first_inputs)
    for seq in (model.rnn if isinstance(model, LanguageModel) else model).sequences():
        cell, outs = seq.cell, []
        state = cell.initial_state(inputs[0].shape[0])
        for x in inputs:
            state = cell.step(x, state)
            outs.append(state[0] if isinstance(state, tuple) else state)
        layers.append(outs)
        inputs = outs
    return layers


def expected_flow(layers, objective, origins):
    """mean over origins o >= j of |dL_o/dh^(l)_{o-j}|, from ar.grad on the unrolled graph."""
    out = np.zeros((len(layers), max(origins) + 1))
    count = np.zeros(max(origins) + 1)
    for o in origins:
        grads = ar.grad(objective(o), [h for hs in layers for h in hs])
        T = len(layers[0])
        for k in range(len(layers)):
            for j in range(o + 1):
                g = grads[k * T + o - j]
                out[k, j] += 0.0 if g is None else np.linalg.norm(g)
        count[: o + 1] += 1
    return out / count


@pytest.mark.parametrize("cell, fused", [("lstm", True), ("gru", False), ("rnn", True)])
def test_language_model_flow_is_the_mean_norm_of_dL_o_dh_over_origins(cell, fused):
    rng = np.random.default_rng(0)
    model = LanguageModel(11, cell=cell, embed_size=4, hidden_size=5, layers=2, rng=rng, dtype=np.float64,
                          fused=fused)
    tokens = rng.integers(0, 11, size=(8, 3))
    origins = [2, 5, 7]
    targets = np.roll(tokens, -1, axis=0)
    record = gradient_flow(model, tokens, targets, origins=origins)
    emb = model.embed(tokens)
    layers = unrolled_states(model, [emb[t] for t in range(len(tokens))])
    expected = expected_flow(layers, lambda o: ar.softmax_cross_entropy(model.proj(layers[-1][o]), targets[o]),
                             origins)
    assert record.norms.shape == (2, 8)
    np.testing.assert_allclose(record.norms, expected, rtol=1e-9)
    assert np.all(record.norms > 0) and record.truncation == "Full()"


def test_recurrent_flow_follows_the_sum_of_the_top_state():
    rng = np.random.default_rng(1)
    rec = Recurrent("lstm", 3, 4, layers=2, rng=rng)
    xs = rng.normal(size=(6, 2, 3))
    record = gradient_flow(rec, xs, label="lstm")
    layers = unrolled_states(rec, [ar.Tensor(x) for x in xs])
    np.testing.assert_allclose(record.norms, expected_flow(layers, lambda o: layers[-1][o].sum(), [5]), rtol=1e-9)
    assert record.norms[1, 0] == pytest.approx(np.sqrt(2 * 4))  # dL/dh_o = ones (batch 2, hidden 4)
    assert record.label == "lstm"


def test_a_contracting_rnn_shows_the_vanishing_gradient():
    rng = np.random.default_rng(2)
    rec = Recurrent("rnn", 3, 8, rng=rng)
    rec.l0.cell.weight_hh.data *= 0.2
    norms = gradient_flow(rec, rng.normal(size=(20, 2, 3))).norms[0]
    assert np.all(np.diff(norms) < 0) and norms[-1] < 1e-8 * norms[0]


def test_lookback_cuts_the_flow_beyond_k_and_keeps_it_within():
    rng = np.random.default_rng(3)
    model = LanguageModel(9, cell="gru", embed_size=3, hidden_size=4, rng=rng, dtype=np.float64)
    tokens = rng.integers(0, 9, size=(10, 2))
    full = gradient_flow(model, tokens, tokens)
    cut = gradient_flow(model, tokens, tokens, truncation=LookBack(3))
    assert cut.truncation == "LookBack(3)"
    np.testing.assert_allclose(cut.norms[0, :4], full.norms[0, :4], rtol=1e-12)
    assert np.all(cut.norms[0, 4:] == 0) and np.all(full.norms[0, 4:] > 0)


def test_the_model_is_left_as_it_was():
    rng = np.random.default_rng(4)
    model = LanguageModel(9, cell="lstm", embed_size=3, hidden_size=4, layers=2, dropout=0.5, rng=rng,
                          truncation="tbptt:3", dtype=np.float64)
    tokens = rng.integers(0, 9, size=(6, 2))
    loss, _ = model.loss(tokens, tokens)
    loss.backward()
    grads = {n: p.grad.copy() for n, p in model.parameters().items()}
    weights = {n: p.data.copy() for n, p in model.parameters().items()}
    generator = model.rnn.rng.bit_generator.state
    first = gradient_flow(model, tokens, tokens)
    assert model.training and all(s.truncation == ar.Truncated(3) for s in model.rnn.sequences())
    assert model.rnn.rng.bit_generator.state == generator  # no dropout mask drawn: training replays the same
    for n, p in model.parameters().items():
        np.testing.assert_array_equal(p.grad, grads[n])
        np.testing.assert_array_equal(p.data, weights[n])
    np.testing.assert_array_equal(gradient_flow(model, tokens, tokens).norms, first.norms)  # eval mode: no dropout


@pytest.mark.parametrize("origins, match", [([6], "origins"), ([1, 1], "distinct"), ([2.0], "origins"),
                                            ([], "origins"), ("5", "origins")])
def test_bad_origins_are_named(origins, match):
    model = LanguageModel(5, cell="rnn", embed_size=2, hidden_size=3, rng=0)
    tokens = np.zeros((6, 1), np.int64)
    with pytest.raises(GateInputError, match=match):
        gradient_flow(model, tokens, tokens, origins=origins)


def test_bad_models_and_targets_are_named():
    model = LanguageModel(5, cell="rnn", embed_size=2, hidden_size=3, rng=0)
    tokens = np.zeros((6, 1), np.int64)
    with pytest.raises(GateInputError, match="targets"):
        gradient_flow(model, tokens)
    with pytest.raises(GateInputError, match="no targets"):
        gradient_flow(Recurrent("rnn", 2, 3), np.zeros((4, 1, 2)), tokens)
    with pytest.raises(GateTypeError, match="LanguageModel or a Recurrent"):
        gradient_flow(model.proj, tokens, tokens)
    with pytest.raises(ConfigError, match="lookback"):
        gradient_flow(model, tokens, tokens, truncation="lookback:x")


def test_records_round_trip_through_json_form():
    record = FlowRecord(np.array([[1.0, 0.5, 0.0], [2.0, 1.0, 0.25]]), "step 10", "LookBack(1)")
    back = FlowRecord.from_dict(record.to_dict())
    np.testing.assert_array_equal(back.norms, record.norms)
    assert (back.label, back.truncation) == ("step 10", "LookBack(1)")
    np.testing.assert_array_equal(record.lags, [0, 1, 2])
    with pytest.raises(GateInputError, match="layers, lags"):
        FlowRecord.from_dict({"norms": [1.0, 2.0]})


def records(n, layers=2, lags=12):
    return [FlowRecord(np.exp(-np.outer(np.arange(1, layers + 1), np.arange(lags)) * (0.3 + 0.1 * i)), f"step {i}")
            for i in range(n)]


@pytest.mark.parametrize("n", [1, 3, 12])
def test_the_drawing_is_a_png_with_a_line_per_record_and_a_panel_per_layer(n, tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    png = flow_png(records(n), cut=4, relative=True)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert plot_gradient_flow(tmp_path / "gradient_flow.png", records(n))
    assert (tmp_path / "gradient_flow.png").read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["gradient_flow.png"]  # no temporary left behind
    ax = Figure().subplots()
    draw_flow(ax, records(n), 1, cut=4)
    lines = ax.get_lines()
    assert len(lines) == n + 1  # one per record and the cut's marker
    np.testing.assert_allclose(lines[0].get_ydata(), records(n)[0].norms[1])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ([f"step {i}" for i in range(n)] if n <= 8 else ["step 0", f"step {n // 2}", f"step {n - 1}"])


def test_zero_norms_are_left_out_of_the_log_plot():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    draw_flow(ax, [FlowRecord(np.array([[1.0, 0.1, 0.0, 0.0]]))], 0)
    y = ax.get_lines()[0].get_ydata()
    assert list(np.isnan(y)) == [False, False, True, True]


def test_the_drawing_refuses_mixed_layers_and_says_when_matplotlib_is_missing(monkeypatch):
    with pytest.raises(GateInputError, match="same number"):
        flow_png(records(1, layers=1) + records(1, layers=2))
    with pytest.raises(GateInputError, match="FlowRecord"):
        flow_png([])
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert flow_png(records(2)) is None
    assert plot_gradient_flow("unused.png", records(2)) is False


def test_the_example_trains_three_cells_and_draws_their_flows_side_by_side(tmp_path, capsys):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "gradient_flow.py"
    spec = importlib.util.spec_from_file_location("example_gradient_flow", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    rng = np.random.default_rng(0)
    words = "the cat sat on the mat while a dog ran in the park and the sun was out".split()
    corpus = tmp_path / "text.txt"
    corpus.write_text(" ".join(rng.choice(words, 3000)))
    out = tmp_path / "cells.png"
    results = example.run(str(corpus), steps=25, lookback=3, hidden=12, seq_len=16, batch=8, probe_len=20, out=str(out))
    assert list(results) == ["rnn", "lstm", "gru"]
    for flows, before, after in results.values():
        assert [f.label for f in flows] == ["at initialisation", "after 25 steps"]
        assert all(f.norms.shape == (1, 20) for f in flows) and after < before
        assert 0 < example.beyond(flows[0], 3) < 1
    table = capsys.readouterr().out
    assert "share beyond LookBack(3)" in table and "GRU" in table
    if importlib.util.find_spec("matplotlib"):
        assert out.read_bytes()[:4] == b"\x89PNG"
