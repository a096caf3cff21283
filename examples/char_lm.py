"""A character-level LSTM language model on any text file (char-rnn style), then samples.

Run: python examples/char_lm.py [TEXT_FILE] [--steps 2000] [--hidden 256] [--prime TEXT]

Without a file it trains on the built-in corpus (the docstrings of your Python's standard library;
nothing is downloaded). Any UTF-8 text file works, e.g. the Shakespeare of char-rnn.
"""

import argparse
import sys

from autograd_rnn.checkpoint import load_checkpoint
from autograd_rnn.errors import AutogradRNNError
from autograd_rnn.models import sample_text
from autograd_rnn.train import TrainConfig, model_from_checkpoint, train


def config(corpus: str | None = None, steps: int = 2000, hidden: int = 256, cell: str = "lstm",
           out: str | None = None, eval_every: int = 250, progress: bool = True, seq_len: int = 64,
           batch: int = 32) -> TrainConfig:
    return TrainConfig(corpus=corpus, level="char", batching="stream", cell=cell, embed=64, hidden=hidden,
                       optimizer="adam", lr=2e-3, clip=5.0, steps=steps, seq_len=seq_len, batch=batch,
                       eval_every=eval_every, out=out, progress=progress)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", nargs="?", default=None, help="a UTF-8 text file (default: the built-in corpus)")
    p.add_argument("--steps", type=int, default=2000, help="optimizer steps")
    p.add_argument("--hidden", type=int, default=256, help="hidden size")
    p.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
    p.add_argument("--out", default=None, help="the run's folder (default: a new one under runs/)")
    p.add_argument("--prime", default="", help="text to start the sample from (e.g. ROMEO:)")
    args = p.parse_args(argv)
    result = train(config(args.corpus, args.steps, args.hidden, args.cell, args.out, eval_every=min(250, args.steps)))
    model, vocab = model_from_checkpoint(load_checkpoint(result.out / "best.npz"))
    print(sample_text(model, vocab, prime=args.prime, length=400, temperature=0.8, seed=0))


if __name__ == "__main__":
    try:
        main()
    except AutogradRNNError as e:
        sys.exit(f"error: {e}")
