"""Vocabularies, corpora, splits and batches for language models (numpy and the standard library).

* :mod:`.vocab`: :func:`tokenize_words`, :class:`Vocabulary` (text <-> int64 ids, char or word level).
* :mod:`.corpus`: :func:`load_text` (a UTF-8 file, read with bounds), :func:`default_corpus` (the
  docstrings of the installed Python standard library, no download), :func:`lines_of`.
* :mod:`.batches`: :func:`split_stream`, :func:`split_lines`, :func:`parse_split`, :class:`StreamBatches`,
  :class:`LineBatches`, :func:`unigram_entropy`.
"""

from ..errors import DataError
from .batches import (
    DEFAULT_SPLIT,
    SPLITS,
    LineBatches,
    StreamBatches,
    parse_split,
    split_lines,
    split_stream,
    unigram_entropy,
)
from .corpus import MAX_CORPUS_BYTES, default_corpus, lines_of, load_text
from .vocab import BOS, EOS, PAD, SPECIAL_ORDER, UNK, Vocabulary, tokenize_words

__all__ = [
    "DataError",
    "Vocabulary",
    "tokenize_words",
    "PAD",
    "UNK",
    "BOS",
    "EOS",
    "SPECIAL_ORDER",
    "load_text",
    "default_corpus",
    "lines_of",
    "MAX_CORPUS_BYTES",
    "split_stream",
    "parse_split",
    "SPLITS",
    "DEFAULT_SPLIT",
    "split_lines",
    "StreamBatches",
    "LineBatches",
    "unigram_entropy",
]
