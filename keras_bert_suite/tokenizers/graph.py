"""The in-graph reference BERT tokenization: strings -> WordPiece ids and character offsets, with TensorFlow ops.

This is the entry point (`GraphTokenizer`, `shared_graph_tokenizer`): it routes each row to one of two paths
that give the same ids and offsets (tests/test_tokenizer_reference.py) and cuts large batches into parts.
  - The Unicode path (`tokenize_unicode`) takes the reference's steps one by one on flat code-point tensors
    (char_steps.py; NFC on clusters in nfc_clusters.py), so ids and offsets equal the pure-Python tokenizer's,
    which equal transformers' Python `BertTokenizer`.
  - Rows of plain ASCII (printable characters, tab, newline, carriage return, and no character that can start a
    special token) skip the per-character tables (`tokenize_ascii`): lower-cased when asked, they go to a second
    FastWordpiece with its own whitespace and punctuation split, which for such text is the reference's.
A batch that mixes both kinds runs each kind on its own path and puts the rows back in order
(`tokenize_rows`). A batch with enough text outside plain ASCII is cut into parts tokenized side by side
(`tokenize`, `PART_BYTES`). The per-character tables come from Python's `unicodedata` (tables.py), so the
graph agrees with the reference Python on every code point, whatever Unicode version the TensorFlow ops were
built with.

Shapes: texts [batch] tf.string -> ids RaggedTensor [batch, (tokens)] int64, starts/ends same shape (character
offsets into each text; a token covers characters [start, end)).
Strings of megabytes work (memory grows linearly); empty strings give no tokens; NUL bytes are deleted like the
reference. Host-only ops: never call it inside an XLA-compiled function.

Example:
    >>> import tensorflow as tf
    >>> from keras_bert_suite.tokenizers.normalize import NormalizerConfig
    >>> vocab = ["[UNK]", "[CLS]", "[SEP]", "hello", "world", "!"]
    >>> g = GraphTokenizer(vocab, NormalizerConfig(specials=("[CLS]", "[SEP]")), unk_token="[UNK]")
    >>> ids, starts, ends = g.tokenize(tf.constant(["Hello world!"]))
    >>> ids.to_list(), starts.to_list(), ends.to_list()
    ([[3, 4, 5]], [[0, 6, 11]], [[5, 11, 12]])
"""

import tensorflow as tf

from keras_bert_suite.tokenizers import normalize
from keras_bert_suite.tokenizers.char_steps import CharSteps
from keras_bert_suite.tokenizers.python import MAX_INPUT_CHARS_PER_WORD


_SHARED = {}

# A batch is tokenized in parts side by side, each of at least PART_BYTES bytes of text, at most MAX_PARTS of
# them (`GraphTokenizer.tokenize`). Measured on 2 cores (tools/bench/tokenizer_parts.py, docs/benchmarks.md):
# multilingual parts gain from about 25 kB each (1.4x-1.5x at 55 kB in 2 parts, 1.5x-1.6x at 220 kB in 8);
# smaller parts lose (their extra ops cost more than the overlap saves), and plain ASCII text, which takes a
# cheaper path, gained at no size tried, so it does not count towards parts.
PART_BYTES = 24_000
MAX_PARTS = 8


def shared_graph_tokenizer(vocab_list, cfg, unk_token="[UNK]"):
    """One `GraphTokenizer` per vocabulary and settings in a process: layers with the same vocabulary and
    normalization (but other padding or truncation) share its tables and its traced graph."""
    vocab_list = tuple(vocab_list)
    key = (len(vocab_list), hash(vocab_list), cfg, unk_token)
    found = _SHARED.get(key)
    if found is None or found.vocab_list != list(vocab_list):
        with tf.init_scope():
            found = _SHARED[key] = GraphTokenizer(vocab_list, cfg, unk_token)
    return found


class GraphTokenizer(CharSteps):
    """In-graph reference BERT tokenization (see the module docstring): `CharSteps`' per-character steps, the
    plain-ASCII path beside them, and the routing between the two.

    Args:
        vocab_list: the WordPiece vocabulary, token strings in id order.
        cfg: the normalization settings (`normalize.NormalizerConfig`): lower-casing, accents, CJK, special tokens
            and `never_split`.
        unk_token: the unknown token; must be in the vocabulary (so must every special token).

    Example:
        >>> import tensorflow as tf
        >>> from keras_bert_suite.tokenizers.normalize import NormalizerConfig
        >>> g = GraphTokenizer(["[UNK]", "hello", "world", "!"], NormalizerConfig(), unk_token="[UNK]")
        >>> ids, starts, ends = g.word_pieces(tf.constant(["Hello world!"]))
        >>> ids.to_list()
        [[1, 2, 3]]
    """

    def __init__(self, vocab_list, cfg: normalize.NormalizerConfig, unk_token="[UNK]"):
        super().__init__(vocab_list, cfg, unk_token)
        # Rows of plain ASCII (printable characters, tab, newline, carriage return; no character that can start
        # a special token or `never_split` entry) need none of the tables: the reference then only lower-cases
        # (when asked) and splits on whitespace and punctuation, which FastWordpiece's own pre-tokenization does
        # with the same punctuation set. Words of over 100 characters (= bytes) become [UNK] there too.
        excluded = set(self.special_firsts) | set(self.word_firsts)
        allowed = [c for c in (9, 10, 13, *range(32, 127)) if c not in excluded]
        self.ascii_pattern = "[" + "".join(f"\\x{c:02x}" for c in allowed) + "]*"
        self.ascii_wordpiece = self._fast_wordpiece(MAX_INPUT_CHARS_PER_WORD, pretokenize=True)


    def word_pieces(self, texts, with_offsets=True, in_parts=True):
        """`tokenize` (or, not `in_parts`, `tokenize_rows`: a batch never cut into parts) through one
        `tf.function` per setting: traced once, then called from any graph (every signature of a SavedModel,
        every layer sharing this tokenizer)."""
        fns = self.__dict__.setdefault("_word_piece_fns", {})
        offsets, parts = bool(with_offsets), bool(in_parts)
        key = (offsets, parts)
        if key not in fns:
            tokenize = self.tokenize if parts else self.tokenize_rows
            fns[key] = tf.function(
                lambda t: tokenize(t, with_offsets=offsets),
                input_signature=[tf.TensorSpec([None], tf.string)],
                autograph=False,
            )
        return fns[key](texts)

    def tokenize(self, texts, with_offsets=True):
        """texts [batch] string -> (ids, starts, ends) RaggedTensors [batch, (tokens)] (starts/ends None if not
        `with_offsets`). A batch holding at least 2 x `PART_BYTES` bytes in rows that take the per-character path
        (not plain ASCII: `ascii_pattern`) is cut into up to `MAX_PARTS` parts holding about equal such bytes,
        tokenized side by side (the iterations of one `tf.map_fn`, run in parallel: one batch's steps follow each
        other, so a single batch keeps few cores busy) and joined back in order. Each part goes through
        `tokenize_rows`; a smaller batch goes through it whole. Plain ASCII rows weigh nothing here: their path
        is a few large ops, which parts did not speed up (docs/benchmarks.md)."""
        texts = tf.convert_to_tensor(texts, tf.string)
        plain = tf.strings.regex_full_match(texts, self.ascii_pattern)
        weight = tf.where(plain, tf.constant(0, tf.int64), tf.cast(tf.strings.length(texts), tf.int64))
        ends = tf.cumsum(weight)
        total = tf.reduce_sum(tf.concat([ends[-1:], [0]], 0))
        parts = tf.clip_by_value(total // PART_BYTES, 1, MAX_PARTS)
        spec = tf.RaggedTensorSpec([None, None], tf.int64, ragged_rank=1)
        n_out = 3 if with_offsets else 1

        def whole():
            return self.tokenize_rows(texts, with_offsets, plain=plain)[:n_out]

        def in_parts():
            # Part i holds the rows ending after (i/parts) and at or before ((i + 1)/parts) of the weight.
            cuts = tf.searchsorted(ends, total * tf.range(1, parts, dtype=tf.int64) // parts, side="right",
                                   out_type=tf.int64)
            edges = tf.concat([[0], cuts, tf.shape(texts, out_type=tf.int64)], 0)

            def part(i):  # an invalid row in any part: the error names every invalid row of the whole batch
                lo, hi = edges[i], edges[i + 1]
                return self.tokenize_rows(texts[lo:hi], with_offsets, named_in=texts, plain=plain[lo:hi])[:n_out]

            out = tf.map_fn(part, tf.range(parts), fn_output_signature=(spec,) * n_out,
                            parallel_iterations=MAX_PARTS)
            return tuple(o.merge_dims(0, 1) for o in out)

        out = tf.cond(parts > 1, in_parts, whole)
        return tuple(out) + (None,) * (3 - n_out)

    def tokenize_rows(self, texts, with_offsets=True, named_in=None, plain=None):
        """`tokenize` in one part: rows of plain ASCII text (`ascii_pattern`) take `tokenize_ascii`, the others
        `tokenize_unicode` (the same ids and offsets; tests/test_tokenizer_reference.py). `named_in`: the batch whose
        invalid rows an error names (see `decode_utf8`; default `texts`). `plain` [batch] bool: the rows' match of
        `ascii_pattern`, when already known."""
        if plain is None:
            plain = tf.strings.regex_full_match(texts, self.ascii_pattern)
        keys = ("ids", "starts", "ends") if with_offsets else ("ids",)

        def run(fn, rows, **kwargs):  # a dict: tf.case keeps its structure (a one-element list it would unpack)
            return dict(zip(keys, fn(rows, with_offsets, **kwargs)))

        def mixed():  # each kind of row on its own path, then back in the batch's order
            ascii_rows, other_rows = tf.where(plain)[:, 0], tf.where(~plain)[:, 0]
            a = run(self.tokenize_ascii, tf.gather(texts, ascii_rows))
            u = run(self.tokenize_unicode, tf.gather(texts, other_rows),
                    named_in=texts if named_in is None else named_in)
            order = tf.math.invert_permutation(tf.concat([ascii_rows, other_rows], 0))
            return {k: tf.gather(tf.concat([a[k], u[k]], 0), order) for k in keys}

        out = tf.case([(tf.reduce_all(plain), lambda: run(self.tokenize_ascii, texts)),
                       (tf.reduce_any(plain), mixed)],
                      default=lambda: run(self.tokenize_unicode, texts, named_in=named_in))
        return out["ids"], out.get("starts"), out.get("ends")

    def tokenize_ascii(self, texts, with_offsets=True):
        """`tokenize` for texts of plain ASCII only (`ascii_pattern`): lower-case (when asked), then FastWordpiece
        with its own whitespace and punctuation split; byte offsets are character offsets in ASCII."""
        if self.cfg.do_lower_case:
            texts = tf.strings.lower(texts)
        if not with_offsets:
            return self.ascii_wordpiece.tokenize(texts), None, None
        return self.ascii_wordpiece.tokenize_with_offsets(texts)

    def tokenize_unicode(self, texts, with_offsets=True, named_in=None):
        """`tokenize` for any text, step by step through the per-character tables (`named_in`: see
        `decode_utf8`)."""
        texts = tf.convert_to_tensor(texts, tf.string)
        chars, row_splits = self.decode(texts, named_in, with_offsets)
        words = self.split_words(*self.normalize_chars(chars))
        ids, piece_start, piece_end = self.apply_wordpiece(words, with_offsets)
        ids_rows = self.rows(words, ids, row_splits)
        if not with_offsets:
            return ids_rows, None, None
        starts, ends = self.piece_offsets(words, piece_start, piece_end)
        return ids_rows, ids_rows.with_flat_values(starts), ids_rows.with_flat_values(ends)
