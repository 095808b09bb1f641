"""Flat per-character tensors of the in-graph tokenizers, and the small ops both of them use.

A batch of texts is handled as flat tensors with one entry per character, rows one after the other (`Chars`),
then as words of such characters (`Words`). The SavedModel tokenizer (char_steps.py, graph.py) and its LiteRT
version (litert.py) share the shifts, class-bit tests and mapping-table constants here; each op keeps the
dtypes its caller gives it, so both graphs stay as they were.

Shapes: every helper takes and returns 1-D tensors over the flat characters [chars] unless it says otherwise.

Example:
    >>> import tensorflow as tf
    >>> prev(tf.constant([1, 2, 3]), 0).numpy().tolist()
    [0, 1, 2]
    >>> has_bit(tf.constant([1, 2, 3], tf.uint8), 2).numpy().tolist()
    [False, True, True]
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from keras_bert_suite.tokenizers import tables


def prev(x, first):
    """x shifted right by one along the flat axis, `first` (cast to x's dtype) in front."""
    return tf.concat([tf.reshape(tf.cast(first, x.dtype), [1]), x], axis=0)[:-1]


def utf8_len(cp, dtype=tf.int64):
    """The UTF-8 length in bytes (1 to 4) of each code point, as `dtype`."""
    return 1 + tf.cast(cp >= 0x80, dtype) + tf.cast(cp >= 0x800, dtype) + tf.cast(cp >= 0x10000, dtype)


def multi_constants(mapping: tables.MappingTable, index_dtype):
    """The multi-character outputs of a mapping table as constants -> (has_multi, values int32 [outputs], starts
    [entries], lens [entries]): entry k's characters are values[starts[k]:starts[k] + lens[k]] (starts and lens
    as `index_dtype`). A table without such entries gives one zero in each, so gathers from them stay valid."""
    has_multi = mapping.multi_values.size > 0
    values = mapping.multi_values if has_multi else np.zeros([1], np.int32)
    starts = mapping.multi_splits[:-1] if has_multi else [0]
    lens = np.diff(mapping.multi_splits) if has_multi else np.zeros([1], np.int64)
    return (has_multi, tf.constant(values, dtype=tf.int32), tf.constant(starts, dtype=index_dtype),
            tf.constant(lens, dtype=index_dtype))


class Table:
    """A tables.MappingTable as constants, applied to flat code points with expansion."""

    def __init__(self, mapping: tables.MappingTable):
        self.code = tf.constant(mapping.code, dtype=tf.int32)
        self.has_multi, self.multi_values, self.multi_starts, self.multi_lens = multi_constants(mapping, tf.int64)

    def apply(self, cp, keep, carry):
        """Map code points (identity where `keep`); `carry` tensors follow their characters."""
        code = tf.gather(self.code, cp)
        code = tf.where(keep, cp, code)

        def identity():
            return [code] + carry

        def deletions_only():
            kept = tf.where(code >= 0)[:, 0]  # one index for every field (a boolean_mask each would redo it)
            return [tf.gather(code, kept)] + [tf.gather(c, kept) for c in carry]

        def expand():
            # Characters other than single ones (deleted: -1, several outputs: -2 - k) are few: their output
            # positions are computed for them alone; one cumulative sum over the output then gives every output
            # its source character (`src`), and only the outputs of multi-character entries are written apart.
            odd = tf.where(code < 0)[:, 0]
            odd_code = tf.gather(code, odd)
            k = tf.maximum(-odd_code - 2, 0)
            deleted = tf.equal(odd_code, -1)
            odd_len = tf.where(deleted, tf.constant(0, tf.int64), tf.gather(self.multi_lens, k))
            first = odd + tf.cumsum(odd_len - 1, exclusive=True)  # where its outputs start (deleted: would)
            n = tf.size(code, out_type=tf.int64)
            total = n + tf.reduce_sum(odd_len - 1)
            # The source steps by one per output, by one more after each deleted character, and stays on a
            # multi-character entry for its later outputs.
            later = tf.ragged.range(first + 1, first + odd_len).flat_values
            skipped = tf.boolean_mask(first, deleted)
            step = tf.math.unsorted_segment_sum(
                tf.concat([tf.ones_like(skipped), -tf.ones_like(later)], 0), tf.concat([skipped, later], 0),
                total + 1,
            )[:total]
            src = tf.cumsum(step + 1) - 1
            multi = ~deleted
            written = tf.ragged.range(tf.boolean_mask(first, multi), tf.boolean_mask(first + odd_len, multi))
            starts = tf.gather(self.multi_starts, tf.boolean_mask(k, multi))
            read = tf.ragged.range(starts, starts + tf.boolean_mask(odd_len, multi)).flat_values
            value = tf.tensor_scatter_nd_update(
                tf.gather(code, src), written.flat_values[:, None], tf.gather(self.multi_values, read)
            )
            return [value] + [tf.gather(c, src) for c in carry]

        if not self.has_multi:
            out = tf.cond(tf.reduce_any(code < 0), deletions_only, identity)
        else:
            out = tf.cond(
                tf.reduce_any(code < -1),
                expand,
                lambda: tf.cond(tf.reduce_any(code < 0), deletions_only, identity),
            )
        return out[0], out[1:]


class Chars(NamedTuple):
    """The characters of a whole batch, flat (rows one after the other), as the normalization steps change them.

    Every field is a 1-D tensor with one entry per current character [chars]:
      codepoint      int32, the character;
      row            int64, the text it belongs to, named by the flat index of that text's first decoded
                     character: equal within a text, increasing with the batch index (cheaper to make than
                     batch indices, and all the steps need: `row_starts_here`, `GraphTokenizer.rows`);
      start, end     int64, the span [start, end) of input characters it came from (character offsets into its
                     text; a character made by NFC covers its whole cluster); None when no offsets are asked
                     for (nothing then carries them through the steps);
      special        bool, inside a special token found in the raw text (kept whole and untouched);
      special_start  bool, the first character of such a token.
    """

    codepoint: tf.Tensor
    row: tf.Tensor
    start: tf.Tensor
    end: tf.Tensor
    special: tf.Tensor
    special_start: tf.Tensor


class Words(NamedTuple):
    """The pre-tokens of a batch, ready for WordPiece.

      chars      Chars of every character after normalization, whitespace included [chars]: a field is read
                 only where it is needed (rows at word starts, spans at piece edges), through `char`;
      char       int64 [word chars], the index (into `chars`) of each word character, words back to back;
      codepoint  int32 [word chars], the code point of each word character;
      splits     int64 [words + 1], word i is word characters [splits[i], splits[i + 1]);
      text       string [words], UTF-8 of each word, or its replacement (`[UNK]` for a word over 100 characters,
                 the token a `never_split` entry maps to);
      replaced   bool [words], True where `text` is a replacement (its single piece covers the whole word).
    """

    chars: Chars
    char: tf.Tensor
    codepoint: tf.Tensor
    splits: tf.Tensor
    text: tf.Tensor
    replaced: tf.Tensor

    @property
    def first(self):
        """int64 [words]: the index (into `char`) of each word's first character."""
        return self.splits[:-1]


def is_one_of(codepoint, values):
    """bool [chars]: the code point is one of `values` (a short Python list of ints): one comparison with a
    scalar per value (a broadcast comparison against a [values] tensor is several times slower)."""
    if not values:
        return tf.zeros(tf.shape(codepoint), tf.bool)
    if len(values) > 8:
        return tf.reduce_any(tf.equal(codepoint[:, None], tf.constant(values, codepoint.dtype)[None, :]), axis=1)
    out = tf.equal(codepoint, values[0])
    for v in values[1:]:
        out |= tf.equal(codepoint, v)
    return out


def has_bit(classes, bit):
    """bool [chars]: the class bit (tables.SPACE, PUNCT, CJK, UNSTABLE) is set."""
    return tf.bitwise.bitwise_and(classes, tf.constant(bit, classes.dtype)) > 0


def has_bit_arithmetic(classes, bit):
    """`has_bit` in arithmetic (floor division and modulo) for int32 classes: LiteRT has no `BitwiseAnd` builtin."""
    return tf.equal(tf.math.floormod(tf.math.floordiv(classes, bit), 2), 1)


def row_starts_here(row):
    """bool [chars]: the character is the first of its text in the flat batch."""
    return tf.not_equal(row, prev(row, -1))
