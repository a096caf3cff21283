"""``LanguageModel``: embedding -> stacked recurrent Sequences -> projection -> softmax cross-entropy."""

from __future__ import annotations

import numpy as np

from ..cellspec import check_options, spec_of
from ..errors import ConfigError, GateInputError
from ..gates.base import check_indices
from ..graph import Tensor, dropout, embedding, softmax_cross_entropy
from ..init import as_rng, uniform
from ..nodes import Embedding, Linear, Node, TiedLinear, cell_class, check_probability, check_size
from ..sequence import Recurrent, Truncation, check_cell_options, detach_state

TIED_INIT = 0.1
"""With tied weights the shared table is drawn U(-TIED_INIT, TIED_INIT) (Merity et al.'s choice)."""


class LanguageModel(Node):
    """Predict the next token.

    ::

        tokens (T, B) -> embedding (T, B, E) -> Recurrent layers -> hs (T, B, H)
                      -> Linear (T, B, V) logits -> SoftmaxCrossEntropy against targets (T, B)

    Args:
        vocab_size: V. cell: "rnn", "lstm", "gru" or a Cell subclass. embed_size: E (ignored with
        ``one_hot``). hidden_size: H. layers: stacked Sequences. dropout: between layers, off in
        ``eval()``. one_hot: feed one-hot vectors of size V instead of an embedding, as the
        tutorial does (the input weights then play the embedding's role; slower, same function
        class). truncation: BPTT policy of every layer. dtype: float32 for speed, float64 for
        checks. rng: seed or Generator for the initialisation and for dropout. fused: use the
        built-in cells' fused kernels (False runs the composed reference, as a custom cell would).
        cell_options: passed to every layer's cell constructor.

    Regularisers (AWD-LSTM's, Merity et al. 2018; each off at 0 and every one off in ``eval()``;
    masks drawn from ``rng``, so a seed fixes them and a checkpoint's RNG state resumes them):
        dropout_input: dropout on the first layer's inputs (the embedded tokens). dropout_output:
        on the last layer's outputs, before the projection. locked_dropout: every dropout (these
        two and ``dropout`` between layers) draws one mask per sequence, fixed across time steps
        (variational dropout, Gal & Ghahramani 2016); False: a fresh mask per element.
        dropout_embed: embedding dropout, whole rows of the embedding table (every occurrence of
        a token in the batch) zeroed with this probability, the rest scaled by 1/(1-p).
        weight_drop: DropConnect on every layer's ``weight_hh``, one mask per forward (see
        :class:`~autograd_rnn.sequence.Recurrent`). tie_weights: the output projection's weight
        is the embedding table (one parameter, ``embedding.weight``; the projection keeps only
        ``proj.bias``); needs ``embed_size == hidden_size``, and the table is then initialised
        U(-0.1, 0.1), as AWD-LSTM's (nn.Embedding's N(0, 1) makes the first logits far too large,
        and on tinyshakespeare U(-0.1, 0.1) trained better than the projection's U(-1/sqrt(H), ...)).

    **Projected embeddings.** When the first layer runs a fused kernel, its input projection
    ``e W_ih^T + b_ih`` of an embedding row ``e`` depends only on the token. A batch with at
    least as many tokens as the vocabulary then projects the embedding table once,
    ``P = E W_ih^T + b_ih`` (V rows instead of T*B), and looks the rows of ``P`` up: the same
    function through the same gates (``LinearGate``, ``EmbeddingGate``), three large matrix
    products fewer per step.

    The tutorial's names: ``U`` is the first layer's ``weight_ih`` (with ``one_hot=True``), ``W`` its
    ``weight_hh``, ``V`` the projection's ``weight``.
    """

    def __init__(self, vocab_size: int, cell="lstm", embed_size: int = 64, hidden_size: int = 128, layers: int = 1,
                 dropout: float = 0.0, one_hot: bool = False, truncation: Truncation | str | None = None,
                 dtype=np.float32, rng=None, fused: bool = True, dropout_input: float = 0.0,
                 dropout_output: float = 0.0, dropout_embed: float = 0.0, weight_drop: float = 0.0,
                 locked_dropout: bool = False, tie_weights: bool = False, **cell_options):
        super().__init__(dtype)
        rng = as_rng(rng)
        vocab_size = check_size("LanguageModel", "vocab_size", vocab_size)
        if not one_hot:
            embed_size = check_size("LanguageModel", "embed_size", embed_size)
        self.vocab_size, self.one_hot = vocab_size, bool(one_hot)
        self.embed_size = vocab_size if one_hot else embed_size
        self.p_input = check_probability("LanguageModel", "dropout_input", dropout_input)
        self.p_output = check_probability("LanguageModel", "dropout_output", dropout_output)
        self.p_embed = check_probability("LanguageModel", "dropout_embed", dropout_embed)
        for name, flag in (("locked_dropout", locked_dropout), ("tie_weights", tie_weights)):
            if not isinstance(flag, bool):
                raise ConfigError(f"LanguageModel: {name}={flag!r}; expected True or False")
        self.locked, self.tied = locked_dropout, tie_weights
        if tie_weights and one_hot:
            raise ConfigError("LanguageModel: tie_weights=True makes the embedding table the output projection's "
                              "weight, and one_hot=True has none; set one_hot=False")
        if tie_weights and embed_size != hidden_size:
            raise ConfigError(f"LanguageModel: tie_weights=True makes the embedding table (vocab_size, embed_size) the "
                              f"output projection's weight (vocab_size, hidden_size), so the sizes must be equal; got "
                              f"embed_size={embed_size}, hidden_size={hidden_size}: set embed_size={hidden_size} "
                              f"(--embed {hidden_size}) or hidden_size={embed_size} (--hidden {embed_size})")
        self.cell_type = cell_class(cell)
        check_cell_options(self.cell_type, cell_options)
        if not one_hot:
            self.embedding = Embedding(vocab_size, embed_size, dtype=dtype, rng=rng)
        self.rnn = Recurrent(self.cell_type, self.embed_size, hidden_size, layers=layers, dropout=dropout,
                             truncation=truncation, dtype=dtype, rng=rng, fused=fused, locked=locked_dropout,
                             weight_drop=weight_drop, **cell_options)
        if tie_weights:
            self.embedding.weight.data[...] = uniform((vocab_size, hidden_size), TIED_INIT, rng)
            self.proj = TiedLinear(hidden_size, vocab_size, dtype=dtype, rng=rng)
        else:
            self.proj = Linear(hidden_size, vocab_size, dtype=dtype, rng=rng)
        self.hidden_size, self.layers, self.p_drop = hidden_size, layers, dropout
        self.rng = rng

    def cell_options(self) -> dict:
        """The cells' constructor options (``Cell.config()``), as a checkpoint stores them; a
        ConfigError names an option JSON cannot hold."""
        return check_options(self.cell_type, self.rnn.sequences()[0].cell.config())

    def config(self) -> dict:
        """What rebuilds this model (saved in checkpoints): ``LanguageModel(**config)`` with the
        cell named by its spec (see :mod:`autograd_rnn.cellspec`) and its options."""
        return {
            "vocab_size": self.vocab_size,
            "cell": spec_of(self.cell_type),
            "cell_options": self.cell_options(),
            "embed_size": self.embed_size if not self.one_hot else 0,
            "hidden_size": self.hidden_size,
            "layers": self.layers,
            "dropout": self.p_drop,
            "one_hot": self.one_hot,
            "dtype": str(self.dtype),
            "dropout_input": self.p_input,
            "dropout_output": self.p_output,
            "dropout_embed": self.p_embed,
            "weight_drop": self.rnn.weight_drop,
            "locked_dropout": self.locked,
            "tie_weights": self.tied,
        }

    def check_tokens(self, tokens) -> np.ndarray:
        """``tokens`` as an integer array of shape (T, batch); the ids' range is checked where they
        are looked up (the embedding gate, or :meth:`embed` with ``one_hot``)."""
        tokens = np.asarray(tokens)
        if tokens.dtype.kind not in "iu":
            raise GateInputError(f"LanguageModel: tokens have dtype {tokens.dtype}; expected integer token ids")
        if tokens.ndim != 2 or 0 in tokens.shape:
            raise GateInputError(f"LanguageModel: tokens have shape {tokens.shape}; expected (T, batch), both >= 1")
        return tokens

    def embed(self, tokens: np.ndarray, table: Tensor | None = None) -> Tensor:
        """``tokens (T, B)`` -> the first layer's inputs ``(T, B, E)``: rows of ``table`` (default
        the embedding's weight), or one-hot rows with ``one_hot``."""
        if self.one_hot:
            check_indices("LanguageModel", "tokens", tokens, self.vocab_size, "token ids")
            x = np.zeros((*tokens.shape, self.vocab_size), self.dtype)
            np.put_along_axis(x, tokens[..., None], 1, axis=-1)
            if self.p_embed and self.training:  # the identity table's rows dropped: those tokens' one-hot rows
                x *= dropout(Tensor(np.ones((self.vocab_size, 1), self.dtype)), self.p_embed, self.rng).data[tokens]
            return Tensor(x)
        return embedding(self.embedding.weight if table is None else table, tokens)

    def forward(self, tokens: np.ndarray, state: list | None = None):
        """``tokens (T, B)`` ints -> ``(logits (T, B, V), state)``; ``state`` one entry per layer.
        Training and evaluation come through here; sampling runs the same kernels on arrays
        (:class:`~autograd_rnn.models.frozen.FrozenModel`), tested against this forward.

        While training, in this order: the embedding table's rows dropped (``dropout_embed``), the
        inputs dropped (``dropout_input``), each layer's recurrent weight dropped
        (``weight_drop``) and the outputs between layers (``dropout``), the last layer's outputs
        dropped (``dropout_output``); the masks are drawn from ``rng`` in that order."""
        tokens = self.check_tokens(tokens)
        locked = (0,) if self.locked else ()
        table = None if self.one_hot else dropout(self.embedding.weight, self.p_embed, self.rng, self.training, (1,))
        projected = None
        if table is not None and self.vocab_size <= tokens.size and not (self.p_input and self.training):
            projected = self.projected_table(table)  # (input dropout acts before the projection: then not)
        if projected is not None:
            hs, state = self.rnn(embedding(projected, tokens), state, projected=True)
        else:
            x = dropout(self.embed(tokens, table), self.p_input, self.rng, self.training, locked)
            hs, state = self.rnn(x, state)
        hs = dropout(hs, self.p_output, self.rng, self.training, locked)
        return (self.proj(hs, self.output_weight()) if self.tied else self.proj(hs)), state

    def output_weight(self) -> Tensor:
        """The output projection's weight ``(V, H)``: ``proj.weight``, or with ``tie_weights`` the
        embedding table ``embedding.weight`` it shares."""
        return self.embedding.weight if self.tied else self.proj.weight

    def projected_table(self, table: Tensor | None = None) -> Tensor | None:
        """``P = E W_ih^T + b_ih (V, G*H)``, the first layer's input projection (its fused input
        part) of every row of ``table`` (default the embedding's weight ``E``), or None where that
        layer runs composed or the model is one-hot."""
        if self.one_hot:
            return None
        return self.rnn.sequences()[0].project(self.embedding.weight if table is None else table)

    def loss(self, inputs: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None,
             state: list | None = None):
        """Mean cross-entropy (nats per token) of ``targets (T, B)`` given ``inputs (T, B)``;
        ``mask (T, B)`` drops padding. Returns ``(loss, final state)``."""
        inputs, targets = self.check_tokens(inputs), np.asarray(targets)
        if targets.shape != inputs.shape:
            raise GateInputError(f"LanguageModel.loss: targets have shape {targets.shape}; expected the inputs' shape "
                                 f"{inputs.shape} (T, batch)")
        if mask is not None and np.shape(mask) != inputs.shape:
            raise GateInputError(f"LanguageModel.loss: mask has shape {np.shape(mask)}; expected {inputs.shape}")
        logits, state = self.forward(inputs, state)
        T, B = targets.shape
        flat_mask = None if mask is None else np.asarray(mask).reshape(-1)
        loss = softmax_cross_entropy(logits.reshape(T * B, self.vocab_size), targets.reshape(-1), flat_mask)
        return loss, state

    @staticmethod
    def detach(state):
        return None if state is None else [detach_state(s) for s in state]

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, cell={self.cell_type.__name__}"
