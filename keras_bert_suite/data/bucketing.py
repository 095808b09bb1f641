"""Batching of tokenized examples: padding to the longest in the batch, to a fixed length, or to the length of
a bucket (a small set of static shapes, so XLA and TPUs compile once per bucket instead of once per batch).

The encoders of this package yield one dict per example (or per QA window): 1-D int tensors along the tokens
(`input_ids`, `labels` for NER, ... shape [length]; multiple choice: [choices, length]) and scalars (`labels`
for classification, `start_positions`, ...). `batch_examples` pads the last axis of every tensor that has one.

Example:
    >>> def encoded():          # one dict per example, as the encoders yield them
    ...     for n in (5, 42, 7, 102):
    ...         yield {"input_ids": [101] + [7] * (n - 2) + [102], "labels": n % 2}
    >>> spec = {"input_ids": tf.TensorSpec([None], tf.int32), "labels": tf.TensorSpec([], tf.int32)}
    >>> examples = tf.data.Dataset.from_generator(encoded, output_signature=spec)
    >>> ds = batch_examples(examples, batch_size=32, max_length=128, bucket_boundaries=[32, 64])
    >>> sorted(batch["input_ids"].shape.as_list() for batch in ds)    # [<=32, 32], [<=32, 64] or [<=32, 128]
    [[1, 64], [1, 128], [2, 32]]
"""

import tensorflow as tf

from keras_bert_suite.losses import IGNORE_INDEX

#: pad value of each key; any other key pads with 0.
PAD_VALUES = {"labels": IGNORE_INDEX, "word_ids": -1, "char_start": -1, "char_end": -1}


def dense_rows(ds, pad_values=None):
    """After `unbatch()` of ragged features: every element dense (a ragged [choices, None] pads its rows)."""
    pads = {**PAD_VALUES, **(pad_values or {})}

    def fix(example):
        out = {}
        for key, value in example.items():
            if isinstance(value, tf.RaggedTensor):
                value = value.to_tensor(tf.cast(pads.get(key, 0), value.dtype))
            out[key] = value
        return out

    return ds.map(fix, num_parallel_calls=tf.data.AUTOTUNE)


def _padded_shapes(spec, length):
    """Shapes for padded_batch: the last axis of rank >= 1 tensors becomes `length` (None: the longest in the
    batch; a tensor: a bucket's length), other axes pad to the longest."""
    shapes = {}
    for key, s in spec.items():
        dims = s.shape.as_list()
        if isinstance(length, tf.Tensor):
            lead = tf.constant([-1 if d is None else d for d in dims[:-1]], tf.int64)
            shapes[key] = tf.concat([lead, tf.reshape(length, [1])], 0) if dims else tf.zeros([0], tf.int64)
        else:
            shapes[key] = tf.TensorShape(dims[:-1] + [length] if dims else [])
    return shapes


def _padding_values(spec, pad_values):
    pads = {**PAD_VALUES, **(pad_values or {})}
    return {key: tf.constant(pads.get(key, 0), s.dtype) for key, s in spec.items()}


def sequence_length(example, key="input_ids"):
    """The token length of an example (last axis of `example[key]`)."""
    return tf.shape(example[key], out_type=tf.int32)[-1]


def bucket_lengths(max_length, bucket_boundaries):
    """Sorted bucket lengths: the boundaries below `max_length`, then `max_length` itself."""
    lengths = sorted({int(b) for b in bucket_boundaries if 0 < int(b) < max_length})
    return lengths + [int(max_length)]


def batch_examples(ds, batch_size, *, max_length=None, bucket_boundaries=None, pad_to_max_length=False,
                   drop_remainder=False, pad_values=None, length_key="input_ids"):
    """Pad and batch a dataset of per-example dicts.

    Args:
        ds: elements are dicts of tensors (see the module docstring).
        batch_size: examples per batch.
        max_length: the longest sequence (needed by `pad_to_max_length` and `bucket_boundaries`).
        bucket_boundaries: e.g. [32, 64]: an example of length n goes to the first bucket whose length is >= n
            (lengths [32, 64, max_length]) and is padded to exactly that length; each batch holds one bucket.
        pad_to_max_length: every batch padded to `max_length` (one static shape).
        drop_remainder: drop incomplete batches (the batch axis becomes static).
        pad_values: {key: value} on top of `PAD_VALUES` (labels -100, others 0).
    Returns:
        a dataset of dicts of batched tensors: token axes [batch, length], scalars [batch].
    """
    spec = ds.element_spec
    padding_values = _padding_values(spec, pad_values)
    if bucket_boundaries:
        if not max_length:
            raise ValueError("bucket_boundaries needs max_length")
        lengths = bucket_lengths(max_length, bucket_boundaries)
        table = tf.constant(lengths, tf.int32)

        def key_fn(example):
            n = sequence_length(example, length_key)
            return tf.cast(tf.reduce_sum(tf.cast(table < n, tf.int32)), tf.int64)

        def reduce_fn(key, window):
            length = tf.cast(tf.gather(table, tf.minimum(key, len(lengths) - 1)), tf.int64)
            return window.padded_batch(batch_size, padded_shapes=_padded_shapes(spec, length),
                                       padding_values=padding_values, drop_remainder=drop_remainder)

        return ds.group_by_window(key_fn, reduce_fn, window_size=batch_size)
    length = int(max_length) if pad_to_max_length and max_length else None
    if pad_to_max_length and not max_length:
        raise ValueError("pad_to_max_length needs max_length")
    return ds.padded_batch(batch_size, padded_shapes=_padded_shapes(spec, length), padding_values=padding_values,
                           drop_remainder=drop_remainder)


def finish(ds, *, batch_size, max_length=None, shuffle_buffer=0, seed=None, repeat=False, bucket_boundaries=None,
           pad_to_max_length=False, drop_remainder=False, pad_values=None, prefetch=True):
    """The common tail of every loader: shuffle (examples), repeat, pad/bucket and batch, prefetch."""
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = batch_examples(ds, batch_size, max_length=max_length, bucket_boundaries=bucket_boundaries,
                        pad_to_max_length=pad_to_max_length, drop_remainder=drop_remainder, pad_values=pad_values)
    return ds.prefetch(tf.data.AUTOTUNE) if prefetch else ds
