"""Token classification (CoNLL-2003-style NER): words and word tags -> word pieces with aligned labels.

Each word is tokenized on its own (in the graph) and keeps its index: `word_ids` [length] gives the word of
every piece (-1 on [CLS], [SEP] and padding). The label of a word goes to its first piece; the other pieces get
-100 (ignored by the loss), or with `label_all_tokens=True` the word's label too (a B- tag becomes the matching
I- tag on the following pieces). Words that tokenize to nothing (e.g. only control characters) are dropped;
sentences longer than `max_length - 2` pieces are cut.

Elements: input_ids, attention_mask, token_type_ids, labels [batch, length] int32 (plus word_ids with
`return_word_ids=True`; drop it with `pipeline.model_inputs` before `fit`).

Example:
    >>> from keras_bert_suite.tokenizers import BertTokenizer
    >>> tokenizer = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "eu", "rejects", "german"])
    >>> with open("train.txt", "w") as f:        # CoNLL-2003 columns: word, POS, chunk, NER tag
    ...     _ = f.write("EU NNP B-NP B-ORG\\nrejects VBZ B-VP O\\nGerman JJ B-NP B-MISC\\n")
    >>> ds = load_conll_file("train.txt", tokenizer, batch_size=32)
    >>> next(iter(ds))["labels"].numpy().tolist()      # [CLS] eu rejects german [SEP]
    [[-100, 3, 0, 7, -100]]
    >>> model = BertForTokenClassification.from_pretrained(folder, num_labels=len(CONLL2003_LABELS))  # doctest: +SKIP
"""

import numpy as np
import tensorflow as tf

from keras_bert_suite.data import bucketing
from keras_bert_suite.data.files import read_conll
from keras_bert_suite.data.pipeline import as_dataset, encode_in_chunks, graph_tokenizer, label_ids, word_pieces
from keras_bert_suite.losses import IGNORE_INDEX

#: CoNLL-2003 NER tags in the order of tensorflow-datasets' `conll2003` (and Hugging Face's).
CONLL2003_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")


def begin_to_inside(label_names):
    """int array [labels]: the id of I-X for B-X (when the label list has it), the id itself otherwise."""
    names = list(label_names)
    return np.array([names.index("I-" + n[2:]) if n.startswith("B-") and "I-" + n[2:] in names else i
                     for i, n in enumerate(names)], "int32")


def align_labels(word_pieces, word_tags, *, cls_id, sep_id, max_length, label_all_tokens=False, inside=None):
    """Word pieces of each word + word tags -> ragged model features, one row per sentence.

    Args:
        word_pieces: ragged int [sentences, words, pieces]. word_tags: ragged int [sentences, words].
        inside: int [labels] (see `begin_to_inside`), used with `label_all_tokens`.
    Returns:
        dict of ragged [sentences, None] int32: input_ids, labels, word_ids, attention_mask, token_type_ids.
    """
    word_pieces = tf.cast(word_pieces, tf.int32)
    n_words = word_pieces.row_lengths()
    pieces_per_word = word_pieces.values.row_lengths()  # [total words]
    word_index = tf.ragged.range(tf.cast(n_words, tf.int32)).flat_values  # index of each word in its sentence
    piece_word = tf.repeat(word_index, pieces_per_word)
    first = tf.ragged.range(tf.cast(pieces_per_word, tf.int32)).flat_values == 0
    tag = tf.repeat(tf.cast(word_tags.flat_values, tf.int32), pieces_per_word)
    if label_all_tokens:
        later = tf.gather(tf.constant(inside), tag) if inside is not None else tag
        piece_label = tf.where(first, tag, later)
    else:
        piece_label = tf.where(first, tag, IGNORE_INDEX)
    flat = word_pieces.merge_dims(1, 2)  # [sentences, pieces]
    ids, labels, words = flat, flat.with_flat_values(piece_label), flat.with_flat_values(piece_word)
    keep = max_length - 2
    ids, labels, words = ids[:, :keep], labels[:, :keep], words[:, :keep]
    n = ids.nrows()
    edge = lambda value: tf.fill(tf.stack([n, 1]), value)  # noqa: E731
    ids = tf.concat([edge(cls_id), ids, edge(sep_id)], axis=1)
    labels = tf.concat([edge(IGNORE_INDEX), labels, edge(IGNORE_INDEX)], axis=1)
    words = tf.concat([edge(-1), words, edge(-1)], axis=1)
    return {"input_ids": ids, "labels": labels, "word_ids": words,
            "attention_mask": tf.ones_like(ids), "token_type_ids": tf.zeros_like(ids)}


def ner_dataset(examples, tokenizer, *, max_length=128, batch_size=32, label_names=CONLL2003_LABELS,
                label_all_tokens=False, return_word_ids=False, chunk_size=256, **batching):
    """Tokenize {"tokens": [words], "tags": [tag ids]} examples in the graph, align the labels, batch.

    Args:
        examples: a `tf.data.Dataset` of such dicts (tokens: tf.string [words], tags: int [words]) or a dict of
            lists. Tag lists longer or shorter than the word lists are cut to the shorter of the two.
        label_names: tag names in id order (for `label_all_tokens`' B- -> I- rule).
        **batching: `bucketing.finish` options.
    """
    tok = graph_tokenizer(tokenizer)
    inside = begin_to_inside(label_names)
    ds = as_dataset(examples)
    tokenize = word_pieces(tok)

    def encode(batch):
        words, tags = batch["tokens"], batch["tags"]
        if not isinstance(words, tf.RaggedTensor):
            words = tf.RaggedTensor.from_tensor(words)
        if not isinstance(tags, tf.RaggedTensor):
            tags = tf.RaggedTensor.from_tensor(tags)
        n = tf.minimum(words.row_lengths(), tags.row_lengths())
        words = tf.RaggedTensor.from_row_lengths(tf.gather(words.flat_values, _heads(words.row_splits, n)), n)
        tags = tf.RaggedTensor.from_row_lengths(tf.gather(tags.flat_values, _heads(tags.row_splits, n)), n)
        pieces = tokenize(words.flat_values)
        pieces = tf.RaggedTensor.from_row_lengths(pieces, n)
        out = align_labels(pieces, tags, cls_id=tok.cls_token_id, sep_id=tok.sep_token_id, max_length=max_length,
                           label_all_tokens=label_all_tokens, inside=inside)
        if not return_word_ids:
            out.pop("word_ids")
        return out

    ds = encode_in_chunks(ds, encode, chunk_size)
    return bucketing.finish(ds, batch_size=batch_size, max_length=max_length, **batching)


def _heads(row_splits, n):
    """Flat indices of the first n[i] values of each row."""
    return tf.ragged.range(row_splits[:-1], row_splits[:-1] + tf.cast(n, row_splits.dtype)).flat_values


def load_conll_file(path, tokenizer, *, label_names=CONLL2003_LABELS, token_column=0, tag_column=-1, limit=None,
                    **options):
    """A CoNLL column file -> batched NER dataset (see `ner_dataset`). Tags must be in `label_names`
    (use `files.conll_labels(read_conll(path)["tags"])` for another tag set)."""
    sentences = read_conll(path, token_column=token_column, tag_column=tag_column, limit=limit)
    examples = {"tokens": sentences["tokens"], "tags": [label_ids(t, label_names) for t in sentences["tags"]]}
    return ner_dataset(examples, tokenizer, label_names=label_names, **options)
