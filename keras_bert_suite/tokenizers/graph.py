"""The reference BERT tokenization in-graph: strings -> WordPiece ids and character offsets, with TensorFlow ops.

`GraphTokenizer.tokenize(texts)` follows normalize.py step by step on flat code-point tensors (so ids and
offsets equal the pure-Python tokenizer's, which equal transformers' Python `BertTokenizer`):
  decode UTF-8 (invalid UTF-8 -> tf.errors.InvalidArgumentError) -> special tokens found in text -> stage A table
  (lower-case, clean-up) -> NFC on unstable clusters (tensorflow_text.normalize_utf8, only when accents are kept
  and only if a batch holds such a character) -> `never_split` / special-token words -> stage B table (lower-case,
  strip accents) -> split on whitespace, punctuation, CJK -> words over 100 characters become [UNK] ->
  tensorflow_text.FastWordpieceTokenizer on whole words (its own normalization and pre-tokenization off).
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
            mask = code >= 0
            return [tf.boolean_mask(code, mask)] + [tf.boolean_mask(c, mask) for c in carry]

        def expand():
            single = code >= 0
            k = tf.cast(tf.maximum(-code - 2, 0), tf.int64)
            lens = tf.where(single, tf.constant(1, tf.int64), tf.where(code == -1, tf.constant(0, tf.int64),
                                                                       tf.gather(self.multi_lens, k)))
            idx = tf.repeat(tf.range(tf.size(code, out_type=tf.int64)), lens)
            starts = tf.cumsum(lens, exclusive=True)
            within = tf.range(tf.size(idx, out_type=tf.int64)) - tf.gather(starts, idx)
            multi_pos = tf.gather(self.multi_starts, tf.gather(k, idx)) + within
            value = tf.where(tf.gather(single, idx), tf.gather(code, idx), tf.gather(self.multi_values, multi_pos))
            return [value] + [tf.gather(c, idx) for c in carry]

        if not self.has_multi:
            out = tf.cond(tf.reduce_any(code < 0), deletions_only, identity)
        else:
            out = tf.cond(
                tf.reduce_any(code < -1),
                expand,
                lambda: tf.cond(tf.reduce_any(code < 0), deletions_only, identity),
            )
        return out[0], out[1:]


def decode_utf8(texts):
    """texts [batch] -> code points [batch, (chars)]; invalid UTF-8 raises InvalidArgumentError naming the rows."""
    rt = tf.strings.unicode_decode(texts, "UTF-8", errors="replace")
    # Each invalid sequence becomes one U+FFFD under "replace" and nothing under "ignore".
    kept = tf.strings.unicode_decode(texts, "UTF-8", errors="ignore")
    bad = tf.not_equal(rt.row_lengths(), kept.row_lengths())
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(bad)),
        ["invalid UTF-8 in input rows:", tf.strings.reduce_join(tf.strings.as_string(tf.where(bad)[:, 0]),
                                                                 separator=", ")],
        name="invalid_utf8",
    )
    with tf.control_dependencies([check]):
        return tf.identity(rt)


_SHARED = {}


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


class GraphTokenizer:
    """In-graph reference BERT tokenization (see the module docstring)."""

    def word_pieces(self, texts, with_offsets=True):
        """`tokenize` through one `tf.function` per `with_offsets`: traced once, then called from any graph
        (every signature of a SavedModel, every layer sharing this tokenizer)."""
        fns = self.__dict__.setdefault("_word_piece_fns", {})
        offsets = bool(with_offsets)
        if offsets not in fns:
            fns[offsets] = tf.function(
                lambda t: self.tokenize(t, with_offsets=offsets),
                input_signature=[tf.TensorSpec([None], tf.string)],
                autograph=False,
            )
        return fns[offsets](texts)

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
        self.stage_a = _Table(tables.stage_a_table(cfg.do_lower_case))
        b = tables.stage_b_table(cfg.do_lower_case, cfg.strip)
        self.stage_b = None if (not cfg.do_lower_case and not cfg.strip) else _Table(b)
        self.classes = tf.constant(tables.class_table(), dtype=tf.uint8)
        # Whole-word entries: user never_split (looked up directly) and special tokens (kept whole).
        never = sorted(cfg.never_split)
        kept = [s for s in sorted(set(cfg.specials)) if s not in cfg.never_split]
        self.word_entries = never + kept
        self.word_kinds = [normalize.NEVER_SPLIT] * len(never) + [normalize.KEPT] * len(kept)
        self.word_replacements = [e if e in vocab else unk_token for e in never] + kept
        firsts = sorted({ord(e[0]) for e in self.word_entries if e})
        self.word_firsts = tf.constant(firsts or [-1], dtype=tf.int32)
        special_firsts = sorted({ord(s[0]) for s in self.specials if s})
        self.special_firsts = tf.constant(special_firsts or [-1], dtype=tf.int32)
        self.wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=self.vocab_list,
            suffix_indicator="##",
            max_bytes_per_word=4 * MAX_INPUT_CHARS_PER_WORD + 4 * max([len(e) for e in self.word_entries] + [0]),
            token_out_type=tf.int64,
            unknown_token=unk_token,
            no_pretokenization=True,
            support_detokenization=False,
        )

    # ------------------------------------------------------------------ steps
    def _find_specials(self, cp, row):
        """(is_special, special_start) flags of characters inside special tokens found in the raw text."""
        n = tf.size(cp, out_type=tf.int64)

        def search():
            cand = tf.where(tf.reduce_any(tf.equal(cp[:, None], self.special_firsts[None, :]), axis=1))[:, 0]
            pad = max(len(s) for s in self.specials)
            cp_pad = tf.concat([cp, tf.fill([pad], -1)], axis=0)
            row_pad = tf.concat([row, tf.fill([pad], tf.constant(-1, tf.int64))], axis=0)
            covered = tf.zeros([n], tf.bool)
            starts = tf.zeros([n], tf.bool)
            cand_row = tf.gather(row, cand)
            for token in self.specials:
                ok = tf.ones_like(cand, dtype=tf.bool)
                for k, ch in enumerate(token):
                    ok &= tf.equal(tf.gather(cp_pad, cand + k), ord(ch))
                    ok &= tf.equal(tf.gather(row_pad, cand + k), cand_row)
                for k in range(len(token)):
                    ok &= ~tf.gather(tf.concat([covered, tf.zeros([pad], tf.bool)], 0), cand + k)
                hits = tf.boolean_mask(cand, ok)
                starts = tf.tensor_scatter_nd_update(starts, hits[:, None], tf.ones_like(hits, dtype=tf.bool))
                span = tf.reshape(hits[:, None] + tf.range(len(token), dtype=tf.int64)[None, :], [-1, 1])
                covered = tf.tensor_scatter_nd_update(covered, span, tf.ones([tf.shape(span)[0]], tf.bool))
            return covered, starts

        def none():
            z = tf.zeros([n], tf.bool)
            return z, z

        if not self.specials:
            return none()
        return tf.cond(tf.reduce_any(tf.equal(cp[:, None], self.special_firsts[None, :])), search, none)

    def _class(self, cp):
        return tf.cast(tf.gather(self.classes, cp), tf.int32)

    def _nfc(self, cp, row, s0, s1, sp, sp_start):
        """NFC on clusters holding unstable characters (see normalize._nfc)."""
        cjk_on = self.cfg.tokenize_chinese_chars
        cls = self._class(cp)
        unstable = (tf.bitwise.bitwise_and(cls, tables.UNSTABLE) > 0) & ~sp

        def run():
            cjk = tf.bitwise.bitwise_and(cls, tables.CJK) > 0
            boundary = ~unstable | sp | _prev(sp, True) | tf.not_equal(row, _prev(row, -1))
            if cjk_on:
                boundary |= cjk | _prev(cjk, False)
            cid = tf.cumsum(tf.cast(boundary, tf.int64)) - 1
            n_cl = tf.reduce_sum(tf.cast(boundary, tf.int64))
            cl_unstable = tf.math.unsorted_segment_max(tf.cast(unstable, tf.int32), cid, n_cl) > 0
            sel = tf.gather(cl_unstable, cid)
            rank = tf.cumsum(tf.cast(cl_unstable, tf.int64)) - 1
            k = tf.reduce_sum(tf.cast(cl_unstable, tf.int64))
            sel_rt = tf.RaggedTensor.from_value_rowids(
                tf.boolean_mask(cp, sel), tf.gather(rank, tf.boolean_mask(cid, sel)), nrows=k
            )
            before = tf.strings.unicode_encode(sel_rt, "UTF-8")
            after = tf_text.normalize_utf8(before, "NFC")
            changed_sel = tf.not_equal(before, after)
            new_rt = tf.strings.unicode_decode(tf.boolean_mask(after, changed_sel), "UTF-8")
            changed = (
                tf.scatter_nd(tf.where(cl_unstable), tf.cast(changed_sel, tf.int32), tf.reshape(n_cl, [1])) > 0
            )  # [clusters]
            changed_rank = tf.cumsum(tf.cast(changed, tf.int64)) - 1
            n = tf.size(cp, out_type=tf.int64)
            orig_rt = tf.RaggedTensor.from_value_rowids(tf.range(n), cid, nrows=n_cl)
            new_index_rt = new_rt.with_flat_values(-1 - tf.range(tf.size(new_rt.flat_values, out_type=tf.int64)))
            both = tf.concat([orig_rt, new_index_rt], axis=0)
            pick = tf.where(changed, n_cl + changed_rank, tf.range(n_cl))
            flat = tf.gather(both, pick).flat_values
            is_new = flat < 0
            orig_i = tf.maximum(flat, 0)
            new_i = tf.maximum(-1 - flat, 0)
            cl_min = tf.math.unsorted_segment_min(s0, cid, n_cl)
            cl_max = tf.math.unsorted_segment_max(s1, cid, n_cl)
            new_cluster = tf.gather(tf.boolean_mask(tf.range(n_cl), changed), new_rt.value_rowids())
            new_cp = new_rt.flat_values
            new_row = tf.gather(tf.gather(row, tf.math.unsorted_segment_min(tf.range(n), cid, n_cl)), new_cluster)

            def pick2(orig, new):
                return tf.where(is_new, tf.gather(new, new_i), tf.gather(orig, orig_i))

            empty_new = tf.size(new_cp) == 0
            new_cp = tf.cond(empty_new, lambda: tf.zeros([1], tf.int32), lambda: new_cp)
            new_row = tf.cond(empty_new, lambda: tf.zeros([1], tf.int64), lambda: new_row)
            new_s0 = tf.cond(empty_new, lambda: tf.zeros([1], tf.int64), lambda: tf.gather(cl_min, new_cluster))
            new_s1 = tf.cond(empty_new, lambda: tf.zeros([1], tf.int64), lambda: tf.gather(cl_max, new_cluster))
            fz = tf.zeros(tf.shape(new_cp), tf.bool)
            return (
                pick2(cp, new_cp),
                pick2(row, new_row),
                pick2(s0, new_s0),
                pick2(s1, new_s1),
                pick2(sp, fz),
                pick2(sp_start, fz),
            )

        return tf.cond(tf.reduce_any(unstable), run, lambda: (cp, row, s0, s1, sp, sp_start))

    def _word_kinds(self, cp, row, sp, space, cjk):
        """Per character: index+1 of the whole-word entry its whitespace word equals (0: none)."""
        n = tf.size(cp, out_type=tf.int64)

        def check():
            word = ~space & ~sp
            brk = word & (tf.not_equal(row, _prev(row, -1)) | _prev(space, True) | _prev(sp, True) | cjk
                          | _prev(cjk, False))
            wid_all = tf.cumsum(tf.cast(brk, tf.int64)) - 1
            wid = tf.boolean_mask(wid_all, word)
            nw = tf.reduce_sum(tf.cast(brk, tf.int64))
            rt = tf.RaggedTensor.from_value_rowids(tf.boolean_mask(cp, word), wid, nrows=nw)
            strings = tf.strings.unicode_encode(rt, "UTF-8")
            eq = tf.equal(strings[:, None], tf.constant(self.word_entries)[None, :])
            match = tf.where(tf.reduce_any(eq, axis=1), tf.argmax(tf.cast(eq, tf.int32), axis=1) + 1, 0)
            return tf.where(word, tf.gather(tf.concat([match, [0]], 0), tf.where(word, wid_all, nw)), 0)

        if not self.word_entries:
            return tf.zeros([n], tf.int64)
        candidates = tf.reduce_any(tf.equal(cp[:, None], self.word_firsts[None, :]), axis=1) & ~sp
        return tf.cond(tf.reduce_any(candidates), check, lambda: tf.zeros([n], tf.int64))

    # ------------------------------------------------------------------ main
    def tokenize(self, texts, with_offsets=True):
        """texts [batch] string -> (ids, starts, ends) RaggedTensors [batch, (tokens)] (starts/ends None if not
        `with_offsets`)."""
        texts = tf.convert_to_tensor(texts, tf.string)
        rt = decode_utf8(texts)
        batch = tf.shape(texts, out_type=tf.int64)[0]
        cp = rt.flat_values
        row = rt.value_rowids()
        pos = tf.range(tf.size(cp, out_type=tf.int64)) - tf.gather(rt.row_starts(), row)
        s0, s1 = pos, pos + 1
        sp, sp_start = self._find_specials(cp, row)
        cp, (row, s0, s1, sp, sp_start) = self.stage_a.apply(cp, sp, [row, s0, s1, sp, sp_start])
        if self.cfg.nfc:
            cp, row, s0, s1, sp, sp_start = self._nfc(cp, row, s0, s1, sp, sp_start)
        cls = self._class(cp)
        space = (tf.bitwise.bitwise_and(cls, tables.SPACE) > 0) & ~sp
        cjk = (tf.bitwise.bitwise_and(cls, tables.CJK) > 0) & ~sp
        if not self.cfg.tokenize_chinese_chars:
            cjk = tf.zeros_like(cjk)
        entry = self._word_kinds(cp, row, sp, space, cjk)
        if self.stage_b is not None:
            cp, (row, s0, s1, sp, sp_start, cjk, entry) = self.stage_b.apply(
                cp, sp | (entry > 0), [row, s0, s1, sp, sp_start, cjk, entry]
            )
            cls = self._class(cp)
            space = (tf.bitwise.bitwise_and(cls, tables.SPACE) > 0) & ~sp
        kept = entry > 0
        punct = (tf.bitwise.bitwise_and(cls, tables.PUNCT) > 0) & ~sp & ~kept
        alone = punct | cjk
        brk = (
            tf.not_equal(row, _prev(row, -1))
            | _prev(space, True)
            | alone
            | _prev(alone, False)
            | sp_start
            | (_prev(sp, False) & (~sp | sp_start))
            | (sp & ~_prev(sp, False))
            | tf.not_equal(entry, _prev(entry, 0))
        )
        word = ~space
        cp = tf.boolean_mask(cp, word)
        row, s0, s1, sp, entry = [tf.boolean_mask(x, word) for x in (row, s0, s1, sp, entry)]
        brk = tf.boolean_mask(brk, word)
        wid = tf.cumsum(tf.cast(brk, tf.int64)) - 1
        nw = tf.reduce_sum(tf.cast(brk, tf.int64))
        first = tf.boolean_mask(tf.range(tf.size(cp, out_type=tf.int64)), brk)
        word_rt = tf.RaggedTensor.from_value_rowids(cp, wid, nrows=nw)
        strings = tf.strings.unicode_encode(word_rt, "UTF-8")
        nchars = word_rt.row_lengths()
        w_entry = tf.gather(entry, first)
        w_sp = tf.gather(sp, first)
        long = (nchars > MAX_INPUT_CHARS_PER_WORD) & ~w_sp
        kinds = tf.constant([0] + self.word_kinds, tf.int64)
        never = tf.equal(tf.gather(kinds, w_entry), normalize.NEVER_SPLIT)
        replaced = long | never
        if self.word_entries:
            replacement = tf.gather(tf.constant([self.unk_token] + self.word_replacements), tf.where(never, w_entry, 0))
        else:
            replacement = tf.fill(tf.shape(strings), self.unk_token)
        strings = tf.where(replaced, replacement, strings)
        ids, p_start, p_end = self.wordpiece.tokenize_with_offsets(strings)
        word_row = tf.gather(row, first)
        ids_rows = tf.RaggedTensor.from_value_rowids(ids, word_row, nrows=batch).merge_dims(1, 2)
        if not with_offsets:
            return ids_rows, None, None
        blen = _utf8_len(cp)
        gstart_char = tf.cumsum(blen, exclusive=True)
        w_bstart = tf.gather(gstart_char, first)
        w_blen = tf.math.unsorted_segment_sum(blen, wid, nw)
        p_word = p_start.value_rowids()
        rep = tf.gather(replaced, p_word)
        ps = tf.where(rep, tf.zeros_like(p_start.flat_values), p_start.flat_values)
        pe = tf.where(rep, tf.gather(w_blen, p_word), p_end.flat_values)
        g0 = tf.gather(w_bstart, p_word) + ps
        g1 = tf.gather(w_bstart, p_word) + pe
        c0 = tf.searchsorted(gstart_char, g0, side="left", out_type=tf.int64)
        c1 = tf.searchsorted(gstart_char, g1, side="left", out_type=tf.int64) - 1
        starts = tf.gather(s0, c0)
        ends = tf.gather(s1, c1)
        starts_rows = ids_rows.with_flat_values(starts)
        ends_rows = ids_rows.with_flat_values(ends)
        return ids_rows, starts_rows, ends_rows
