"""Sentence pooling: token embeddings -> one vector per sentence, as sentence-transformers' `Pooling` module.

Modes (sentence-transformers' names): "cls" (the first real token), "max" (per feature, over real tokens),
"mean", "mean_sqrt_len_tokens" (the sum over real tokens divided by the square root of their number),
"weightedmean" (position i weighted by i + 1), "lasttoken" (the last real token). Several modes give their
vectors concatenated in the order asked, as sentence-transformers concatenates them.

Shapes: token_embeddings [batch, length, hidden], attention_mask [batch, length] (1 real, 0 padding) ->
[batch, len(modes) * hidden] float32. Padding on either side works for every mode.

Example:
    >>> hidden = tf.random.normal([2, 9, 384])                  # [batch, length, hidden]
    >>> mask = tf.sequence_mask([9, 5], 9, dtype=tf.int32)       # the second row: 5 real tokens, then padding
    >>> pool_tokens(hidden, mask, ("cls", "mean")).shape
    TensorShape([2, 768])
"""

import tensorflow as tf

POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")


def check_modes(modes):
    """`modes` as a non-empty tuple of known mode names (a single name is allowed); ValueError otherwise."""
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    unknown = [m for m in modes if m not in POOLING_MODES]
    if not modes or unknown:
        raise ValueError(f"unknown sentence pooling mode(s) {unknown or modes!r}; known: {POOLING_MODES}")
    return modes


def _first_real(mask):
    return tf.argmax(mask, axis=1, output_type=tf.int32)


def _last_real(mask):
    length = tf.shape(mask)[1]
    return length - 1 - tf.argmax(tf.reverse(mask, axis=[1]), axis=1, output_type=tf.int32)


def pool_tokens(token_embeddings, attention_mask, modes=("mean",)):
    """One vector per row of `token_embeddings` for each mode, concatenated (see the module docstring).

    Args:
        token_embeddings: float [batch, length, hidden] (any float type; pooled in float32).
        attention_mask: int or float [batch, length], 1 at real tokens.
        modes: a mode name or a sequence of them, from `POOLING_MODES`.

    Returns:
        float32 [batch, len(modes) * hidden].
    """
    modes = check_modes(modes)
    hidden = tf.cast(token_embeddings, tf.float32)
    mask_int = tf.cast(attention_mask, tf.int32)
    mask = tf.cast(mask_int, tf.float32)[..., None]
    summed = tf.reduce_sum(hidden * mask, axis=1)
    count = tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
    out = []
    for mode in modes:
        if mode == "cls":
            out.append(tf.gather(hidden, _first_real(mask_int), axis=1, batch_dims=1))
        elif mode == "max":
            out.append(tf.reduce_max(tf.where(mask > 0, hidden, float("-inf")), axis=1))
        elif mode == "mean":
            out.append(summed / count)
        elif mode == "mean_sqrt_len_tokens":
            out.append(summed / tf.sqrt(count))
        elif mode == "weightedmean":
            positions = tf.cast(tf.range(1, tf.shape(hidden)[1] + 1), tf.float32)[None, :, None]
            weights = mask * positions
            out.append(tf.reduce_sum(hidden * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1e-9))
        else:  # lasttoken
            out.append(tf.gather(hidden * mask, _last_real(mask_int), axis=1, batch_dims=1))
    return out[0] if len(out) == 1 else tf.concat(out, axis=-1)
