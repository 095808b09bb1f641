"""The tokenizers under the JAX backend: `return_tensors="jax"` and `"np"`, `TFBertTokenizer` called eagerly on
Python strings (JAX arrays back) and inside the `tf.data` pipelines that feed `fit`, with the reference ids; a
string `keras.Input` (a TensorFlow-only model) gets a clear error.

Run: KERAS_BACKEND=jax python -m pytest -m jax tests/test_jax_tokenizers.py
"""

import numpy as np
import pytest
import keras
import tensorflow as tf

import keras_bert_suite as kbs
from helpers import minilm_folder

pytestmark = [pytest.mark.jax, pytest.mark.jax_only]

TEXTS = ["Hello, my dog is cute", "Ünïcödé and 中文 text!", "a"]


@pytest.fixture(scope="module")
def tokenizers():
    folder = minilm_folder()
    return (kbs.BertTokenizer.from_pretrained(folder), kbs.BertTokenizerFast.from_pretrained(folder),
            kbs.TFBertTokenizer.from_pretrained(folder))


def test_python_tokenizers_return_jax_and_numpy_arrays(tokenizers):
    import jax

    python, fast, _ = tokenizers
    want = python(TEXTS, padding=True)["input_ids"]
    for tok in (python, fast):
        as_jax = tok(TEXTS, padding=True, return_tensors="jax")
        as_np = tok(TEXTS, padding=True, return_tensors="np")
        assert isinstance(as_jax["input_ids"], jax.Array) and isinstance(as_np["input_ids"], np.ndarray)
        np.testing.assert_array_equal(np.asarray(as_jax["input_ids"]), want)
        np.testing.assert_array_equal(as_np["attention_mask"], np.asarray(as_jax["attention_mask"]))
        assert tok.pad({"input_ids": [[101, 102], [101]]}, return_tensors="jax")["input_ids"].shape == (2, 2)


def test_tf_tokenizer_called_eagerly_on_strings_returns_jax_arrays(tokenizers):
    import jax

    python, _, layer = tokenizers
    want = python(TEXTS, padding=True, return_tensors="np")
    for texts in (TEXTS, np.array(TEXTS), tf.constant(TEXTS)):
        out = layer(texts)
        assert set(out) == {"input_ids", "token_type_ids", "attention_mask"}
        for key in out:
            assert isinstance(out[key], jax.Array) and out[key].dtype == "int32", key
            np.testing.assert_array_equal(np.asarray(out[key]), want[key])
    single = layer("Hello, my dog is cute")["input_ids"]
    np.testing.assert_array_equal(np.asarray(single), want["input_ids"][:1, :single.shape[1]])
    pairs = layer(["a question?"], ["its context."])
    np.testing.assert_array_equal(np.asarray(pairs["token_type_ids"]),
                                  python(["a question?"], ["its context."], return_tensors="np")["token_type_ids"])


def test_tf_tokenizer_on_a_string_keras_input_says_to_tokenize_outside_the_model(tokenizers):
    _, _, layer = tokenizers
    with pytest.raises(TypeError, match="cannot take a symbolic keras.Input under the jax backend.*export_saved_model"):
        layer(keras.Input(shape=(), dtype="string"))


def test_tf_tokenizer_in_a_tf_data_pipeline_feeds_fit_and_a_jax_model_reads_its_output(tokenizers):
    python, _, layer = tokenizers
    texts = ["good movie", "bad one", "great fun", "awful stuff"] * 2
    labels = np.array([1, 0, 1, 0] * 2, "int32")
    ds = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(4)
    ds = ds.map(lambda t, y: {**layer(t), "labels": y})
    first = next(iter(ds))
    assert isinstance(first["input_ids"], tf.Tensor)
    np.testing.assert_array_equal(first["input_ids"].numpy(), python(texts[:4], padding=True)["input_ids"])
    keras.utils.set_random_seed(0)
    model = kbs.BertForSequenceClassification(kbs.BertConfig(
        vocab_size=len(python.vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
        intermediate_size=37, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(ds, epochs=5, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]
    inputs = ds.map(lambda x: {k: v for k, v in x.items() if k != "labels"})  # predict: no loss to gather
    np.testing.assert_allclose(np.asarray(model(layer(texts[:4])).logits),
                               np.asarray(model.predict(inputs.take(1), verbose=0)["logits"]), atol=1e-5)
