"""MLM masking: the BERT recipe's statistics, special tokens, whole words, budgets, static shapes, seeds."""

import numpy as np
import pytest
import tensorflow as tf

from helpers import minilm_folder
from keras_bert_suite.pretraining.data import Vocabulary
from keras_bert_suite.pretraining.masking import MaskedLMMasker, mask_tokens


@pytest.fixture(scope="module")
def vocab():
    import os

    return Vocabulary.from_file(os.path.join(minilm_folder(), "vocab.txt"))


def _sequences(vocab, batch=512, length=128, seed=0):
    """[CLS] A [SEP] B [SEP] [PAD]... with random words (whole words and "##" pieces) and random lengths."""
    rng = np.random.RandomState(seed)
    words = np.array([i for i in range(1000, vocab.size) if not vocab.continuation[i]])
    pieces = np.flatnonzero(vocab.continuation)
    ids = np.full((batch, length), vocab.pad_id, np.int32)
    mask = np.zeros_like(ids)
    for row in range(batch):
        n = rng.randint(20, length + 1)
        toks = np.where(rng.rand(n) < 0.3, rng.choice(pieces, n), rng.choice(words, n))
        toks[0], toks[n // 2], toks[n - 1] = vocab.cls_id, vocab.sep_id, vocab.sep_id
        ids[row, :n] = toks
        mask[row, :n] = 1
    return ids, mask


def _mask(vocab, ids, mask, seed=(3, 4), **kw):
    kw.setdefault("max_predictions_per_seq", ids.shape[1])
    out, labels = mask_tokens(ids, tf.constant(seed), vocab_size=vocab.size, special_ids=vocab.special_ids,
                              mask_token_id=vocab.mask_id, continuation=vocab.continuation, attention_mask=mask,
                              **kw)
    return out.numpy(), labels.numpy()


def _words(ids, vocab, candidate):
    """For each row, lists of positions that form a word (a start and its "##" continuations)."""
    groups = []
    for row in range(ids.shape[0]):
        row_groups, current = [], None
        for pos in range(ids.shape[1]):
            if not candidate[row, pos]:
                current = None
                continue
            if current is not None and vocab.continuation[ids[row, pos]]:
                current.append(pos)
            else:
                current = [pos]
                row_groups.append(current)
        groups.append(row_groups)
    return groups


@pytest.mark.parametrize("whole_word", [False, True])
def test_recipe_statistics(vocab, whole_word):
    ids, mask = _sequences(vocab)
    out, labels = _mask(vocab, ids, mask, whole_word_masking=whole_word)
    candidate = (mask == 1) & ~np.isin(ids, vocab.special_ids)
    chosen = labels != -100
    assert not (chosen & ~candidate).any(), "a special or padding token was chosen"
    assert (labels[chosen] == ids[chosen]).all()
    assert (out[~chosen] == ids[~chosen]).all(), "a token that is not predicted was changed"
    rate = chosen.sum() / candidate.sum()
    assert abs(rate - 0.15) < 0.01, rate
    masked = (out == vocab.mask_id) & chosen
    kept = (out == ids) & chosen
    replaced = chosen & ~masked & ~kept
    total = chosen.sum()
    assert abs(masked.sum() / total - 0.8) < 0.02
    assert abs(kept.sum() / total - 0.1) < 0.02
    assert abs(replaced.sum() / total - 0.1) < 0.02
    assert not np.isin(out[replaced], vocab.special_ids).any()
    if whole_word:
        for row, groups in enumerate(_words(ids, vocab, candidate)):
            for group in groups:
                flags = chosen[row, group]
                assert flags.all() or not flags.any(), (row, group, flags)


def test_per_sequence_budget(vocab):
    ids, mask = _sequences(vocab, batch=128, seed=1)
    candidate = (mask == 1) & ~np.isin(ids, vocab.special_ids)
    n = candidate.sum(1)
    for whole_word in (False, True):
        _, labels = _mask(vocab, ids, mask, whole_word_masking=whole_word, max_predictions_per_seq=5)
        counts = (labels != -100).sum(1)
        assert counts.max() <= 5
        if not whole_word:
            np.testing.assert_array_equal(counts, np.minimum(5, np.maximum(1, np.round(n * 0.15))))
    _, labels = _mask(vocab, ids, mask)
    np.testing.assert_array_equal((labels != -100).sum(1), np.maximum(1, np.round(n * 0.15)))


def test_static_shapes_and_seeds(vocab):
    ids, mask = _sequences(vocab, batch=8, length=32, seed=2)
    spec = tf.TensorSpec([8, 32], tf.int32)

    @tf.function(input_signature=[spec, spec, tf.TensorSpec([2], tf.int32)])
    def run(x, m, seed):
        out, labels = mask_tokens(x, seed, vocab_size=vocab.size, special_ids=vocab.special_ids,
                                  mask_token_id=vocab.mask_id, continuation=vocab.continuation,
                                  whole_word_masking=True, attention_mask=m)
        assert out.shape == (8, 32) and labels.shape == (8, 32)
        return out, labels

    a = run(ids, mask, tf.constant([1, 2]))
    b = run(ids, mask, tf.constant([1, 2]))
    c = run(ids, mask, tf.constant([1, 3]))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_layer_matches_function_and_round_trips(vocab):
    import keras

    ids, mask = _sequences(vocab, batch=4, length=32, seed=3)
    layer = MaskedLMMasker.from_vocabulary(vocab.tokens, whole_word_masking=True, max_predictions_per_seq=6)
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    seed = tf.constant([5, 6])
    out, labels = clone(ids, seed=seed, attention_mask=mask)
    ref = _mask(vocab, ids, mask, seed=(5, 6), whole_word_masking=True, max_predictions_per_seq=6)
    np.testing.assert_array_equal(out, ref[0])
    np.testing.assert_array_equal(labels, ref[1])


def test_masked_positions_compacts_labels(vocab):
    from keras_bert_suite.pretraining.masking import masked_positions

    ids, mask = _sequences(vocab, batch=64, length=48)
    _, labels = _mask(vocab, ids, mask, max_predictions_per_seq=7)
    positions, compact = (t.numpy() for t in masked_positions(labels, max_predictions=7))
    assert positions.shape == compact.shape == (64, 7)
    for row in range(64):
        where = np.flatnonzero(labels[row] != -100)
        k = len(where)
        np.testing.assert_array_equal(positions[row, :k], where)          # increasing order
        np.testing.assert_array_equal(compact[row, :k], labels[row, where])
        assert (positions[row, k:] == 0).all() and (compact[row, k:] == -100).all()
    # more slots than positions: still well formed
    p, c = masked_positions([[-100, 7, -100, 9]], max_predictions=6)
    assert p.numpy().tolist() == [[1, 3, 0, 0, 0, 0]] and c.numpy().tolist() == [[7, 9, -100, -100, -100, -100]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_predictions=1"):
        masked_positions([[-100, 7, -100, 9]], max_predictions=1)
