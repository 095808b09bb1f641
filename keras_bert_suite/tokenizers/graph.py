"""The reference BERT tokenization in-graph: strings -> WordPiece ids and character offsets, with TensorFlow ops.

`GraphTokenizer.tokenize(texts)` follows normalize.py step by step on flat code-point tensors (so ids and
offsets equal the pure-Python tokenizer's, which equal transformers' Python `BertTokenizer`):
  decode UTF-8 (invalid UTF-8 -> tf.errors.InvalidArgumentError) -> special tokens found in text -> stage A table
  (lower-case, clean-up) -> NFC on unstable clusters (tensorflow_text.normalize_utf8, only when accents are kept
  and only if a batch holds such a character) -> `never_split` / special-token words -> stage B table (lower-case,
  strip accents) -> split on whitespace, punctuation, CJK -> words over 100 characters become [UNK] ->
  tensorflow_text.FastWordpieceTokenizer on whole words (its own normalization and pre-tokenization off).
Where nothing runs between the two tables (accents stripped, so no NFC, and no whole-word entry that can match
after stage A: uncased BERT, whose special tokens hold upper-case letters), stage A then B is one precomputed
table (tables.stage_ab_table): one look-up and one expansion instead of two, same characters and spans.
Rows of plain ASCII (printable characters, tab, newline, carriage return, and no character that can start a
special token) skip the tables: lower-cased when asked, they go to a second FastWordpiece with its own
whitespace and punctuation split, which for such text is the reference's (same ids and offsets, tested); a batch
that mixes both kinds runs each kind on its own path and puts the rows back in order. A batch with enough text
outside plain ASCII is cut into parts tokenized side by side (`GraphTokenizer.tokenize`, `PART_BYTES`).
The per-character tables come from Python's `unicodedata` (tables.py), so the graph agrees with the reference
Python on every code point, whatever Unicode version the TensorFlow ops were built with.

Shapes: texts [batch] tf.string -> ids RaggedTensor [batch, (tokens)] int64, starts/ends same shape (character
offsets into each text; a token covers characters [start, end)).
Strings of megabytes work (memory grows linearly); empty strings give no tokens; NUL bytes are deleted like the
reference. Host-only ops: never call it inside an XLA-compiled function.

Example:
    >>> g = GraphTokenizer(vocab_list, NormalizerConfig(specials=("[CLS]", "[SEP]")), unk_token="[UNK]")
    >>> ids, starts, ends = g.tokenize(tf.constant(["Hello world!"]))
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert_suite.tokenizers import normalize, tables
from keras_bert_suite.tokenizers.python import MAX_INPUT_CHARS_PER_WORD


def _prev(x, first):
    """x shifted right by one along the flat axis, `first` in front."""
    return tf.concat([tf.reshape(tf.cast(first, x.dtype), [1]), x], axis=0)[:-1]


def _utf8_len(cp):
    return 1 + tf.cast(cp >= 0x80, tf.int64) + tf.cast(cp >= 0x800, tf.int64) + tf.cast(cp >= 0x10000, tf.int64)


class _Table:
    """A tables.MappingTable as constants, applied to flat code points with expansion."""

    def __init__(self, mapping: tables.MappingTable):
        self.code = tf.constant(mapping.code, dtype=tf.int32)
        self.has_multi = mapping.multi_values.size > 0
        values = mapping.multi_values if self.has_multi else np.zeros([1], np.int32)
        self.multi_values = tf.constant(values, dtype=tf.int32)
        self.multi_starts = tf.constant(mapping.multi_splits[:-1] if self.has_multi else [0], dtype=tf.int64)
        lens = np.diff(mapping.multi_splits) if self.has_multi else np.zeros([1], np.int64)
        self.multi_lens = tf.constant(lens, dtype=tf.int64)

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


def decode_utf8(texts, named_in=None):
    """texts [batch] -> code points [batch, (chars)]; invalid UTF-8 raises InvalidArgumentError naming the rows.

    `named_in` [rows] string: a batch `texts` was taken from (a subset of its rows); when given, the error names
    every invalid row of that batch by its number there. The check needs a second decoding, run only when a
    U+FFFD appears (an invalid sequence, or that character itself), then over `named_in`."""
    rt = tf.strings.unicode_decode(texts, "UTF-8", errors="replace")

    def check():
        # Each invalid sequence becomes one U+FFFD under "replace" and nothing under "ignore".
        rows = texts if named_in is None else named_in
        replaced = rt if named_in is None else tf.strings.unicode_decode(rows, "UTF-8", errors="replace")
        kept = tf.strings.unicode_decode(rows, "UTF-8", errors="ignore")
        bad = tf.where(tf.not_equal(replaced.row_lengths(), kept.row_lengths()))[:, 0]
        assertion = tf.debugging.Assert(
            tf.equal(tf.size(bad), 0),
            ["invalid UTF-8 in input rows:", tf.strings.reduce_join(tf.strings.as_string(bad), separator=", ")],
            name="invalid_utf8",
        )
        with tf.control_dependencies([assertion]):
            return tf.constant(True)

    # Without any U+FFFD in the decoded text every byte was valid: the second decode is skipped.
    valid = tf.cond(tf.reduce_any(tf.equal(rt.flat_values, 0xFFFD)), check, lambda: tf.constant(True))
    with tf.control_dependencies([valid]):
        return tf.identity(rt)


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


class Chars(NamedTuple):
    """The characters of a whole batch, flat (rows one after the other), as the normalization steps change them.

    Every field is a 1-D tensor with one entry per current character [chars]:
      codepoint      int32, the character;
      row            int64, the text it belongs to, named by the flat index of that text's first decoded
                     character: equal within a text, increasing with the batch index (cheaper to make than
                     batch indices, and all the steps need: `_row_starts_here`, `GraphTokenizer.rows`);
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


def _is_one_of(codepoint, values):
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


def _has(classes, bit):
    """bool [chars]: the class bit (tables.SPACE, PUNCT, CJK, UNSTABLE) is set."""
    return tf.bitwise.bitwise_and(classes, tf.constant(bit, classes.dtype)) > 0


def _row_starts_here(row):
    """bool [chars]: the character is the first of its text in the flat batch."""
    return tf.not_equal(row, _prev(row, -1))


class GraphTokenizer:
    """In-graph reference BERT tokenization (see the module docstring).

    Args:
        vocab_list: the WordPiece vocabulary, token strings in id order.
        cfg: the normalization settings (`normalize.NormalizerConfig`): lower-casing, accents, CJK, special tokens
            and `never_split`.
        unk_token: the unknown token; must be in the vocabulary (so must every special token).

    The steps of `tokenize` are separate methods, each from tensors to tensors, so they can be traced and timed
    one by one (tools/bench/tokenizer_profile.py): `decode` -> `mark_specials` -> `apply_stage_a` ->
    `compose_nfc` -> `classify` -> `apply_stage_b` -> `split_words` -> `apply_wordpiece` -> `piece_offsets`;
    when `fused` (see the module docstring), `apply_fused` replaces the four steps from stage A to stage B.

    Example:
        >>> g = GraphTokenizer(vocab_list, NormalizerConfig(), unk_token="[UNK]")
        >>> ids, starts, ends = g.word_pieces(tf.constant(["Hello world!"]))
    """

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

    def __init__(self, vocab_list, cfg: normalize.NormalizerConfig, unk_token="[UNK]"):
        self.cfg = cfg
        self.vocab_list = list(vocab_list)
        vocab = {t: i for i, t in enumerate(self.vocab_list)}
        if unk_token not in vocab:
            raise ValueError(f"The unknown token {unk_token!r} is not in the vocabulary")
        self.unk_token = unk_token
        for s in cfg.specials:
            if s not in vocab:
                raise ValueError(f"Special token {s!r} is not in the vocabulary")
        self.specials = cfg.specials_by_length
        a = tables.stage_a_table(cfg.do_lower_case)
        self.classes = tf.constant(tables.class_table(), dtype=tf.uint8)
        # Whole-word entries: user never_split (looked up directly) and special tokens (kept whole).
        never = sorted(cfg.never_split)
        kept = [s for s in sorted(set(cfg.specials)) if s not in cfg.never_split]
        entry_bytes = 4 * max([len(e) for e in never + kept] + [0])
        if not cfg.nfc:
            # Entries are compared with words after stage A: one holding a character stage A never outputs
            # (an upper-case letter when lower-casing: "[CLS]") can never match, so it is not searched for.
            reachable = tables.image(a)
            never, kept = [[e for e in group if all(reachable[ord(c)] for c in e)] for group in (never, kept)]
        # With nothing between the two per-character stages (no NFC, no whole-word entry), both are one look-up.
        self.fused = (
            (cfg.do_lower_case or cfg.strip) and not cfg.nfc and not (never or kept)
            and tables.stage_b_keeps_cjk(cfg.do_lower_case, cfg.strip)
        )
        if self.fused:
            self.stage_ab = _Table(tables.stage_ab_table(cfg.do_lower_case, cfg.strip))
        else:
            self.stage_a = _Table(a)
            b = tables.stage_b_table(cfg.do_lower_case, cfg.strip)
            self.stage_b = None if (not cfg.do_lower_case and not cfg.strip) else _Table(b)
        self.word_entries = never + kept
        self.word_kinds = [normalize.NEVER_SPLIT] * len(never) + [normalize.KEPT] * len(kept)
        self.word_replacements = [e if e in vocab else unk_token for e in never] + kept
        firsts = sorted({ord(e[0]) for e in self.word_entries if e})
        self.word_firsts = firsts
        self.special_firsts = sorted({ord(s[0]) for s in self.specials if s})
        # Whole words, split here (words over 100 characters are already [UNK]; entries may be longer).
        self.wordpiece = self._fast_wordpiece(4 * MAX_INPUT_CHARS_PER_WORD + entry_bytes, pretokenize=False)
        # Rows of plain ASCII (printable characters, tab, newline, carriage return; no character that can start
        # a special token or `never_split` entry) need none of the tables: the reference then only lower-cases
        # (when asked) and splits on whitespace and punctuation, which FastWordpiece's own pre-tokenization does
        # with the same punctuation set. Words of over 100 characters (= bytes) become [UNK] there too.
        excluded = set(self.special_firsts) | set(firsts)
        allowed = [c for c in (9, 10, 13, *range(32, 127)) if c not in excluded]
        self.ascii_pattern = "[" + "".join(f"\\x{c:02x}" for c in allowed) + "]*"
        self.ascii_wordpiece = self._fast_wordpiece(MAX_INPUT_CHARS_PER_WORD, pretokenize=True)

    def _fast_wordpiece(self, max_bytes_per_word, pretokenize):
        """tensorflow-text's FastWordpieceTokenizer over this vocabulary (int64 ids, `##` suffixes, the unknown
        token), on whole words or (`pretokenize`) splitting text on whitespace and punctuation itself."""
        return tf_text.FastWordpieceTokenizer(
            vocab=self.vocab_list,
            suffix_indicator="##",
            max_bytes_per_word=max_bytes_per_word,
            token_out_type=tf.int64,
            unknown_token=self.unk_token,
            no_pretokenization=not pretokenize,
            support_detokenization=False,
        )

    # ------------------------------------------------------------------ steps
    def decode(self, texts, named_in=None, with_offsets=True):
        """texts [batch] string -> (Chars, row_splits [batch + 1] int64): UTF-8 decoded, each character covering
        itself (no spans when not `with_offsets`), none special yet, and where each text's characters start in
        the flat batch (`named_in`: see `decode_utf8`)."""
        ragged = decode_utf8(texts, named_in)
        position = tf.ragged.range(ragged.row_lengths()).flat_values  # one op; value_rowids() takes several
        row = tf.range(tf.size(position, out_type=tf.int64)) - position
        no = tf.zeros_like(row, dtype=tf.bool)
        start, end = (position, position + 1) if with_offsets else (None, None)
        return Chars(ragged.flat_values, row, start, end, no, no), ragged.row_splits

    def mark_specials(self, chars):
        """Chars -> Chars with `special`/`special_start` set on special tokens found in the raw text (leftmost,
        longest first, as normalize.find_specials)."""
        if not self.specials:
            return chars
        starts_one = _is_one_of(chars.codepoint, self.special_firsts)
        special, special_start = tf.cond(
            tf.reduce_any(starts_one),
            lambda: self._search_specials(chars.codepoint, chars.row, starts_one),
            lambda: (chars.special, chars.special_start),
        )
        return chars._replace(special=special, special_start=special_start)

    def _search_specials(self, codepoint, row, starts_one):
        """Matches of every special token at the candidate positions `starts_one`, longest tokens first; a
        character already covered by a match cannot start or continue another. -> (covered, match_start)."""
        n = tf.size(codepoint, out_type=tf.int64)
        candidate = tf.where(starts_one)[:, 0]
        pad = max(len(s) for s in self.specials)
        codepoint_padded = tf.concat([codepoint, tf.fill([pad], -1)], axis=0)
        row_padded = tf.concat([row, tf.fill([pad], tf.constant(-1, tf.int64))], axis=0)
        candidate_row = tf.gather(row, candidate)
        covered = tf.zeros([n], tf.bool)
        match_start = tf.zeros([n], tf.bool)
        for token in self.specials:
            matches = tf.ones_like(candidate, dtype=tf.bool)
            for k, ch in enumerate(token):
                matches &= tf.equal(tf.gather(codepoint_padded, candidate + k), ord(ch))
                matches &= tf.equal(tf.gather(row_padded, candidate + k), candidate_row)
            covered_padded = tf.concat([covered, tf.zeros([pad], tf.bool)], 0)
            for k in range(len(token)):
                matches &= ~tf.gather(covered_padded, candidate + k)
            hits = tf.boolean_mask(candidate, matches)
            match_start = tf.tensor_scatter_nd_update(match_start, hits[:, None], tf.ones_like(hits, dtype=tf.bool))
            span = tf.reshape(hits[:, None] + tf.range(len(token), dtype=tf.int64)[None, :], [-1, 1])
            covered = tf.tensor_scatter_nd_update(covered, span, tf.ones([tf.shape(span)[0]], tf.bool))
        return covered, match_start

    def _apply_table(self, table, chars, keep, extra=()):
        """Map the code points of Chars through a table (identity where `keep`), characters deleted or expanded
        carrying their other fields (those not None) and the `extra` per-character tensors along.
        -> (Chars, list of extra)."""
        present = [i for i, field in enumerate(chars[1:]) if field is not None]
        codepoint, carried = table.apply(chars.codepoint, keep, [chars[1 + i] for i in present] + list(extra))
        fields = [None] * (len(chars) - 1)
        for i, value in zip(present, carried):
            fields[i] = value
        return Chars(codepoint, *fields), carried[len(present):]

    def apply_stage_a(self, chars):
        """Chars -> Chars after stage A (lower-case when asked, control characters deleted, whitespace to " ");
        special-token characters untouched."""
        return self._apply_table(self.stage_a, chars, chars.special)[0]

    def _class(self, codepoint):
        """uint8 [chars]: the class bits (tables.SPACE | PUNCT | CJK | UNSTABLE) of each code point (tested in
        uint8: no cast to a wider type)."""
        return tf.gather(self.classes, codepoint)

    def compose_nfc(self, chars):
        """Chars -> Chars after NFC, only when accents are kept and only on clusters holding unstable characters
        (see normalize._nfc); a cluster NFC changes gives each new character the span of the whole cluster."""
        if not self.cfg.nfc:
            return chars
        classes = self._class(chars.codepoint)
        unstable = _has(classes, tables.UNSTABLE) & ~chars.special
        return tf.cond(
            tf.reduce_any(unstable), lambda: self._compose_unstable_clusters(chars, classes, unstable), lambda: chars
        )

    def _compose_unstable_clusters(self, chars, classes, unstable):
        cluster, n_clusters = self._nfc_clusters(chars, classes, unstable)
        changed, composed = _nfc_of_clusters(chars.codepoint, cluster, n_clusters, unstable)
        return _splice_clusters(chars, cluster, n_clusters, changed, composed)

    def _nfc_clusters(self, chars, classes, unstable):
        """Cluster index of every character [chars] and the number of clusters: a new cluster starts at every
        stable character, at the start of a text, around special-token characters and, when CJK characters are
        split off, around them."""
        boundary = ~unstable | chars.special | _prev(chars.special, True) | _row_starts_here(chars.row)
        if self.cfg.tokenize_chinese_chars:
            cjk = _has(classes, tables.CJK)
            boundary |= cjk | _prev(cjk, False)
        cluster = tf.cumsum(tf.cast(boundary, tf.int64)) - 1
        return cluster, tf.reduce_sum(tf.cast(boundary, tf.int64))

    def classify(self, chars):
        """Chars -> (classes uint8 [chars], cjk bool [chars], entry int64 [chars]): class bits, CJK characters
        to split off (none when `tokenize_chinese_chars` is off), and per character index+1 of the whole-word
        entry (`never_split` or special token) its whitespace word equals (0: none)."""
        classes = self._class(chars.codepoint)
        space = _has(classes, tables.SPACE) & ~chars.special
        cjk = _has(classes, tables.CJK) & ~chars.special
        if not self.cfg.tokenize_chinese_chars:
            cjk = tf.zeros_like(cjk)
        return classes, cjk, self._whole_word_entries(chars, space, cjk)

    def _whole_word_entries(self, chars, space, cjk):
        """Per character: index+1 of the whole-word entry its whitespace word equals (0: none)."""
        n = tf.size(chars.codepoint, out_type=tf.int64)
        if not self.word_entries:
            return tf.zeros([n], tf.int64)

        def look_up():
            in_word = ~space & ~chars.special
            word_starts = in_word & (
                _row_starts_here(chars.row) | _prev(space, True) | _prev(chars.special, True) | cjk
                | _prev(cjk, False)
            )
            word_of_char = tf.cumsum(tf.cast(word_starts, tf.int64)) - 1
            n_words = tf.reduce_sum(tf.cast(word_starts, tf.int64))
            words = tf.RaggedTensor.from_value_rowids(
                tf.boolean_mask(chars.codepoint, in_word), tf.boolean_mask(word_of_char, in_word), nrows=n_words
            )
            text = tf.strings.unicode_encode(words, "UTF-8")
            equal = tf.equal(text[:, None], tf.constant(self.word_entries)[None, :])
            entry = tf.where(tf.reduce_any(equal, axis=1), tf.argmax(tf.cast(equal, tf.int32), axis=1) + 1, 0)
            entry_or_zero = tf.concat([entry, [0]], 0)
            return tf.where(in_word, tf.gather(entry_or_zero, tf.where(in_word, word_of_char, n_words)), 0)

        candidates = _is_one_of(chars.codepoint, self.word_firsts)
        candidates &= ~chars.special
        return tf.cond(tf.reduce_any(candidates), look_up, lambda: tf.zeros([n], tf.int64))

    def apply_stage_b(self, chars, classes, cjk, entry):
        """Stage B (lower-case and strip accents when asked) on characters outside special tokens and whole-word
        entries. -> (Chars, classes, cjk, entry) with the same meaning as `classify`'s."""
        if self.stage_b is None:
            return chars, classes, cjk, entry
        chars, (cjk, entry) = self._apply_table(self.stage_b, chars, chars.special | (entry > 0), [cjk, entry])
        return chars, self._class(chars.codepoint), cjk, entry

    def split_words(self, chars, classes, cjk, entry):
        """Split on whitespace, punctuation, CJK characters and special-token/entry edges -> Words (words over
        100 characters become [UNK], `never_split` entries their token)."""
        space = _has(classes, tables.SPACE) & ~chars.special
        punct = _has(classes, tables.PUNCT) & ~chars.special
        if entry is not None:
            punct &= ~(entry > 0)
        alone = punct | cjk
        special, was_special = chars.special, _prev(chars.special, False)
        word_starts = (
            _row_starts_here(chars.row)
            | _prev(space, True)
            | alone
            | _prev(alone, False)
            | chars.special_start
            | (was_special & (~special | chars.special_start))
            | (special & ~was_special)
        )
        if entry is not None:
            word_starts |= tf.not_equal(entry, _prev(entry, 0))
        # Only the code points follow the word characters; other fields are read through `word_char` where needed.
        word_char = tf.where(~space)[:, 0]
        codepoint = tf.gather(chars.codepoint, word_char)
        first = tf.where(tf.gather(word_starts, word_char))[:, 0]
        splits = tf.concat([first, tf.size(word_char, out_type=tf.int64)[None]], axis=0)
        ragged = tf.RaggedTensor.from_row_splits(codepoint, splits, validate=False)
        text = tf.strings.unicode_encode(ragged, "UTF-8")
        first_char = tf.gather(word_char, first)
        too_long = (splits[1:] - first > MAX_INPUT_CHARS_PER_WORD) & ~tf.gather(chars.special, first_char)
        replaced = too_long
        if self.word_entries and entry is not None:
            word_entry = tf.gather(entry, first_char)
            never_split = tf.equal(tf.gather(tf.constant([0] + self.word_kinds, tf.int64), word_entry),
                                   normalize.NEVER_SPLIT)
            replaced |= never_split
            replacements = tf.constant([self.unk_token] + self.word_replacements)
            replacement = tf.gather(replacements, tf.where(never_split, word_entry, 0))
        else:
            replacement = tf.constant(self.unk_token)
        # Replacements are rare: the word strings are copied only when a batch has one.
        text = tf.cond(tf.reduce_any(replaced), lambda: tf.where(replaced, replacement, text), lambda: text)
        return Words(chars, word_char, codepoint, splits, text, replaced)

    def apply_wordpiece(self, words, with_offsets=True):
        """Words -> (ids, piece_start, piece_end) RaggedTensors [words, (pieces)]: FastWordpiece on whole words,
        with byte offsets of each piece inside its word's text (None when not `with_offsets`)."""
        if not with_offsets:
            return self.wordpiece.tokenize(words.text), None, None
        return self.wordpiece.tokenize_with_offsets(words.text)

    def piece_offsets(self, words, piece_start, piece_end):
        """Character offsets of every piece into its input text -> (starts, ends) int64 [pieces]: the pieces'
        byte offsets, read back through the word's characters to the spans they came from."""
        char_bytes = _utf8_len(words.codepoint)
        char_byte_start = tf.cumsum(char_bytes, exclusive=True)  # in all words' UTF-8, back to back
        word_byte_edge = tf.gather(tf.concat([char_byte_start, tf.reduce_sum(char_bytes)[None]], 0), words.splits)
        piece_word = piece_start.value_rowids()
        word_byte_start = tf.gather(word_byte_edge, piece_word)
        replaced = tf.gather(words.replaced, piece_word)
        start_in_word = tf.where(replaced, tf.zeros_like(piece_start.flat_values), piece_start.flat_values)
        end_byte = tf.where(replaced, tf.gather(word_byte_edge, piece_word + 1),
                            word_byte_start + piece_end.flat_values)
        start_byte = word_byte_start + start_in_word
        first_char = tf.searchsorted(char_byte_start, start_byte, side="left", out_type=tf.int64)
        last_char = tf.searchsorted(char_byte_start, end_byte, side="left", out_type=tf.int64) - 1
        return (tf.gather(words.chars.start, tf.gather(words.char, first_char)),
                tf.gather(words.chars.end, tf.gather(words.char, last_char)))

    def rows(self, words, ids, row_splits):
        """Pieces grouped by text: ids RaggedTensor [words, (pieces)] -> [batch, (tokens)] (same flat values);
        `row_splits` [batch + 1] are `decode`'s (the `row` of each text's characters, and the total)."""
        word_row = tf.gather(words.chars.row, tf.gather(words.char, words.first))
        # Rows of words are sorted: each text's first word is found by binary search (batch + 1 look-ups); an
        # empty text shares its key with the next text, and has no word.
        word_splits = tf.searchsorted(word_row, row_splits, side="left", out_type=tf.int64)
        return tf.RaggedTensor.from_row_splits(ids.flat_values, tf.gather(ids.row_splits, word_splits), validate=False)

    def apply_fused(self, chars):
        """Stages A and B in one table look-up (when `fused`: no NFC and no whole-word entry between them)
        -> (Chars, classes, cjk, entry) as `apply_stage_b`'s; `entry` is None (no whole-word entries)."""
        chars = self._apply_table(self.stage_ab, chars, chars.special)[0]
        classes = self._class(chars.codepoint)
        cjk = _has(classes, tables.CJK) & ~chars.special
        if not self.cfg.tokenize_chinese_chars:
            cjk = tf.zeros_like(cjk)
        return chars, classes, cjk, None

    def normalize_chars(self, chars):
        """Every normalization step: Chars of the raw text -> (Chars, classes, cjk, entry) ready to split."""
        chars = self.mark_specials(chars)
        if self.fused:
            return self.apply_fused(chars)
        chars = self.compose_nfc(self.apply_stage_a(chars))
        return self.apply_stage_b(chars, *self.classify(chars))

    # ------------------------------------------------------------------ main
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


def _nfc_of_clusters(codepoint, cluster, n_clusters, unstable):
    """NFC of every cluster holding an unstable character -> (changed bool [clusters], composed RaggedTensor
    [changed clusters, (code points)]: the new characters of each cluster NFC changed, in cluster order)."""
    has_unstable = tf.math.unsorted_segment_max(tf.cast(unstable, tf.int32), cluster, n_clusters) > 0
    selected = tf.gather(has_unstable, cluster)
    rank = tf.cumsum(tf.cast(has_unstable, tf.int64)) - 1
    n_selected = tf.reduce_sum(tf.cast(has_unstable, tf.int64))
    selected_clusters = tf.RaggedTensor.from_value_rowids(
        tf.boolean_mask(codepoint, selected), tf.gather(rank, tf.boolean_mask(cluster, selected)), nrows=n_selected
    )
    before = tf.strings.unicode_encode(selected_clusters, "UTF-8")
    after = tf_text.normalize_utf8(before, "NFC")
    differs = tf.not_equal(before, after)
    composed = tf.strings.unicode_decode(tf.boolean_mask(after, differs), "UTF-8")
    changed = tf.scatter_nd(tf.where(has_unstable), tf.cast(differs, tf.int32), tf.reshape(n_clusters, [1])) > 0
    return changed, composed


def _splice_clusters(chars, cluster, n_clusters, changed, composed):
    """Chars with the characters of every changed cluster replaced by its composed ones: each new character
    covers its cluster's whole input span, lies in the cluster's row, and is not special."""
    n = tf.size(chars.codepoint, out_type=tf.int64)
    # The output in order, as indices: an old character i stays i (>= 0), composed character j becomes -1 - j.
    old_index = tf.RaggedTensor.from_value_rowids(tf.range(n), cluster, nrows=n_clusters)
    composed_index = composed.with_flat_values(-1 - tf.range(tf.size(composed.flat_values, out_type=tf.int64)))
    changed_rank = tf.cumsum(tf.cast(changed, tf.int64)) - 1
    source = tf.where(changed, n_clusters + changed_rank, tf.range(n_clusters))
    order = tf.gather(tf.concat([old_index, composed_index], axis=0), source).flat_values
    is_new = order < 0
    old_i = tf.maximum(order, 0)
    new_i = tf.maximum(-1 - order, 0)

    composed_cluster = tf.gather(tf.boolean_mask(tf.range(n_clusters), changed), composed.value_rowids())
    cluster_row = tf.gather(chars.row, tf.math.unsorted_segment_min(tf.range(n), cluster, n_clusters))
    none_composed = tf.size(composed.flat_values) == 0

    def of_composed(values_fn, dtype):
        # One dummy entry when nothing was composed keeps the gathers below valid (is_new is then all False).
        return tf.cond(none_composed, lambda: tf.zeros([1], dtype), values_fn)

    def span(values, reduce):  # each new character covers its whole cluster (no spans: none)
        if values is None:
            return None
        edge = reduce(values, cluster, n_clusters)
        return of_composed(lambda: tf.gather(edge, composed_cluster), tf.int64)

    new_codepoint = of_composed(lambda: composed.flat_values, tf.int32)
    new = Chars(
        new_codepoint,
        of_composed(lambda: tf.gather(cluster_row, composed_cluster), tf.int64),
        span(chars.start, tf.math.unsorted_segment_min),
        span(chars.end, tf.math.unsorted_segment_max),
        tf.zeros(tf.shape(new_codepoint), tf.bool),
        tf.zeros(tf.shape(new_codepoint), tf.bool),
    )
    return Chars(*[None if a is None else tf.where(is_new, tf.gather(b, new_i), tf.gather(a, old_i))
                   for a, b in zip(chars, new)])
