"""In-graph model inputs from ragged token ids: truncation, `[CLS] a [SEP] b [SEP]`, padding.

The same rules as encoding.py (the reference `prepare_for_model` + `pad`), vectorized over a batch.

Why not tensorflow-text's `RoundRobinTrimmer` / `WaterfallTrimmer`, `combine_segments` and `pad_model_inputs`
(measured with tensorflow-text 2.21.1 against this file's code, once, on a shared 2-core machine under a load
average of about 7):
  - ids: transformers' `longest_first` removes one token at a time from the longer sequence; on pairs that keeps
    the same lengths as `RoundRobinTrimmer` (0 of 9,000 length pairs, 0-29 tokens each, differed at ten
    max_length values from 1 to 64), but on a single sequence with max_length <= 2 transformers leaves the row
    whole where the trimmer empties it (29 of 30 rows). `only_first` / `only_second` as `WaterfallTrimmer`
    (segments ordered so that the other one is kept first) differ wherever the chosen sequence cannot absorb the
    whole removal: transformers then leaves the row whole (6,142 of the 9,000 pairs; none elsewhere). Neither
    trimmer cuts from the left (`truncation_side="left"`), and neither carries offsets along.
  - speed: truncation + `[CLS] a [SEP] b [SEP]` + padding to 128 columns, median of 15 interleaved rounds:
    256 pairs of 20-200 tokens 2.92 ms here against 3.01 ms with tensorflow-text's ops; 32 pairs of 5-60
    tokens 1.58 ms against 1.55 ms: the same within noise, so not faster.
  - graphs: `RoundRobinTrimmer` is the custom op `TFText>RoundRobinTrim`, which tensorflow-text 2.12.1 (pinned by
    TF Serving 2.16-2.18, export/tf_serving_releases.py) does not have, so exported SavedModels would stop
    loading there.
So truncation and packing stay here; only the `longest_first` pair case could switch, and it would gain
nothing.

Shapes: ids_a [batch, (tokens)] (+ ids_b) -> dense [batch, length] int32 tensors: input_ids, attention_mask,
token_type_ids (0 for padding), special_tokens_mask (1 for special and padding tokens), offset_mapping
[batch, length, 2] ((0, 0) for special and padding tokens).

Example:
    >>> import tensorflow as tf
    >>> a, b = tf.ragged.constant([[7, 8], [9]], tf.int64), tf.ragged.constant([[5], [6, 6]], tf.int64)
    >>> out = pack(a, b, cls_id=101, sep_id=102, pad_id=0)
    >>> out["input_ids"].numpy().tolist(), out["token_type_ids"].numpy().tolist()
    ([[101, 7, 8, 102, 5, 102], [101, 9, 102, 6, 6, 102]], [[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1]])
"""

import tensorflow as tf

from keras_bert_suite.tokenizers import encoding as enc


def _keep_all(parts, keep_len, side):
    """Keep `keep_len` [batch] values per row of every RaggedTensor in `parts` (all of one ragged shape), from
    the start (side='right') or the end (side='left'): one index of kept values, gathered from each. `keep_len`
    None keeps everything."""
    if keep_len is None:  # no truncation asked for
        return parts
    rt = parts[0]
    lens = rt.row_lengths()

    def cut():
        kept = tf.minimum(lens, keep_len)
        starts = rt.row_starts() + (0 if side == "right" else lens - kept)
        index = tf.ragged.range(starts, starts + kept).flat_values
        return [tf.RaggedTensor.from_row_lengths(tf.gather(x.flat_values, index), kept, validate=False)
                for x in parts]

    # Most batches have no row to shorten: the values are then not copied.
    return tf.cond(tf.reduce_all(keep_len >= lens), lambda: parts, cut)


def _given(value):
    """A length setting in force: a tensor (fed at run time), or a Python int other than None and 0."""
    return isinstance(value, tf.Tensor) or bool(value)


def truncation_lengths(len_a, len_b, n_special, strategy, max_length):
    """Kept lengths (a, b) per row under a truncation strategy (the reference `truncate_sequences`).
    `max_length` is a Python int or an int scalar tensor."""
    if strategy == enc.DO_NOT_TRUNCATE or not _given(max_length):
        return len_a, len_b
    total = len_a + (len_b if len_b is not None else 0) + n_special
    remove = tf.maximum(total - tf.cast(max_length, total.dtype), 0)
    if strategy == enc.ONLY_FIRST or (strategy == enc.LONGEST_FIRST and len_b is None):
        return tf.where(len_a > remove, len_a - remove, len_a), len_b
    if strategy == enc.ONLY_SECOND:
        if len_b is None:
            return len_a, len_b
        return len_a, tf.where(len_b > remove, len_b - remove, len_b)
    first = tf.minimum(tf.abs(len_b - len_a), remove)
    second = remove - first
    a_rm = tf.where(len_a > len_b, first + second // 2, second // 2)
    b_rm = remove - a_rm
    return tf.maximum(len_a - a_rm, 0), tf.maximum(len_b - b_rm, 0)


def _reverse_rows(rt):
    starts = tf.gather(rt.row_starts(), rt.value_rowids())
    lens = tf.gather(rt.row_lengths(), rt.value_rowids())
    i = tf.range(tf.size(rt.flat_values, out_type=tf.int64))
    return rt.with_flat_values(tf.gather(rt.flat_values, 2 * starts + lens - 1 - i))


def _dense(rt, length, pad_value, left):
    if isinstance(length, tf.Tensor):  # a length computed in-graph (pad_to_multiple_of): a shape tensor
        length = tf.stack([rt.nrows(), tf.cast(length, rt.nrows().dtype)])
    else:
        length = [None, length]
    if left:
        out = _reverse_rows(rt).to_tensor(default_value=pad_value, shape=length)
        return tf.reverse(out, axis=[1])
    return rt.to_tensor(default_value=pad_value, shape=length)


def _mask(lens, length, left):
    """[batch, length] int64: 1 on each row's first `lens` columns (its last ones with left padding); the same
    as a padded ragged tensor of ones, without building it."""
    columns = tf.range(tf.cast(length, tf.int64))
    if left:
        columns = columns[::-1]
    return tf.cast(columns[None, :] < lens[:, None], tf.int64)


def pack(ids_a, ids_b=None, *, starts=None, ends=None, starts_b=None, ends_b=None, cls_id, sep_id, pad_id,
         add_special_tokens=True, truncation=enc.LONGEST_FIRST, truncation_side="right", max_length=None,
         padding=enc.LONGEST, pad_to_multiple_of=None, padding_side="right", static_length=True):
    """Truncate, add special tokens, and pad a batch (see the module docstring). With `static_length` and
    truncation on, padding="max_length" gives exactly `max_length` columns (rows the strategy cannot shorten are
    cut); otherwise never fewer columns than the longest row.

    Args:
        ids_a, ids_b: RaggedTensors [batch, (tokens)] of token ids; `ids_b` None without pairs.
        starts, ends, starts_b, ends_b: the tokens' character offsets (same shapes), or None for no
            `offset_mapping`.
        cls_id, sep_id, pad_id: the special tokens' ids.
        truncation, max_length, truncation_side, padding, pad_to_multiple_of, padding_side: as
            `BertTokenizer.__call__` (strategies as encoding.py names them); `max_length` and
            `pad_to_multiple_of` may be int scalar tensors.

    Example:
        >>> import tensorflow as tf
        >>> ids = tf.ragged.constant([[7, 8, 9], [7]], tf.int64)
        >>> out = pack(ids, cls_id=101, sep_id=102, pad_id=0, max_length=4, truncation="longest_first")
        >>> out["input_ids"].numpy().tolist()
        [[101, 7, 8, 102], [101, 7, 102, 0]]
    """
    n_special = (3 if ids_b is not None else 2) if add_special_tokens else 0
    with_offsets = starts is not None
    parts_a, parts_b = _truncated_parts(
        [ids_a] + ([starts, ends] if with_offsets else []),
        None if ids_b is None else [ids_b] + ([starts_b, ends_b] if with_offsets else []),
        n_special, truncation, max_length, truncation_side,
    )
    batch = ids_a.nrows()

    def assemble(i, special_value, type_a, type_b):
        return _assemble(parts_a, parts_b, batch, add_special_tokens, i, special_value, type_a, type_b)

    ids = assemble(0, (cls_id, sep_id, sep_id), None, None)
    types = assemble(0, (0, 0, 1), 0, 1)
    special = assemble(0, (1, 1, 1), 0, 0)
    length = _padded_length(ids, padding, max_length, truncation, static_length, pad_to_multiple_of)
    left = padding_side == "left"
    out = {
        "input_ids": _dense(ids, length, tf.cast(pad_id, tf.int64), left),
        "token_type_ids": _dense(types, length, tf.constant(0, tf.int64), left),
        "attention_mask": _mask(ids.row_lengths(), length, left),
        "special_tokens_mask": _dense(special, length, tf.constant(1, tf.int64), left),
    }
    if with_offsets:
        s = assemble(1, (0, 0, 0), None, None)
        e = assemble(2, (0, 0, 0), None, None)
        out["offset_mapping"] = tf.stack(
            [_dense(s, length, tf.constant(0, tf.int64), left), _dense(e, length, tf.constant(0, tf.int64), left)],
            axis=-1,
        )
    return {k: tf.cast(v, tf.int32) for k, v in out.items()}


def _truncated_parts(parts_a, parts_b, n_special, truncation, max_length, truncation_side):
    """The first sequence's RaggedTensors (ids, then starts and ends when offsets are asked for) and the
    second's (None without a pair), each cut to the lengths the truncation strategy keeps."""
    len_a = parts_a[0].row_lengths()
    len_b = parts_b[0].row_lengths() if parts_b is not None else None
    keep_a, keep_b = truncation_lengths(len_a, len_b, n_special, truncation, max_length)
    parts_a = _keep_all(parts_a, None if keep_a is len_a else keep_a, truncation_side)
    if parts_b is not None:
        parts_b = _keep_all(parts_b, None if keep_b is len_b else keep_b, truncation_side)
    return parts_a, parts_b


def _assemble(parts_a, parts_b, batch, add_special_tokens, i, special_value, type_a, type_b):
    """One field as a RaggedTensor [batch, (columns)] int64: `parts_a[i]` (or `type_a` on each of its tokens,
    when not None), then `parts_b`'s likewise, with `special_value` (at [CLS], [SEP], [SEP]) around them when
    `add_special_tokens`."""

    def column(value):
        return tf.RaggedTensor.from_tensor(tf.fill(tf.stack([batch, 1]), tf.cast(value, tf.int64)))

    a = tf.cast(parts_a[i], tf.int64) if type_a is None else tf.ones_like(parts_a[0], tf.int64) * type_a
    b = None
    if parts_b is not None:
        b = tf.cast(parts_b[i], tf.int64) if type_b is None else tf.ones_like(parts_b[0], tf.int64) * type_b
    sv = special_value
    if add_special_tokens:
        pieces = [column(sv[0]), a, column(sv[1])]
        if b is not None:
            pieces += [b, column(sv[2])]
    else:
        pieces = [a] + ([b] if b is not None else [])
    return tf.concat(pieces, axis=1)


def _padded_length(ids, padding, max_length, truncation, static_length, pad_to_multiple_of):
    """The number of columns: the longest row of `ids` (RaggedTensor [batch, (columns)]), or `max_length` with
    padding="max_length" (with `static_length` and truncation on, exactly that; otherwise at least the longest
    row), rounded up to `pad_to_multiple_of`. A Python int or an int64 scalar tensor."""
    longest = tf.reduce_max(tf.concat([ids.row_lengths(), [0]], 0))
    if padding == enc.MAX_LENGTH and _given(max_length):
        dynamic = truncation == enc.DO_NOT_TRUNCATE or not static_length
        length = tf.maximum(tf.cast(max_length, tf.int64), longest) if dynamic else max_length
    else:
        length = longest
    if _given(pad_to_multiple_of):
        m = tf.cast(pad_to_multiple_of, tf.int64) if isinstance(pad_to_multiple_of, tf.Tensor) else pad_to_multiple_of
        length = (length + m - 1) // m * m
    return length
