"""Token-classification probabilities -> entities, in-graph, by the rules of transformers'
`TokenClassificationPipeline` for each `aggregation_strategy`:

- "none": one entity per token whose label is not "O", with the token's label name ("B-PER") and score;
- "simple": tokens grouped into entities (below), word boundaries ignored;
- "first" / "average" / "max": word pieces first merged into words, the word's label taken from its first piece,
  from the average of its pieces' probabilities, or from its most confident piece; then words grouped.

Grouping (the pipeline's `group_entities`): a unit joins the previous one when both have the same tag ("PER"
for "B-PER" / "I-PER" / "PER") and it is not a "B-" label; a group's label is its first unit's name after the
first "-", its score the mean of its units' scores, its span from the first unit's start to the last unit's end;
groups labelled "O" are dropped. A piece continues a word (`subword_flags`) when its vocabulary string and the
text it covers differ in length ("##ing" covers "ing"), except [UNK], as the pipeline decides for fast tokenizers.

Example:
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "ada", "love", "##lace", "wrote"]
    >>> texts = tf.constant(["Ada Lovelace wrote"])
    >>> enc = {"input_ids": tf.constant([[2, 4, 5, 6, 7, 3]]),      # [CLS] ada love ##lace wrote [SEP]
    ...        "offset_mapping": tf.constant([[[0, 0], [0, 3], [4, 8], [8, 12], [13, 18], [0, 0]]])}
    >>> real = enc["input_ids"] > 3                                 # not [PAD], [UNK], [CLS] or [SEP]
    >>> id2label = {0: "O", 1: "B-PER", 2: "I-PER"}
    >>> probs = tf.constant([[[1.0, 0.0, 0.0], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.2, 0.1, 0.7],
    ...                       [0.9, 0.05, 0.05], [1.0, 0.0, 0.0]]])
    >>> flags = subword_flags(enc["input_ids"], enc["offset_mapping"], vocab, "[UNK]")
    >>> (flags & real).numpy().tolist()                               # "##lace" continues "love"
    [[False, False, False, True, False, False]]
    >>> found = aggregate_entities(texts, probs, enc["offset_mapping"], real, flags, id2label, "simple")
    >>> found["entity_text"].numpy(), found["entity_label"].numpy(), found["num_entities"].numpy()
    (array([[b'Ada Lovelace']], dtype=object), array([[b'PER']], dtype=object), array([1]...))
"""

import numpy as np
import tensorflow as tf

STRATEGIES = ("none", "simple", "first", "average", "max")


def label_scheme(id2label):
    """The pipeline's reading of label names, as arrays over label ids.

    Args:
        id2label: {id: name} for ids 0 .. num_labels - 1.
    Returns:
        (tag [labels] int32: index of the tag, "B-PER" and "I-PER" sharing one; begins [labels] bool: the name
        starts with "B-"; shown [labels] str: the name after its first "-", the group label).

    Example:
        >>> label_scheme({0: "O", 1: "B-PER", 2: "I-PER"})[0].tolist()
        [0, 1, 1]
    """
    names = [id2label[i] for i in range(len(id2label))]
    tags = [name[2:] if name.startswith(("B-", "I-")) else name for name in names]
    order = list(dict.fromkeys(tags))
    return (np.array([order.index(t) for t in tags], "int32"), np.array([n.startswith("B-") for n in names]),
            np.array([n.split("-", 1)[-1] for n in names], object))


def subword_flags(input_ids, offsets, vocab, unk_token="[UNK]"):
    """True where a token continues the previous word: its vocabulary string's length differs from its span's.

    Args:
        input_ids: int [batch, length]. offsets: int [batch, length, 2], character offsets. vocab: list of
        tokens (id order). unk_token: its string ([UNK] never continues a word).
    Returns:
        bool [batch, length].
    """
    lengths = tf.constant([len(t) for t in vocab], tf.int32)
    ids = tf.cast(input_ids, tf.int32)
    spans = tf.cast(offsets[..., 1] - offsets[..., 0], tf.int32)
    unk = vocab.index(unk_token) if unk_token in vocab else -1
    return tf.not_equal(tf.gather(lengths, ids), spans) & tf.not_equal(ids, unk)


def _starts_row(row):
    return tf.not_equal(row, tf.concat([[-1], row[:-1]], axis=0))


def _words(row, probs, start, end, is_subword, strategy):
    """Pieces -> words: (row, probs, start, end) per word, the probs chosen by `strategy`."""
    first = tf.logical_not(is_subword) | _starts_row(row)
    word_id = tf.cumsum(tf.cast(first, tf.int32)) - 1
    n = tf.reduce_sum(tf.cast(first, tf.int32))
    w_end = tf.math.unsorted_segment_max(end, word_id, n)
    if strategy == "first":
        w_probs = tf.boolean_mask(probs, first)
    elif strategy == "average":
        w_probs = tf.math.unsorted_segment_mean(probs, word_id, n)
    else:  # "max": the first piece of the word whose best probability is the word's highest
        best = tf.reduce_max(probs, axis=-1)
        is_best = tf.equal(best, tf.gather(tf.math.unsorted_segment_max(best, word_id, n), word_id))
        index = tf.range(tf.shape(best)[0])
        pick = tf.math.unsorted_segment_min(tf.where(is_best, index, tf.int32.max), word_id, n)
        w_probs = tf.gather(probs, pick)
    return tf.boolean_mask(row, first), w_probs, tf.boolean_mask(start, first), w_end


def aggregate_entities(texts, probs, offsets, token_mask, is_subword, id2label, strategy="first"):
    """Entities per row by the pipeline's `aggregation_strategy`.

    Args:
        texts: tf.string [batch]. probs: float [batch, length, labels] (softmax of the logits). offsets: int
        [batch, length, 2] character offsets. token_mask: bool [batch, length], True on real (non-special,
        non-padding) tokens. is_subword: bool [batch, length] (`subword_flags`). id2label: {id: name}.
        strategy: one of `STRATEGIES`.
    Returns:
        dict of [batch, max_entities] tensors entity_text, entity_label, entity_start, entity_end, entity_score
        (padded with "", "", -1, -1, 0.0) and num_entities [batch].
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"aggregation_strategy must be one of {STRATEGIES}, got {strategy!r}")
    tag, begins, shown = label_scheme(id2label)
    names = tf.constant([id2label[i] for i in range(len(id2label))])
    batch = tf.shape(probs)[0]
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(token_mask))
    pick = lambda x: tf.boolean_mask(x, token_mask)  # noqa: E731  flat over real tokens, row-major
    row, p = pick(rows), pick(tf.cast(probs, tf.float32))
    start, end = pick(tf.cast(offsets[..., 0], tf.int32)), pick(tf.cast(offsets[..., 1], tf.int32))
    if strategy in ("none", "simple"):
        u_row, u_probs, u_start, u_end = row, p, start, end
    else:
        u_row, u_probs, u_start, u_end = _words(row, p, start, end, pick(is_subword), strategy)
    u_label = tf.argmax(u_probs, axis=-1, output_type=tf.int32)
    u_score = tf.reduce_max(u_probs, axis=-1)
    if strategy == "none":
        keep = tf.not_equal(tf.gather(names, u_label), "O")
        e_row, e_start, e_end = (tf.boolean_mask(x, keep) for x in (u_row, u_start, u_end))
        e_label = tf.boolean_mask(tf.gather(names, u_label), keep)
        e_score = tf.boolean_mask(u_score, keep)
    else:
        u_tag = tf.gather(tf.constant(tag), u_label)
        opens = (_starts_row(u_row) | tf.gather(tf.constant(begins), u_label)
                 | tf.not_equal(u_tag, tf.concat([[-1], u_tag[:-1]], axis=0)))
        group = tf.cumsum(tf.cast(opens, tf.int32)) - 1
        n = tf.reduce_sum(tf.cast(opens, tf.int32))
        g_label = tf.gather(tf.constant(shown.astype(str)), tf.boolean_mask(u_label, opens))
        g_end = tf.math.unsorted_segment_max(u_end, group, n)
        g_score = tf.math.unsorted_segment_mean(u_score, group, n)
        keep = tf.not_equal(g_label, "O")
        e_row, e_start = tf.boolean_mask(tf.boolean_mask(u_row, opens), keep), tf.boolean_mask(
            tf.boolean_mask(u_start, opens), keep)
        e_end, e_label, e_score = (tf.boolean_mask(x, keep) for x in (g_end, g_label, g_score))
    e_text = tf.strings.substr(tf.gather(texts, e_row), e_start, e_end - e_start, unit="UTF8_CHAR")

    def per_row(values, default):
        return tf.RaggedTensor.from_value_rowids(values, e_row, nrows=batch).to_tensor(default)

    return {
        "entity_text": per_row(e_text, ""),
        "entity_label": per_row(e_label, ""),
        "entity_start": per_row(e_start, -1),
        "entity_end": per_row(e_end, -1),
        "entity_score": per_row(e_score, 0.0),
        "num_entities": tf.math.bincount(e_row, minlength=batch, maxlength=batch, dtype=tf.int32),
    }
