"""Small corpora written for tests."""

import numpy as np

WORDS = "the cat sat on a mat while my dog ran to the red door and back again under blue sky".split()


def word_corpus(path, lines: int = 300) -> str:
    """A small corpus of random sentences from ``WORDS``, one per line, written to ``path``."""
    rng = np.random.default_rng(0)
    path.write_text("\n".join(" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) + "." for _ in range(lines)) + "\n")
    return str(path)
