"""Models built from nodes."""

from .language_model import LanguageModel

__all__ = ["LanguageModel"]
