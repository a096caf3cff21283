"""Models built from nodes and sequences, and sampling from them."""

from .frozen import FrozenModel
from .language_model import LanguageModel
from .sampling import sample_ids, sample_text

__all__ = ["LanguageModel", "FrozenModel", "sample_ids", "sample_text"]
