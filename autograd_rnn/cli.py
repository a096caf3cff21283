"""``autograd-rnn`` (also ``python -m autograd_rnn``): train, sample, evaluate, gradcheck, bench, export,
plot."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import typing

import numpy as np

from .errors import AutogradRNNError, ConfigError, TrainingDiverged
from .threads import POLICY, set_threads
from .train import TrainConfig
from .train.corpus import PARTS
from .train.evaluate import EVAL_BATCH, EVAL_SEQ_LEN

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_BUG = 0, 1, 2, 3, 130, 70
"""Exit codes: 0 done; 1 gradcheck found failures; 2 an error in the input (arguments, files,
checkpoints, memory), said in one line; 3 training diverged; 130 interrupted (a checkpoint was
written); 70 an internal error, a bug in autograd_rnn (set AUTOGRAD_RNN_TRACEBACK=1 to see it)."""


def _number(kind: type, positive: bool, optional: bool):
    """Parser of one option's value: ``kind``, > 0 when ``positive``, ``none`` allowed when ``optional``."""

    def parse(text: str):
        if optional and text.strip().lower() == "none":
            return None
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
        if positive and not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


class Help(argparse.ArgumentDefaultsHelpFormatter):
    """Options with their defaults, except on-off flags (their text says what they switch) and
    options whose text already says what happens without them (no default, or "default" in it)."""

    def _get_help_string(self, action) -> str:
        if action.nargs == 0 or action.default is None or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def metavar(kind: type, name: str, meta: dict) -> str:
    """The name of an option's value in --help: the field's own, else N, X or the field's name."""
    return meta.get("metavar") or {int: "N", float: "X"}.get(kind, name.upper())


def _field_kind(annotation) -> tuple[type, bool]:
    """(the value's type, whether None is allowed) of a config field's annotation."""
    args = typing.get_args(annotation)
    if args:
        kinds = [a for a in args if a is not type(None)]
        return kinds[0], len(kinds) < len(args)
    return annotation, False


class Setting(argparse.Action):
    """The option of a config field: stores its value (a flag its ``const``; a repeated option
    appends), as argparse's own actions do, and notes in ``namespace.given`` that the command line
    gave it, whatever the value (so that it wins over a ``--config`` file)."""

    def __init__(self, option_strings, dest, many: bool = False, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.many = many

    def __call__(self, parser, namespace, values, option_string=None):
        if self.nargs == 0:
            values = self.const
        elif self.many:
            values = [*(getattr(namespace, self.dest) or ()), values]
        setattr(namespace, self.dest, values)
        vars(namespace).setdefault("given", set()).add(self.dest)


def add_config_options(parser: argparse.ArgumentParser, config: type) -> None:
    """One option per field of the dataclass ``config`` (see :func:`autograd_rnn.train.option`);
    the fields the command line gave are noted in ``given`` (:class:`Setting`)."""
    hints = typing.get_type_hints(config)
    groups: dict = {}
    for f in dataclasses.fields(config):
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        target = parser
        if meta.get("group"):
            if meta["group"] not in groups:
                groups[meta["group"]] = parser.add_mutually_exclusive_group()
            target = groups[meta["group"]]
        flag = meta.get("flag") or "--" + f.name.replace("_", "-")
        kind, optional = _field_kind(hints[f.name])
        if meta.get("many"):
            target.add_argument(flag, dest=f.name, action=Setting, many=True, default=None, help=meta["help"],
                                metavar=metavar(kind, f.name, meta))
            continue
        if kind is bool:
            target.add_argument(flag, dest=f.name, action=Setting, nargs=0, const=not f.default, default=f.default,
                                help=f"turns off what is on by default: {meta['help']}" if f.default else meta["help"])
            continue
        parse = _number(kind, meta.get("positive", False), optional) if kind in (int, float) else str
        target.add_argument(flag, dest=f.name, action=Setting, type=parse, default=f.default,
                            choices=meta.get("choices"), help=meta["help"],
                            metavar=None if meta.get("choices") else metavar(kind, f.name, meta))


def config_from_args(args: argparse.Namespace, config: type):
    values = {}
    for f in dataclasses.fields(config):
        if hasattr(args, f.name):
            convert = f.metadata.get("convert")
            values[f.name] = convert(getattr(args, f.name)) if convert else getattr(args, f.name)
    return config(**values)


def add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a language model (no arguments: a char-level LSTM on the built-in corpus, ~3 minutes)",
        description="Train a word- or character-level language model with an RNN, LSTM or GRU. With no "
        "arguments it trains a character-level LSTM on the built-in corpus (the docstrings of the Python "
        "standard library; nothing is downloaded) for about three minutes on a 2-core laptop, printing "
        "validation loss and samples, writing checkpoints and a loss curve to a new folder under runs/ (runs/latest "
        "points at the newest run; --out names another folder, --resume continues a run).",
        formatter_class=Help,
    )
    p.add_argument("--config", default=None, metavar="FILE.toml",
                   help="read the settings from a TOML file whose keys are the options below by their names "
                   "(seq_len = 128, cell = \"lnlstm\"; recipes/ has some); the options given here win over it. "
                   "Every run writes its own resolved settings to config.toml in its folder")
    add_config_options(p, TrainConfig)
    p.set_defaults(run=run_train)


def train_config_of(args) -> TrainConfig:
    """The config the command line asks for: the options it gives, over the ``--config`` file's
    settings, over the defaults (an option of a mutually exclusive group, ``--steps`` or
    ``--epochs``, sets aside the file's value for the other)."""
    from .train.configfile import read_config

    flags = config_from_args(args, TrainConfig)
    if args.config is None:
        return flags
    if flags.resume:
        raise ConfigError(f"--config {args.config} with --resume: a resumed run takes every setting from its "
                          f"checkpoint (only --steps/--epochs may extend it); drop --config")
    settings = read_config(args.config, no_limits=True if flags.no_limits else None)
    given = getattr(args, "given", set())
    groups = {f.metadata.get("group") for f in dataclasses.fields(TrainConfig) if f.name in given} - {None}
    beaten = given | {f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("group") in groups}
    return dataclasses.replace(flags, **{k: v for k, v in settings.items() if k not in beaten})


def run_train(args) -> int:
    from .allocator import tune_allocator
    from .train import train

    tune_allocator()
    result = train(train_config_of(args))
    if result.final_val is not None:
        print(f"validation {result.final_val:.4f} nats per token: the whole validation part scored with best.npz (as "
              f"evaluate --split val scores it)")
    if result.best_val is not None:
        print(f"best validation loss {result.best_val:.4f} nats per token "
              f"(unigram entropy {result.unigram_nats:.4f}); checkpoints in {result.out}")
    return EXIT_INTERRUPTED if result.stopped == "interrupted" else EXIT_OK


def add_allow_import(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-import", action="append", default=None, metavar="SOURCE",
                   help="trust the code of a custom cell the checkpoint names: its module (or a package above "
                   "it) or its .py file; repeat for more. Nothing is imported without it")


def add_sample(sub) -> None:
    p = sub.add_parser("sample", help="generate text from a checkpoint",
                       description="Generate text from a trained checkpoint.",
                       formatter_class=Help)
    p.add_argument("--checkpoint", required=True, help="a .npz written by train (last.npz or best.npz)")
    p.add_argument("--prime", default="", help="text to start from (tokens the vocabulary lacks become <unk> "
                   "when it has one, as a run's vocabulary does by default, otherwise an error)")
    p.add_argument("--temperature", type=_number(float, True, False), default=0.8, help="<1 sharper, >1 more random")
    p.add_argument("--top-k", type=_number(int, True, True), default=None,
                   help="sample only among the K likeliest tokens")
    p.add_argument("--length", type=int, default=500, help="tokens to generate")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed, same text)")
    add_allow_import(p)
    p.set_defaults(run=run_sample)


def run_sample(args) -> int:
    from .checkpoint import load_checkpoint
    from .models import sample_text
    from .nodes import blame_cell
    from .train import model_from_checkpoint

    model, vocab = model_from_checkpoint(load_checkpoint(args.checkpoint), allow_import=args.allow_import or (),
                                         flag="--allow-import")
    with blame_cell(model.cell_type):
        print(sample_text(model, vocab, args.prime, args.length, args.temperature, args.top_k, args.seed))
    return 0


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="loss, bits per token and perplexity of a checkpoint on a text",
                       description="Evaluate a checkpoint on a text file, or on a part of its run's own data: mean "
                       "loss in nats per token, bits per token, perplexity and the number of tokens scored. The text "
                       "is tokenized with the checkpoint's vocabulary (tokens it lacks are <unk>, and counted). The "
                       "defaults batch a text as the run scores its validation, so --split val on best.npz gives the "
                       "run's final validation.", formatter_class=Help)
    p.add_argument("--checkpoint", required=True, help="a .npz written by train")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--corpus", help="UTF-8 text file to evaluate on")
    which.add_argument("--split", choices=PARTS, help="a part of the run's own data, cut as the run cut it (its "
                       "--split; its --val-corpus for val) from its corpus file, which must be the text it trained on")
    p.add_argument("--batch", type=_number(int, True, False), default=EVAL_BATCH, help="parallel streams")
    p.add_argument("--seq-len", type=_number(int, True, False), default=EVAL_SEQ_LEN, help="time steps per chunk")
    p.add_argument("--no-limits", action="store_true", help="lift the limits on the corpus file's size and on a "
                   "batch's memory, as train's --no-limits does")
    add_allow_import(p)
    p.set_defaults(run=run_evaluate)


def run_evaluate(args) -> int:
    from .checkpoint import load_checkpoint
    from .train.evaluate import nats_report
    from .train.scoring import score_checkpoint

    score = score_checkpoint(load_checkpoint(args.checkpoint), args.split, args.corpus, args.batch, args.seq_len,
                             args.no_limits, args.allow_import or (), "--allow-import")
    print(f"{score.label}: {score.tokens:,} tokens ({score.unknown:,} unknown to the vocabulary, read as <unk>), "
          f"loss {nats_report(score.nats)}")
    return 0


def add_gradcheck(sub) -> None:
    p = sub.add_parser("gradcheck", help="finite-difference checks of every built-in gate and cell",
                       description="Run gradcheck (float64 central differences plus the hygiene checks) on every "
                       "built-in gate with generated inputs, and gradcheck_sequence on every built-in cell under "
                       "each truncation policy; print a table and exit 1 on any failure.",
                       formatter_class=Help)
    p.add_argument("--cases", type=_number(int, True, False), default=3, help="generated input cases per gate")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated inputs")
    p.set_defaults(run=run_gradcheck)


def run_gradcheck(args) -> int:
    from .checks import gradcheck_table

    ok, lines = gradcheck_table(args.cases, args.seed)
    print("\n".join(lines))
    return EXIT_OK if ok else EXIT_FAILED


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="training and sampling speed against PyTorch (when installed)",
                       description="Time training (forward + loss + backward + optimizer step) on the C1-C3 "
                       "configurations for RNN, LSTM and GRU, our fused and composed paths, and PyTorch's fused "
                       "module and cell loop on the same data in the same process, interleaved; print tokens/s and "
                       "ratios, a matmul calibration line, sampling speed, peak memory and the tutorial's algorithm.",
                       formatter_class=Help)
    p.add_argument("--quick", action="store_true", help="a one-minute subset")
    p.add_argument("--repeats", type=_number(int, True, True), default=None, help="timed rounds per row (interleaved)")
    p.add_argument("--markdown", default=None, help="also write the results as a Markdown table to this file")
    p.add_argument("--threads-compare", action="store_true",
                   help="instead: the default job's step time with auto, one thread and every core, beside each kind "
                   "of neighbour (none, a second training run, numpy, PyTorch, busy loops), and whether the weights "
                   "are the same in every case")
    p.set_defaults(run=run_bench)


def run_bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(quick=args.quick, repeats=args.repeats, markdown=args.markdown,
                      threads_only=args.threads_compare)


def add_export(sub) -> None:
    p = sub.add_parser("export", help="a checkpoint to PyTorch (.npz -> .pt), and a model trained there back "
                       "(.pt -> .npz)",
                       description="With a .npz written by train: write its model as a PyTorch state dict (a .pt file, "
                       "read by torch.load(weights_only=True); its 'state_dict' loads into the module "
                       "autograd_rnn.torch_interop.to_torch builds) with the run's config and vocabulary. With a .pt "
                       "written so (and trained in PyTorch since): write a checkpoint that sample and evaluate read. "
                       "A model PyTorch cannot compute the same way (a gate with no counterpart, a step that is not "
                       "the same at every step) is refused with the reason.", formatter_class=Help)
    p.add_argument("--checkpoint", required=True, help="a .npz written by train, or a .pt written by export")
    p.add_argument("--out", required=True, help="the file to write (.pt from a .npz, .npz from a .pt); never replaced")
    add_allow_import(p)
    p.set_defaults(run=run_export)


def run_export(args) -> int:
    from .checkpoint import load_checkpoint, save_checkpoint
    from .train import model_from_checkpoint

    source, out = args.checkpoint, args.out
    kinds = (os.path.splitext(source)[1], os.path.splitext(out)[1])
    if kinds not in ((".npz", ".pt"), (".pt", ".npz")):
        raise ConfigError(f"export: --checkpoint {source} and --out {out}; expected a .npz and a .pt, or a .pt and a "
                          f".npz")
    if os.path.exists(out):
        raise ConfigError(f"export: --out {out} exists; choose another file or remove it first")
    try:
        from .torch_interop import load_pt, save_pt, to_torch
    except ImportError as e:
        raise ConfigError(f"export: {e}") from None
    ck = load_checkpoint(source) if kinds[0] == ".npz" else load_pt(source)
    model, _ = model_from_checkpoint(ck, allow_import=args.allow_import or (), flag="--allow-import")
    if kinds[1] == ".pt":
        save_pt(out, to_torch(model), ck)
    else:
        save_checkpoint(out, model=model.state_dict(), optimizer=None, rng_state=ck.rng_state, vocab=ck.vocab,
                        config=ck.config, progress=ck.progress)
    print(f"{source} -> {out}")
    return EXIT_OK


def add_plot(sub) -> None:
    p = sub.add_parser("plot", help="runs side by side: validation loss against steps and seconds, and a table",
                       description="Overlay the validation loss of runs against steps and against elapsed seconds "
                       "(from each run's metrics.csv) and print a table of each run's best validation loss, when it "
                       "was reached, its time and parameters: how a cell compares with others on the same budget.",
                       formatter_class=Help)
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="a run's folder (runs/NAME, runs/latest, a train --out)")
    p.add_argument("--out", default=None, metavar="FILE", help="the figure, .png, .svg or .pdf; never replaced "
                   "(default: runs-compared.png here, or runs-compared-2.png, ... when taken)")
    p.set_defaults(run=run_plot)


def run_plot(args) -> int:
    from .atomic import atomic_write
    from .train.compare import figure_path, summarize, table
    from .train.plot import compare_figure

    runs = [summarize(folder) for folder in args.runs]
    seen = {}
    for folder, r in zip(args.runs, runs):
        if r.path.resolve() in seen:
            raise ConfigError(f"plot: {folder} and {seen[r.path.resolve()]} are the same run; name each run once")
        seen[r.path.resolve()] = folder
    out = figure_path(args.out)
    print("\n".join(table(runs)))
    image = compare_figure(runs, out.suffix.lower().lstrip("."))
    if image is None:
        raise ConfigError("plot: no figure: matplotlib is not installed (pip install matplotlib); the table is above")
    atomic_write(out, image)
    print(f"figure: {out}")
    return EXIT_OK


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (``error: ...``, exit 2) like every other error."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def add_threads(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", default=None, metavar="N|auto",
                   help="threads for matrix products (default: AUTOGRAD_RNN_THREADS, else auto: every core that other "
                   "processes leave free); the results are the same whatever the count")


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="autograd-rnn", description="Recurrent networks from gates up: train, sample, "
                                "evaluate, check gradients, benchmark.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for add in (add_train, add_sample, add_evaluate, add_gradcheck, add_bench, add_export, add_plot):
        add(sub)
    for name, verb in sub.choices.items():
        if name != "train":  # train's --threads is a TrainConfig field, kept in its checkpoints
            add_threads(verb)
    return p


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if text else type(e).__name__


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command is None:
        parser().print_help()
        return EXIT_USAGE
    np.set_printoptions(precision=4)
    np.seterr(over="ignore", invalid="ignore", divide="ignore")  # non-finite values are caught and said in words
    try:
        if args.threads is not None:
            set_threads(args.threads, "--threads")
        POLICY.check()
        return args.run(args)
    except TrainingDiverged as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return EXIT_DIVERGED
    except (AutogradRNNError, ValueError, OSError) as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("error: out of memory; choose smaller sizes (--hidden, --batch, --seq-len, --layers) or a smaller "
              "corpus", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        if os.environ.get("AUTOGRAD_RNN_TRACEBACK"):
            raise
        print(f"error: internal error, a bug in autograd_rnn ({type(e).__name__}: {one_line(e)}); set "
              f"AUTOGRAD_RNN_TRACEBACK=1 to see where", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
