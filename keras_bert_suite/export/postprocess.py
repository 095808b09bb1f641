"""Turning model outputs into answers, in-graph (TensorFlow ops only, so they live inside SavedModels).

- `best_spans`: QA start/end logits over windows -> the best answer span per example across its windows.
- `top_k_masks`: masked-LM logits -> the top-k tokens and probabilities at each [MASK].

Token-classification entities (the pipeline's aggregation strategies) live in `entities.py`.
The same functions serve the exported signatures and the evaluation code in `keras_bert_suite.data`.
"""

import tensorflow as tf


def _masked_softmax(logits, mask):
    logits = tf.where(mask, tf.cast(logits, tf.float32), -1e30)
    return tf.nn.softmax(logits, axis=-1)


def best_spans(start_logits, end_logits, context_mask, example_ids, num_examples, max_answer_tokens=30):
    """The best span of each example across its windows.

    Only spans of at most `max_answer_tokens` tokens are scored: each window's candidates form a band
    [length, max_answer_tokens] (start position x span length) rather than a full start x end matrix, so the
    cost is features x length x max_answer_tokens. Ties go to the earliest window, then the earliest start,
    then the shortest span.

    Args:
        start_logits, end_logits: [features, length]. context_mask: bool [features, length], True on context
        tokens. example_ids: int [features], the example each feature (window) belongs to.
    Returns:
        (feature [examples], start token [examples], end token [examples], score [examples]) where score is
        p(start) * p(end) with probabilities over the window's context tokens; -1 for an example whose windows
        hold no context token (start = end = 0 then).

    Example:
        >>> s = tf.constant([[0.0, 0.0, 4.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0, 3.0]])   # start logits, 2 windows
        >>> e = tf.constant([[0.0, 0.0, 1.0, 4.0, 0.0], [0.0, 0.0, 0.0, 0.0, 3.0]])   # end logits
        >>> feats = {"context_mask": tf.constant([[False, False, True, True, True]] * 2),
        ...          "example_ids": tf.constant([0, 1])}                             # a window per example
        >>> feature, start, end, score = best_spans(s, e, feats["context_mask"], feats["example_ids"], 2)
        >>> feature.numpy().tolist(), start.numpy().tolist(), end.numpy().tolist(), score.numpy().round(2)
        ([0, 1], [2, 4], [3, 4], array([0.88, 0.77], dtype=float32))
    """
    p_start = _masked_softmax(start_logits, context_mask)
    p_end = _masked_softmax(end_logits, context_mask)
    band = max_answer_tokens
    # cell (i, d) of a window: the span from token i to token i + d; past the last token reads padding (masked)
    framed = lambda x: tf.signal.frame(tf.pad(x, [[0, 0], [0, band - 1]]), band, 1, axis=-1)  # noqa: E731
    end_ok = framed(tf.cast(context_mask, tf.float32)) > 0.0  # [features, length, band]
    allowed = context_mask[:, :, None] & end_ok
    pair = tf.where(allowed, p_start[:, :, None] * framed(p_end), -1.0)
    flat = tf.reshape(pair, [tf.shape(pair)[0], -1])
    best = tf.argmax(flat, axis=-1, output_type=tf.int32)
    score = tf.reduce_max(flat, axis=-1)
    best_score = tf.math.unsorted_segment_max(score, example_ids, num_examples)
    features = tf.range(tf.shape(score)[0])
    is_best = tf.equal(score, tf.gather(best_score, example_ids))
    feature = tf.math.unsorted_segment_min(tf.where(is_best, features, tf.int32.max), example_ids, num_examples)
    chosen = tf.gather(best, feature)
    start = chosen // band
    return feature, start, start + chosen % band, tf.gather(score, feature)


def top_k_masks(logits, input_ids, mask_token_id, vocab, k):
    """Top-k tokens and probabilities at each [MASK]: [batch, max_masks, k] (padded "" / 0.0), num_masks."""
    is_mask = tf.equal(input_ids, mask_token_id)
    masked = tf.boolean_mask(tf.cast(logits, tf.float32), is_mask)  # [masks, vocab]
    probs, ids = tf.math.top_k(tf.nn.softmax(masked, axis=-1), k=k)
    row = tf.boolean_mask(tf.broadcast_to(tf.range(tf.shape(input_ids)[0])[:, None], tf.shape(input_ids)), is_mask)
    nrows = tf.shape(input_ids)[0]

    def per_row(values, default):
        return tf.RaggedTensor.from_value_rowids(values, row, nrows=nrows).to_tensor(default)

    return {
        "tokens": per_row(tf.gather(tf.constant(vocab), ids), ""),
        "token_ids": per_row(ids, -1),
        "scores": per_row(probs, 0.0),
        "num_masks": tf.reduce_sum(tf.cast(is_mask, tf.int32), axis=1),
    }


def decode_ids(ids, vocab, skip_ids):
    """Word-piece ids [batch, length] -> text [batch]: tokens joined by spaces, "##" pieces glued on."""
    keep = tf.logical_not(tf.reduce_any(tf.equal(ids[..., None], tf.constant(skip_ids, tf.int32)), axis=-1))
    tokens = tf.ragged.boolean_mask(tf.gather(tf.constant(vocab), ids), keep)
    text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    return tf.strings.regex_replace(text, " ##", "")


def span_texts(contexts, char_start, char_end, rows, start, end):
    """The text of token spans: (text tf.string, char start, char end), each [spans].

    contexts: tf.string [spans], the context of each span. char_start, char_end: int [features, length]
    (`windows.qa_features`). rows: int [spans], the feature of each span; start, end: int [spans] token
    positions (inclusive). A span on a non-context token (offsets -1) gives "".
    """
    char_s = tf.gather_nd(char_start, tf.stack([rows, start], axis=1))
    char_e = tf.gather_nd(char_end, tf.stack([rows, end], axis=1))
    real = char_s >= 0  # False where the span holds no context token (its offsets are -1)
    text = tf.strings.substr(contexts, tf.where(real, char_s, 0), tf.where(real, char_e - char_s, 0),
                             unit="UTF8_CHAR")
    return text, char_s, char_e


def answers(start_logits, end_logits, features, contexts, max_answer_tokens=30, keep=None):
    """QA logits over windows -> each example's best answer: dict answer (text), start, end (characters),
    score ([examples]), and feature / start_token / end_token, the chosen window and tokens.

    `features` is the dict of `windows.qa_features` for `contexts` (tf.string [examples]). An example with no
    context token (an empty context), or False in `keep` (bool [examples], e.g. an empty question), gets the
    empty answer: "" with start = end = -1 and score 0; the other examples are unaffected.

    Example:
        >>> contexts = tf.constant(["Ada Lovelace wrote it."])
        >>> feats = {"example_ids": tf.constant([0]),   # one window: [CLS] who ? [SEP] ada love ##lace wrote it . [SEP]
        ...          "context_mask": tf.constant([[False] * 4 + [True] * 6 + [False]]),
        ...          "char_start": tf.constant([[-1] * 4 + [0, 4, 8, 13, 19, 21, -1]]),
        ...          "char_end": tf.constant([[-1] * 4 + [3, 8, 12, 18, 21, 22, -1]])}
        >>> out = {"start_logits": tf.constant([[0.0, 0, 0, 0, 6, 2, 0, 0, 0, 0, 0]]),
        ...        "end_logits": tf.constant([[0.0, 0, 0, 0, 1, 2, 6, 0, 0, 0, 0]])}
        >>> found = answers(out["start_logits"], out["end_logits"], feats, contexts)
        >>> found["answer"].numpy(), found["start"].numpy(), found["end"].numpy()      # each [examples]
        (array([b'Ada Lovelace'], dtype=object), array([0]...), array([12]...))
    """
    feature, start, end, score = best_spans(start_logits, end_logits, features["context_mask"],
                                            features["example_ids"], tf.shape(contexts)[0], max_answer_tokens)
    found = score >= 0.0
    if keep is not None:
        found = found & keep
    text, char_s, char_e = span_texts(contexts, features["char_start"], features["char_end"], feature, start, end)
    return {"answer": tf.where(found, text, ""), "start": tf.where(found, char_s, -1),
            "end": tf.where(found, char_e, -1), "score": tf.where(found, score, 0.0),
            "feature": feature, "start_token": start, "end_token": end}
