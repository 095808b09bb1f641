"""In-graph model inputs from ragged token ids: truncation, `[CLS] a [SEP] b [SEP]`, padding.

The same rules as encoding.py (the reference `prepare_for_model` + `pad`), vectorized over a batch.

Shapes: ids_a [batch, (tokens)] (+ ids_b) -> dense [batch, length] int32 tensors: input_ids, attention_mask,
token_type_ids (0 for padding), special_tokens_mask (1 for special and padding tokens), offset_mapping
[batch, length, 2] ((0, 0) for special and padding tokens).

Example:
    >>> out = pack(ids, None, starts=None, ends=None, starts_b=None, ends_b=None, cls_id=101, sep_id=102, pad_id=0)
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


def pack(
    ids_a,
    ids_b=None,
    *,
    starts=None,
    ends=None,
    starts_b=None,
    ends_b=None,
    cls_id,
    sep_id,
    pad_id,
    add_special_tokens=True,
    truncation=enc.LONGEST_FIRST,
    truncation_side="right",
    max_length=None,
    padding=enc.LONGEST,
    pad_to_multiple_of=None,
    padding_side="right",
    static_length=True,
):
    """Truncate, add special tokens, and pad a batch (see the module docstring). With `static_length` and
    truncation on, padding="max_length" gives exactly `max_length` columns (rows the strategy cannot shorten are
    cut); otherwise never fewer columns than the longest row."""
    n_special = (3 if ids_b is not None else 2) if add_special_tokens else 0
    len_a = ids_a.row_lengths()
    len_b = ids_b.row_lengths() if ids_b is not None else None
    keep_a, keep_b = truncation_lengths(len_a, len_b, n_special, truncation, max_length)
    with_offsets = starts is not None
    parts_a = [ids_a] + ([starts, ends] if with_offsets else [])
    parts_a = _keep_all(parts_a, None if keep_a is len_a else keep_a, truncation_side)
    parts_b = None
    if ids_b is not None:
        parts_b = [ids_b] + ([starts_b, ends_b] if with_offsets else [])
        parts_b = _keep_all(parts_b, None if keep_b is len_b else keep_b, truncation_side)
    batch = ids_a.nrows()

    def column(value):
        return tf.RaggedTensor.from_tensor(tf.fill(tf.stack([batch, 1]), tf.cast(value, tf.int64)))

    def assemble(i, special_value, type_a, type_b):
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

    ids = assemble(0, (cls_id, sep_id, sep_id), None, None)
    types = assemble(0, (0, 0, 1), 0, 1)
    special = assemble(0, (1, 1, 1), 0, 0)
    longest = tf.reduce_max(tf.concat([ids.row_lengths(), [0]], 0))
    if padding == enc.MAX_LENGTH and _given(max_length):
        dynamic = truncation == enc.DO_NOT_TRUNCATE or not static_length
        length = tf.maximum(tf.cast(max_length, tf.int64), longest) if dynamic else max_length
    else:
        length = longest
    if _given(pad_to_multiple_of):
        m = tf.cast(pad_to_multiple_of, tf.int64) if isinstance(pad_to_multiple_of, tf.Tensor) else pad_to_multiple_of
        length = (length + m - 1) // m * m
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
