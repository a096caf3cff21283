"""The rnn-from-scratch pipeline on any file of sentences: a word-level tanh RNN language model.

As in the tutorial: a vocabulary of the 8000 most frequent words plus <unk>, every line a sentence
wrapped in <s> ... </s>, hidden size 100, SGD with learning rate 0.005, truncated BPTT that looks
back 4 steps (``bptt_truncate = 4``), and the learning rate halved whenever the validation loss
goes up. Unlike the tutorial: sentences are batched (``--batch``; 1 is the tutorial's one sentence
per step), gradients are exact for the truncated objective, and checkpoints are written.

Run: python examples/word_lm.py sentences.txt [--epochs 2] [--batch 16] [--out runs/word_lm]
"""

import argparse

from autograd_rnn.models import sample_text
from autograd_rnn.train import TrainConfig, model_from_checkpoint, train


def config(corpus: str, epochs: float = 1.0, batch: int = 16, out: str = "runs/word_lm", hidden: int = 100,
           max_vocab: int = 8000, eval_every: int = 200, progress: bool = True) -> TrainConfig:
    return TrainConfig(corpus=corpus, level="word", batching="lines", cell="rnn", embed=hidden, hidden=hidden,
                       optimizer="sgd", lr=0.005, clip=None, truncation="lookback:4", schedule="halve",
                       epochs=epochs, batch=batch, max_vocab=max_vocab, lowercase=True, eval_every=eval_every,
                       sample_length=20, out=out, dtype="float32", progress=progress)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", help="a UTF-8 text file, one sentence per line")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--hidden", type=int, default=100)
    p.add_argument("--out", default="runs/word_lm")
    args = p.parse_args(argv)
    result = train(config(args.corpus, args.epochs, args.batch, args.out, args.hidden))
    from autograd_rnn.checkpoint import load_checkpoint

    model, vocab = model_from_checkpoint(load_checkpoint(result.out / "last.npz"))
    for seed in range(3):
        print("sample:", sample_text(model, vocab, length=20, temperature=0.8, seed=seed))


if __name__ == "__main__":
    main()
