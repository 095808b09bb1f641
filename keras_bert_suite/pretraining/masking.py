"""In-graph masked-language-model masking with the BERT recipe.

Of the tokens that are not special (not [CLS], [SEP], [PAD], ... and not padding), `masked_lm_prob` (15%) are
chosen, at most `max_predictions_per_seq` per sequence; each chosen token becomes [MASK] (80%), a random token
(10%) or stays as it was (10%). With whole-word masking a word piece that starts with "##" belongs to the word
before it and a word is chosen or left as a whole (the greedy fill of Google's `create_pretraining_data.py`:
words in random order, a word that would overflow the budget is skipped).

Per sequence the number to predict is `min(max_predictions_per_seq, max(1, round(n * masked_lm_prob)))`, where
`n` counts the candidate (non-special) tokens. Shapes are static: outputs have the shape of `input_ids`.
Random numbers come from stateless ops, so the same `seed` gives the same masks on any device.

Example:
    >>> ids = [[101, 7592, 2088, 2003, 2307, 1012, 102, 0]]
    >>> masked, labels = mask_tokens(ids, seed=[0, 7], vocab_size=30522, special_ids=[0, 100, 101, 102, 103],
    ...                              mask_token_id=103, max_predictions_per_seq=20)
    >>> # masked [batch, length] int32; labels [batch, length]: the original id where chosen, -100 elsewhere
"""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.losses import IGNORE_INDEX
from keras_bert_suite.tokenizers.vocab import DEFAULT_SPECIAL_TOKENS


def continuation_table(tokens):
    """Bool array [vocab]: True for word pieces that continue a word ("##ing")."""
    return np.array([str(t).startswith("##") for t in tokens], dtype=bool)


def _count_to_predict(num_candidates, masked_lm_prob, max_predictions_per_seq):
    n = tf.cast(tf.round(tf.cast(num_candidates, tf.float32) * masked_lm_prob), tf.int32)
    n = tf.minimum(tf.maximum(n, 1), max_predictions_per_seq)
    return tf.where(num_candidates > 0, n, 0)


def _greedy_fill(word_len, order, budget):
    """Words visited in `order` [B, W]; a word is taken when it fits what is left of `budget` [B].
    Returns take [B, W] (bool, indexed by word)."""
    len_in_order = tf.gather(word_len, order, batch_dims=1)

    def step(remaining, length):
        take = (length > 0) & (length <= remaining)
        return remaining - tf.where(take, length, 0), take

    _, take_in_order = tf.scan(
        lambda carry, length: step(carry[0], length),
        tf.transpose(len_in_order),
        initializer=(budget, tf.zeros_like(budget, dtype=tf.bool)),
    )
    take_in_order = tf.transpose(take_in_order)
    inverse = tf.argsort(order, axis=1, stable=True)
    return tf.gather(take_in_order, inverse, batch_dims=1)


def mask_tokens(input_ids, seed, *, vocab_size, special_ids, mask_token_id, continuation=None,
                whole_word_masking=False, masked_lm_prob=0.15, max_predictions_per_seq=20, mask_token_prob=0.8,
                random_token_prob=0.1, random_token_ids=None, attention_mask=None):
    """Choose and corrupt tokens for the masked-LM objective.

    Args:
        input_ids: int tensor [batch, length].
        seed: int tensor [2] (a stateless-random seed).
        vocab_size: size of the vocabulary (random replacements are drawn below it).
        special_ids: ids that are never chosen nor drawn as random replacements.
        mask_token_id: the id of [MASK].
        continuation: bool array [vocab] (see `continuation_table`), needed for `whole_word_masking`.
        attention_mask: optional [batch, length]; positions where it is 0 are never chosen.
        random_token_ids: ids a random replacement is drawn from (default: every id not in `special_ids`).

    Returns:
        (masked_ids, labels): int32 [batch, length] each; labels hold the original id at chosen positions and
        -100 elsewhere.

    Example: see the module docstring.
    """
    if whole_word_masking and continuation is None:
        raise ValueError("whole_word_masking needs `continuation` (see continuation_table)")
    ids = tf.cast(tf.convert_to_tensor(input_ids), tf.int32)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int32)
    seeds = tf.random.experimental.stateless_split(seed, 4)
    shape = tf.shape(ids)
    batch, length = shape[0], shape[1]
    candidate, starts = _candidates(ids, special_ids, attention_mask, vocab_size,
                                    continuation if whole_word_masking else None)
    num_candidates = tf.reduce_sum(tf.cast(candidate, tf.int32), axis=1)
    budget = _count_to_predict(num_candidates, masked_lm_prob, max_predictions_per_seq)
    chosen = _choose(candidate, starts, budget, seeds, shape, batch, length, whole_word_masking)
    if random_token_ids is None:
        random_token_ids = np.setdiff1d(np.arange(vocab_size), np.asarray(sorted({int(i) for i in special_ids})))
    masked = _corrupt(ids, chosen, seeds, shape, mask_token_id, mask_token_prob, random_token_prob,
                      random_token_ids)
    labels = tf.where(chosen, ids, IGNORE_INDEX)
    static = input_ids.shape if hasattr(input_ids, "shape") else None
    if static is not None:
        masked = tf.ensure_shape(masked, static)
        labels = tf.ensure_shape(labels, static)
    return masked, labels


def _candidates(ids, special_ids, attention_mask, vocab_size, continuation=None):
    """(candidate, starts), bool [batch, length]: the tokens that may be chosen (not special, not masked out)
    and those that start a word (with `continuation`, a "##" piece after a candidate continues its word;
    without, every candidate is a word)."""
    special = tf.constant(sorted({int(i) for i in special_ids}), tf.int32)
    candidate = ~tf.reduce_any(tf.equal(ids[..., None], special), axis=-1)
    if attention_mask is not None:
        candidate &= tf.cast(attention_mask, tf.bool)
    if continuation is None:
        return candidate, candidate
    is_cont = tf.gather(tf.constant(np.asarray(continuation, dtype=bool)), tf.clip_by_value(ids, 0, vocab_size - 1))
    prev_candidate = tf.pad(candidate[:, :-1], [[0, 0], [1, 0]])
    return candidate, candidate & ~(is_cont & prev_candidate)


def _choose(candidate, starts, budget, seeds, shape, batch, length, whole_word_masking):
    """Bool [batch, length]: the chosen tokens, whole words visited in a random order (`seeds[0]`) until each
    row's `budget` [batch] is spent (whole words by the greedy fill, else the first `budget` words)."""
    num_words = tf.reduce_sum(tf.cast(starts, tf.int32), axis=1)
    word_index = tf.cumsum(tf.cast(starts, tf.int32), axis=1) - 1          # word of each candidate token
    word_index = tf.where(candidate, word_index, length)                     # others -> a dump slot

    # Random order of the words of each row; slots past the last word sort last.
    positions = tf.range(length)[None, :]
    priority = tf.random.stateless_uniform(shape, seeds[0])
    priority = tf.where(positions < num_words[:, None], priority, 2.0)
    order = tf.argsort(priority, axis=1, stable=True)

    if whole_word_masking:
        rows = tf.range(batch)[:, None] * (length + 1)
        word_len = tf.math.unsorted_segment_sum(
            tf.ones([batch * length], tf.int32), tf.reshape(rows + word_index, [-1]), batch * (length + 1)
        )
        word_len = tf.reshape(word_len, [batch, length + 1])[:, :length]
        take_word = _greedy_fill(word_len, order, budget)
    else:
        rank = tf.argsort(order, axis=1, stable=True)                        # place of each word in the order
        take_word = rank < budget[:, None]
    take_word = tf.pad(take_word, [[0, 0], [0, 1]])                          # the dump slot is never taken
    return candidate & tf.gather(take_word, word_index, batch_dims=1)


def _corrupt(ids, chosen, seeds, shape, mask_token_id, mask_token_prob, random_token_prob, random_token_ids):
    """`ids` with the `chosen` tokens replaced: [MASK] with probability `mask_token_prob`, a token drawn from
    `random_token_ids` with `random_token_prob`, else kept (`seeds[1]` decides, `seeds[2]` draws)."""
    action = tf.random.stateless_uniform(shape, seeds[1])
    to_mask = chosen & (action < mask_token_prob)
    to_random = chosen & (action >= 1.0 - random_token_prob) & ~to_mask
    allowed = tf.constant(np.asarray(random_token_ids).astype(np.int32))
    draw = tf.random.stateless_uniform(shape, seeds[2], minval=0, maxval=tf.shape(allowed)[0], dtype=tf.int32)
    random_ids = tf.gather(allowed, draw)
    return tf.where(to_mask, mask_token_id, tf.where(to_random, random_ids, ids))


def masked_positions(labels, max_predictions):
    """[batch, length] MLM labels (-100: not predicted) -> (`masked_lm_positions`, compact labels), both
    int32 [batch, max_predictions]: the predicted positions in increasing order, then position 0 with label
    -100 in the unused slots. Raises if a row predicts more than `max_predictions` tokens.

    Example:
        >>> positions, labels = masked_positions([[-100, 7, -100, 9]], max_predictions=3)
        >>> positions.numpy().tolist(), labels.numpy().tolist()
        ([[1, 3, 0]], [[7, 9, -100]])
    """
    labels = tf.cast(tf.convert_to_tensor(labels), tf.int32)
    length = tf.shape(labels)[1]
    valid = tf.not_equal(labels, IGNORE_INDEX)
    count = tf.reduce_max(tf.reduce_sum(tf.cast(valid, tf.int32), axis=1))
    check = tf.debugging.assert_less_equal(
        count, max_predictions,
        message=f"a row has more predicted tokens than max_predictions={max_predictions}")
    with tf.control_dependencies([check]):
        index = tf.range(length)[None, :]
        order = tf.argsort(tf.where(valid, index, index + length), axis=1, stable=True)
    order = tf.pad(order, [[0, 0], [0, tf.maximum(max_predictions - length, 0)]])[:, :max_predictions]
    used = tf.gather(valid, order, batch_dims=1) & (tf.range(max_predictions)[None, :] < length)
    positions = tf.where(used, order, 0)
    compact = tf.where(used, tf.gather(labels, order, batch_dims=1), IGNORE_INDEX)
    return positions, compact


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class MaskedLMMasker(keras.layers.Layer):
    """`mask_tokens` as a Keras layer, for masking inside a model or a `tf.data` map.

    Call with `input_ids` [batch, length], a `seed` [2] and optionally `attention_mask`; returns
    `(masked_ids, labels)`.

    Args:
        vocab_size: size of the vocabulary (random replacements are drawn from it).
        special_ids: ids never masked ([PAD], [UNK], [CLS], [SEP], [MASK]).
        mask_token_id: the id of [MASK].
        continuation_ids: ids of word continuations ("##..."), for whole-word masking.
        whole_word_masking: mask every piece of a chosen word.
        masked_lm_prob: share of the tokens predicted. max_predictions_per_seq: at most this many per row.
        mask_token_prob, random_token_prob: of the predicted tokens, the share replaced by [MASK] and by a
            random token (the rest stay as they are).
        **kwargs: `keras.layers.Layer` arguments.

    Example:
        >>> import tensorflow as tf
        >>> masker = MaskedLMMasker(vocab_size=30522, special_ids=[0, 100, 101, 102, 103], mask_token_id=103)
        >>> ids = tf.constant([[101, 7592, 2088, 2003, 2307, 1012, 102, 0]])
        >>> masked, labels = masker(ids, seed=tf.constant([1, 2]))
        >>> tuple(masked.shape), int(tf.reduce_sum(tf.cast(labels != -100, tf.int32))) <= 20
        ((1, 8), True)
    """

    def __init__(self, vocab_size, special_ids, mask_token_id, continuation_ids=None, whole_word_masking=False,
                 masked_lm_prob=0.15, max_predictions_per_seq=20, mask_token_prob=0.8, random_token_prob=0.1,
                 **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.special_ids = [int(i) for i in special_ids]
        self.mask_token_id = int(mask_token_id)
        self.continuation_ids = None if continuation_ids is None else [int(i) for i in continuation_ids]
        self.whole_word_masking = bool(whole_word_masking)
        self.masked_lm_prob = float(masked_lm_prob)
        self.max_predictions_per_seq = int(max_predictions_per_seq)
        self.mask_token_prob = float(mask_token_prob)
        self.random_token_prob = float(random_token_prob)

    @classmethod
    def from_vocabulary(cls, tokens, **kwargs):
        """Build from the vocabulary's token list ([PAD]/[UNK]/[CLS]/[SEP]/[MASK] looked up by name)."""
        index = {t: i for i, t in enumerate(tokens)}
        specials = sorted(index[t] for t in DEFAULT_SPECIAL_TOKENS.values() if t in index)
        cont = np.flatnonzero(continuation_table(tokens)).tolist()
        return cls(len(tokens), specials, index["[MASK]"], continuation_ids=cont, **kwargs)

    def _continuation(self):
        table = np.zeros([self.vocab_size], dtype=bool)
        if self.continuation_ids:
            table[np.asarray(self.continuation_ids)] = True
        return table

    def call(self, input_ids, seed, attention_mask=None):
        return mask_tokens(
            input_ids, seed, vocab_size=self.vocab_size, special_ids=self.special_ids,
            mask_token_id=self.mask_token_id, continuation=self._continuation(),
            whole_word_masking=self.whole_word_masking, masked_lm_prob=self.masked_lm_prob,
            max_predictions_per_seq=self.max_predictions_per_seq, mask_token_prob=self.mask_token_prob,
            random_token_prob=self.random_token_prob, attention_mask=attention_mask,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, special_ids=self.special_ids, mask_token_id=self.mask_token_id,
            continuation_ids=self.continuation_ids, whole_word_masking=self.whole_word_masking,
            masked_lm_prob=self.masked_lm_prob, max_predictions_per_seq=self.max_predictions_per_seq,
            mask_token_prob=self.mask_token_prob, random_token_prob=self.random_token_prob,
        )
        return config
