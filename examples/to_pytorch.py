"""From a cell written here to PyTorch, and back.

1. JANET (van der Westhuizen & Lasenby 2018, "The unreasonable effectiveness of the forget gate"),
   an LSTM with only a forget gate, written as a ``Cell`` with a ``step``.
2. ``gradcheck_sequence`` checks its gradients against finite differences, here, in float64.
3. autograd-rnn trains a character model of it for a few steps (a run in OUT/here).
4. ``autograd-rnn export`` writes the run as a PyTorch file; ``torch_interop`` rebuilds the model as
   a torch module computing the same function, which trains on in PyTorch (on a GPU when there is
   one).
5. ``autograd-rnn export`` brings the weights back as a checkpoint, and ``autograd-rnn sample``
   samples it.

Run: python examples/to_pytorch.py [corpus.txt] [--steps 100] [--torch-steps 300] [--hidden 128] [--out DIR]
(needs PyTorch; without a corpus, the built-in one).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import autograd_rnn as ar
from autograd_rnn.data import StreamBatches, Vocabulary, default_corpus, load_text
from autograd_rnn.init import as_rng, uniform
from autograd_rnn.nodes import Cell

HERE = str(Path(__file__).resolve())


class JANET(Cell):
    """An LSTM with only a forget gate; the state is its cell::

        [s, z] = x W^T + h U^T + b                       (the forget pre-activation, the candidate)
        h' = sigmoid(s) * h + (1 - sigmoid(s - beta)) * tanh(z)

    ``beta`` (an option: checkpoints keep it) lets a unit keep more than it writes."""

    static_step = True

    def __init__(self, input_size: int, hidden_size: int, beta: float = 1.0, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng, k, H = as_rng(rng), 1 / np.sqrt(hidden_size), hidden_size
        self.beta = beta
        self.parameter("W", uniform((2 * H, input_size), k, rng))
        self.parameter("U", uniform((2 * H, H), k, rng))
        self.parameter("b", np.concatenate([np.ones(H), np.zeros(H)]))  # remember by default

    def step(self, x: ar.Tensor, h: ar.Tensor) -> ar.Tensor:
        s, z = (ar.linear(x, self.W, self.b) + h @ self.U.T).split(2)
        return s.sigmoid() * h + (1.0 - (s - self.beta).sigmoid()) * z.tanh()


def check(seed: int = 0) -> None:
    """Step 2: the cell's truncated gradients against finite differences."""
    rng = np.random.default_rng(seed)
    cell = JANET(3, 4, beta=0.5, rng=rng)
    for policy in (ar.Full(), ar.Truncated(2, 3)):
        report = ar.gradcheck_sequence(ar.Sequence(cell, truncation=policy), rng.normal(size=(5, 2, 3)),
                                       rng.normal(size=(2, 4)))
        print(f"gradcheck {report.name}: max rel err {report.max_rel_err:.1e}")


def command(*args) -> str:
    """Run ``autograd-rnn ARGS`` (the command line, in another process); its output."""
    args = [str(a) for a in args]
    print("$ autograd-rnn " + " ".join(args))
    result = subprocess.run([sys.executable, "-m", "autograd_rnn", *args], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr.strip())
    return result.stdout.strip()


def train_in_pytorch(pt: Path, text: str, steps: int, batch: int, seq_len: int, out: Path) -> Path:
    """Step 4: the exported model as a torch module, trained on ``text``; its weights in ``out``."""
    import torch

    from autograd_rnn.torch_interop import load_pt, save_pt, to_torch

    ck = load_pt(pt)
    model, vocab = ar.model_from_checkpoint(ck, allow_import=[HERE])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    module = to_torch(model).to(device)
    print(f"PyTorch on {device}: {module}")
    data = StreamBatches(Vocabulary.from_dict(ck.vocab).encode(text), batch, seq_len)
    opt = torch.optim.Adam(module.parameters(), lr=2e-3)
    state, start = None, time.perf_counter()
    for step in range(steps):
        i = step % len(data)
        x, y = (torch.from_numpy(a).to(device) for a in data.chunk(i))
        state = None if i == 0 else [tuple(p.detach() for p in s) if isinstance(s, tuple) else s.detach()
                                     for s in state]
        loss, state = module.loss(x, y, state=state)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
        opt.step()
        if step % max(1, steps // 5) == 0 or step == steps - 1:
            print(f"  PyTorch step {step + 1}: loss {loss.item():.3f}")
    tokens = steps * batch * seq_len / (time.perf_counter() - start)
    print(f"  {tokens:,.0f} tokens/s")
    save_pt(out, module, ck)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", nargs="?", default=None, help="a UTF-8 text file (default: the built-in corpus)")
    p.add_argument("--steps", type=int, default=100, help="training steps here")
    p.add_argument("--torch-steps", type=int, default=300, help="training steps in PyTorch")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--out", default="runs/to_pytorch", help="a new directory for the runs and files")
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty; choose a new --out (nothing is replaced)")

    check()
    cfg = ar.TrainConfig(corpus=args.corpus, cell=f"{HERE}:JANET", cell_options={"beta": 0.5}, embed=32,
                         hidden=args.hidden, batch=args.batch, seq_len=args.seq_len, steps=args.steps,
                         eval_every=args.steps, out=str(out / "here"), progress=False, plot=False)
    ar.fit(cfg)
    command("export", "--checkpoint", out / "here" / "last.npz", "--out", out / "janet.pt", "--allow-import", HERE)
    text = default_corpus() if args.corpus is None else load_text(args.corpus)
    trained = train_in_pytorch(out / "janet.pt", text, args.torch_steps, args.batch, args.seq_len,
                               out / "janet_trained.pt")
    command("export", "--checkpoint", trained, "--out", out / "janet_trained.npz", "--allow-import", HERE)
    print(command("sample", "--checkpoint", out / "janet_trained.npz", "--length", "200", "--seed", "0",
                  "--allow-import", HERE))


if __name__ == "__main__":
    main()
