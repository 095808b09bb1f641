"""`BertTokenizerFast`: the `BertTokenizer` API, batched on tensorflow-text (run eagerly, one graph per batch).

Same inputs, settings and outputs as python.BertTokenizer (ids of transformers' Python `BertTokenizer`, offsets
into the input characters); texts of a call are tokenized together by graph.GraphTokenizer, then truncation
and padding follow the reference rules (encoding.py).

Edge cases: lone surrogates in Python strings are deleted (as the reference deletes category Cs); bytes that are
not valid UTF-8 raise `ValueError`; empty strings give `[CLS] [SEP]`. `tokenize()` returns the vocabulary's
tokens, so a `never_split` word missing from the vocabulary shows as the unknown token (the reference returns
the word itself; both encode to the unknown id).

Example:
    >>> tok = BertTokenizerFast(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "hi"])  # or BertTokenizerFast.from_pretrained(folder or Hub id)
    >>> tok(["Hello world!", "Hi"], padding=True).input_ids
    [[2, 5, 6, 7, 3], [2, 8, 3, 0, 0]]
"""

import re

import numpy as np
import tensorflow as tf

from keras_bert_suite.tokenizers import encoding as enc
from keras_bert_suite.tokenizers import vocab as vocab_io
from keras_bert_suite.tokenizers.graph import shared_graph_tokenizer
from keras_bert_suite.tokenizers.pack import pack
from keras_bert_suite.tokenizers.python import BertTokenizer

_SURROGATES = re.compile("[\ud800-\udfff]")


def _to_bytes(text) -> bytes:
    if isinstance(text, bytes):
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"Input is not valid UTF-8: {e}") from None
        return text
    if not isinstance(text, str):
        raise TypeError(f"Expected a string, got {type(text).__name__}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: the reference deletes them, as it deletes NUL; NUL keeps the character count.
        return _SURROGATES.sub("\x00", text).encode("utf-8")


def _as_lists(out, keys, unpadded, side, return_length):
    """The packed graph's outputs `out` (dict of [batch, length] tensors, with "length" [batch]) -> lists of rows
    for `keys`, each row cut back to its length when `unpadded` (padding off: from the `side` it was padded on);
    offset pairs as tuples; "length" added when `return_length` (the rows' lengths as returned)."""
    lengths = out["length"].numpy().tolist()
    data = {}
    for k in keys:
        rows = out[k].numpy().tolist()
        if unpadded:
            rows = [r[len(r) - n :] for r, n in zip(rows, lengths)] if side == "left" else [
                r[:n] for r, n in zip(rows, lengths)]
        data[k] = rows
    if "offset_mapping" in data:
        data["offset_mapping"] = [[tuple(p) for p in row] for row in data["offset_mapping"]]
    if return_length:
        data["length"] = lengths if unpadded else [len(r) for r in data["input_ids"]]
    return data


class BertTokenizerFast(BertTokenizer):
    """Batched BERT tokenizer on tensorflow-text with the transformers API (see the module docstring).

    Args: as `BertTokenizer` (vocab_file or vocab, normalization, special tokens, lengths and sides).

    Example:
        >>> tok = BertTokenizerFast(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "##s"])
        >>> tok(["Hello worlds!", "hello"], padding=True)["input_ids"]
        [[2, 5, 6, 8, 7, 3], [2, 5, 3, 0, 0, 0]]
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._graph = shared_graph_tokenizer(vocab_io.vocab_to_list(self.vocab), self._normalizer_config,
                                             self.unk_token)

    def _encode_texts(self, texts, with_offsets):
        if not texts:
            return []
        batch = tf.constant(np.array([_to_bytes(t) for t in texts], dtype=object))
        ids, starts, ends = self._graph.word_pieces(batch, with_offsets=with_offsets)
        splits = ids.row_splits.numpy().tolist()
        values = ids.flat_values.numpy().tolist()
        out = []
        if with_offsets:
            pairs = list(zip(starts.flat_values.numpy().tolist(), ends.flat_values.numpy().tolist()))
            for i in range(len(texts)):
                out.append((values[splits[i] : splits[i + 1]], pairs[splits[i] : splits[i + 1]]))
        else:
            for i in range(len(texts)):
                out.append((values[splits[i] : splits[i + 1]], None))
        return out

    def _packed_fn(self, key):
        """A tf.function: texts (and pairs) -> padded model inputs, for one combination of settings.

        `key` holds the settings that change the graph; `max_length` and `pad_to_multiple_of` are fed as
        tensors (key entries say only whether each is in force), so new lengths reuse the traced graph."""
        fns = self.__dict__.setdefault("_packed_fns", {})
        if key not in fns:
            has_pair, with_offsets, add_special, truncation, has_max_length, padding, has_multiple, side = key

            def run(texts, pairs, max_length, multiple):
                max_length = max_length if has_max_length else None
                multiple = multiple if has_multiple else None
                ids_a, st_a, en_a = self._graph.word_pieces(texts, with_offsets=with_offsets)
                ids_b = st_b = en_b = None
                if has_pair:
                    ids_b, st_b, en_b = self._graph.word_pieces(pairs, with_offsets=with_offsets)
                out = pack(
                    ids_a, ids_b, starts=st_a, ends=en_a, starts_b=st_b, ends_b=en_b,
                    cls_id=self.cls_token_id, sep_id=self.sep_token_id, pad_id=self.pad_token_id,
                    add_special_tokens=add_special, truncation=truncation, truncation_side=self.truncation_side,
                    max_length=max_length, padding=padding, pad_to_multiple_of=multiple, padding_side=side,
                    static_length=False,
                )
                out["length"] = tf.reduce_sum(out["attention_mask"], axis=1)
                return out

            spec, number = tf.TensorSpec([None], tf.string), tf.TensorSpec([], tf.int64)
            fns[key] = tf.function(run, input_signature=[spec, spec, number, number])
        return fns[key]

    def __call__(self, text=None, text_pair=None, add_special_tokens=True, padding=False, truncation=None,
                 max_length=None, stride=0, is_split_into_words=False, pad_to_multiple_of=None, padding_side=None,
                 return_tensors=None, return_token_type_ids=None, return_attention_mask=None,
                 return_overflowing_tokens=False, return_special_tokens_mask=False, return_offsets_mapping=False,
                 return_length=False, verbose=True, **kwargs):
        """Encode like BertTokenizer.__call__; the common cases run tokenization and packing in one graph."""
        args = dict(add_special_tokens=add_special_tokens, padding=padding, truncation=truncation,
                    max_length=max_length, stride=stride, is_split_into_words=is_split_into_words,
                    pad_to_multiple_of=pad_to_multiple_of, padding_side=padding_side, return_tensors=return_tensors,
                    return_token_type_ids=return_token_type_ids, return_attention_mask=return_attention_mask,
                    return_overflowing_tokens=return_overflowing_tokens,
                    return_special_tokens_mask=return_special_tokens_mask,
                    return_offsets_mapping=return_offsets_mapping, return_length=return_length, verbose=verbose)
        if return_overflowing_tokens or is_split_into_words:
            return super().__call__(text, text_pair, **args, **kwargs)
        batched, texts, pairs = enc.text_rows(text, text_pair)
        padding_strategy, truncation_strategy, max_length = enc.resolve_strategies(
            padding, truncation, max_length, pad_to_multiple_of, self.model_max_length, self.pad_token_id
        )
        side = padding_side or self.padding_side
        if side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
        pack_padding = enc.MAX_LENGTH if padding_strategy == enc.MAX_LENGTH else enc.LONGEST
        multiple = pad_to_multiple_of if padding_strategy != enc.DO_NOT_PAD else None
        if truncation_strategy == enc.DO_NOT_TRUNCATE and pack_padding != enc.MAX_LENGTH:
            max_length = None
        key = (pairs is not None, bool(return_offsets_mapping), bool(add_special_tokens), truncation_strategy,
               bool(max_length), pack_padding, bool(multiple), side)
        to_tensor = lambda items: tf.constant(np.array([_to_bytes(t) for t in items], dtype=object))  # noqa: E731
        a = to_tensor(texts)
        b = to_tensor(pairs) if pairs is not None else tf.constant([], tf.string)
        out = self._packed_fn(key)(a, b, tf.constant(max_length or 0, tf.int64), tf.constant(multiple or 0, tf.int64))
        keys = ["input_ids"] + [k for k, wanted in (
            ("token_type_ids", return_token_type_ids is None or return_token_type_ids),
            ("attention_mask", return_attention_mask is None or return_attention_mask),
            ("special_tokens_mask", return_special_tokens_mask),
            ("offset_mapping", return_offsets_mapping),
        ) if wanted]
        data = _as_lists(out, keys, padding_strategy == enc.DO_NOT_PAD, side, return_length)
        if not batched:
            data = {k: v[0] for k, v in data.items()}
        return enc.BatchEncoding(data, tensor_type=return_tensors, prepend_batch_axis=not batched)

    def tokenize(self, text, **kwargs):
        ids, _ = self._encode_texts([text], False)[0]
        return self.convert_ids_to_tokens(ids)
