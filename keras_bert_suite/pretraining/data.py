"""A `tf.data` pipeline from plain-text documents to BERT pretraining batches (MLM + NSP).

Input files are in the format of Google's BERT release: one sentence per line, a blank line between documents
(`one_document_per_line=True` reads one document per line instead, cut into sentences after . ! ?). Each file is a
shard: its documents are tokenized in the graph and turned into sentence pairs the way Google's
`create_pretraining_data.py` does it:

* sentences are gathered into a chunk until it reaches the target length (`max_length - 3`, or with
  probability `short_seq_prob` a random shorter one) or the document ends;
* A is the first 1..n-1 sentences of the chunk; B is the rest (label 0) or, with probability 0.5 (always for a
  one-sentence chunk), sentences from a random other document of the shard (label 1), in which case the unused
  sentences of the chunk go back to be read again;
* the pair is truncated to `max_length - 3` tokens by repeatedly removing a token from the longer side (B on a
  tie), from its front or back at random (`random_truncation=False`: always from the back), and packed as
  `[CLS] A [SEP] B [SEP]`, then padded to `max_length`.

Pairs are made afresh for every pass over the data (the seed folds in the epoch), shuffled within their shard,
batched with `drop_remainder=True` and masked in the graph (`masking.mask_tokens`, seeded by the batch number).
All random numbers come from stateless ops: the same seed gives the same batches, and `skip_batches=n` gives the
stream from batch n on (to resume a run).

Every element is a dict of int32 tensors of static shape: input_ids, attention_mask, token_type_ids, labels
[batch, max_length] and next_sentence_label [batch] (0: B follows A, 1: B is random).

Sentences are tokenized by `TFBertTokenizer` (the in-graph tokenizer with the reference's pieces), the only
tokenizer the pipeline takes.

Example:
    >>> from keras_bert_suite.tokenizers.vocab import save_vocab
    >>> _ = save_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "dog", "ran", "."],
    ...                "vocab.txt")
    >>> vocab = Vocabulary.from_file("vocab.txt")
    >>> ds = pretraining_dataset(["corpus.txt"], TFBertTokenizer(vocab.tokens), vocab, batch_size=32,
    ...                          max_length=128, max_predictions_per_seq=20, seed=0)  # doctest: +SKIP
    >>> model.fit(ds, steps_per_epoch=1000)        # BertForPreTraining compiled without a loss  # doctest: +SKIP
"""

import os

import numpy as np
import tensorflow as tf

from keras_bert_suite.pretraining.masking import continuation_table, mask_tokens, masked_positions
from keras_bert_suite.tokenizers.encoding import LONGEST_FIRST
from keras_bert_suite.tokenizers.layer import TFBertTokenizer
from keras_bert_suite.tokenizers.pack import truncation_lengths
from keras_bert_suite.tokenizers.vocab import DEFAULT_SPECIAL_TOKENS, read_tokens

SPECIAL_TOKENS = tuple(DEFAULT_SPECIAL_TOKENS.values())


class Vocabulary:
    """The token list of a WordPiece vocabulary and the ids the pipeline needs.

    Example:
        >>> from keras_bert_suite.tokenizers.vocab import save_vocab
        >>> _ = save_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat"], "vocab.txt")
        >>> vocab = Vocabulary.from_file("vocab.txt")
        >>> vocab.cls_id, vocab.sep_id, vocab.mask_id, vocab.pad_id
        (2, 3, 4, 0)
    """

    def __init__(self, tokens):
        self.tokens = list(tokens)
        index = {t: i for i, t in enumerate(self.tokens)}
        missing = [t for t in ("[CLS]", "[SEP]", "[MASK]") if t not in index]
        if missing:
            raise ValueError(f"the vocabulary lacks {missing}")
        self.cls_id, self.sep_id, self.mask_id = index["[CLS]"], index["[SEP]"], index["[MASK]"]
        self.pad_id = index.get("[PAD]", 0)
        self.special_ids = sorted({index[t] for t in SPECIAL_TOKENS if t in index} | {self.pad_id})
        self.continuation = continuation_table(self.tokens)

    @classmethod
    def from_file(cls, path):
        """The vocabulary of a vocab.txt file (read by `tokenizers.vocab.read_tokens`)."""
        return cls(read_tokens(os.fspath(path)))

    @property
    def size(self):
        return len(self.tokens)

    def __len__(self):
        return len(self.tokens)


def _tokens(vocab):
    if isinstance(vocab, Vocabulary):
        return vocab.tokens
    if isinstance(vocab, (list, tuple)):
        return list(vocab)
    return read_tokens(os.fspath(vocab))


def reduced_vocabulary(vocab, files, lower_case=True):
    """The tokens of `vocab` that the WordPiece tokenization of `files` uses, plus the special tokens, in their
    original order. Tokenizing `files` with the result gives the same pieces (greedy longest match never picked
    the tokens left out), so a small model on a small corpus needs no 30k-row embedding.

    Args:
        vocab: a vocab.txt path, a token list or a `Vocabulary`.
        files: a path or a list of paths (text in the pipeline's format).
        lower_case: `do_lower_case` of the `TFBertTokenizer` that tokenizes `files`.

    Example:
        >>> small = Vocabulary(reduced_vocabulary("vocab.txt", ["corpus.txt"]))  # doctest: +SKIP
    """
    tokens = _tokens(vocab)
    tokenize = as_tokenize_fn(TFBertTokenizer(tokens, do_lower_case=lower_case))
    used = set()
    for path in [files] if isinstance(files, (str, bytes)) else files:
        docs = split_documents(tf.io.read_file(path))
        used.update(np.unique(tokenize(docs.flat_values).flat_values.numpy()).tolist())
    keep = set(SPECIAL_TOKENS)
    return [t for i, t in enumerate(tokens) if i in used or t in keep]


def as_tokenize_fn(tokenizer):
    """A function mapping a tf.string [n] tensor to a RaggedTensor [n, None] of int32 word-piece ids.

    Args:
        tokenizer: a `TFBertTokenizer`, a `BertTokenizer`/`BertTokenizerFast` (ours or transformers': the graph
            tokenizer with its vocabulary and settings is used), or a tokenizer folder; see
            `TFBertTokenizer.coerce`. Pieces equal transformers' Python `BertTokenizer`'s.

    Example:
        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "dog", "ran", "."]
        >>> tokenize = as_tokenize_fn(TFBertTokenizer(vocab))
        >>> tokenize(tf.constant(["The cat sat."])).to_list()
        [[5, 6, 7, 10]]
    """
    if not (isinstance(tokenizer, (TFBertTokenizer, str, os.PathLike)) or hasattr(tokenizer, "get_vocab")
            or hasattr(tokenizer, "vocab")):
        raise TypeError(f"pretraining tokenizes with TFBertTokenizer (or a BertTokenizer or tokenizer folder to "
                        f"make one from), got {type(tokenizer).__name__}")
    layer = TFBertTokenizer.coerce(tokenizer)

    def tokenize(lines):
        ids, _, _ = layer.word_pieces(lines, with_offsets=False)
        return tf.cast(ids, tf.int32)

    return tokenize


def split_documents(text, one_document_per_line=False):
    """tf.string scalar (a file's content) -> RaggedTensor [documents, sentences] of stripped, non-empty lines."""
    text = tf.strings.regex_replace(text, "\r\n?", "\n")
    if one_document_per_line:
        docs = tf.strings.split(text, "\n")
        docs = tf.strings.regex_replace(docs, r"([.!?][\"')\]]*)\s+", "\\1\n")
    else:
        docs = tf.strings.split(tf.strings.regex_replace(text, r"\n(?:[ \t\f\v]*\n)+", "\x1e"), "\x1e")
    sentences = tf.strings.strip(tf.strings.split(docs, "\n"))
    sentences = tf.ragged.boolean_mask(sentences, tf.strings.length(sentences) > 0)
    return tf.ragged.boolean_mask(sentences, sentences.row_lengths() > 0)


def tokenize_documents(documents, tokenize):
    """RaggedTensor [documents, sentences] of strings -> (sentences [S, None] int32 ids, doc [S] int32).

    Sentences that give no tokens and documents left empty are dropped; document numbers are consecutive.
    """
    ids = tokenize(documents.flat_values)
    keep = ids.row_lengths() > 0
    ids = tf.ragged.boolean_mask(ids, keep)
    doc = tf.boolean_mask(tf.cast(documents.value_rowids(), tf.int32), keep)
    new_doc = tf.concat([[0], tf.cast(doc[1:] != doc[:-1], tf.int32)], 0)[: tf.size(doc)]
    return ids, tf.cumsum(new_doc)


def _chunk_pairs(lengths, doc, seed, max_num_tokens, short_seq_prob, nsp_prob):
    """Google's walk over the sentences: rows [N, 5] of (a_start, a_end, b_start, b_end, is_random) as
    sentence indexes (end exclusive)."""
    num_sentences = tf.size(lengths)
    cum_excl = tf.concat([[0], tf.cumsum(lengths)], 0)            # [S + 1]
    cum_incl = cum_excl[1:]
    num_docs = tf.reduce_max(doc) + 1
    sentence_index = tf.range(num_sentences)
    doc_start = tf.math.unsorted_segment_min(sentence_index, doc, num_docs)
    doc_end = tf.math.unsorted_segment_max(sentence_index, doc, num_docs) + 1

    def draw(event):
        return tf.random.stateless_uniform([6], tf.random.experimental.stateless_fold_in(seed, event))

    def new_target(u):
        short = 2 + tf.cast(tf.floor(u[5] * tf.cast(max_num_tokens - 1, tf.float32)), tf.int32)
        return tf.where(u[4] < short_seq_prob, tf.minimum(short, max_num_tokens), max_num_tokens)

    def body(step, i, chunk_start, chunk_len, target, event, rows):
        chunk_len = chunk_len + lengths[i]
        d = doc[i]
        close = (chunk_len >= target) | (i == doc_end[d] - 1)
        u = draw(event)
        n = i - chunk_start + 1
        a_count = tf.where(n >= 2, 1 + tf.cast(tf.floor(u[0] * tf.cast(n - 1, tf.float32)), tf.int32), 1)
        a_end = chunk_start + tf.minimum(a_count, tf.maximum(n - 1, 1))
        len_a = cum_excl[a_end] - cum_excl[chunk_start]
        is_random = (n == 1) | (u[1] < nsp_prob)
        # B from a random other document (the same one when the shard has one document).
        other = tf.cast(tf.floor(u[2] * tf.cast(tf.maximum(num_docs - 1, 1), tf.float32)), tf.int32)
        other = tf.where(num_docs > 1, tf.where(other >= d, other + 1, other), d)
        span = doc_end[other] - doc_start[other]
        b_start = doc_start[other] + tf.minimum(tf.cast(tf.floor(u[3] * tf.cast(span, tf.float32)), tf.int32),
                                                span - 1)
        want = cum_excl[b_start] + tf.maximum(target - len_a, 1)
        last = tf.searchsorted(cum_incl, tf.reshape(want, [1]), side="left")[0]
        last = tf.clip_by_value(last, b_start, doc_end[other] - 1)
        row = tf.stack([
            chunk_start, a_end,
            tf.where(is_random, b_start, a_end), tf.where(is_random, last + 1, i + 1),
            tf.cast(is_random, tf.int32), tf.cast(close, tf.int32),
        ])
        rows = rows.write(step, row)
        next_i = tf.where(close & is_random, a_end, i + 1)
        return (step + 1, next_i, tf.where(close, next_i, chunk_start), tf.where(close, 0, chunk_len),
                tf.where(close, new_target(u), target), event + tf.cast(close, tf.int32), rows)

    start_target = new_target(draw(-1))
    rows = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[6])
    out = tf.while_loop(
        lambda step, i, *_: i < num_sentences,
        body,
        (0, 0, 0, 0, start_target, 0, rows),
    )
    rows = out[-1].stack()
    rows = tf.reshape(rows, [-1, 6])
    return tf.boolean_mask(rows[:, :5], rows[:, 5] > 0)


def sentence_pairs(sentences, doc, seed, *, max_length, cls_id, sep_id, pad_id=0, short_seq_prob=0.1,
                   nsp_prob=0.5, random_truncation=True):
    """Packed NSP pairs from one shard.

    Args:
        sentences: RaggedTensor [S, None] int32 word-piece ids, sentences in document order.
        doc: int32 [S], the document of each sentence (0, 0, 1, 1, 1, 2, ...).
        seed: int [2] stateless seed.

    Returns:
        dict of input_ids, attention_mask, token_type_ids [N, max_length] and next_sentence_label [N], in shard
        order (not shuffled).
    """
    max_num_tokens = max_length - 3
    seed = tf.cast(seed, tf.int32)
    walk_seed, cut_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    lengths = tf.cast(sentences.row_lengths(), tf.int32)
    rows = _chunk_pairs(lengths, doc, walk_seed, max_num_tokens, short_seq_prob, nsp_prob)
    starts = tf.cast(sentences.row_starts(), tf.int32)
    starts = tf.concat([starts, [tf.size(sentences.flat_values)]], 0)
    a0, a1 = tf.gather(starts, rows[:, 0]), tf.gather(starts, rows[:, 1])
    b0, b1 = tf.gather(starts, rows[:, 2]), tf.gather(starts, rows[:, 3])
    # One token at a time from the longer side, B on a tie: the tokenizers' longest-first truncation.
    keep_a, keep_b = truncation_lengths(a1 - a0, b1 - b0, 0, LONGEST_FIRST, max_num_tokens)
    cut_a, cut_b = (a1 - a0) - keep_a, (b1 - b0) - keep_b
    if random_truncation:
        seeds = tf.random.experimental.stateless_split(cut_seed, 2)
        front_a = tf.random.stateless_binomial(tf.shape(cut_a), seeds[0], tf.cast(cut_a, tf.float32), 0.5,
                                               output_dtype=tf.int32)
        front_b = tf.random.stateless_binomial(tf.shape(cut_b), seeds[1], tf.cast(cut_b, tf.float32), 0.5,
                                               output_dtype=tf.int32)
    else:
        front_a, front_b = tf.zeros_like(cut_a), tf.zeros_like(cut_b)
    a0, a1 = a0 + front_a, a1 - (cut_a - front_a)
    b0, b1 = b0 + front_b, b1 - (cut_b - front_b)

    values = sentences.flat_values
    tokens_a = tf.gather(values, tf.ragged.range(a0, a1))
    tokens_b = tf.gather(values, tf.ragged.range(b0, b1))
    n = tf.shape(rows)[0]
    one = tf.RaggedTensor.from_tensor(tf.ones([n, 1], tf.int32))
    ids = tf.concat([one * cls_id, tokens_a, one * sep_id, tokens_b, one * sep_id], axis=1)
    types = tf.concat([one * 0, tf.zeros_like(tokens_a), one * 0, tf.ones_like(tokens_b), one], axis=1)
    shape = [None, max_length]
    return {
        "input_ids": ids.to_tensor(default_value=pad_id, shape=shape),
        "attention_mask": tf.ones_like(ids).to_tensor(default_value=0, shape=shape),
        "token_type_ids": types.to_tensor(default_value=0, shape=shape),
        "next_sentence_label": rows[:, 4],
    }


def _fold(seed, *values):
    key = seed
    for v in values:
        key = tf.random.experimental.stateless_fold_in(key, tf.cast(v, tf.int32))
    return key


def shard_pairs(path, epoch, shard, tokenize, vocabulary, *, seed, max_length, one_document_per_line=False,
                short_seq_prob=0.1, nsp_prob=0.5, random_truncation=True):
    """The shuffled packed pairs of one file for one pass over the data (see `sentence_pairs`)."""
    key = _fold(seed, epoch, shard)
    docs = split_documents(tf.io.read_file(path), one_document_per_line)
    sentences, doc = tokenize_documents(docs, tokenize)
    pairs = sentence_pairs(
        sentences, doc, key, max_length=max_length, cls_id=vocabulary.cls_id, sep_id=vocabulary.sep_id,
        pad_id=vocabulary.pad_id, short_seq_prob=short_seq_prob, nsp_prob=nsp_prob,
        random_truncation=random_truncation,
    )
    n = tf.shape(pairs["next_sentence_label"])[0]
    order = tf.argsort(tf.random.stateless_uniform([n], _fold(key, 1)))
    return {k: tf.gather(v, order) for k, v in pairs.items()}


def pretraining_dataset(files, tokenizer, vocabulary, *, batch_size, max_length=128, max_predictions_per_seq=20,
                        masked_lm_prob=0.15, whole_word_masking=False, short_seq_prob=0.1, nsp_prob=0.5,
                        random_truncation=True, one_document_per_line=False, seed=0, num_epochs=None,
                        skip_batches=0, masked_lm_positions=False):
    """Batches for `BertForPreTraining` from text files (see the module docstring).

    Args:
        files: a path or a list of paths (each a shard).
        tokenizer: a `TFBertTokenizer` (or what `as_tokenize_fn` turns into one), e.g.
            `TFBertTokenizer(vocabulary.tokens)`.
        vocabulary: a `Vocabulary` (special ids, "##" pieces, size).
        batch_size: the global batch size (batches are dropped when incomplete, so shapes are static).
        num_epochs: passes over the files (None: forever).
        skip_batches: start at this batch of the stream (the batches before are made and dropped).
        masked_lm_positions: also give `masked_lm_positions` [batch, max_predictions_per_seq] and make
            `labels` [batch, max_predictions_per_seq] (see `masking.masked_positions`): the model then computes
            MLM logits at the predicted positions only, much cheaper than at every position.

    Returns:
        A `tf.data.Dataset` of dicts (input_ids, attention_mask, token_type_ids, labels: [batch, max_length],
        next_sentence_label: [batch]), all int32.
    """
    files = [files] if isinstance(files, (str, bytes)) else list(files)
    if not files:
        raise ValueError("no input files")
    tokenize = as_tokenize_fn(tokenizer)
    seed = tf.random.experimental.stateless_fold_in(tf.constant([int(seed) & 0x7FFFFFFF, 20250], tf.int32), 0)
    names = tf.constant([str(f) for f in files])
    epochs = tf.data.Dataset.counter() if num_epochs is None else tf.data.Dataset.range(num_epochs)

    def epoch_files(epoch):
        order = tf.argsort(tf.random.stateless_uniform([len(files)], _fold(seed, epoch, -1)))
        return tf.data.Dataset.from_tensor_slices((tf.gather(names, order), order, tf.fill([len(files)], epoch)))

    def pairs(path, shard, epoch):
        return shard_pairs(path, epoch, shard, tokenize, vocabulary, seed=seed, max_length=max_length,
                           one_document_per_line=one_document_per_line, short_seq_prob=short_seq_prob,
                           nsp_prob=nsp_prob, random_truncation=random_truncation)

    mask = _batch_masker(seed, vocabulary, whole_word_masking=whole_word_masking, masked_lm_prob=masked_lm_prob,
                         max_predictions_per_seq=max_predictions_per_seq, masked_lm_positions=masked_lm_positions)
    ds = epochs.flat_map(epoch_files)
    ds = ds.map(pairs)
    ds = ds.flat_map(tf.data.Dataset.from_tensor_slices)
    ds = ds.batch(batch_size, drop_remainder=True)
    ds = ds.enumerate()
    if skip_batches:
        ds = ds.skip(skip_batches)
    ds = ds.map(mask, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _batch_masker(seed, vocabulary, *, whole_word_masking, masked_lm_prob, max_predictions_per_seq,
                  masked_lm_positions):
    """`mask(index, batch)`, `pretraining_dataset`'s last map: batch number `index` of NSP pairs (input_ids,
    attention_mask, token_type_ids, next_sentence_label [batch, ...]) -> the model's inputs, MLM-masked with a
    seed folded from `seed` and `index` (`labels`; with `masked_lm_positions`, compact labels and positions)."""

    def mask(index, batch):
        masked, labels = mask_tokens(
            batch["input_ids"], _fold(seed, index, -2), vocab_size=vocabulary.size,
            special_ids=vocabulary.special_ids, mask_token_id=vocabulary.mask_id,
            continuation=vocabulary.continuation, whole_word_masking=whole_word_masking,
            masked_lm_prob=masked_lm_prob, max_predictions_per_seq=max_predictions_per_seq,
            attention_mask=batch["attention_mask"],
        )
        out = {
            "input_ids": masked,
            "attention_mask": batch["attention_mask"],
            "token_type_ids": batch["token_type_ids"],
            "labels": labels,
            "next_sentence_label": batch["next_sentence_label"],
        }
        if masked_lm_positions:
            out["masked_lm_positions"], out["labels"] = masked_positions(labels, max_predictions_per_seq)
        return out

    return mask
