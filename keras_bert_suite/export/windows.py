"""Question-answering features in-graph: [CLS] question [SEP] context window [SEP], with windows that slide over
long contexts by a stride, as in transformers' QA preprocessing.

`qa_features(tokenizer, questions, contexts, max_length, doc_stride, max_question_tokens)` returns dense model
inputs [features, length], `example_ids` [features], `context_mask` (True on context tokens) and
`char_start` / `char_end` [features, length] (character offsets of each context token in its context).

Cost is linear in the context: each window is a slice of the context's word pieces, and the model runs once per
window. `max_context_tokens` bounds it per request: a longer context is refused (InvalidArgumentError naming
the rows) before any window is built.
"""

import tensorflow as tf


def _gather_rows(rt, rows):
    return tf.gather(rt, rows)


def check_context_tokens(c_len, max_context_tokens):
    """`c_len` (int [examples], word pieces per context), after checking that none is over the limit.

    Raises (when run) InvalidArgumentError: "QA contexts over max_context_tokens (16384 word pieces): rows 2, 5
    with 20160, 17002 word pieces".
    """
    over = c_len > max_context_tokens
    as_text = lambda t: tf.strings.reduce_join(tf.strings.as_string(t), separator=", ")  # noqa: E731
    message = tf.strings.join([f"QA contexts over max_context_tokens ({max_context_tokens} word pieces): rows ",
                               as_text(tf.where(over)[:, 0]), " with ", as_text(tf.boolean_mask(c_len, over)),
                               " word pieces"])
    check = tf.debugging.Assert(tf.logical_not(tf.reduce_any(over)), [message], name="max_context_tokens")
    with tf.control_dependencies([check]):
        return tf.identity(c_len)


def qa_features(tokenizer, questions, contexts, max_length=384, doc_stride=128, max_question_tokens=64,
                pad_to_multiple_of=None, max_context_tokens=None):
    """Windows over each (question, context) pair.

    Args:
        tokenizer: a `TFBertTokenizer`. questions, contexts: tf.string [examples].
        max_length: tokens per window. doc_stride: tokens shared by neighbouring windows.
        max_question_tokens: the question is cut to this many word pieces.
        pad_to_multiple_of: the windows' padded length is a multiple of this.
        max_context_tokens: None, or the most word pieces a context may have (InvalidArgumentError beyond).
    Returns:
        dict of input_ids, attention_mask, token_type_ids, context_mask, char_start, char_end [features, length],
        example_ids [features].

    Example:
        >>> from keras_bert_suite.tokenizers import TFBertTokenizer
        >>> tok = TFBertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "?", "ada", "wrote", "it", "."])
        >>> feats = qa_features(tok, tf.constant(["who?"]), tf.constant(["Ada wrote it."]), max_length=64,
        ...                     doc_stride=16)
        >>> feats["input_ids"].numpy().tolist()          # [CLS] who ? [SEP] ada wrote it . [SEP]
        [[2, 5, 6, 3, 7, 8, 9, 10, 3]]
        >>> feats["char_start"].numpy().tolist(), feats["example_ids"].numpy().tolist()
        ([[-1, -1, -1, -1, 0, 4, 10, 12, -1]], [0])
    """
    q_ids, c_ids, c_start, c_end = _word_pieces(tokenizer, questions, contexts, max_question_tokens)
    q_len = tf.cast(q_ids.row_lengths(), tf.int32)
    c_len = tf.cast(c_ids.row_lengths(), tf.int32)
    if max_context_tokens is not None:
        c_len = check_context_tokens(c_len, max_context_tokens)
    example_ids, flat_index = _windows(q_len, c_len, c_ids.row_splits, max_length, doc_stride)
    take = lambda values: tf.gather(values, flat_index)  # noqa: E731
    ctx_ids, ctx_start, ctx_end = take(c_ids.flat_values), take(c_start.flat_values), take(c_end.flat_values)
    question = _gather_rows(q_ids, example_ids)
    pieces = _join_windows(tokenizer, example_ids, question, ctx_ids, ctx_start, ctx_end)
    return _padded(tokenizer, example_ids, pieces, pad_to_multiple_of)


def _word_pieces(tokenizer, questions, contexts, max_question_tokens):
    """(question ids cut to `max_question_tokens`, context ids, context char starts, char ends): int32 ragged
    [examples, (pieces)]."""
    q_ids, _, _ = tokenizer.word_pieces(questions, with_offsets=False)
    c_ids, c_start, c_end = tokenizer.word_pieces(contexts, with_offsets=True)
    int32 = lambda rt: tf.cast(rt, tf.int32)  # noqa: E731
    return int32(q_ids[:, :max_question_tokens]), int32(c_ids), int32(c_start), int32(c_end)


def _windows(q_len, c_len, c_row_splits, max_length, doc_stride):
    """(example_ids [windows], flat_index ragged [windows, (pieces)]): each window's example, and the positions
    of its context pieces in the contexts' flat values. A window holds `max_length - 3 - question length`
    pieces (at least 1); neighbours share `doc_stride` of them."""
    window = tf.maximum(max_length - 3 - q_len, 1)
    step = tf.maximum(window - doc_stride, 1)
    extra = tf.maximum(c_len - window, 0)
    n_windows = 1 + (extra + step - 1) // step
    example_ids = tf.repeat(tf.range(tf.shape(q_len)[0]), n_windows)
    k = tf.ragged.range(n_windows).flat_values
    w_start = k * tf.gather(step, example_ids)
    w_stop = tf.minimum(w_start + tf.gather(window, example_ids), tf.gather(c_len, example_ids))
    positions = tf.ragged.range(w_start, tf.maximum(w_stop, w_start))
    return example_ids, positions + tf.cast(tf.gather(c_row_splits, example_ids), tf.int32)[:, None]


def _join_windows(tokenizer, example_ids, question, ctx_ids, ctx_start, ctx_end):
    """[CLS] question [SEP] context [SEP] per window: ragged [windows, (tokens)] ids, token types, context
    flags, char starts and char ends (-1 outside the context)."""
    n = tf.shape(example_ids)[0]
    cls = tf.fill([n, 1], tokenizer.cls_token_id)
    sep = tf.fill([n, 1], tokenizer.sep_token_id)
    ones = lambda like, value: tf.ones_like(like) * value  # noqa: E731
    as_ragged = lambda t: tf.RaggedTensor.from_tensor(t)  # noqa: E731
    ids = tf.concat([as_ragged(cls), question, as_ragged(sep), ctx_ids, as_ragged(sep)], axis=1)
    types = tf.concat(
        [as_ragged(cls * 0), ones(question, 0), as_ragged(sep * 0), ones(ctx_ids, 1), as_ragged(sep * 0 + 1)], axis=1
    )
    in_ctx = tf.concat(
        [as_ragged(cls * 0), ones(question, 0), as_ragged(sep * 0), ones(ctx_ids, 1), as_ragged(sep * 0)], axis=1
    )
    minus = lambda t: as_ragged(t * 0 - 1)  # noqa: E731
    char_start = tf.concat([minus(cls), ones(question, -1), minus(sep), ctx_start, minus(sep)], axis=1)
    char_end = tf.concat([minus(cls), ones(question, -1), minus(sep), ctx_end, minus(sep)], axis=1)
    return n, ids, types, in_ctx, char_start, char_end


def _padded(tokenizer, example_ids, pieces, pad_to_multiple_of):
    """`qa_features`' dict: the joined windows padded to their longest (rounded up to `pad_to_multiple_of`)."""
    n, ids, types, in_ctx, char_start, char_end = pieces
    length = tf.cast(tf.reduce_max(ids.row_lengths()), tf.int32)
    if pad_to_multiple_of:
        length = (length + pad_to_multiple_of - 1) // pad_to_multiple_of * pad_to_multiple_of
    shape = tf.stack([n, length])
    dense = lambda rt, default: rt.to_tensor(default, shape=shape)  # noqa: E731
    return {
        "input_ids": dense(ids, tokenizer.pad_token_id),
        "attention_mask": dense(tf.ones_like(ids), 0),
        "token_type_ids": dense(types, 0),
        "example_ids": example_ids,
        "context_mask": tf.cast(dense(in_ctx, 0), tf.bool),
        "char_start": dense(char_start, -1),
        "char_end": dense(char_end, -1),
    }


def answer_positions(features, answer_char_start, answer_char_end):
    """Token positions of each example's answer in each of its windows (the training labels of QA).

    Args:
        features: the dict `qa_features` returns. answer_char_start, answer_char_end: int [examples], the
            answer's character span in its context (start < 0: no answer).
    Returns:
        (start_positions, end_positions) int32 [features]: the first context token that ends after the answer
        starts and the last one that starts before it ends; both 0 (the [CLS] token) for an example without an
        answer and for a window that does not hold the whole answer.
    """
    example_ids = features["example_ids"]
    a_start = tf.gather(tf.cast(answer_char_start, tf.int32), example_ids)[:, None]
    a_end = tf.gather(tf.cast(answer_char_end, tf.int32), example_ids)[:, None]
    ctx, starts, ends = features["context_mask"], features["char_start"], features["char_end"]
    positions = tf.range(tf.shape(starts)[1])[None, :]
    first_char = tf.reduce_min(tf.where(ctx, starts, tf.int32.max), axis=1, keepdims=True)
    last_char = tf.reduce_max(tf.where(ctx, ends, -1), axis=1, keepdims=True)
    start = tf.reduce_min(tf.where(ctx & (ends > a_start), positions, tf.int32.max), axis=1, keepdims=True)
    end = tf.reduce_max(tf.where(ctx & (starts < a_end), positions, -1), axis=1, keepdims=True)
    inside = (a_start >= 0) & (a_end > a_start) & (a_start >= first_char) & (a_end <= last_char) & (start <= end)
    return tf.where(inside, start, 0)[:, 0], tf.where(inside, end, 0)[:, 0]
