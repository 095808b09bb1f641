"""QA logits over windows -> each example's `top_k` best answers by the rules of transformers'
`QuestionAnsweringPipeline`, in-graph.

The pipeline's rules, in order:
- each window's start and end probabilities are a softmax over its context tokens and [CLS] (position 0); the
  product at [CLS] is the window's null score, then [CLS] is set to 0;
- a span's score is p(start) * p(end), for end >= start and at most `max_answer_len` tokens; each window keeps
  its `2 * top_k + 10` best spans (with `align_to_words`, else `top_k`), those with both ends on context tokens;
- with `align_to_words`, a span grows to whole words (a word: a piece and the "##" pieces after it);
- spans of the same text (case-insensitive), across windows too, add their scores; the first one keeps its
  characters;
- with `handle_impossible_answer`, the smallest null score over the example's windows joins as the empty
  answer ("" at 0, 0), after the spans;
- the answers sorted by score (a stable sort: the earlier first on ties), the first `top_k` kept.
A word cut by a window's edge is aligned within the window only (the pipeline reads the whole word). A window
with fewer valid spans than it keeps gives the pipeline zero-score spans (end before start, or too long) that
are not answers here; real contexts of more than a few tokens never meet this.

Example:
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "who", "?", "ada", "love", "##lace", "wrote", "it", "."]
    >>> is_cont = tf.constant([token.startswith("##") for token in vocab])
    >>> contexts = tf.constant(["Ada Lovelace wrote it."])
    >>> feats = {"input_ids": tf.constant([[2, 4, 5, 3, 6, 7, 8, 9, 10, 11, 3]]),   # [CLS] who? [SEP] context [SEP]
    ...          "example_ids": tf.constant([0]), "context_mask": tf.constant([[False] * 4 + [True] * 6 + [False]]),
    ...          "char_start": tf.constant([[-1] * 4 + [0, 4, 8, 13, 19, 21, -1]]),
    ...          "char_end": tf.constant([[-1] * 4 + [3, 8, 12, 18, 21, 22, -1]])}
    >>> out = {"start_logits": tf.constant([[0.0, 0, 0, 0, 6, 2, 0, 0, 0, 0, 0]]),
    ...        "end_logits": tf.constant([[0.0, 0, 0, 0, 1, 2, 6, 0, 0, 0, 0]])}
    >>> found = pipeline_answers(out["start_logits"], out["end_logits"], feats, contexts, is_cont, top_k=3)
    >>> found["answer"].numpy(), found["start"].numpy(), found["end"].numpy()    # the best, each [examples]
    (array([b'Ada Lovelace'], dtype=object), array([0]...), array([12]...))
    >>> found["top_answers"].numpy(), found["num_answers"].numpy()     # [examples, 3], [examples]
    (array([[b'Ada Lovelace', b'Lovelace', b'Ada']], dtype=object), array([3]...))
"""

import tensorflow as tf


def _softmax_with_cls(logits, context_mask):
    """The pipeline's probabilities: masked positions at -10000, softmax over the window ([CLS] included)."""
    keep = context_mask | tf.equal(tf.range(tf.shape(context_mask)[1]), 0)[None, :]
    return tf.nn.softmax(tf.where(keep, tf.cast(logits, tf.float32), -10000.0), axis=-1)


def _word_chars(features, is_continuation):
    """Per window token: the first and last character of its word within the window, [features, length] each."""
    mask = features["context_mask"]
    ids = tf.cast(features["input_ids"], tf.int32)
    cont = tf.gather(tf.constant(is_continuation), ids) & mask
    prev_context = tf.pad(mask[:, :-1], [[0, 0], [1, 0]])
    starts = mask & ~(cont & prev_context)  # a context token that does not continue the word before it
    word = tf.cumsum(tf.cast(starts, tf.int32), axis=1) + tf.range(tf.shape(mask)[0])[:, None] * tf.shape(mask)[1]
    flat_word = tf.reshape(word, [-1])
    n = tf.size(flat_word) + 1  # word ids are at most features x length
    flat_mask = tf.reshape(mask, [-1])
    char_s = tf.reshape(features["char_start"], [-1])
    char_e = tf.reshape(features["char_end"], [-1])
    big = tf.int32.max
    first = tf.math.unsorted_segment_min(tf.where(flat_mask, char_s, big), flat_word, n)
    last = tf.math.unsorted_segment_max(tf.where(flat_mask, char_e, -1), flat_word, n)
    shape = tf.shape(mask)
    return (tf.where(mask, tf.reshape(tf.gather(first, flat_word), shape), -1),
            tf.where(mask, tf.reshape(tf.gather(last, flat_word), shape), -1))


def pipeline_answers(start_logits, end_logits, features, contexts, is_continuation, max_answer_len=15,
                     align_to_words=True, handle_impossible_answer=False, keep=None, top_k=1):
    """Each example's `top_k` best answers as the pipeline gives them.

    Args:
        start_logits, end_logits: [features, length]. features: the dict of `windows.qa_features` for
        `contexts` (tf.string [examples]). is_continuation: bool [vocab], True on "##" pieces.
        max_answer_len: most tokens in an answer. align_to_words, handle_impossible_answer, top_k: as the
        pipeline's (top_k: a Python int >= 1).
        keep: optional bool [examples]; False gives no answer, as an example without a context token gets.
    Returns:
        dict of top_answers (tf.string), top_starts, top_ends (characters), top_scores, each [examples, top_k],
        best first, padded with ("", -1, -1, 0.0) past num_answers [examples]; and answer, start, end, score
        [examples], the best (the padding for an example without an answer).

    Example:
        >>> is_cont = tf.constant([False] * 8 + [True] + [False] * 3)      # "##lace" (id 8) continues a word
        >>> contexts = tf.constant(["Ada Lovelace wrote it."])
        >>> feats = {"input_ids": tf.constant([[2, 4, 5, 3, 6, 7, 8, 9, 10, 11, 3]]),   # [CLS] who? [SEP] ...
        ...          "example_ids": tf.constant([0]), "context_mask": tf.constant([[False] * 4 + [True] * 6 + [False]]),
        ...          "char_start": tf.constant([[-1] * 4 + [0, 4, 8, 13, 19, 21, -1]]),
        ...          "char_end": tf.constant([[-1] * 4 + [3, 8, 12, 18, 21, 22, -1]])}
        >>> start_logits = tf.constant([[0.0, 0, 0, 0, 6, 2, 0, 0, 0, 0, 0]])
        >>> end_logits = tf.constant([[0.0, 0, 0, 0, 1, 2, 6, 0, 0, 0, 0]])
        >>> found = pipeline_answers(start_logits, end_logits, feats, contexts, is_cont, top_k=2)
        >>> found["top_answers"].numpy(), found["top_scores"].numpy().round(2)      # [examples, 2]
        (array([[b'Ada Lovelace', b'Lovelace']], dtype=object), array([[0.95, 0.02]], dtype=float32))
    """
    mask, example_ids = features["context_mask"], features["example_ids"]
    num_examples = tf.shape(contexts)[0]
    p_start, p_end, null = _probabilities(start_logits, end_logits, mask, example_ids, num_examples)
    k = 2 * top_k + 10 if align_to_words else top_k
    window, scores, start_tok, end_tok = _best_spans(p_start, p_end, mask, max_answer_len, k)
    real = scores >= 0.0  # both ends on context tokens
    if keep is not None:
        real = real & tf.gather(keep, tf.gather(example_ids, window))
    if align_to_words:
        char_start, char_end = _word_chars(features, is_continuation)
    else:
        char_start, char_end = features["char_start"], features["char_end"]
    pick = lambda x: tf.boolean_mask(x, real)  # noqa: E731  candidates, window order then best first
    c_window, c_score = pick(window), pick(scores)
    c_example = tf.gather(example_ids, c_window)
    c_start = tf.gather_nd(char_start, tf.stack([c_window, pick(start_tok)], axis=1))
    c_end = tf.gather_nd(char_end, tf.stack([c_window, pick(end_tok)], axis=1))
    c_text = tf.strings.substr(tf.gather(contexts, c_example), c_start, c_end - c_start, unit="UTF8_CHAR")
    entries = _same_text_summed(c_example, c_text, c_start, c_end, c_score)
    if handle_impossible_answer:
        entries = _with_null_answer(entries, null, num_examples)
    return _best_per_example(entries, num_examples, top_k)


def _probabilities(start_logits, end_logits, mask, example_ids, num_examples):
    """(p_start, p_end) [features, length] by `_softmax_with_cls`, and each example's null score [examples]:
    the smallest product of the two at [CLS] over its windows."""
    p_start = _softmax_with_cls(start_logits, mask)
    p_end = _softmax_with_cls(end_logits, mask)
    cls_product = tf.reduce_sum(p_start[:, :1] * p_end[:, :1], axis=1)  # [features]; a batch may have length 0
    return p_start, p_end, tf.math.unsorted_segment_min(cls_product, example_ids, num_examples)


def _best_spans(p_start, p_end, mask, band, k):
    """Each window's `k` best spans of at most `band` tokens starting on a context token, best first:
    (window, score, start token, end token), each [features, k]; a score < 0 marks a span that ends off the
    context."""
    framed = lambda x: tf.signal.frame(tf.pad(x, [[0, 0], [0, band - 1]]), band, 1, axis=-1)  # noqa: E731
    allowed = mask[:, :, None] & (framed(tf.cast(mask, tf.float32)) > 0.0)
    pair = tf.where(allowed, p_start[:, :, None] * framed(p_end), -1.0)
    flat = tf.reshape(pair, [tf.shape(pair)[0], -1])
    k = tf.minimum(k, tf.shape(flat)[1])
    scores, cells = tf.math.top_k(flat, k=k)  # [features, k], best first
    window = tf.broadcast_to(tf.range(tf.shape(flat)[0])[:, None], tf.shape(cells))
    start_tok = cells // band
    return window, scores, start_tok, start_tok + cells % band


def _same_text_summed(c_example, c_text, c_start, c_end, c_score):
    """Candidate spans [candidates] -> entries (dict of answer, start, end, score, example): one per example and
    text (case-insensitive), scores added, the first candidate's characters kept, in order of first
    occurrence."""
    key = tf.strings.join([tf.strings.as_string(c_example), tf.strings.lower(c_text, encoding="utf-8")], "\x00")
    _, group = tf.unique(key)  # groups numbered in order of first occurrence
    n = tf.reduce_max(tf.concat([group, [-1]], 0)) + 1
    total = tf.math.unsorted_segment_sum(c_score, group, n)
    first = tf.math.unsorted_segment_min(tf.range(tf.shape(group)[0]), group, n)
    g_example = tf.gather(c_example, first)
    return {"answer": tf.gather(c_text, first), "start": tf.gather(c_start, first),
            "end": tf.gather(c_end, first), "score": total, "example": g_example}


def _with_null_answer(entries, null, num_examples):
    """`entries` and, after them (it loses ties), the empty answer ("" at 0, 0) scored `null` [examples] for
    each example that has an entry."""
    g_example = entries["example"]
    has = tf.math.unsorted_segment_max(tf.ones_like(g_example), g_example, num_examples) > 0
    asked = tf.boolean_mask(tf.range(num_examples), has)
    zeros = tf.zeros_like(asked)
    extra = {"answer": tf.fill(tf.shape(asked), ""), "start": zeros, "end": zeros,
             "score": tf.gather(null, asked), "example": asked}
    return {name: tf.concat([entries[name], extra[name]], 0) for name in entries}


def _best_per_example(entries, num_examples, top_k):
    """Entries (dict of [entries] answer, start, end, score, example) -> the `top_k` best per example by score,
    earlier entries first on ties (the pipeline's stable sort), as [examples, top_k] tables."""
    by_score = tf.argsort(-entries["score"], stable=True)
    order = tf.gather(by_score, tf.argsort(tf.gather(entries["example"], by_score), stable=True))
    sorted_ = {name: tf.gather(value, order) for name, value in entries.items()}
    example = sorted_["example"]
    counts = tf.math.bincount(example, minlength=num_examples, maxlength=num_examples, dtype=tf.int32)
    offsets = tf.cumsum(counts, exclusive=True)
    rank = tf.range(tf.shape(example)[0]) - tf.gather(offsets, example)
    kept = rank < top_k
    rows, columns = tf.boolean_mask(example, kept), tf.boolean_mask(rank, kept)
    index = tf.stack([rows, columns], axis=1)
    shape = tf.stack([num_examples, top_k])

    def table(name, default):
        values = tf.boolean_mask(sorted_[name], kept)
        base = tf.fill(shape, tf.constant(default, values.dtype))
        return tf.tensor_scatter_nd_update(base, index, values)

    found = {"top_answers": table("answer", ""), "top_starts": table("start", -1), "top_ends": table("end", -1),
             "top_scores": table("score", 0.0), "num_answers": tf.minimum(counts, top_k)}
    for one, many in (("answer", "top_answers"), ("start", "top_starts"), ("end", "top_ends"),
                      ("score", "top_scores")):
        found[one] = found[many][:, 0]
    return found
