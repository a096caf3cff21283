"""Scoring a checkpoint: on a text file, or on a part of its own run's data (``autograd-rnn evaluate``).

A part of the run's data (``train``, ``val``, ``test``) is rebuilt from the checkpoint alone: its
corpus is read again from the path the checkpoint names and held to the sha256 the checkpoint keeps
(a file changed since is refused, never scored as if it were the same text), and cut as the run cut
it (its split; its validation corpus for ``val``). The batches are :func:`evaluation_batches`, the
ones the run scores its own validation with, so ``evaluate --split val`` on best.npz gives the
run's final validation exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from ..checkpoint import Checkpoint
from ..data import MAX_CORPUS_BYTES, lines_of, load_text
from ..errors import ConfigError, DataError
from ..nodes import blame_cell
from .checkpoints import model_from_checkpoint
from .corpus import LIFT, PARTS, corpus_text, encode_parts, ids_of, split_text, text_hash, val_corpus_text
from .evaluate import EVAL_BATCH, EVAL_SEQ_LEN, evaluate_batches, evaluation_batches
from .schema import check_training


@dataclasses.dataclass
class Score:
    """What a text scored: ``nats`` per target token, over ``tokens`` targets, ``unknown`` of the
    text's tokens read as <unk>; ``label`` names the text."""

    nats: float
    tokens: int
    unknown: int
    label: str


def score_checkpoint(ck: Checkpoint, split: str | None = None, corpus: str | None = None, batch: int = EVAL_BATCH,
                     seq_len: int = EVAL_SEQ_LEN, no_limits: bool = False, allow_import: Iterable[str] = (),
                     flag: str = "allow_import=") -> Score:
    """Score ``ck``'s model on the part ``split`` of its run's data, or on the text file ``corpus``
    (one of them), tokenised with its vocabulary, in ``batch`` streams of ``seq_len`` steps (lines:
    ``batch`` lines at a time)."""
    if (split is None) == (corpus is None):
        raise ConfigError("evaluate: give --corpus FILE or --split PART (one of them)")
    cfg = dataclasses.replace(check_training(ck), batch=batch, seq_len=seq_len, no_limits=no_limits)
    model, vocab = model_from_checkpoint(ck, allow_import=allow_import, flag=flag)
    if split is not None:
        part, label = run_part(ck, cfg, vocab, split)
    else:
        text = load_text(corpus, None if no_limits else MAX_CORPUS_BYTES, LIFT)
        lines = cfg.batching == "lines"
        part, label = ([vocab.encode_line(line) for line in lines_of(text)] if lines else vocab.encode(text)), corpus
    batches = evaluation_batches(part, vocab.pad_id, batch, seq_len)
    if batches is None:
        raise DataError(f"evaluate: {label} holds {len(ids_of(part))} tokens; expected at least two to score")
    steps = None if cfg.batching == "stream" else max(len(line) for line in part) - 1
    cfg.check_size(len(vocab), getattr(model.cell_type, "gates", 4), steps)
    with blame_cell(model.cell_type):
        nats = evaluate_batches(model, batches)
    return Score(nats, batches.tokens_per_epoch, vocab.unknown(ids_of(part)), label)


def run_part(ck: Checkpoint, cfg, vocab, name: str):
    """(the part ``name`` of the run's data, a label for it), rebuilt from the checkpoint's config
    (``cfg``) and vocabulary; DataError when its corpus changed since or the split has no such part."""
    if name not in PARTS:
        raise ConfigError(f"evaluate --split {name!r}; expected one of {', '.join(PARTS)}")
    text, corpus_name = corpus_text(cfg)
    if text_hash(text) != ck.config["corpus_sha256"]:
        raise DataError(f"evaluate --split {name}: {corpus_name} is not the text the run was trained on (its sha256 "
                        f"differs from the checkpoint's: it changed since); score a file with --corpus instead")
    val_text = val_corpus_text(cfg) if name == "val" else None
    if val_text is not None and text_hash(val_text) != ck.config.get("val_corpus_sha256"):
        raise DataError(f"evaluate --split val: {cfg.val_corpus} is not the validation text of the run (its sha256 "
                        f"differs from the checkpoint's: it changed since); score a file with --corpus instead")
    part = encode_parts(cfg, text, vocab, val_text)[name]
    if len(part) == 0:
        raise DataError(f"evaluate --split {name}: the run's split ({split_text(cfg)}) has no {name} part; score a "
                        f"file with --corpus instead")
    if val_text is not None:
        return part, f"{cfg.val_corpus} (the run's validation corpus)"
    return part, f"the {name} part of {corpus_name} (split {split_text(cfg)})"


__all__ = ["Score", "score_checkpoint", "run_part"]
