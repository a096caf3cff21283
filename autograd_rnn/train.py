"""The training loop: data, model, optimizer, progress bar, validation, samples, checkpoints,
loss curve, NaN guard, Ctrl-C, exact resume.

``train(TrainConfig(...))`` is what ``autograd-rnn train`` runs. Every ``eval_every`` steps it
reports the validation loss in nats and bits per token and the perplexity, prints a sample,
writes ``last.npz`` (and ``best.npz`` when the validation loss improves) atomically, and redraws
``loss_curve.png``. A run interrupted with Ctrl-C writes ``last.npz`` at the last completed step;
``resume=True`` continues from it and ends with the same weights, bit for bit, as a run that was
never interrupted (the checkpoint holds the weights, the optimizer and schedule state, the RNG
states and, for stream batching, the hidden state carried into the next chunk).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .checkpoint import load_checkpoint, save_checkpoint
from .data import (
    DataError,
    LineBatches,
    StreamBatches,
    Vocabulary,
    default_corpus,
    lines_of,
    load_text,
    split_lines,
    split_stream,
    unigram_entropy,
)
from .errors import GateInputError
from .graph import Tensor, no_grad
from .models import LanguageModel
from .optim import CosineDecay, HalveOnIncrease, StepDecay, clip_grad_norm, clip_grad_value, make_optimizer
from .sampling import sample_text

# on --resume every other setting comes from the checkpoint
RESUME_OWN = ("steps", "epochs", "out", "resume", "progress", "plot", "stop_after")


@dataclass
class TrainConfig:
    """Every option of ``autograd-rnn train`` (see ``autograd-rnn train --help``)."""

    corpus: str | None = None
    level: str = "char"
    batching: str = "stream"
    cell: str = "lstm"
    embed: int = 64
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.0
    seq_len: int = 64
    batch: int = 32
    optimizer: str = "adam"
    lr: float | None = None
    weight_decay: float = 0.0
    clip: float | None = 5.0
    clip_value: float | None = None
    truncation: str = "full"
    schedule: str = "none"
    steps: int | None = None
    epochs: float | None = None
    eval_every: int = 250
    eval_tokens: int = 60_000
    sample_length: int = 200
    temperature: float = 0.8
    dtype: str = "float32"
    out: str = "runs/latest"
    resume: bool = False
    seed: int = 0
    max_vocab: int | None = None
    lowercase: bool = False
    one_hot: bool = False
    progress: bool = True
    plot: bool = True
    stop_after: int | None = field(default=None, repr=False)  # for tests: act as if Ctrl-C came after this step


@dataclass
class TrainResult:
    steps: int
    history: list
    best_val: float | None
    stopped: str
    out: Path
    unigram_nats: float


class TrainingDiverged(RuntimeError):
    """The loss or the gradient became NaN or infinite; the last good checkpoint is kept."""


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----- data ---------------------------------------------------------------------------------------
class Data:
    """Vocabulary, splits and batches for a config; ``batch(step)`` gives any step's batch."""

    def __init__(self, cfg: TrainConfig, text: str):
        if cfg.level not in ("char", "word"):
            raise DataError(f"--level {cfg.level!r}; expected 'char' or 'word'")
        if cfg.batching not in ("stream", "lines"):
            raise DataError(f"--batching {cfg.batching!r}; expected 'stream' or 'lines'")
        self.cfg = cfg
        markers = cfg.batching == "lines"
        # the vocabulary is built from the whole text (validation included), so validation has no <unk>
        # that training never saw; --max-vocab still caps it by frequency
        max_size = cfg.max_vocab if cfg.max_vocab is not None else (8000 if cfg.level == "word" else None)
        self.vocab = Vocabulary.build(text if not markers else lines_of(text), cfg.level, max_size=max_size,
                                      sentence_markers=markers, lowercase=cfg.lowercase)
        if markers:
            encoded = [self.vocab.encode_line(line) for line in lines_of(text)]
            train, val, test = split_lines(encoded, seed=0)  # fixed: --seed never changes the validation set
            self.train = LineBatches(train, cfg.batch, self.vocab.pad_id, shuffle=True, seed=cfg.seed)
            self.val = LineBatches(val, cfg.batch, self.vocab.pad_id, shuffle=False) if val else None
            self.train_ids = np.concatenate(train)
            self._epoch, self._epoch_batches = None, None
        else:
            ids = self.vocab.encode(text)
            train, val, test = split_stream(ids)
            self.train = StreamBatches(train, cfg.batch, cfg.seq_len)
            self.val_ids = val
            self.val = None if len(val) < 2 else StreamBatches(val, min(cfg.batch, max(1, len(val) // 2)), cfg.seq_len)
            self.train_ids = train
        self.steps_per_epoch = len(self.train)

    def batch(self, step: int):
        """(inputs, targets, mask or None, starts_new_stream) of global ``step``."""
        n = self.steps_per_epoch
        epoch, i = divmod(step, n)
        if isinstance(self.train, StreamBatches):
            x, y = self.train.chunk(i)
            return x, y, None, i == 0
        if self._epoch != epoch:
            self._epoch, self._epoch_batches = epoch, list(self.train.epoch(epoch))
        x, y, m = self._epoch_batches[i]
        return x, y, m, True


def corpus_text(cfg: TrainConfig) -> tuple[str, str]:
    if cfg.corpus is None:
        return default_corpus(verbose=True), "default corpus (Python standard library docstrings)"
    return load_text(cfg.corpus), str(cfg.corpus)


# ----- evaluation ---------------------------------------------------------------------------------
@no_grad()
def evaluate_batches(model: LanguageModel, batches, max_tokens: int | None = None) -> float:
    """Mean loss in nats per target token over stream or line batches (state carried in streams)."""
    was = model.training
    model.eval()
    total, count, state = 0.0, 0.0, None
    try:
        for item in batches:
            x, y = item[0], item[1]
            mask = item[2] if len(item) > 2 else None
            loss, state = model.loss(x, y, mask, state if mask is None else None)
            n = float(mask.sum()) if mask is not None else y.size
            total += loss.item() * n
            count += n
            if max_tokens is not None and count >= max_tokens:
                break
    finally:
        model.train(was)
    if count == 0:
        raise DataError("evaluate: no tokens to evaluate")
    return total / count


def nats_report(nats: float) -> str:
    ppl = math.exp(nats) if nats < 700 else math.inf
    return f"{nats:.4f} nats = {nats / math.log(2):.4f} bits per token, perplexity {ppl:.6g}"


# ----- checkpoints --------------------------------------------------------------------------------
def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _save(path: Path, model, optimizer, schedule, data: Data, cfg: TrainConfig, step: int, history: list,
          best_val, carry, rngs: dict, corpus_id: str, corpus_name: str, ema: tuple, totals: tuple) -> None:
    carry_arrays = None if carry is None else [[part.data for part in (s if isinstance(s, tuple) else (s,))]
                                               for s in carry]
    save_checkpoint(
        path,
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        rng_state={k: g.bit_generator.state for k, g in rngs.items()},
        vocab=data.vocab.to_dict(),
        config={"train": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "stop_after"}
                | {"corpus": None if cfg.corpus is None else str(Path(cfg.corpus).resolve())},
                "model": model.config(), "corpus": corpus_name, "corpus_sha256": corpus_id},
        progress={"step": step, "history": history, "best_val": best_val, "carry": carry_arrays, "ema": ema,
                  "total": totals[0], "schedule_total": totals[1],
                  "schedule": None if schedule is None else schedule.state_dict()},
    )


def model_from_checkpoint(ck, cells: dict | None = None) -> tuple[LanguageModel, Vocabulary]:
    """Rebuild the model and vocabulary. A checkpoint of a custom cell names it ``module:Class``;
    loading imports nothing it names: pass the class in ``cells`` ({"module:Class": Class})."""
    mc = ck.config["model"]
    model = LanguageModel(mc["vocab_size"], cell=_cell(mc["cell"], cells or {}), embed_size=mc["embed_size"] or 1,
                          hidden_size=mc["hidden_size"], layers=mc["layers"], dropout=mc["dropout"],
                          one_hot=mc["one_hot"], dtype=np.dtype(mc["dtype"]))
    model.load_state_dict(ck.model)
    return model, Vocabulary.from_dict(ck.vocab)


def _cell(name: str, cells: dict):
    if name in ("rnn", "lstm", "gru"):
        return name
    if name in cells:
        return cells[name]
    raise DataError(f"checkpoint: the model uses the custom cell {name!r}; a checkpoint never makes us import "
                    f"code, so pass the class: model_from_checkpoint(ck, cells={{{name!r}: YourCell}})")


def _schedule(spec: str, optimizer, total: int):
    if spec in ("none", "", None):
        return None
    if spec == "cosine":
        return CosineDecay(optimizer, total_steps=total, min_lr=optimizer.lr * 0.1)
    if spec == "halve":
        return HalveOnIncrease(optimizer)
    if spec.startswith("step:"):
        try:
            size, gamma = spec[5:].split(",")
            size, gamma = int(size), float(gamma)
        except ValueError:
            size, gamma = 0, 0.0
        if size < 1 or not 0.0 < gamma <= 1.0:
            raise ValueError(f"--schedule {spec!r}; expected step:N,GAMMA with N >= 1 steps and 0 < GAMMA <= 1")
        return StepDecay(optimizer, size, gamma)
    raise ValueError(f"--schedule {spec!r}; expected none, cosine, halve or step:N,GAMMA")


# ----- plotting -----------------------------------------------------------------------------------
def plot_curve(path: Path, history: list, unigram: float) -> bool:
    """Loss curve PNG (train and validation, nats per token); False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [h["train"] for h in history], label="train (running mean)")
    val = [(h["step"], h["val"]) for h in history if h.get("val") is not None]
    if val:
        ax.plot(*zip(*val), "o-", label="validation")
    ax.axhline(unigram, color="gray", ls="--", lw=1, label="unigram entropy")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return True


# ----- the loop -----------------------------------------------------------------------------------
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


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, mininterval=0.5, file=sys.stderr)


def train(cfg: TrainConfig) -> TrainResult:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    last_path, best_path, plot_path = out / "last.npz", out / "best.npz", out / "loss_curve.png"
    ck = None
    if cfg.resume:
        if not last_path.exists():
            raise FileNotFoundError(f"--resume: no checkpoint at {last_path}; train without --resume first")
        ck = load_checkpoint(last_path)
        saved = ck.config["train"]
        other = cfg.corpus is not None and saved["corpus"] is not None
        if other and Path(cfg.corpus).resolve() != Path(saved["corpus"]):
            raise DataError(f"--resume: --corpus {cfg.corpus} differs from the one the checkpoint was trained on "
                            f"({saved['corpus']})")
        fields = {f.name for f in dataclasses.fields(cfg)}
        restored = {k: v for k, v in saved.items() if k in fields and k not in RESUME_OWN}
        changed = sorted(k for k, v in restored.items() if k != "corpus" and getattr(cfg, k) != v)
        if changed:
            say(f"resume: every setting comes from the checkpoint (only --steps/--epochs may extend the run); "
                f"ignoring the differing {', '.join(changed)}")
        cfg = dataclasses.replace(cfg, **restored)

    text, corpus_name = corpus_text(cfg)
    corpus_id = text_hash(text)
    if ck is not None and ck.config["corpus_sha256"] != corpus_id:
        raise DataError(f"--resume: the corpus {corpus_name} differs from the one the checkpoint was trained on")
    data = Data(cfg, text)
    vocab = data.vocab
    unigram = unigram_entropy(data.train_ids, len(vocab))
    dtype = np.dtype(cfg.dtype)
    rng = np.random.default_rng(cfg.seed)
    model = LanguageModel(len(vocab), cell=cfg.cell, embed_size=cfg.embed, hidden_size=cfg.hidden, layers=cfg.layers,
                          dropout=cfg.dropout, one_hot=cfg.one_hot, truncation=cfg.truncation, dtype=dtype, rng=rng)
    params = model.parameters()
    optimizer = make_optimizer(cfg.optimizer, params, cfg.lr, cfg.weight_decay)
    if cfg.steps is not None:
        total = cfg.steps
    elif cfg.epochs is not None:
        total = max(1, int(round(cfg.epochs * data.steps_per_epoch)))
    elif ck is not None:
        total = ck.progress["total"]
    else:
        total = data.steps_per_epoch
    schedule_total = ck.progress["schedule_total"] if ck is not None else total  # the curve is fixed at the start
    schedule = _schedule(cfg.schedule, optimizer, schedule_total)
    rngs = {"model": model.rnn.rng, "sample": np.random.default_rng([cfg.seed, 1])}
    step, history, best_val, carry = 0, [], None, None
    ema, ema_w = 0.0, 0.0
    if ck is not None:
        model.load_state_dict(ck.model)
        optimizer.load_state_dict(ck.optimizer)
        for k, g in rngs.items():
            g.bit_generator.state = ck.rng_state[k]
        p = ck.progress
        step, history, best_val = p["step"], p["history"], p["best_val"]
        if schedule is not None and p["schedule"] is not None:
            schedule.load_state_dict(p["schedule"])
        if p["carry"] is not None:
            parts = [tuple(Tensor(np.asarray(a, dtype)) for a in layer) for layer in p["carry"]]
            carry = [s if len(s) > 1 else s[0] for s in parts]
        ema, ema_w = p["ema"]
        say(f"resume: from step {step} of {total} ({last_path})")

    say(f"corpus: {corpus_name}: {len(text):,} characters; {cfg.level} level, vocabulary {len(vocab):,}, "
        f"{len(data.train_ids):,} training tokens, {data.steps_per_epoch:,} steps per epoch")
    say(f"model: {model.cell_type.__name__} x{cfg.layers}, hidden {cfg.hidden}, {model.n_parameters():,} parameters, "
        f"{cfg.dtype}; {cfg.optimizer} lr {optimizer.lr:g}; batch {cfg.batch} x seq_len {cfg.seq_len}; "
        f"unigram entropy {unigram:.3f} nats")

    tokens_done, t_start = 0, time.perf_counter()
    stopped = "finished"
    bar = _progress(total, step, cfg.progress)

    def checkpoint_now(path=last_path):
        _save(path, model, optimizer, schedule, data, cfg, step, history, best_val, carry, rngs, corpus_id,
              corpus_name, (ema, ema_w), (total, schedule_total))

    with _Interrupt() as interrupt:
        while step < total:
            x, y, mask, fresh = data.batch(step)
            state = None if fresh or mask is not None else carry
            try:
                loss, new_state = model.loss(x, y, mask, state)
                value = loss.item()
                if not math.isfinite(value):
                    raise GateInputError(f"loss is {value}")
                model.zero_grad()
                loss.backward()
            except GateInputError as e:
                if "NaN or inf" not in str(e) and "loss is" not in str(e):
                    raise
                raise TrainingDiverged(
                    f"step {step + 1}: non-finite loss ({e}); training stopped. The last good checkpoint is "
                    f"{last_path if last_path.exists() else '(none written yet)'}; lower --lr or set --clip"
                ) from None
            norm = clip_grad_norm(params, cfg.clip if cfg.clip else math.inf)
            if not math.isfinite(norm):
                raise TrainingDiverged(
                    f"step {step + 1}: the gradient norm is {norm}; training stopped before the update. The last "
                    f"good checkpoint is {last_path if last_path.exists() else '(none written yet)'}"
                )
            if cfg.clip_value:
                clip_grad_value(params, cfg.clip_value)
            optimizer.step()
            if isinstance(schedule, StepDecay | CosineDecay):
                schedule.step()
            carry = model.detach(new_state) if mask is None else None
            step += 1
            n_tok = float(mask.sum()) if mask is not None else y.size
            tokens_done += n_tok
            ema_w = 0.98 * ema_w + 0.02
            ema = 0.98 * ema + 0.02 * value
            train_avg = ema / ema_w
            if bar is not None:
                rate = tokens_done / max(time.perf_counter() - t_start, 1e-9)
                bar.set_postfix_str(f"loss {train_avg:.3f}, {rate:,.0f} tok/s", refresh=False)
                bar.update(1)
            if step % cfg.eval_every == 0 or step == total:
                entry = {"step": step, "train": train_avg, "val": None}
                if data.val is not None:
                    v = evaluate_batches(model, data.val, cfg.eval_tokens)
                    entry["val"] = v
                    msg = f"step {step}: train {train_avg:.4f}, validation {nats_report(v)}"
                    if isinstance(schedule, HalveOnIncrease) and schedule.step(v):
                        msg += f" (lr halved to {optimizer.lr:g})"
                else:
                    msg = f"step {step}: train {train_avg:.4f} nats (no validation split)"
                history.append(entry)
                text_out = sample_text(model, vocab, length=cfg.sample_length, temperature=cfg.temperature,
                                       seed=rngs["sample"])
                _write(bar, msg + "\n--- sample ---\n" + text_out.strip() + "\n--------------")
                checkpoint_now()
                if entry["val"] is not None and (best_val is None or entry["val"] < best_val):
                    best_val = entry["val"]
                    checkpoint_now(best_path)
                if cfg.plot:
                    plot_curve(plot_path, history, unigram)
            if interrupt.requested or (cfg.stop_after is not None and step >= cfg.stop_after):
                checkpoint_now()
                stopped = "interrupted"
                _write(bar, f"stopped at step {step}; checkpoint {last_path} (continue with --resume)")
                break
    if bar is not None:
        bar.close()
    if stopped == "finished":
        say(f"done: {step} steps in {time.perf_counter() - t_start:.1f} s; checkpoints in {out}"
            + (f", loss curve {plot_path}" if plot_path.exists() else ""))
    (out / "history.json").write_text(json.dumps(history, indent=1))
    return TrainResult(step, history, best_val, stopped, out, unigram)


def _write(bar, msg: str) -> None:
    if bar is not None:
        bar.write(msg, file=sys.stderr)
    else:
        say(msg)
