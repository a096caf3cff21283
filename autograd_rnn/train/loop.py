"""The training loop: data, model, optimizer, progress bar, validation, samples, checkpoints,
loss curve, divergence guard, Ctrl-C, exact resume.

``train(TrainConfig(...))`` is what ``autograd-rnn train`` runs. Every ``eval_every`` steps it
reports the validation loss in nats and bits per token and the perplexity, prints a sample,
writes ``last.npz`` (and ``best.npz`` when the validation loss improves) atomically, measures the
gradient flow and redraws ``loss_curve.png`` and ``gradient_flow.png``; every step adds a row to
``metrics.csv`` (:mod:`.watch`). A run interrupted with Ctrl-C writes ``last.npz`` at the last
completed step; ``resume=True`` continues from it and ends with the same weights, bit for bit, as a
run that was never interrupted (the checkpoint holds the weights, the optimizer and schedule state,
the RNG states and, for stream batching, the hidden state carried into the next chunk).

The pieces: :class:`Progress` (what changes every step), :class:`Run` (everything built from the
config, and one training step, one report, one checkpoint), :func:`train` (the loop around them).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import threads
from ..atomic import atomic_write
from ..cellspec import import_cell, load_cell, spec_of
from ..checkpoint import Checkpoint, load_checkpoint
from ..data import Vocabulary, unigram_entropy
from ..errors import (
    AutogradRNNError,
    CellError,
    CheckpointError,
    ConfigError,
    DataError,
    NonFiniteError,
    TrainingDiverged,
)
from ..graph import Tensor, no_grad
from ..models import LanguageModel, sample_text
from ..nodes import blame_cell, cell_class, cell_name, defined_at
from ..optim import HalveOnIncrease, clip_grad_norm, clip_grad_value, make_optimizer, make_schedule
from ..sequence import parse_truncation
from .cellcheck import check_cell, check_step
from .checkpoints import model_from_checkpoint, save_run
from .config import DEFAULT_CORPUS_STEPS, RESUME_OWN, TrainConfig
from .configfile import write_config
from .corpus import Data, corpus_text, ids_of, text_hash, val_corpus_text
from .evaluate import EVAL_BATCH, EVAL_SEQ_LEN, evaluate_batches, nats_report
from .lock import OutLock
from .runs import check_out, discard_if_empty, place, point_latest
from .schema import check_training
from .watch import Watch

MAX_LOSS = 1000.0
"""A loss above this many nats per token counts as divergence: a model that is learning anything
stays near log(vocabulary size) or below; only blown-up weights assign the data a probability
below e^-1000 (and float32 logits that far apart overflow where they are used)."""


@dataclass
class TrainResult:
    steps: int
    history: list
    best_val: float | None
    stopped: str
    out: Path
    unigram_nats: float
    final_val: float | None = None
    """The run's reported number: the whole validation part scored with best.npz's weights (None for
    a run interrupted, or without validation); also in the last history entry's ``final``."""


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Progress:
    """What changes as a run goes: the step, the loss history, the best validation loss, the
    state carried into the next stream chunk, the running mean of the training loss, the seconds
    the run has taken (over all its sessions) and when it started (seconds since the epoch)."""

    total: int
    schedule_total: int
    step: int = 0
    history: list = field(default_factory=list)
    best_val: float | None = None
    carry: list | None = None
    ema: float = 0.0
    ema_w: float = 0.0
    elapsed: float = 0.0
    started: float | None = None
    seconds: float = 0.0
    tokens: float = 0.0
    """Time spent in training steps (not validating, sampling or writing) and target tokens trained
    on, over the whole run (a resumed one included); each evaluation's history entry notes them."""

    def record_loss(self, value: float) -> float:
        """Fold one step's loss into the running mean; returns the mean."""
        self.ema_w = 0.98 * self.ema_w + 0.02
        self.ema = 0.98 * self.ema + 0.02 * value
        return self.ema / self.ema_w

    @property
    def train_avg(self) -> float:
        return self.ema / self.ema_w if self.ema_w else math.nan

    def since_best(self) -> int:
        """Evaluations since the one that gave the best validation loss (all of them when none has)."""
        vals = [h.get("val") for h in self.history if h.get("val") is not None]
        return len(vals) - 1 - vals.index(self.best_val) if self.best_val in vals else len(vals)


class Run:
    """Everything a training run holds, built from a config (and the checkpoint it resumes)."""

    def __init__(self, cfg: TrainConfig, ck: Checkpoint | None = None):
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.last_path, self.best_path = self.out / "last.npz", self.out / "best.npz"
        self.plot_path = self.out / "loss_curve.png"
        self.text, self.corpus_name = corpus_text(cfg)
        self.corpus_id = text_hash(self.text)
        if ck is not None and ck.config["corpus_sha256"] != self.corpus_id:
            raise DataError(f"--resume: the corpus {self.corpus_name} differs from the one the checkpoint was "
                            f"trained on")
        val_text = val_corpus_text(cfg)
        self.val_corpus_id = None if val_text is None else text_hash(val_text)
        if ck is not None and ck.config.get("val_corpus_sha256") != self.val_corpus_id:
            raise DataError(f"--resume: the validation corpus {cfg.val_corpus} differs from the one the checkpoint "
                            f"was validated on")
        self.data = Data(cfg, self.text, None if ck is None else Vocabulary.from_dict(ck.vocab), val_text)
        if cfg.patience is not None and self.data.val is None:
            raise ConfigError(f"--patience {cfg.patience}: the run has no validation text to be patient on (the "
                              f"split leaves none); give the split a validation part or a --val-corpus")
        self.unigram = unigram_entropy(self.data.train_ids, len(self.data.vocab))
        self.cell = resolve_cell(cfg.cell, cfg.allow_import if ck is not None else None)
        cfg.check_size(len(self.data.vocab), getattr(self.cell, "gates", 4), self.data.steps)
        self.model = LanguageModel(len(self.data.vocab), cell=self.cell, embed_size=cfg.embed, hidden_size=cfg.hidden,
                                   layers=cfg.layers, dropout=cfg.dropout, one_hot=cfg.one_hot,
                                   truncation=cfg.truncation, dtype=np.dtype(cfg.dtype),
                                   rng=np.random.default_rng(cfg.seed), **cfg.model_options(), **cfg.cell_options)
        self.params = self.model.parameters()
        self.optimizer = make_optimizer(cfg.optimizer, self.params, cfg.lr, cfg.weight_decay)
        total = self._total(ck)
        schedule_total = ck.progress["schedule_total"] if ck is not None else total  # fixed at the start
        self.schedule = make_schedule(cfg.schedule, self.optimizer, schedule_total)
        self.rngs = {"model": self.model.rnn.rng, "sample": np.random.default_rng([cfg.seed, 1])}
        self.progress = Progress(total, schedule_total)
        self.last_good: tuple[Path, int] | None = None
        self.step_lr, self.step_norm = math.nan, math.nan  # the last step's learning rate and gradient norm
        self.watch: Watch | None = None  # metrics, gradient flow and pictures, while the loop runs
        self.points_latest = False  # a new folder under runs/: runs/latest points at it once it holds a checkpoint
        self.config_written = False  # config.toml is written with the first checkpoint of this process
        if ck is not None:
            self._restore(ck)

    def _total(self, ck) -> int:
        cfg = self.cfg
        if cfg.steps is not None:
            return cfg.steps
        if cfg.epochs is not None:
            return max(1, int(round(cfg.epochs * self.data.steps_per_epoch)))
        if ck is not None:
            return ck.progress["total"]
        return DEFAULT_CORPUS_STEPS if cfg.corpus is None else self.data.steps_per_epoch

    def _restore(self, ck: Checkpoint) -> None:
        try:
            self.model.load_state_dict(ck.model)
            self.optimizer.load_state_dict(ck.optimizer)
            if self.schedule is not None and ck.progress["schedule"] is not None:
                self.schedule.load_state_dict(ck.progress["schedule"])
        except (AutogradRNNError, ValueError, TypeError, KeyError) as e:
            raise CheckpointError(f"--resume: {self.last_path} does not fit the run it describes ({e})") from None
        for k, g in self.rngs.items():
            g.bit_generator.state = ck.rng_state[k]
        p, saved = self.progress, ck.progress
        p.step, p.history, p.best_val = saved["step"], saved["history"], saved["best_val"]
        p.ema, p.ema_w = saved["ema"]
        p.elapsed, p.started = saved.get("elapsed", 0.0), saved.get("started")
        p.seconds, p.tokens = saved.get("seconds", 0.0), saved.get("tokens", 0.0)
        if saved["carry"] is not None:
            parts = [tuple(Tensor(np.asarray(a, self.model.dtype)) for a in layer) for layer in saved["carry"]]
            p.carry = [s if len(s) > 1 else s[0] for s in parts]
        self.last_good = (self.last_path, p.step)

    def last_good_text(self) -> str:
        if self.last_good is None:
            return "No checkpoint was written yet."
        path, step = self.last_good
        return f"The last good checkpoint is {path} (step {step})."

    def diverged(self, what: str, step: int | None = None) -> TrainingDiverged:
        """The error for a non-finite value at ``step`` (default: the step being taken)."""
        step = self.progress.step + 1 if step is None else step
        return TrainingDiverged(f"step {step}: {what}; training stopped. {self.last_good_text()} "
                                f"Lower --lr or set --clip.")

    def train_step(self) -> tuple[float, float]:
        """One optimizer step on the next batch; returns its loss and its number of target tokens.
        Raises TrainingDiverged when the loss or the gradient is not finite (before anything is
        updated)."""
        cfg, p = self.cfg, self.progress
        x, y, mask, fresh = self.data.batch(p.step)
        state = None if fresh or mask is not None else p.carry
        try:
            loss, new_state = self.model.loss(x, y, mask, state)
        except NonFiniteError as e:
            raise self.diverged(f"non-finite logits ({e})") from None
        value = loss.item()
        if not value <= MAX_LOSS:
            raise self.diverged(f"the loss is {value:.6g} nats per token" + (
                f", above {MAX_LOSS:g}: only blown-up weights give a probability below e^-{MAX_LOSS:g} to the data"
                if math.isfinite(value) else ""))
        self.model.zero_grad()
        loss.backward()
        norm = clip_grad_norm(self.params, cfg.clip if cfg.clip else math.inf)
        if not math.isfinite(norm):
            raise self.diverged(f"the gradient norm is {norm}")
        if cfg.clip_value:
            clip_grad_value(self.params, cfg.clip_value)
        self.step_lr, self.step_norm = self.optimizer.lr, norm
        self.optimizer.step()
        if self.schedule is not None and not isinstance(self.schedule, HalveOnIncrease):
            self.schedule.step()
        p.carry = self.model.detach(new_state) if mask is None else None
        p.step += 1
        return value, float(mask.sum()) if mask is not None else float(y.size)

    def report(self, write) -> None:
        """Validate, measure the gradient flow, print a sample, write the checkpoints (the metrics
        first), redraw the pictures. The model as it will be saved must give a finite loss of at
        most MAX_LOSS on the validation split (on the last training batch when there is none), or
        the run stops as diverged before anything is written."""
        p = self.progress
        entry = {"step": p.step, "train": p.train_avg, "val": None, "seconds": p.seconds, "tokens": p.tokens}
        if self.data.val is not None:
            try:
                v = evaluate_batches(self.model, self.data.val, self.cfg.eval_tokens)
            except NonFiniteError as e:
                raise self.diverged(f"non-finite validation logits ({e})", p.step) from None
            if not v <= MAX_LOSS:
                raise self.diverged(f"the validation loss is {v:.6g} nats per token" + (
                    f", above {MAX_LOSS:g}" if math.isfinite(v) else ""), p.step)
            entry["val"] = v
            msg = f"step {p.step}: train {p.train_avg:.4f}, validation {nats_report(v)}"
            if isinstance(self.schedule, HalveOnIncrease) and self.schedule.step(v):
                msg += f" (lr halved to {self.optimizer.lr:g})"
        else:
            batch = self.data.batch(p.step - 1)
            try:
                v = evaluate_batches(self.model, [batch[:2] if batch[2] is None else batch[:3]])
            except NonFiniteError as e:
                raise self.diverged(f"non-finite logits on the last batch ({e})", p.step) from None
            if not v <= MAX_LOSS:
                raise self.diverged(f"the loss on the last batch is {v:.6g} nats per token", p.step)
            msg = f"step {p.step}: train {p.train_avg:.4f} nats (no validation split)"
        if self.watch is not None:
            self.watch.evaluated(entry)
        p.history.append(entry)
        text = sample_text(self.model, self.data.vocab, length=self.cfg.sample_length,
                           temperature=self.cfg.temperature, seed=self.rngs["sample"])
        write(msg + "\n--- sample ---\n" + text.strip() + "\n--------------")
        self.save()
        if entry["val"] is not None and (p.best_val is None or entry["val"] < p.best_val):
            p.best_val = entry["val"]
            self.save(self.best_path)
        if self.watch is not None:
            self.watch.draw()

    def save(self, path: Path | None = None) -> None:
        path = self.last_path if path is None else path
        if self.watch is not None:
            self.watch.flush()  # the metrics first: never a checkpoint of a step they lack
        save_run(path, self)
        if not self.config_written:
            write_config(self)
            self.config_written = True
        if path == self.last_path:
            self.last_good = (path, self.progress.step)
            if self.points_latest:
                point_latest(self.out)
                self.points_latest = False

    def patience_spent(self) -> bool:
        """The run has had ``patience`` evaluations in a row without a better validation loss."""
        return self.cfg.patience is not None and self.progress.since_best() >= self.cfg.patience

    def final_validation(self, write) -> dict | None:
        """The run's reported number: the whole validation part scored with best.npz's weights (the
        model as it is when its evaluation was the best), said with ``write``, kept as ``final`` in
        the last history entry and in last.npz; None without validation."""
        p, val = self.progress, self.data.val_full
        if val is None or p.best_val is None:
            return None
        step = next(h["step"] for h in p.history if h.get("val") == p.best_val)
        model = self.model if step == p.step else model_from_checkpoint(
            load_checkpoint(self.best_path), cells={spec_of(self.cell): self.cell})[0]
        try:
            nats = evaluate_batches(model, val)
        except NonFiniteError as e:
            raise self.diverged(f"non-finite validation logits ({e})", p.step) from None
        final = {"val": nats, "tokens": val.tokens_per_epoch, "step": step,
                 "unknown": self.data.vocab.unknown(ids_of(self.data.parts["val"]))}
        p.history[-1]["final"] = final
        write(f"final validation, the whole validation part ({val.tokens_per_epoch:,} tokens scored) with best.npz "
              f"(step {step}): {nats_report(nats)}")
        self.save()
        return final

    def preflight(self) -> None:
        """Before the first step: write a checkpoint to a temporary file, rebuild the model from it
        and check that it computes the same logits; a cell whose options cannot be stored, or do not
        rebuild the same cell, fails here instead of at the first checkpoint. The checkpoint is
        written in memory: nothing of this check touches the run's folder."""
        buffer = io.BytesIO()
        save_run(buffer, self)
        model, _ = model_from_checkpoint(load_checkpoint(buffer), cells={spec_of(self.cell): self.cell})
        tokens = self.data.batch(self.progress.step)[0][:4, :2]
        was = self.model.training
        try:
            with no_grad():
                ours, theirs = self.model.eval()(tokens)[0].data, model.eval()(tokens)[0].data
        finally:
            self.model.train(was)
        if not np.isfinite(ours).all():
            raise CellError(f"the model with the cell {self.cell.__name__} ({defined_at(self.cell)}) gives NaN or "
                            f"infinity on the first batch from freshly initialised weights; its step must give finite "
                            f"values there")
        if not np.array_equal(ours, theirs):
            raise ConfigError(f"{self.cell.__name__} rebuilt from a checkpoint (with options "
                              f"{self.model.cell_options()}) computes other outputs than the cell being trained: "
                              f"its config() misses an option the constructor uses")


def resolve_cell(cell, allow: list | None) -> type:
    """The cell class a config names. ``allow`` None: the user named it now, so its code is trusted;
    a list: the name came from a checkpoint, and only the sources listed are."""
    if isinstance(cell, type):
        return cell_class(cell)
    return import_cell(cell) if allow is None else load_cell(cell, allow, "--allow-import")


def is_builtin_class(cls: type) -> bool:
    return cell_name(cls) is not None


def resolve_resume(cfg: TrainConfig) -> tuple[TrainConfig, Checkpoint | None]:
    """For ``resume=True``: the checkpoint and the config it was trained with (only the fields in
    RESUME_OWN come from ``cfg``); otherwise ``(cfg, None)``."""
    if not cfg.resume:
        return cfg, None
    last_path = Path(cfg.out) / "last.npz"
    if not last_path.exists():
        raise ConfigError(f"--resume: no checkpoint at {last_path}; train without --resume first")
    ck = load_checkpoint(last_path)
    saved = {**dataclasses.asdict(check_training(ck)), **ck.config["train"]}  # what it predates: the default
    if cfg.corpus is not None and (saved["corpus"] is None or Path(cfg.corpus).resolve() != Path(saved["corpus"])):
        raise DataError(f"--resume: --corpus {cfg.corpus} differs from the one the checkpoint was trained on "
                        f"({saved['corpus'] or 'the built-in corpus'})")
    if cfg.val_corpus is not None and (saved["val_corpus"] is None
                                       or Path(cfg.val_corpus).resolve() != Path(saved["val_corpus"])):
        raise DataError(f"--resume: --val-corpus {cfg.val_corpus} differs from the one the checkpoint was validated on "
                        f"({saved['val_corpus'] or 'none: a part of its corpus'})")
    defaults = {f.name: TrainConfig.__dataclass_fields__[f.name] for f in dataclasses.fields(cfg)}
    restored = {k: v for k, v in saved.items() if k in defaults and k not in RESUME_OWN}

    def given(k):  # the value differs from the field's default: the user set it
        f = defaults[k]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        return getattr(cfg, k) != default

    changed = sorted(k for k, v in restored.items()
                     if k not in ("corpus", "val_corpus") and given(k) and getattr(cfg, k) != v)
    if changed:
        say(f"resume: every setting comes from the checkpoint (only --steps/--epochs may extend the run); "
            f"ignoring the differing {', '.join(changed)}")
    if cfg.threads is None and saved.get("threads") not in (None, "auto"):
        n = int(saved["threads"])
        if n > threads.cores():
            say(f"resume: the run used --threads {n}; this process may use {threads.cores()} cores, so it takes "
                f"{threads.cores()} (the results are the same whatever the count)")
        restored["threads"] = str(min(n, threads.cores()))
    return dataclasses.replace(cfg, **restored), ck


class _Interrupt:
    """First Ctrl-C asks the loop to stop after the current step (checkpoint written); a second
    one stops at once."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self.prev = signal.getsignal(signal.SIGINT)
        try:
            signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread
            self.prev = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        say("\ninterrupt: finishing this step and writing a checkpoint (Ctrl-C again to stop at once)")

    def __exit__(self, *exc):
        if self.prev is not None:
            signal.signal(signal.SIGINT, self.prev)


def scoring(cfg: TrainConfig, val) -> str:
    """How the run scores its validation text, in words."""
    part = f"on its first {cfg.eval_tokens:,} tokens" if cfg.eval_tokens < val.tokens_per_epoch else "whole"
    return (f"{part} every {cfg.eval_every} steps, and whole at the end with best.npz as evaluate scores it "
            + (f"({EVAL_BATCH} lines at a time)" if cfg.batching == "lines" else
               f"({EVAL_BATCH} streams of {EVAL_SEQ_LEN} steps)")
            + ("" if cfg.patience is None else
               f"; the run stops after {cfg.patience} evaluations in a row without a better loss"))


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, mininterval=0.5, file=sys.stderr)


def train(cfg: TrainConfig) -> TrainResult:
    """Run (or resume) the training the config describes; see the module docstring. Without
    ``out`` the run gets a new folder under ``runs/``; an ``out`` that already holds a run is
    refused unless ``resume``. The output folder is locked for the run: a second run into it is
    refused."""
    if not isinstance(cfg, TrainConfig):
        raise ConfigError(f"train: got a {type(cfg).__name__}; expected a TrainConfig")
    cfg.validate()
    cfg, made = place(cfg)
    out = Path(cfg.out)
    before = threads.setting()
    try:
        with OutLock(out):
            check_out(out, cfg.resume)
            return _train(cfg, made)
    finally:
        threads.set_threads(before)
        if made:
            discard_if_empty(out)


def _train(cfg: TrainConfig, made: bool = False) -> TrainResult:
    cfg, ck = resolve_resume(cfg)
    cfg.validate()
    if cfg.threads is not None:
        threads.set_threads(cfg.threads, "--threads")
    cfg = dataclasses.replace(cfg, threads=threads.setting())  # what the checkpoint keeps
    run = Run(cfg, ck)
    run.points_latest = made
    with blame_cell(run.cell):
        try:
            return _loop(run, ck)
        except BaseException:
            if run.watch is not None:  # the rows and pictures up to the failure, without hiding it
                run.watch.close(quiet=True)
            raise


def _loop(run: Run, ck: Checkpoint | None) -> TrainResult:
    cfg, p, data = run.cfg, run.progress, run.data
    if not is_builtin_class(run.cell):
        check_step(run.cell, run.model.cell_options())
    if cfg.check_cell and not is_builtin_class(run.cell):
        say(f"checking {run.cell.__name__}'s gradients (gradcheck_sequence, float64, Full, LookBack(2), "
            f"Truncated(2, 3)); --no-check-cell skips this")
        reports = check_cell(run.cell, run.model.cell_options(), parse_truncation(cfg.truncation))
        worst = max(r.max_rel_err for r in reports)
        say(f"gradient check passed: {run.cell.__name__}'s backward agrees with finite differences under all "
            f"{len(reports)} policies (largest relative error {worst:.1e})")
    run.preflight()
    if ck is not None:
        say(f"resume: from step {p.step} of {p.total} ({run.last_path})")
    say(f"corpus: {run.corpus_name}: {len(run.text):,} characters; {cfg.level} level, vocabulary "
        f"{len(data.vocab):,}, {len(data.train_ids):,} training tokens, {data.steps_per_epoch:,} steps per epoch")
    say(data.describe + ("; too short to score: each evaluation scores the last training batch" if data.val is None
                         else f"; scored {scoring(cfg, data.val)}"))
    say(f"model: {run.model.cell_type.__name__} x{cfg.layers}, hidden {cfg.hidden}, {run.model.n_parameters():,} "
        f"parameters, {cfg.dtype}; {cfg.optimizer} lr {run.optimizer.lr:g}; batch {cfg.batch} x "
        + (f"seq_len {cfg.seq_len}" if cfg.batching == "stream" else f"one line (the longest {data.steps} steps)")
        + f"; unigram entropy {run.unigram:.3f} nats")
    tokens_done, t_start, first_step = 0, time.perf_counter(), p.step
    watch = run.watch = Watch(run, resumed=ck is not None)
    stopped = "early" if run.patience_spent() else "finished"
    if stopped == "early":
        say(f"resume: the run stopped early at step {p.step} ({cfg.patience} evaluations without a better validation "
            f"loss); nothing to continue")
    bar = _progress_bar(p.total, p.step, cfg.progress) if stopped == "finished" else None

    def write(msg: str) -> None:
        if bar is not None:
            bar.write(msg, file=sys.stderr)
        else:
            say(msg)

    with _Interrupt() as interrupt:
        while stopped == "finished" and p.step < p.total:
            began = time.perf_counter()
            value, n_tok = run.train_step()
            p.seconds += time.perf_counter() - began
            p.tokens += n_tok
            watch.step(value, n_tok, began)
            tokens_done += n_tok
            train_avg = p.record_loss(value)
            if bar is not None:
                rate = tokens_done / max(time.perf_counter() - t_start, 1e-9)
                bar.set_postfix_str(f"loss {train_avg:.3f}, {rate:,.0f} tok/s", refresh=False)
                bar.update(1)
            if p.step % cfg.eval_every == 0 or p.step == p.total:
                run.report(write)
                if run.patience_spent():
                    stopped = "early"
                    write(f"early stop at step {p.step}: {cfg.patience} evaluations without a better validation loss "
                          f"than {p.best_val:.4f} (kept in {run.best_path})")
                    break
            if interrupt.requested or (cfg.stop_after is not None and p.step >= cfg.stop_after):
                run.save()
                stopped = "interrupted"
                write(f"stopped at step {p.step}; checkpoint {run.last_path} (continue with --resume)")
                break
    watch.close()
    if bar is not None:
        bar.close()
    final = p.history[-1].get("final") if p.history else None
    if stopped != "interrupted" and final is None:
        final = run.final_validation(say)
    if stopped != "interrupted":
        ran = p.step - first_step
        say(f"done: {ran} step{'s' if ran != 1 else ''} in {time.perf_counter() - t_start:.1f} s"
            + (f" (steps {first_step + 1} to {p.step})" if first_step else "") + f"; checkpoints in {run.out}"
            + (f", loss curve {run.plot_path}" if run.plot_path.exists() else ""))
    atomic_write(run.out / "history.json", json.dumps(p.history, indent=1).encode())
    return TrainResult(p.step, p.history, p.best_val, stopped, run.out, run.unigram,
                       None if final is None or stopped == "interrupted" else final["val"])
