"""The reference BERT tokenization in ops that LiteRT (TFLite) runs: builtins plus tensorflow-text's TFLite kernels.

The SavedModel tokenizer (graph.py, char_steps.py) uses TensorFlow string ops (`UnicodeDecode`, `UnicodeEncode`),
`BitwiseAnd`, `DenseBincount`, ragged gathers and `tf.cond`; LiteRT has none of them as builtins, and the Flex
delegate that would run them is not part of the `tensorflow` or `ai-edge-litert` wheels. This module takes the
same steps (same tables from tables.py, same FastWordpieceTokenizer, so the same ids and offsets; the flat
tensor helpers of char_tensors.py are shared) in ops that convert to LiteRT builtins, plus three
tensorflow-text custom ops that `tensorflow_text.tflite_registrar` serves:
  bytes: `TFText>ByteSplitWithOffsets` (strings -> bytes) -> UTF-8 decoding by arithmetic -> special tokens found
  in the text -> stage A table (gathers over paged per-code-point tables) -> whole-word entries (`never_split`, special
  tokens) -> stage B table -> words split on whitespace, punctuation, CJK -> each word's UTF-8 bytes laid out in
  a [words, W] grid of one-byte strings -> `TFText>NgramsStringJoin` (width W: one string per word) ->
  `FastWordpieceTokenizeWithOffsets` -> [CLS] ids [SEP], truncated to `max_length`, padded.
Everything is int32 and branch-free (no `tf.cond`, no ragged tensors), so one graph serves every input.

Limits (checked when built): tokenizers that keep accents need NFC (tensorflow-text's `normalize_utf8`, an ICU
op with no LiteRT kernel) and are refused; one text per row (no text pairs). Invalid UTF-8 bytes are dropped
(the SavedModel refuses such input instead: LiteRT has no assertion op).

Shapes: texts [batch] tf.string -> dict of int32 [batch, length]: input_ids, attention_mask, token_type_ids,
real_tokens (1 on word pieces, 0 on [CLS], [SEP] and padding), token_start, token_end (character offsets of
each word piece in its text; 0 elsewhere). length = longest row + 2, rounded up to `pad_to_multiple_of`.

Example:
    >>> from keras_bert_suite.tokenizers import TFBertTokenizer
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!"]
    >>> lite = LiteTokenizer(TFBertTokenizer(vocab), max_length=128)
    >>> lite(tf.constant(["Hello world!"]))["input_ids"].numpy().tolist()   # as TFBertTokenizer's, padded to 8
    [[2, 5, 6, 7, 3, 0, 0, 0]]
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert_suite.tokenizers import normalize, tables
from keras_bert_suite.tokenizers.char_tensors import (
    has_bit_arithmetic,
    multi_constants,
    prev,
    row_starts_here,
    utf8_len,
)
from keras_bert_suite.tokenizers.python import MAX_INPUT_CHARS_PER_WORD

_EMPTY_BYTE = 256  # index of "" in the one-byte strings table
_ONE_BYTE_STRINGS = [bytes([b]) for b in range(256)] + [b""]


def _i32(x):
    return tf.cast(x, tf.int32)


def _exclusive_cumsum(x):
    return tf.cumsum(x) - x


def _repeat_index(lens):
    """For lens [n] int32 >= 0: the entry each of the sum(lens) output slots belongs to (tf.repeat's index,
    built from a scatter and a cumsum: zero-length entries share their start with the next entry)."""
    starts = _exclusive_cumsum(lens)
    total = tf.reduce_sum(lens)
    marks = tf.scatter_nd(starts[:, None], tf.ones_like(starts), tf.reshape(total + 1, [1]))
    return tf.cumsum(marks)[:total] - 1


def _mask(x, keep):
    return tf.gather(x, _i32(tf.where(keep)[:, 0]))


_PAGE = 256
_SINGLE_FLOOR = -tables.MAX_CODE_POINT  # deltas of single-character outputs are above this
_NOT_SINGLE = 2 * tables.MAX_CODE_POINT  # codes of deletions and expansions are stored shifted down by this


class _PagedLookup:
    """A per-code-point int table [0x110000] stored as pages of 256 entries with identical pages shared (the
    tables are constant over long ranges: a few hundred distinct pages instead of 4,352)."""

    def __init__(self, values: np.ndarray):
        pages = np.asarray(values, np.int32).reshape(-1, _PAGE)
        distinct, page_of = np.unique(pages, axis=0, return_inverse=True)
        self.page_of = tf.constant(page_of.reshape(-1).astype(np.int32) * _PAGE)
        self.values = tf.constant(distinct.reshape(-1))

    def __call__(self, cp):
        page_start = tf.gather(self.page_of, tf.math.floordiv(cp, _PAGE))
        return tf.gather(self.values, page_start + tf.math.floormod(cp, _PAGE))


class _Table:
    """A tables.MappingTable applied to flat code points with deletions and expansions, branch-free. Single
    outputs are stored as differences to the input (zero almost everywhere), so the paged table stays small."""

    def __init__(self, mapping: tables.MappingTable):
        code = mapping.code.astype(np.int64)
        cp = np.arange(tables.MAX_CODE_POINT, dtype=np.int64)
        self.delta = _PagedLookup(np.where(code >= 0, code - cp, code - _NOT_SINGLE).astype(np.int32))
        _, self.multi_values, self.multi_starts, self.multi_lens = multi_constants(mapping, tf.int32)

    def code(self, cp):
        """tables.MappingTable.code at `cp`: the output character, -1 (deleted) or <= -2 (an expansion)."""
        delta = self.delta(cp)
        return tf.where(delta >= _SINGLE_FLOOR, cp + delta, delta + _NOT_SINGLE)

    def apply(self, cp, keep, carry):
        code = tf.where(keep, cp, self.code(cp))
        single = code >= 0
        k = tf.maximum(-code - 2, 0)
        lens = tf.where(single, 1, tf.where(code == -1, 0, tf.gather(self.multi_lens, k)))
        idx = _repeat_index(lens)
        within = tf.range(tf.size(idx)) - tf.gather(_exclusive_cumsum(lens), idx)
        multi = tf.gather(self.multi_values, tf.gather(self.multi_starts, tf.gather(k, idx)) + within)
        value = tf.where(tf.gather(single, idx), tf.gather(code, idx), multi)
        return value, [tf.gather(c, idx) for c in carry]


class _Words(NamedTuple):
    """The words of a batch in `LiteTokenizer`: per word character [word chars] its code point `cp`, text `row`,
    input span [`start`, `end`) and word `wid`; `n` the number of words (int32 scalar); per word [words] its
    `first` character, whole-word `entry` (index+1, 0: none), whether that entry is `never_split` (`never`) and
    whether the word becomes one replacement token (`replaced`: over 100 characters, or `never`)."""

    cp: tf.Tensor
    row: tf.Tensor
    start: tf.Tensor
    end: tf.Tensor
    wid: tf.Tensor
    n: tf.Tensor
    first: tf.Tensor
    entry: tf.Tensor
    never: tf.Tensor
    replaced: tf.Tensor


class LiteTokenizer(tf.Module):
    """Strings -> packed model inputs in LiteRT-convertible ops (see the module docstring).

    Args:
        tokenizer: a `TFBertTokenizer` (its vocabulary, normalization settings and special tokens are used).
        max_length: longest packed row, [CLS] and [SEP] included; longer texts are cut on the right.
        pad_to_multiple_of: the padded length is a multiple of this (1: the longest row).
    """

    def __init__(self, tokenizer, max_length=128, pad_to_multiple_of=8):
        super().__init__(name="lite_tokenizer")
        graph = tokenizer.graph_tokenizer
        cfg = graph.cfg
        if cfg.nfc:
            raise ValueError(
                "LiteRT export: this tokenizer keeps accents (do_lower_case="
                f"{cfg.do_lower_case}, strip_accents={cfg.strip_accents!r}), so the reference applies NFC, "
                "which needs tensorflow-text's normalize_utf8 (an ICU op with no LiteRT kernel); only tokenizers "
                "that strip accents (uncased BERT, or strip_accents=True) can be exported"
            )
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2 ([CLS] and [SEP]), got {max_length}")
        self.cfg = cfg
        self.max_length = int(max_length)
        self.multiple = max(int(pad_to_multiple_of or 1), 1)
        self.cls_id, self.sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        self.pad_id = tokenizer.pad_token_id
        self.wordpiece = graph.wordpiece
        self.stage_a = _Table(tables.stage_a_table(cfg.do_lower_case))
        self.stage_b = _Table(tables.stage_b_table(cfg.do_lower_case, cfg.strip))
        self.classes = _PagedLookup(tables.class_table())
        self.specials = list(graph.specials)
        self.word_entries = list(graph.word_entries)
        self.word_kinds = [0] + list(graph.word_kinds)
        longest_entry = max([len(e) for e in self.word_entries + self.specials] + [0])
        self.width = 4 * MAX_INPUT_CHARS_PER_WORD + 4 * longest_entry  # bytes of the longest word kept whole
        replacements = [graph.unk_token] + list(graph.word_replacements)
        grid = np.full([len(replacements), self.width], _EMPTY_BYTE, np.int32)
        for i, token in enumerate(replacements):
            raw = token.encode("utf-8")
            grid[i, :len(raw)] = list(raw)
        self.replacement_bytes = tf.constant(grid)
        self.one_byte_strings = tf.constant(_ONE_BYTE_STRINGS)

    # ------------------------------------------------------------------ steps
    @staticmethod
    def decode_utf8(texts):
        """texts [batch] -> (code points [chars], row [chars], position in its text [chars]); invalid bytes are
        dropped, an invalid sequence's lead byte becomes U+FFFD (which stage A deletes)."""
        pieces = tf_text.ByteSplitter().split(texts)
        b = _i32(pieces.flat_values)
        batch = tf.shape(texts)[0]
        byte_row = _repeat_index(_i32(pieces.row_lengths()))
        n_bytes = tf.size(b)
        cont = (b >= 0x80) & (b < 0xC0)
        n = 1 + _i32(b >= 0xC0) + _i32(b >= 0xE0) + _i32(b >= 0xF0)
        value = b - tf.gather(tf.constant([0, 0, 0xC0, 0xE0, 0xF0]), n)
        ok = b < 0xF8
        padded_b = tf.concat([b, tf.zeros([3], tf.int32)], 0)
        padded_row = tf.concat([byte_row, tf.fill([3], -1)], 0)
        i = tf.range(n_bytes)
        for k in (1, 2, 3):
            c = tf.gather(padded_b, i + k) - 0x80
            needed = n > k
            ok &= ~needed | ((c >= 0) & (c < 64) & tf.equal(tf.gather(padded_row, i + k), byte_row))
            value = tf.where(needed, value * 64 + c, value)
        ok &= (value < 0x110000) & ~((value >= 0xD800) & (value < 0xE000))
        value = tf.where(ok, value, 0xFFFD)
        lead = ~cont
        cp = _mask(value, lead)
        row = _mask(byte_row, lead)
        per_row = tf.math.unsorted_segment_sum(tf.ones_like(row), row, batch)
        pos = tf.range(tf.size(cp)) - tf.gather(_exclusive_cumsum(per_row), row)
        return cp, row, pos

    def _find_specials(self, cp, row):
        """(is_special, special_start) flags: special tokens written in the text (longest first, no overlap)."""
        n = tf.size(cp)
        covered = tf.zeros([n], tf.bool)
        starts = tf.zeros([n], tf.bool)
        if not self.specials:
            return covered, starts
        pad = max(len(s) for s in self.specials)
        cp_pad = tf.concat([cp, tf.fill([pad], -1)], 0)
        row_pad = tf.concat([row, tf.fill([pad], -1)], 0)
        i = tf.range(n)
        for token in self.specials:
            hit = tf.ones([n], tf.bool)
            covered_pad = tf.concat([covered, tf.zeros([pad], tf.bool)], 0)
            for k, ch in enumerate(token):
                hit &= tf.equal(tf.gather(cp_pad, i + k), ord(ch)) & tf.equal(tf.gather(row_pad, i + k), row)
                hit &= ~tf.gather(covered_pad, i + k)
            starts |= hit
            span = tf.zeros([n + pad], tf.int32)
            for k in range(len(token)):
                span += tf.scatter_nd((i + k)[:, None], _i32(hit), [n + pad])
            covered |= span[:n] > 0
        return covered, starts

    def _class(self, cp):
        return self.classes(cp)

    def _word_kinds(self, cp, row, sp, space, cjk):
        """Per character: index+1 of the whole-word entry its whitespace word equals (0: none)."""
        n = tf.size(cp)
        if not self.word_entries:
            return tf.zeros([n], tf.int32)
        word = ~space & ~sp
        brk = word & (row_starts_here(row) | prev(space, True) | prev(sp, True) | cjk
                      | prev(cjk, False))
        wid = tf.cumsum(_i32(brk)) - 1
        nw = tf.reduce_sum(_i32(brk))
        slot = tf.where(word, wid, nw)
        wlen = tf.gather(tf.math.unsorted_segment_sum(_i32(word), slot, nw + 1), tf.maximum(wid, 0))
        longest = max(len(e) for e in self.word_entries)
        cp_pad = tf.concat([tf.where(word, cp, -1), tf.fill([longest], -1)], 0)
        i = tf.range(n)
        entry_at_start = tf.zeros([n], tf.int32)
        for e_index, entry in enumerate(self.word_entries):
            hit = brk & tf.equal(wlen, len(entry))
            for k, ch in enumerate(entry):
                hit &= tf.equal(tf.gather(cp_pad, i + k), ord(ch))
            entry_at_start = tf.where(hit, e_index + 1, entry_at_start)
        per_word = tf.math.unsorted_segment_max(entry_at_start, slot, nw + 1)
        return tf.where(word, tf.maximum(tf.gather(per_word, slot), 0), 0)

    def normalized_chars(self, texts):
        """texts [batch] -> every character after stage B, flat [chars]: (cp, row, start, end, special,
        special_start, cjk, entry, classes), the steps of char_steps.CharSteps from `decode` to `apply_stage_b`
        (`start`, `end`: the span of input characters each came from; `entry`: index+1 of its whole-word entry)."""
        cp, row, pos = self.decode_utf8(texts)
        s0, s1 = pos, pos + 1
        sp, sp_start = self._find_specials(cp, row)
        cp, (row, s0, s1, sp, sp_start) = self.stage_a.apply(cp, sp, [row, s0, s1, sp, sp_start])
        cls = self._class(cp)
        space = has_bit_arithmetic(cls, tables.SPACE) & ~sp
        cjk = has_bit_arithmetic(cls, tables.CJK) & ~sp
        if not self.cfg.tokenize_chinese_chars:
            cjk = tf.zeros_like(cjk)
        entry = self._word_kinds(cp, row, sp, space, cjk)
        cp, (row, s0, s1, sp, sp_start, cjk, entry) = self.stage_b.apply(
            cp, sp | (entry > 0), [row, s0, s1, sp, sp_start, cjk, entry])
        return cp, row, s0, s1, sp, sp_start, cjk, entry, self._class(cp)

    def split_words(self, cp, row, s0, s1, sp, sp_start, cjk, entry, cls):
        """`normalized_chars`' output -> `_Words` (whitespace dropped, words split as char_steps.CharSteps
        splits them)."""
        space = has_bit_arithmetic(cls, tables.SPACE) & ~sp
        kept = entry > 0
        alone = (has_bit_arithmetic(cls, tables.PUNCT) & ~sp & ~kept) | cjk
        brk = (row_starts_here(row) | prev(space, True) | alone | prev(alone, False) | sp_start
               | (prev(sp, False) & (~sp | sp_start)) | (sp & ~prev(sp, False))
               | tf.not_equal(entry, prev(entry, 0)))
        word = ~space
        cp, row, s0, s1, sp, entry, brk = [_mask(x, word) for x in (cp, row, s0, s1, sp, entry, brk)]
        wid = tf.cumsum(_i32(brk)) - 1
        nw = tf.reduce_sum(_i32(brk))
        first = _i32(tf.where(brk)[:, 0])
        nchars = tf.math.unsorted_segment_sum(tf.ones_like(wid), wid, nw)
        w_entry = tf.gather(entry, first)
        never = tf.equal(tf.gather(tf.constant(self.word_kinds, tf.int32), w_entry), normalize.NEVER_SPLIT)
        replaced = ((nchars > MAX_INPUT_CHARS_PER_WORD) & ~tf.gather(sp, first)) | never
        return _Words(cp, row, s0, s1, wid, nw, first, w_entry, never, replaced)

    def word_strings(self, words):
        """`_Words` -> each word as one string [words] (its UTF-8 bytes laid out in a [words, width] grid of
        one-byte strings, joined by `TFText>NgramsStringJoin`; a replaced word gets its replacement token), with
        the bytes of each character [word chars], the character of each byte [bytes] and each word's first byte
        [words]."""
        cp, wid, first = words.cp, words.wid, words.first
        blen = utf8_len(cp, tf.int32)
        char_of_byte = _repeat_index(blen)
        char_byte_start = _exclusive_cumsum(blen)
        j = tf.range(tf.size(char_of_byte)) - tf.gather(char_byte_start, char_of_byte)
        n_of_byte = tf.gather(blen, char_of_byte)
        power = tf.gather(tf.constant([1, 64, 4096, 262144]), n_of_byte - 1 - j)
        digits = tf.math.floordiv(tf.gather(cp, char_of_byte), power)
        lead = tf.gather(tf.constant([0, 0, 0xC0, 0xE0, 0xF0]), n_of_byte)
        byte = tf.where(j == 0, lead + digits, 0x80 + tf.math.floormod(digits, 64))
        w_byte_start = tf.gather(char_byte_start, first)
        byte_word = tf.gather(wid, char_of_byte)
        byte_pos = tf.range(tf.size(byte)) - tf.gather(w_byte_start, byte_word)
        fits = byte_pos < self.width
        grid = tf.scatter_nd(tf.stack([_mask(byte_word, fits), _mask(byte_pos, fits)], 1),
                             _mask(byte, fits) - _EMPTY_BYTE, tf.stack([words.n, self.width])) + _EMPTY_BYTE
        replacement = tf.gather(self.replacement_bytes, tf.where(words.never, words.entry, 0))
        grid = tf.where(words.replaced[:, None], replacement, grid)
        strings = tf_text.ngrams(tf.gather(self.one_byte_strings, grid), self.width,
                                 reduction_type=tf_text.Reduction.STRING_JOIN, string_separator="")
        return tf.reshape(strings, [-1]), blen, char_of_byte, w_byte_start

    def word_pieces(self, texts):
        """texts [batch] -> (ids, row, start, end) of every word piece, flat [pieces] int32, rows in order."""
        texts = tf.reshape(tf.convert_to_tensor(texts, tf.string), [-1])
        words = self.split_words(*self.normalized_chars(texts))
        strings, blen, char_of_byte, w_byte_start = self.word_strings(words)
        ids, p_start, p_end = self.wordpiece.tokenize_with_offsets(strings)
        # Byte offsets in the word -> character offsets in the text (a replaced word's piece covers the word).
        piece_word = _repeat_index(_i32(ids.row_lengths()))
        w_blen = tf.math.unsorted_segment_sum(blen, words.wid, words.n)
        rep = tf.gather(words.replaced, piece_word)
        ps = tf.where(rep, 0, _i32(p_start.flat_values))
        pe = tf.where(rep, tf.gather(w_blen, piece_word), _i32(p_end.flat_values))
        base = tf.gather(w_byte_start, piece_word)
        start = tf.gather(words.start, tf.gather(char_of_byte, base + ps))
        end = tf.gather(words.end, tf.gather(char_of_byte, base + pe - 1))
        piece_row = tf.gather(tf.gather(words.row, words.first), piece_word)
        return _i32(ids.flat_values), piece_row, start, end

    def __call__(self, texts):
        """texts [batch] tf.string -> packed inputs (see the module docstring)."""
        texts = tf.reshape(tf.convert_to_tensor(texts, tf.string), [-1])
        batch = tf.shape(texts)[0]
        ids, row, start, end = self.word_pieces(texts)
        count = tf.math.unsorted_segment_sum(tf.ones_like(row), row, batch)
        position = tf.range(tf.size(row)) - tf.gather(_exclusive_cumsum(count), row)
        keep = position < self.max_length - 2
        kept = tf.minimum(count, self.max_length - 2)
        m = self.multiple
        length = (tf.reduce_max(tf.concat([kept, [0]], 0)) + 2 + m - 1) // m * m
        shape = tf.stack([batch, length])
        at = tf.stack([_mask(row, keep), _mask(position, keep) + 1], 1)

        def grid(values):
            return tf.scatter_nd(at, _mask(values, keep), shape)

        column = tf.range(length)[None, :]
        real = (column >= 1) & (column <= kept[:, None])
        input_ids = tf.where(real, grid(ids), tf.where(column == 0, self.cls_id,
                                                       tf.where(column == kept[:, None] + 1, self.sep_id,
                                                                self.pad_id)))
        return {
            "input_ids": input_ids,
            "attention_mask": _i32(column <= kept[:, None] + 1),
            "token_type_ids": tf.zeros(shape, tf.int32),
            "real_tokens": _i32(real),
            "token_start": grid(start),
            "token_end": grid(end),
        }
