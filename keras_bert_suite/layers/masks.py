"""Additive attention masks: 0 where a position is attended, float32's lowest value where it is not.

`padding_mask` [batch, k_len] (1 = token, 0 = padding) -> [batch, 1, 1, k_len];
a 3-D mask [batch, q_len, k_len] -> [batch, 1, q_len, k_len]; `causal_mask` adds the decoder's
no-looking-ahead rule, with `past_length` cached positions visible to every query.
"""

from keras import ops

MASK_VALUE = -3.4028234663852886e38  # float32's lowest value, as the reference uses


def to_additive(mask):
    return (1.0 - ops.cast(mask, "float32")) * MASK_VALUE


def expand_mask(attention_mask, q_len=None, causal=False, past_length=0):
    """Turn a 2-D or 3-D 0/1 mask into the additive [batch, 1, q or 1, k] mask (causal for decoders)."""
    rank = len(attention_mask.shape)
    if rank == 3:
        return to_additive(ops.expand_dims(attention_mask, 1))
    if rank != 2:
        raise ValueError(f"attention_mask must have rank 2 or 3, got shape {tuple(attention_mask.shape)}")
    # expand_dims rather than [:, None, None, :]: LiteRT has no builtin for slices that add two axes.
    mask = ops.expand_dims(ops.expand_dims(ops.cast(attention_mask, "float32"), 1), 1)
    if causal:
        k_len = ops.shape(attention_mask)[1]
        q_pos = ops.arange(q_len, dtype="int32")[:, None] + (k_len - q_len)
        k_pos = ops.arange(k_len, dtype="int32")[None, :]
        mask = mask * ops.cast(k_pos <= q_pos, "float32")[None, None, :, :]
    return to_additive(mask)
