"""Pieces every loader shares: examples as a `tf.data.Dataset`, the in-graph tokenizer with given settings, and
encoding in chunks (a batch of raw examples -> ragged features, one row per example or window -> one element per
row).

Example:
    >>> from keras_bert_suite.tokenizers import BertTokenizer
    >>> _ = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"]).save_pretrained("model")
    >>> tok = graph_tokenizer("model", max_length=128)          # a model or tokenizer folder
    >>> type(tok).__name__
    'TFBertTokenizer'
    >>> ds = encode_in_chunks(as_dataset({"text": ["a", "b c"]}), lambda ex: {"n": tf.strings.length(ex["text"])})
    >>> [int(ex["n"]) for ex in ds]
    [1, 3]
"""

import weakref

import tensorflow as tf

from keras_bert_suite.data.bucketing import dense_rows
from keras_bert_suite.tokenizers import TFBertTokenizer

#: keys the models accept as inputs or labels; `model_inputs` keeps only these.
MODEL_KEYS = ("input_ids", "attention_mask", "token_type_ids", "labels", "start_positions", "end_positions")


def graph_tokenizer(tokenizer, **settings):
    """A `TFBertTokenizer` from a `TFBertTokenizer`, a `BertTokenizer`(Fast) or a folder, with `settings`
    (padding, max_length, truncation, ...) replacing the tokenizer's own."""
    base = TFBertTokenizer.coerce(tokenizer)
    if not settings:
        return base
    return cached(base, ("variant",) + tuple(sorted(settings.items())), lambda: base.with_settings(**settings))


_CACHE = weakref.WeakKeyDictionary()


def cached(owner, key, build):
    """`build()` once per (owner, key): tokenizer variants and traced tokenizer functions are reused by every
    dataset built later (tracing the tokenizer's graph takes seconds)."""
    per_owner = _CACHE.setdefault(owner, {})
    if key not in per_owner:
        per_owner[key] = build()
    return per_owner[key]


def encoder(tok, pair=False):
    """`tok(texts[, texts_b])` as a `tf.function` over tf.string [batch], traced once per tokenizer."""
    spec = tf.TensorSpec([None], tf.string)
    if pair:
        return cached(tok, ("call", 2), lambda: tf.function(lambda a, b: tok(a, b), input_signature=[spec, spec]))
    return cached(tok, ("call", 1), lambda: tf.function(lambda a: tok(a), input_signature=[spec]))


def word_pieces(tok):
    """texts [n] -> ragged word-piece ids [n, None] (no special tokens), through the tokenizer's shared,
    once-traced graph."""
    return lambda words: tok.word_pieces(words, with_offsets=False)[0]


def as_dataset(examples):
    """A `tf.data.Dataset` of dicts from a dataset (returned as is) or a dict of equal-length lists (lists of
    lists become ragged, so each element holds a 1-D tensor)."""
    if isinstance(examples, tf.data.Dataset):
        return examples
    columns = {}
    for key, values in examples.items():
        values = list(values)
        if values and isinstance(values[0], (list, tuple)):
            columns[key] = tf.ragged.constant(values) if any(len(v) != len(values[0]) for v in values) \
                else tf.constant(values)
        else:
            columns[key] = tf.constant(values)
    return tf.data.Dataset.from_tensor_slices(columns)


def trim(dense, lengths):
    """Right-padded [batch, length] -> ragged [batch, None] with the given row lengths."""
    return tf.RaggedTensor.from_tensor(dense, lengths=tf.cast(lengths, tf.int64))


def encode_in_chunks(ds, encode, chunk_size=256, pad_values=None):
    """Apply `encode` to batches of `chunk_size` raw examples; its dict of features (dense or ragged, first axis
    = output rows) is split back into one element per row, ragged rows padded to dense."""
    ds = ds.ragged_batch(chunk_size).map(encode, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    return dense_rows(ds, pad_values)


def model_inputs(ds):
    """Keep only the keys a model takes (inputs and labels) in every element."""
    return ds.map(lambda x: {k: v for k, v in x.items() if k in MODEL_KEYS})


def label_ids(values, label_names):
    """Map label strings (or ints) to ids with the list `label_names`; ints pass through."""
    index = {str(name): i for i, name in enumerate(label_names)}
    out = []
    for v in values:
        if isinstance(v, str) and v.strip().lstrip("-").isdigit() and v not in index:
            v = int(v)
        if isinstance(v, (int,)) and not isinstance(v, bool):
            out.append(int(v))
            continue
        if str(v) not in index:
            raise ValueError(f"label {v!r} is not one of {list(label_names)}")
        out.append(index[str(v)])
    return out
