"""Models built from nodes and sequences, and sampling from them."""

from .language_model import LanguageModel
from .sampling import sample_ids, sample_text

__all__ = ["LanguageModel", "sample_ids", "sample_text"]
