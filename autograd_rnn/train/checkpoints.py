"""Training checkpoints: what a run writes, and the model a checkpoint rebuilds."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..cellspec import load_cell, spec_of
from ..checkpoint import Checkpoint, save_checkpoint
from ..data import Vocabulary
from ..errors import AutogradRNNError, CheckpointError, TrainingDiverged
from ..models import LanguageModel
from .config import MODEL_DEFAULTS
from .schema import check_model, check_vocab


def non_finite(arrays: dict) -> list[str]:
    """The names of the arrays that hold NaN or infinity."""
    return [k for k, a in arrays.items() if a.dtype.kind == "f" and not np.isfinite(a).all()]


def train_config(run) -> dict:
    """``run``'s settings as its checkpoint keeps them: every field of its config (but ``stop_after``),
    the corpus files as absolute paths, the cell by its spec with its options."""
    cfg = run.cfg
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "stop_after"}
    for key in ("corpus", "val_corpus"):
        settings[key] = None if getattr(cfg, key) is None else str(Path(getattr(cfg, key)).resolve())
    settings["cell"] = spec_of(run.model.cell_type)
    settings["cell_options"] = run.model.cell_options()
    return settings


def save_run(path, run) -> None:
    """Write ``run``'s checkpoint to ``path`` atomically (or to an open binary file), after checking
    that the weights, the optimizer state and the state carried into the next chunk are finite
    (TrainingDiverged otherwise: a diverged state is never saved)."""
    weights, opt = run.model.state_dict(), run.optimizer.state_dict()
    p = run.progress
    carry = None if p.carry is None else [[part.data for part in (s if isinstance(s, tuple) else (s,))]
                                          for s in p.carry]
    carried = {f"the carried state of layer {k} (part {j})": a for k, layer in enumerate(carry or ())
               for j, a in enumerate(layer)}
    bad = non_finite(weights) + non_finite(opt["arrays"]) + non_finite(carried)
    if bad:
        raise TrainingDiverged(f"step {run.progress.step}: {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''} "
                               f"hold NaN or infinity; training stopped without saving. {run.last_good_text()}")
    save_checkpoint(
        path,
        model=weights,
        optimizer=opt,
        rng_state={k: g.bit_generator.state for k, g in run.rngs.items()},
        vocab=run.data.vocab.to_dict(),
        config={"train": train_config(run), "model": run.model.config(), "corpus": run.corpus_name,
                "corpus_sha256": run.corpus_id, "val_corpus_sha256": run.val_corpus_id},
        progress={"step": p.step, "history": p.history, "best_val": p.best_val, "carry": carry,
                  "ema": (p.ema, p.ema_w), "seconds": p.seconds, "tokens": p.tokens,
                  "total": p.total, "schedule_total": p.schedule_total,
                  "elapsed": p.elapsed, "started": p.started,
                  "schedule": None if run.schedule is None else run.schedule.state_dict()},
    )


def model_from_checkpoint(ck: Checkpoint, cells: dict | None = None, allow_import: Iterable[str] = (),
                          flag: str = "allow_import=") -> tuple[LanguageModel, Vocabulary]:
    """Rebuild the model and vocabulary. A checkpoint of a custom cell names it by its spec
    (``module:Class`` or ``path/to/file.py:Class``); loading imports nothing it names unless
    ``allow_import`` names the module or file (or pass the class itself in ``cells``,
    ``{spec: Class}``); ``flag`` is how a refusal says to trust it (``--allow-import`` from the
    command line). The cell is rebuilt with the options it was saved with. Refuses weights that
    hold NaN or infinity."""
    mc = check_model(ck)
    vocab = check_vocab(ck)
    spec = mc["cell"]
    cell = (cells or {}).get(spec) or load_cell(spec, allow_import, flag)
    model = LanguageModel(mc["vocab_size"], cell=cell, embed_size=mc["embed_size"] or 1,
                          hidden_size=mc["hidden_size"], layers=mc["layers"], dropout=mc["dropout"],
                          one_hot=mc["one_hot"], dtype=np.dtype(mc["dtype"]),
                          **{k: mc.get(k, v) for k, v in MODEL_DEFAULTS.items()}, **mc.get("cell_options", {}))
    bad = non_finite(ck.model)
    if bad:
        raise CheckpointError(f"the checkpoint's weights {', '.join(bad[:3])} hold NaN or infinity (a diverged run); "
                              f"use an earlier checkpoint")
    try:
        model.load_state_dict(ck.model)
    except AutogradRNNError as e:
        raise CheckpointError(f"checkpoint: the weights do not fit the model its config describes: {e}") from None
    return model, vocab
