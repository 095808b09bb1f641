"""The per-character steps of the in-graph reference BERT tokenization, each from tensors to tensors.

`CharSteps` holds a vocabulary's tables and takes normalize.py's steps on the flat characters of a batch
(char_tensors.Chars), so its ids and offsets equal the pure-Python tokenizer's:
  `decode` (UTF-8; invalid UTF-8 -> tf.errors.InvalidArgumentError, `decode_utf8`) -> `mark_specials` (special
  tokens written in the text) -> `apply_stage_a` (lower-case, clean-up) -> `compose_nfc` (NFC on unstable
  clusters, nfc_clusters.py: only when accents are kept and only if a batch holds such a character) ->
  `classify` (`never_split` / special-token words) -> `apply_stage_b` (lower-case, strip accents) ->
  `split_words` (whitespace, punctuation, CJK; words over 100 characters become [UNK]) -> `apply_wordpiece`
  (tensorflow_text.FastWordpieceTokenizer on whole words) -> `piece_offsets` and `rows`.
Where nothing runs between the two tables (accents stripped, so no NFC, and no whole-word entry that can match
after stage A: uncased BERT, whose special tokens hold upper-case letters), stage A then B is one precomputed
table (tables.stage_ab_table, `apply_fused`): one look-up and one expansion instead of two, same characters and
spans. graph.GraphTokenizer chains these steps and routes rows of plain ASCII past them.

Shapes: texts [batch] tf.string -> Chars [chars] -> Words [words] -> ids RaggedTensor [words, (pieces)] and
character offsets [pieces]. Host-only ops: never call them inside an XLA-compiled function.

Example:
    >>> import tensorflow as tf
    >>> from keras_bert_suite.tokenizers.normalize import NormalizerConfig
    >>> steps = CharSteps(["[UNK]", "hello", "world", "!"], NormalizerConfig(), unk_token="[UNK]")
    >>> chars, row_splits = steps.decode(tf.constant(["Hello world!"]))
    >>> words = steps.split_words(*steps.normalize_chars(chars))
    >>> steps.apply_wordpiece(words)[0].flat_values.numpy().tolist()
    [1, 2, 3]
"""

import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert_suite.tokenizers import normalize, tables
from keras_bert_suite.tokenizers.char_tensors import (
    Chars,
    Table,
    Words,
    has_bit,
    is_one_of,
    prev,
    row_starts_here,
    utf8_len,
)
from keras_bert_suite.tokenizers.nfc_clusters import compose_clusters
from keras_bert_suite.tokenizers.python import MAX_INPUT_CHARS_PER_WORD


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


class CharSteps:
    """The per-character steps of the in-graph tokenizer over one vocabulary (see the module docstring).

    Args:
        vocab_list: the WordPiece vocabulary, token strings in id order.
        cfg: the normalization settings (`normalize.NormalizerConfig`): lower-casing, accents, CJK, special tokens
            and `never_split`.
        unk_token: the unknown token; must be in the vocabulary (so must every special token).

    Each step is a method from tensors to tensors, so they can be traced and timed one by one
    (`python -m tools.bench.profile tokenizer`): `decode` -> `mark_specials` -> `apply_stage_a` -> `compose_nfc` ->
    `classify` -> `apply_stage_b` -> `split_words` -> `apply_wordpiece` -> `piece_offsets`; when `fused` (see
    the module docstring), `apply_fused` replaces the four steps from stage A to stage B.

    Example:
        >>> from keras_bert_suite.tokenizers.normalize import NormalizerConfig
        >>> CharSteps(["[UNK]", "hello"], NormalizerConfig(), unk_token="[UNK]").fused
        True
    """

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
            self.stage_ab = Table(tables.stage_ab_table(cfg.do_lower_case, cfg.strip))
        else:
            self.stage_a = Table(a)
            b = tables.stage_b_table(cfg.do_lower_case, cfg.strip)
            self.stage_b = None if (not cfg.do_lower_case and not cfg.strip) else Table(b)
        self.word_entries = never + kept
        self.word_kinds = [normalize.NEVER_SPLIT] * len(never) + [normalize.KEPT] * len(kept)
        self.word_replacements = [e if e in vocab else unk_token for e in never] + kept
        self.word_firsts = sorted({ord(e[0]) for e in self.word_entries if e})
        self.special_firsts = sorted({ord(s[0]) for s in self.specials if s})
        # Whole words, split here (words over 100 characters are already [UNK]; entries may be longer).
        self.wordpiece = self._fast_wordpiece(4 * MAX_INPUT_CHARS_PER_WORD + entry_bytes, pretokenize=False)
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
        starts_one = is_one_of(chars.codepoint, self.special_firsts)
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
        unstable = has_bit(classes, tables.UNSTABLE) & ~chars.special
        return tf.cond(
            tf.reduce_any(unstable),
            lambda: compose_clusters(chars, classes, unstable, self.cfg.tokenize_chinese_chars),
            lambda: chars,
        )

    def classify(self, chars):
        """Chars -> (classes uint8 [chars], cjk bool [chars], entry int64 [chars]): class bits, CJK characters
        to split off (none when `tokenize_chinese_chars` is off), and per character index+1 of the whole-word
        entry (`never_split` or special token) its whitespace word equals (0: none)."""
        classes = self._class(chars.codepoint)
        space = has_bit(classes, tables.SPACE) & ~chars.special
        cjk = has_bit(classes, tables.CJK) & ~chars.special
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
                row_starts_here(chars.row) | prev(space, True) | prev(chars.special, True) | cjk
                | prev(cjk, False)
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

        candidates = is_one_of(chars.codepoint, self.word_firsts)
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
        space = has_bit(classes, tables.SPACE) & ~chars.special
        punct = has_bit(classes, tables.PUNCT) & ~chars.special
        if entry is not None:
            punct &= ~(entry > 0)
        alone = punct | cjk
        special, was_special = chars.special, prev(chars.special, False)
        word_starts = (
            row_starts_here(chars.row)
            | prev(space, True)
            | alone
            | prev(alone, False)
            | chars.special_start
            | (was_special & (~special | chars.special_start))
            | (special & ~was_special)
        )
        if entry is not None:
            word_starts |= tf.not_equal(entry, prev(entry, 0))
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
        char_bytes = utf8_len(words.codepoint)
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
        cjk = has_bit(classes, tables.CJK) & ~chars.special
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
