"""BertDropout: Keras's dropout semantics with cheaper random numbers."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_bert_suite.layers.dropout import BertDropout


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_drop_rate_scaling_and_fresh_masks(rate, jit_compile):
    layer = BertDropout(rate, seed=3)
    x = tf.ones([64, 12, 33, 17])   # odd size: the last 32-bit draw decides one element
    run = tf.function(lambda v: layer(v, training=True), jit_compile=jit_compile)
    a, b = run(x).numpy(), run(x).numpy()
    for out in (a, b):
        kept = out != 0
        assert abs(1 - kept.mean() - rate) < 0.005
        np.testing.assert_allclose(out[kept], 1 / (1 - rate), rtol=1e-6)
        assert abs(out.mean() - 1) < 0.01                    # unbiased
    assert (a != b).mean() > rate                            # a new mask per call
    # both halves of each 32-bit draw are used: no visible pattern between the two halves of the tensor
    flat = (a.reshape(-1) != 0)
    half = flat.size // 2
    assert abs(np.corrcoef(flat[:half], flat[half:2 * half])[0, 1]) < 0.02


def test_inference_is_identity_and_config_round_trips():
    layer = BertDropout(0.3, seed=1, name="drop")
    x = tf.random.normal([4, 5])
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(layer(x), x)
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(clone, BertDropout) and clone.rate == 0.3 and clone.seed == 1


def test_same_seed_same_masks_and_bfloat16():
    x = tf.ones([8, 300], tf.bfloat16)
    a = BertDropout(0.2, seed=7, dtype="mixed_bfloat16")(x, training=True)
    b = BertDropout(0.2, seed=7, dtype="mixed_bfloat16")(x, training=True)
    assert a.dtype == tf.bfloat16
    np.testing.assert_array_equal(a.numpy(), b.numpy())
