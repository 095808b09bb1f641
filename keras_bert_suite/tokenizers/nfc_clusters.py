"""NFC on clusters, in-graph: the reference's NFC step (normalize._nfc) on the few characters it can change.

The reference tokenizer applies NFC to the whole text when it keeps accents. NFC only changes characters that
are not stable starters (tables.UNSTABLE) together with the characters before them, so the flat characters are
cut into clusters (each starting at a stable character), and only clusters holding an unstable character go
through tensorflow-text's `normalize_utf8`. A cluster NFC changes is replaced by its composed characters, each
covering the cluster's whole input span (`compose_clusters`).

Shapes: Chars fields [chars] in, Chars fields [new chars] out (see char_tensors.Chars).

Example:
    >>> import tensorflow as tf
    >>> from keras_bert_suite.tokenizers.char_tensors import Chars
    >>> cp = tf.constant([ord("e"), 0x301], tf.int32)        # "e" + combining acute accent
    >>> row, no = tf.zeros([2], tf.int64), tf.zeros([2], tf.bool)
    >>> chars = Chars(cp, row, tf.constant([0, 1], tf.int64), tf.constant([1, 2], tf.int64), no, no)
    >>> classes = tf.gather(tf.constant(tables.class_table(), tf.uint8), cp)
    >>> out = compose_clusters(chars, classes, has_bit(classes, tables.UNSTABLE), split_cjk=True)
    >>> out.codepoint.numpy().tolist(), out.start.numpy().tolist(), out.end.numpy().tolist()
    ([233], [0], [2])
"""

import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert_suite.tokenizers import tables
from keras_bert_suite.tokenizers.char_tensors import Chars, has_bit, prev, row_starts_here


def compose_clusters(chars, classes, unstable, split_cjk):
    """Chars -> Chars after NFC of every cluster holding an `unstable` character (bool [chars]); `classes`
    uint8 [chars] are the characters' class bits, `split_cjk` whether CJK characters are words of their own."""
    cluster, n_clusters = clusters(chars, classes, unstable, split_cjk)
    changed, composed = nfc_of_clusters(chars.codepoint, cluster, n_clusters, unstable)
    return splice_clusters(chars, cluster, n_clusters, changed, composed)


def clusters(chars, classes, unstable, split_cjk):
    """Cluster index of every character [chars] and the number of clusters: a new cluster starts at every
    stable character, at the start of a text, around special-token characters and, when CJK characters are
    split off (`split_cjk`), around them."""
    boundary = ~unstable | chars.special | prev(chars.special, True) | row_starts_here(chars.row)
    if split_cjk:
        cjk = has_bit(classes, tables.CJK)
        boundary |= cjk | prev(cjk, False)
    cluster = tf.cumsum(tf.cast(boundary, tf.int64)) - 1
    return cluster, tf.reduce_sum(tf.cast(boundary, tf.int64))


def nfc_of_clusters(codepoint, cluster, n_clusters, unstable):
    """NFC of every cluster holding an unstable character -> (changed bool [clusters], composed RaggedTensor
    [changed clusters, (code points)]: the new characters of each cluster NFC changed, in cluster order)."""
    has_unstable = tf.math.unsorted_segment_max(tf.cast(unstable, tf.int32), cluster, n_clusters) > 0
    selected = tf.gather(has_unstable, cluster)
    rank = tf.cumsum(tf.cast(has_unstable, tf.int64)) - 1
    n_selected = tf.reduce_sum(tf.cast(has_unstable, tf.int64))
    selected_clusters = tf.RaggedTensor.from_value_rowids(
        tf.boolean_mask(codepoint, selected), tf.gather(rank, tf.boolean_mask(cluster, selected)), nrows=n_selected
    )
    before = tf.strings.unicode_encode(selected_clusters, "UTF-8")
    after = tf_text.normalize_utf8(before, "NFC")
    differs = tf.not_equal(before, after)
    composed = tf.strings.unicode_decode(tf.boolean_mask(after, differs), "UTF-8")
    changed = tf.scatter_nd(tf.where(has_unstable), tf.cast(differs, tf.int32), tf.reshape(n_clusters, [1])) > 0
    return changed, composed


def splice_clusters(chars, cluster, n_clusters, changed, composed):
    """Chars with the characters of every changed cluster replaced by its composed ones: each new character
    covers its cluster's whole input span, lies in the cluster's row, and is not special."""
    n = tf.size(chars.codepoint, out_type=tf.int64)
    # The output in order, as indices: an old character i stays i (>= 0), composed character j becomes -1 - j.
    old_index = tf.RaggedTensor.from_value_rowids(tf.range(n), cluster, nrows=n_clusters)
    composed_index = composed.with_flat_values(-1 - tf.range(tf.size(composed.flat_values, out_type=tf.int64)))
    changed_rank = tf.cumsum(tf.cast(changed, tf.int64)) - 1
    source = tf.where(changed, n_clusters + changed_rank, tf.range(n_clusters))
    order = tf.gather(tf.concat([old_index, composed_index], axis=0), source).flat_values
    is_new = order < 0
    old_i = tf.maximum(order, 0)
    new_i = tf.maximum(-1 - order, 0)

    composed_cluster = tf.gather(tf.boolean_mask(tf.range(n_clusters), changed), composed.value_rowids())
    cluster_row = tf.gather(chars.row, tf.math.unsorted_segment_min(tf.range(n), cluster, n_clusters))
    none_composed = tf.size(composed.flat_values) == 0

    def of_composed(values_fn, dtype):
        # One dummy entry when nothing was composed keeps the gathers below valid (is_new is then all False).
        return tf.cond(none_composed, lambda: tf.zeros([1], dtype), values_fn)

    def span(values, reduce):  # each new character covers its whole cluster (no spans: none)
        if values is None:
            return None
        edge = reduce(values, cluster, n_clusters)
        return of_composed(lambda: tf.gather(edge, composed_cluster), tf.int64)

    new_codepoint = of_composed(lambda: composed.flat_values, tf.int32)
    new = Chars(
        new_codepoint,
        of_composed(lambda: tf.gather(cluster_row, composed_cluster), tf.int64),
        span(chars.start, tf.math.unsorted_segment_min),
        span(chars.end, tf.math.unsorted_segment_max),
        tf.zeros(tf.shape(new_codepoint), tf.bool),
        tf.zeros(tf.shape(new_codepoint), tf.bool),
    )
    return Chars(*[None if a is None else tf.where(is_new, tf.gather(b, new_i), tf.gather(a, old_i))
                   for a, b in zip(chars, new)])
