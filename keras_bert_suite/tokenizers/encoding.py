"""Model inputs from token ids: truncation, special tokens, padding, and the `BatchEncoding` result.

Shared by `BertTokenizer` and `BertTokenizerFast`: both turn texts into token ids (and character offsets), then
this module applies the reference (transformers' Python tokenizer) rules: padding strategies (`longest`,
`max_length`, `pad_to_multiple_of`, left/right), truncation strategies (`longest_first`, `only_first`,
`only_second`, `stride` with `return_overflowing_tokens`), `[CLS] a [SEP] b [SEP]` packing, token type ids,
special-tokens masks, offsets ((0, 0) for special and padding tokens), tensors ("np", "tf", "jax").

Shapes: lists of ints per example; with `return_tensors`, arrays [batch, length] (offsets [batch, length, 2]).

Example:
    >>> enc = BatchEncoding({"input_ids": [[101, 102]]}, tensor_type="np")
    >>> enc.input_ids.shape
    (1, 2)
"""

import logging

import numpy as np

from keras_bert_suite.tokenizers.vocab import VERY_LARGE_INTEGER

logger = logging.getLogger(__name__)

LONGEST_FIRST = "longest_first"
ONLY_FIRST = "only_first"
ONLY_SECOND = "only_second"
DO_NOT_TRUNCATE = "do_not_truncate"
LONGEST = "longest"
MAX_LENGTH = "max_length"
DO_NOT_PAD = "do_not_pad"

_LARGE_INTEGER = int(1e20)

#: the values of `return_tensors` besides None (lists).
TENSOR_TYPES = ("np", "tf", "jax")


class BatchEncoding(dict):
    """A dict of model inputs with attribute access (`enc.input_ids`) and optional tensor conversion."""

    def __init__(self, data=None, tensor_type=None, prepend_batch_axis=False):
        super().__init__(data or {})
        if tensor_type is not None:
            self.convert_to_tensors(tensor_type, prepend_batch_axis)

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def convert_to_tensors(self, tensor_type, prepend_batch_axis=False):
        """Turn every value into a numpy array ("np"), a `tf.Tensor` ("tf") or a JAX array ("jax": int32 unless
        JAX runs with x64 enabled) in place."""
        if tensor_type not in TENSOR_TYPES:
            raise ValueError(f"return_tensors must be one of {TENSOR_TYPES}, got {tensor_type!r}")
        for key, value in list(self.items()):
            if prepend_batch_axis:
                value = [value]
            try:
                array = np.asarray(value)
                if array.dtype == object:
                    raise ValueError("ragged")
            except ValueError:
                raise ValueError(
                    f"Unable to create a tensor for {key!r}: the examples have different lengths; "
                    "use padding=True or padding='max_length' (with truncation=True) to get equal lengths."
                ) from None
            if array.dtype.kind in "iu":
                array = array.astype(np.int64)
            if tensor_type == "tf":
                import tensorflow as tf

                array = tf.constant(array)
            elif tensor_type == "jax":
                import jax.numpy as jnp

                array = jnp.asarray(array)
            self[key] = array
        return self


def resolve_strategies(padding, truncation, max_length, pad_to_multiple_of, model_max_length, pad_token_id):
    """(padding_strategy, truncation_strategy, max_length) as the reference resolves them."""
    if max_length is not None and padding is False and truncation is None:
        truncation = LONGEST_FIRST
    if padding is True:
        padding_strategy = LONGEST
    elif padding is False or padding is None:
        padding_strategy = DO_NOT_PAD
    elif padding in (LONGEST, MAX_LENGTH, DO_NOT_PAD):
        padding_strategy = padding
    else:
        raise ValueError(f"padding must be True/False or one of 'longest', 'max_length', 'do_not_pad'; got {padding!r}")
    if truncation is True:
        truncation_strategy = LONGEST_FIRST
    elif truncation is False or truncation is None:
        truncation_strategy = DO_NOT_TRUNCATE
    elif truncation in (LONGEST_FIRST, ONLY_FIRST, ONLY_SECOND, DO_NOT_TRUNCATE):
        truncation_strategy = truncation
    else:
        raise ValueError(
            "truncation must be True/False or one of 'longest_first', 'only_first', 'only_second', "
            f"'do_not_truncate'; got {truncation!r}"
        )
    if max_length is None:
        if padding_strategy == MAX_LENGTH:
            if model_max_length > _LARGE_INTEGER:
                padding_strategy = DO_NOT_PAD
            else:
                max_length = model_max_length
        if truncation_strategy != DO_NOT_TRUNCATE:
            if model_max_length > _LARGE_INTEGER:
                truncation_strategy = DO_NOT_TRUNCATE
            else:
                max_length = model_max_length
    if padding_strategy != DO_NOT_PAD and (pad_token_id is None or pad_token_id < 0):
        raise ValueError("Padding needs a pad token; this tokenizer has none.")
    if (
        truncation_strategy != DO_NOT_TRUNCATE
        and padding_strategy != DO_NOT_PAD
        and pad_to_multiple_of is not None
        and max_length is not None
        and max_length % pad_to_multiple_of != 0
    ):
        raise ValueError(
            f"Truncation and padding are both activated but max_length ({max_length}) is not a multiple of "
            f"pad_to_multiple_of ({pad_to_multiple_of})."
        )
    return padding_strategy, truncation_strategy, max_length


def text_rows(text, text_pair):
    """The rows of a tokenizer call: `text` a string or a list of them, `text_pair` None or the same kind and
    length -> (batched, texts, pairs): whether a list was given, the texts as a list, the pairs as a list or
    None. Raises ValueError on a missing text or a pair of another kind or length, as transformers does.

    Example:
        >>> text_rows(["a", "b"], ["c", "d"])
        (True, ['a', 'b'], ['c', 'd'])
        >>> text_rows("a", None)
        (False, ['a'], None)
    """
    if text is None:
        raise ValueError("text is required")
    batched = isinstance(text, (list, tuple))
    if batched and text_pair is not None and not isinstance(text_pair, (list, tuple)):
        raise ValueError("text_pair must be a list when text is a list")
    if not batched and isinstance(text_pair, (list, tuple)):
        raise ValueError("text_pair must be a string when text is a string")
    texts = list(text) if batched else [text]
    pairs = None
    if text_pair is not None:
        pairs = list(text_pair) if batched else [text_pair]
        if len(pairs) != len(texts):
            raise ValueError(f"text has {len(texts)} items but text_pair has {len(pairs)}")
    return batched, texts, pairs


def _cut(seq, n, side):
    """Remove `n` items from the end (side='right') or the start (side='left') of `seq`."""
    if n <= 0 or seq is None:
        return seq
    return seq[:-n] if side == "right" else seq[n:]


def truncate(a, b, num_remove, strategy, stride, side):
    """Truncate parallel sequences: `a`/`b` are lists of (id, offset) items, `b` may be None.

    Returns (a, b, overflowing items) following the reference's `truncate_sequences`.
    """
    if num_remove <= 0:
        return a, b, []
    overflow = []
    if strategy == ONLY_FIRST or (strategy == LONGEST_FIRST and b is None):
        if len(a) > num_remove:
            window = min(len(a), stride + num_remove)
            overflow = a[:window] if side == "left" else a[-window:]
            a = _cut(a, num_remove, side)
        else:
            logger.error(
                "We need to remove %d tokens to truncate the input but the first sequence has a length %d.",
                num_remove,
                len(a),
            )
    elif strategy == LONGEST_FIRST:
        len_b, len_a = len(b), len(a)
        first_remove = min(abs(len_b - len_a), num_remove)
        second_remove = num_remove - first_remove
        if len_a > len_b:
            a_remove = first_remove + second_remove // 2
            b_remove = second_remove - second_remove // 2
        else:
            a_remove = second_remove // 2
            b_remove = first_remove + second_remove - second_remove // 2
        a = _cut(a, a_remove, side)
        b = _cut(b, b_remove, side)
    elif strategy == ONLY_SECOND and b is not None:
        if len(b) > num_remove:
            window = min(len(b), stride + num_remove)
            overflow = b[:window] if side == "left" else b[-window:]
            b = _cut(b, num_remove, side)
        else:
            logger.error(
                "We need to remove %d tokens to truncate the input but the second sequence has a length %d.",
                num_remove,
                len(b),
            )
    return a, b, overflow


def prepare_one(
    ids,
    offsets,
    pair_ids,
    pair_offsets,
    *,
    cls_id,
    sep_id,
    add_special_tokens,
    truncation_strategy,
    max_length,
    stride,
    truncation_side,
    return_overflowing_tokens,
    return_special_tokens_mask,
    return_offsets_mapping,
    return_token_type_ids,
):
    """One example's model inputs (unpadded), as the reference's `prepare_for_model`."""
    pair = pair_ids is not None
    if return_overflowing_tokens and truncation_strategy == LONGEST_FIRST and pair:
        raise ValueError(
            "Not possible to return overflowing tokens for pair of sequences with the `longest_first`. "
            "Please select another truncation strategy than `longest_first`, for instance `only_second` or "
            "`only_first`."
        )
    a = list(zip(ids, offsets)) if offsets is not None else [(i, None) for i in ids]
    b = None
    if pair:
        b = list(zip(pair_ids, pair_offsets)) if pair_offsets is not None else [(i, None) for i in pair_ids]
    specials = (3 if pair else 2) if add_special_tokens else 0
    total = len(a) + (len(b) if pair else 0) + specials
    overflow = []
    if truncation_strategy != DO_NOT_TRUNCATE and max_length and total > max_length:
        a, b, overflow = truncate(a, b, total - max_length, truncation_strategy, stride, truncation_side)
    out = {}
    if return_overflowing_tokens:
        out["overflowing_tokens"] = [t[0] for t in overflow]
        out["num_truncated_tokens"] = total - max_length
    a_ids = [t[0] for t in a]
    b_ids = [t[0] for t in b] if pair else None
    seq = _with_specials(a_ids, b_ids, (cls_id, sep_id, sep_id), add_special_tokens)
    out["input_ids"] = seq
    if return_token_type_ids:
        ones_b = None if b_ids is None else [1] * len(b_ids)  # a pair's type ids come with its special tokens
        out["token_type_ids"] = (_with_specials([0] * len(a_ids), ones_b, (0, 0, 1), True) if add_special_tokens
                                 else [0] * len(seq))
    if return_special_tokens_mask:
        zeros_b = None if b_ids is None else [0] * len(b_ids)
        out["special_tokens_mask"] = _with_specials([0] * len(a_ids), zeros_b, (1, 1, 1), add_special_tokens)
    if return_offsets_mapping:
        b_off = [tuple(t[1]) for t in b] if pair else None
        out["offset_mapping"] = _with_specials([tuple(t[1]) for t in a], b_off, ((0, 0),) * 3, add_special_tokens)
    return out


def _with_specials(a, b, specials, add_special_tokens):
    """One row of a field: `a` (and `b`: None without a pair) with the field's values at [CLS], the first [SEP]
    and the second [SEP] (`specials`) around them when `add_special_tokens`: specials[0] a specials[1]
    b specials[2]; without, a then b."""
    if not add_special_tokens:
        return a + (b or [])
    return [specials[0]] + a + [specials[1]] + ((b + [specials[2]]) if b is not None else [])


def pad_one(encoded, padding_strategy, max_length, pad_to_multiple_of, padding_side, return_attention_mask, pad_id):
    """Pad one example in place, as the reference's `_pad`."""
    ids = encoded["input_ids"]
    if padding_strategy == LONGEST:
        max_length = len(ids)
    if max_length is not None and pad_to_multiple_of is not None and max_length % pad_to_multiple_of != 0:
        max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
    if return_attention_mask and "attention_mask" not in encoded:
        encoded["attention_mask"] = [1] * len(ids)
    if padding_strategy == DO_NOT_PAD or len(ids) == max_length or max_length is None:
        return encoded
    diff = max_length - len(ids)
    if diff <= 0:
        return encoded
    fills = {
        "input_ids": pad_id,
        "attention_mask": 0,
        "token_type_ids": 0,
        "special_tokens_mask": 1,
        "offset_mapping": (0, 0),
    }
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    for key, fill in fills.items():
        if key in encoded:
            pad = [fill] * diff
            encoded[key] = encoded[key] + pad if padding_side == "right" else pad + encoded[key]
    return encoded


def pad_batch(items, padding_strategy, max_length, pad_to_multiple_of, padding_side, return_attention_mask, pad_id):
    """Pad a list of examples (dicts) to a common length, as the reference's batch `pad`."""
    if padding_strategy == LONGEST:
        max_length = max((len(it["input_ids"]) for it in items), default=0)
        padding_strategy = MAX_LENGTH
    for it in items:
        pad_one(it, padding_strategy, max_length, pad_to_multiple_of, padding_side, return_attention_mask, pad_id)
    return items


def split_examples(encoded_inputs):
    """`(items, batched)` from what `pad` takes: one example (a dict of id lists), a batch as a dict of lists of
    lists (or arrays / tensors [batch, length]), or a list of per-example dicts. Items are new dicts of lists.

    Example:
        >>> split_examples({"input_ids": [[1, 2], [3]]})
        ([{'input_ids': [1, 2]}, {'input_ids': [3]}], True)
    """
    def as_list(value):
        value = value.numpy() if hasattr(value, "numpy") else value
        return value.tolist() if isinstance(value, np.ndarray) else list(value)

    if isinstance(encoded_inputs, (list, tuple)):
        if not all(isinstance(item, dict) for item in encoded_inputs):
            raise TypeError("pad takes a dict of lists or a list of dicts, got a list of "
                            f"{sorted({type(item).__name__ for item in encoded_inputs})}")
        return [{key: as_list(value) for key, value in item.items()} for item in encoded_inputs], True
    data = {key: as_list(value) for key, value in dict(encoded_inputs).items()}
    if "input_ids" not in data:
        raise ValueError(f"pad needs 'input_ids' among the inputs; got {sorted(data)}")
    ids = data["input_ids"]
    if not ids or not isinstance(ids[0], (list, tuple)):
        return [data], False
    return [{key: list(value[i]) for key, value in data.items()} for i in range(len(ids))], True


def collate(items) -> dict:
    """List of per-example dicts -> dict of lists."""
    if not items:
        return {}
    return {key: [it[key] for it in items] for key in items[0]}


__all__ = ["BatchEncoding", "VERY_LARGE_INTEGER", "resolve_strategies", "prepare_one", "pad_one", "pad_batch"]
