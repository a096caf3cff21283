"""``autograd-rnn`` (also ``python -m autograd_rnn``): train, sample, evaluate, gradcheck, bench."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .train import TrainConfig

DEFAULTS = TrainConfig()


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
        return value

    return parse


def add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a language model (no arguments: a char-level LSTM on the built-in corpus, ~3 minutes)",
        description="Train a word- or character-level language model with an RNN, LSTM or GRU. With no "
        "arguments it trains a character-level LSTM on the built-in corpus (the docstrings of the Python "
        "standard library; nothing is downloaded) for about three minutes on a 2-core laptop, printing "
        "validation loss and samples, writing checkpoints and a loss curve to --out.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    d = DEFAULTS
    p.add_argument("--corpus", default=None, help="UTF-8 text file (default: the built-in standard-library docstrings)")
    p.add_argument("--level", choices=["char", "word"], default=d.level, help="tokens are characters or words")
    p.add_argument("--batching", choices=["stream", "lines"], default=d.batching,
                   help="stream: one text cut into --batch parallel streams, state carried across chunks "
                   "(char-rnn); lines: each line its own sequence with <s> </s>, padded and masked")
    p.add_argument("--cell", choices=["rnn", "lstm", "gru"], default=d.cell, help="recurrent cell")
    p.add_argument("--embed", type=_positive(int), default=d.embed, help="embedding size")
    p.add_argument("--hidden", type=_positive(int), default=d.hidden, help="hidden size")
    p.add_argument("--layers", type=_positive(int), default=d.layers, help="stacked recurrent layers")
    p.add_argument("--dropout", type=float, default=d.dropout,
                   help="dropout probability between layers (needs --layers 2 or more)")
    p.add_argument("--one-hot", action="store_true", help="feed one-hot vectors instead of an embedding (the tutorial)")
    p.add_argument("--seq-len", type=_positive(int), default=d.seq_len, help="time steps per chunk (stream)")
    p.add_argument("--batch", type=_positive(int), default=d.batch, help="sequences per batch")
    p.add_argument("--optimizer", choices=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"],
                   default=d.optimizer, help="optimizer")
    p.add_argument("--lr", type=_positive(float), default=None,
                   help="learning rate (default: the optimizer's: sgd 0.005, adam 2e-3, adamw 5e-4, ...)")
    p.add_argument("--weight-decay", type=float, default=None,
                   help="L2 (decoupled for adamw; default 0.01 for adamw, else 0)")
    p.add_argument("--clip", type=float, default=d.clip, help="clip the global gradient norm to this (0: off)")
    p.add_argument("--clip-value", type=float, default=None, help="also clamp every gradient element to [-X, X]")
    p.add_argument("--truncation", default=d.truncation,
                   help="BPTT inside a chunk: full, lookback:K (the tutorial's bptt_truncate) or tbptt:K1,K2")
    p.add_argument("--schedule", default=d.schedule, help="learning rate: none, cosine, halve (when validation "
                   "loss rises) or step:N,GAMMA")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--steps", type=_positive(int), default=None, help="optimizer steps (default 4000 on the built-in "
                   "corpus, one epoch otherwise)")
    g.add_argument("--epochs", type=_positive(float), default=None, help="passes over the training split")
    p.add_argument("--eval-every", type=_positive(int), default=d.eval_every, help="validate, sample and checkpoint "
                   "every N steps")
    p.add_argument("--eval-tokens", type=_positive(int), default=d.eval_tokens, help="validation tokens per evaluation")
    p.add_argument("--sample-length", type=int, default=d.sample_length, help="tokens in each periodic sample")
    p.add_argument("--dtype", choices=["float32", "float64"], default=d.dtype, help="float32 trains faster")
    p.add_argument("--max-vocab", type=_positive(int), default=None, help="vocabulary size cap with <unk> "
                   "(default 8000 for words, none for chars)")
    p.add_argument("--lowercase", action="store_true", help="lowercase the text before building the vocabulary")
    p.add_argument("--out", default=d.out, help="directory for last.npz, best.npz, loss_curve.png, history.json")
    p.add_argument("--resume", action="store_true", help="continue from --out/last.npz with the checkpoint's "
                   "settings; only --steps/--epochs may extend the run")
    p.add_argument("--seed", type=int, default=d.seed, help="makes a run reproducible bit for bit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run_train)


def run_train(args) -> int:
    from .allocator import tune_allocator
    from .train import TrainingDiverged, train

    tune_allocator()
    steps = args.steps
    if steps is None and args.epochs is None and args.corpus is None and not args.resume:
        steps = 4000
    cfg = TrainConfig(
        corpus=args.corpus, level=args.level, batching=args.batching, cell=args.cell, embed=args.embed,
        hidden=args.hidden, layers=args.layers, dropout=args.dropout, seq_len=args.seq_len, batch=args.batch,
        optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay, clip=args.clip or None,
        clip_value=args.clip_value, truncation=args.truncation, schedule=args.schedule, steps=steps,
        epochs=args.epochs, eval_every=args.eval_every, eval_tokens=args.eval_tokens,
        sample_length=args.sample_length, dtype=args.dtype, out=args.out, resume=args.resume, seed=args.seed,
        max_vocab=args.max_vocab, lowercase=args.lowercase, one_hot=args.one_hot, progress=not args.no_progress,
    )
    try:
        result = train(cfg)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    if result.best_val is not None:
        print(f"best validation loss {result.best_val:.4f} nats per token "
              f"(unigram entropy {result.unigram_nats:.4f}); checkpoints in {result.out}")
    return 130 if result.stopped == "interrupted" else 0


def add_sample(sub) -> None:
    p = sub.add_parser("sample", help="generate text from a checkpoint",
                       description="Generate text from a trained checkpoint.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a .npz written by train (last.npz or best.npz)")
    p.add_argument("--prime", default="", help="text to start from (unknown words become <unk> if the "
                   "vocabulary has it, otherwise an error)")
    p.add_argument("--temperature", type=_positive(float), default=0.8, help="<1 sharper, >1 more random")
    p.add_argument("--top-k", type=_positive(int), default=None, help="sample only among the K likeliest tokens")
    p.add_argument("--length", type=int, default=500, help="tokens to generate")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed, same text)")
    p.set_defaults(run=run_sample)


def run_sample(args) -> int:
    from .checkpoint import load_checkpoint
    from .sampling import sample_text
    from .train import model_from_checkpoint

    model, vocab = model_from_checkpoint(load_checkpoint(args.checkpoint))
    print(sample_text(model, vocab, args.prime, args.length, args.temperature, args.top_k, args.seed))
    return 0


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="loss, bits per token and perplexity of a checkpoint on a text",
                       description="Evaluate a checkpoint on a text: mean loss in nats per token, bits per token "
                       "and perplexity. The text is tokenized with the checkpoint's vocabulary.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a .npz written by train")
    p.add_argument("--corpus", required=True, help="UTF-8 text file to evaluate on")
    p.add_argument("--batch", type=_positive(int), default=16, help="parallel streams")
    p.add_argument("--seq-len", type=_positive(int), default=256, help="time steps per chunk")
    p.set_defaults(run=run_evaluate)


def run_evaluate(args) -> int:
    from .checkpoint import load_checkpoint
    from .data import LineBatches, StreamBatches, lines_of, load_text
    from .train import evaluate_batches, model_from_checkpoint, nats_report

    ck = load_checkpoint(args.checkpoint)
    model, vocab = model_from_checkpoint(ck)
    text = load_text(args.corpus)
    if ck.config["train"]["batching"] == "lines":
        batches = LineBatches([vocab.encode_line(line) for line in lines_of(text)], args.batch, vocab.pad_id,
                              shuffle=False)
        n = batches.tokens_per_epoch
    else:
        ids = vocab.encode(text)
        batches = StreamBatches(ids, min(args.batch, max(1, len(ids) // 2)), args.seq_len)
        n = batches.tokens_per_epoch
    nats = evaluate_batches(model, batches)
    print(f"{args.corpus}: {n:,} tokens, loss {nats_report(nats)}")
    return 0


def add_gradcheck(sub) -> None:
    p = sub.add_parser("gradcheck", help="finite-difference checks of every built-in gate and cell",
                       description="Run gradcheck (float64 central differences plus the hygiene checks) on every "
                       "built-in gate with generated inputs, and gradcheck_sequence on every built-in cell under "
                       "each truncation policy; print a table and exit 1 on any failure.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--cases", type=_positive(int), default=3, help="generated input cases per gate")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated inputs")
    p.set_defaults(run=run_gradcheck)


def run_gradcheck(args) -> int:
    from .checks import gradcheck_table

    ok, lines = gradcheck_table(args.cases, args.seed)
    print("\n".join(lines))
    return 0 if ok else 1


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="training and sampling speed against PyTorch (when installed)",
                       description="Time training (forward + loss + backward + optimizer step) on the C1-C3 "
                       "configurations for RNN, LSTM and GRU, our fused and composed paths, and PyTorch's fused "
                       "module and cell loop on the same data in the same process, interleaved; print tokens/s and "
                       "ratios, a matmul calibration line, sampling speed, peak memory and the tutorial's algorithm.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a one-minute subset")
    p.add_argument("--repeats", type=_positive(int), default=None, help="timed rounds per row (interleaved)")
    p.add_argument("--markdown", default=None, help="also write the results as a Markdown table to this file")
    p.set_defaults(run=run_bench)


def run_bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(quick=args.quick, repeats=args.repeats, markdown=args.markdown)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autograd-rnn", description="Recurrent networks from gates up: train, sample, "
                                "evaluate, check gradients, benchmark.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for add in (add_train, add_sample, add_evaluate, add_gradcheck, add_bench):
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command is None:
        parser().print_help()
        return 2
    np.set_printoptions(precision=4)
    try:
        return args.run(args)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
