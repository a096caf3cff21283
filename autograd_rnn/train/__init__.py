"""Training a language model: the config, the loop, its checkpoints and its evaluation."""

from ..errors import TrainingDiverged
from .cellcheck import CellCheckFailed, check_cell
from .checkpoints import model_from_checkpoint, save_run
from .config import DEFAULT_CORPUS_STEPS, RESUME_OWN, TrainConfig, option
from .corpus import Data, corpus_text, text_hash
from .evaluate import evaluate_batches, nats_report
from .loop import Progress, Run, TrainResult, resolve_resume, train
from .metrics import read_metrics
from .plot import plot_curve

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "train",
    "Run",
    "Progress",
    "resolve_resume",
    "model_from_checkpoint",
    "check_cell",
    "CellCheckFailed",
    "save_run",
    "evaluate_batches",
    "nats_report",
    "Data",
    "corpus_text",
    "text_hash",
    "plot_curve",
    "read_metrics",
    "option",
    "DEFAULT_CORPUS_STEPS",
    "RESUME_OWN",
]
