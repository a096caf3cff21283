"""Gradient flow through time in a tanh RNN, an LSTM and a GRU, trained briefly on the same text.

Each cell gets the same character language model (embedding, one recurrent layer, projection),
trained for a few hundred steps on the same stream with Adam. Before and after training,
``gradient_flow`` measures, on the same held-out batch, how the gradient of the last step's loss
that reaches the hidden state falls off with the distance back in time (the exact gradient). The
figure puts the three cells side by side; the lags that ``LookBack(k)`` (the tutorial's
``bptt_truncate``) never reaches are shaded. The table says how much of each flow lies there.

Run: python examples/gradient_flow.py [CORPUS] [--steps 300] [--lookback 8] [--out gradient_flow_cells.png]
(no CORPUS: the built-in corpus, the docstrings of Python's standard library)
"""

import argparse
import itertools

import numpy as np

from autograd_rnn import LanguageModel, Vocabulary
from autograd_rnn.data import StreamBatches, default_corpus, load_text, split_stream
from autograd_rnn.optim import Adam, clip_grad_norm
from autograd_rnn.viz import FlowRecord, draw_flow, gradient_flow

CELLS = {"rnn": "tanh RNN", "lstm": "LSTM", "gru": "GRU"}


def train_cell(cell: str, ids: np.ndarray, vocab_size: int, probe: tuple, steps: int, hidden: int, seq_len: int,
               batch: int, seed: int = 0) -> tuple[list[FlowRecord], float, float]:
    """Train one cell's model for ``steps`` steps (state carried along the stream); return its flow
    on ``probe`` (inputs, targets) before and after, and the probe's loss before and after."""
    model = LanguageModel(vocab_size, cell=cell, embed_size=16, hidden_size=hidden, dtype=np.float32, rng=seed)
    flows = [gradient_flow(model, *probe, label="at initialisation")]
    before = model.loss(*probe)[0].item()
    opt = Adam(model.parameters(), lr=3e-3)
    state = None
    for inputs, targets in itertools.islice(itertools.cycle(StreamBatches(ids, batch, seq_len)), steps):
        loss, state = model.loss(inputs, targets, state=state)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm(model.parameters(), 5.0)
        opt.step()
        state = model.detach(state)
    flows.append(gradient_flow(model, *probe, label=f"after {steps} steps"))
    return flows, before, model.loss(*probe)[0].item()


def beyond(record: FlowRecord, k: int) -> float:
    """The share of the flow's summed norm at lags > k: what LookBack(k) never propagates."""
    norms = record.norms[0]
    return float(norms[k + 1 :].sum() / norms.sum())


def figure(results: dict, k: int, path: str) -> bool:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib not installed: no figure")
        return False
    fig = Figure(figsize=(11, 3.9))
    axes = fig.subplots(1, len(results), sharey=True)
    for ax, (cell, (flows, *_)) in zip(axes, results.items()):
        draw_flow(ax, flows, 0, cut=k, relative=True)
        ax.set_title(CELLS[cell], fontsize=11)
        if ax is not axes[0]:
            ax.set_ylabel("")
    fig.suptitle("How much of the last step's gradient reaches the state j steps back", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print("figure:", path)
    return True


def run(corpus: str | None = None, steps: int = 300, lookback: int = 8, hidden: int = 64, seq_len: int = 32,
        batch: int = 16, probe_len: int = 48, out: str | None = "gradient_flow_cells.png",
        quiet: bool = False) -> dict:
    text = default_corpus(verbose=not quiet) if corpus is None else load_text(corpus)
    vocab = Vocabulary.build(text, "char")
    train_ids, val_ids, _ = split_stream(vocab.encode(text))
    probe = StreamBatches(val_ids, 16, probe_len).chunk(0)
    results = {cell: train_cell(cell, train_ids, len(vocab), probe, steps, hidden, seq_len, batch) for cell in CELLS}
    if not quiet:
        print(f"{'cell':10}{'probe loss':>22}  {'|dL/dh| at lag ' + str(lookback + 1) + ' / lag 0':>26}"
              f"  {'share beyond LookBack(' + str(lookback) + ')':>28}")
        for cell, (flows, before, after) in results.items():
            ratio = [f.norms[0, lookback + 1] / f.norms[0, 0] for f in flows]
            print(f"{CELLS[cell]:10}{before:10.3f} -> {after:6.3f}  {ratio[0]:12.1e} -> {ratio[1]:9.1e}"
                  f"  {beyond(flows[0], lookback):14.1%} -> {beyond(flows[1], lookback):8.1%}")
    if out:
        figure(results, lookback, out)
    return results


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", nargs="?", help="a UTF-8 text file (default: the built-in corpus)")
    p.add_argument("--steps", type=int, default=300, help="training steps per cell")
    p.add_argument("--lookback", type=int, default=8, help="k of the LookBack(k) whose cut is shown")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--out", default="gradient_flow_cells.png")
    args = p.parse_args(argv)
    run(args.corpus, args.steps, args.lookback, args.hidden, out=args.out)


if __name__ == "__main__":
    main()
