"""The classic "RNN from scratch" tutorial, end to end, done right.

The tutorial trains a tanh RNN (input weights U, recurrent weights W, output weights V) to predict
the next word of "I like to play." over a vocabulary of 80 words, with truncated backpropagation
through time (``bptt_truncate``) and plain SGD, printing the loss every few epochs. Here:

* the words get fixed indices in an 80-word vocabulary (index 0 is the sentence start);
* embedding 100 and hidden 100, ``RNNLayer`` (tanh) unrolled by ``Sequence`` with
  ``LookBack(bptt_truncate)``, the tutorial's per-step look-back;
* the output weights V are the projection ``Linear(100, 80)``, the loss softmax cross-entropy;
* SGD, gradients cleared before every step (the tutorial's notebook forgets to), and the state of
  each step fed to the next (the notebook feeds the initial memory every time).

Run: python examples/tutorial.py [--epochs 100] [--bptt-truncate 4] [--one-hot] [--plot tutorial_loss.png]
"""

import argparse

import numpy as np

import autograd_rnn as ar
from autograd_rnn.models import LanguageModel
from autograd_rnn.optim import SGD

SENTENCE = ["I", "like", "to", "play", "."]
VOCABULARY = ["<s>", *SENTENCE] + [f"word{i}" for i in range(80 - 1 - len(SENTENCE))]
INDEX = {w: i for i, w in enumerate(VOCABULARY)}


def run(epochs: int = 100, bptt_truncate: int = 4, lr: float = 0.05, one_hot: bool = False, seed: int = 0,
        every: int = 10, quiet: bool = False) -> list:
    ids = np.array([INDEX["<s>"]] + [INDEX[w] for w in SENTENCE])
    x, y = ids[:-1, None], ids[1:, None]  # (T, batch=1): inputs "<s> I like to play", targets "I like to play ."
    if not quiet:
        print("sentence:", " ".join(SENTENCE), "| inputs", x.ravel().tolist(), "| targets", y.ravel().tolist())
    model = LanguageModel(len(VOCABULARY), cell="rnn", embed_size=100, hidden_size=100, one_hot=one_hot,
                          truncation=ar.LookBack(bptt_truncate), dtype=np.float64, rng=seed)
    opt = SGD(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        loss, _ = model.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if not quiet and (epoch % every == 0 or epoch == epochs - 1):
            print(f"epoch {epoch:4d}  loss {loss.item():.4f}")
    with ar.no_grad():
        logits, _ = model(x)
    predicted = [VOCABULARY[i] for i in logits.data.argmax(-1).ravel()]
    if not quiet:
        print("predicted next words:", " ".join(predicted))
    return losses


def plot(losses: list, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    plt.figure(figsize=(6, 3.5))
    plt.plot(losses)
    plt.xlabel("epoch")
    plt.ylabel("cross-entropy (nats per word)")
    plt.title('RNN on "I like to play."')
    plt.tight_layout()
    plt.savefig(path, dpi=100)
    print("loss plot:", path)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--bptt-truncate", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--one-hot", action="store_true",
                   help="feed one-hot vectors (the tutorial's input) instead of an embedding")
    p.add_argument("--plot", default="tutorial_loss.png")
    args = p.parse_args(argv)
    losses = run(args.epochs, args.bptt_truncate, args.lr, args.one_hot)
    plot(losses, args.plot)


if __name__ == "__main__":
    main()
