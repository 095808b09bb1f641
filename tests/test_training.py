"""model.fit on small learnable tasks: the model's own loss, compiled Keras losses, XLA, mixed precision."""

import numpy as np
import pytest
import tensorflow as tf
import keras

import keras_bert_suite as kbs

pytestmark = pytest.mark.jax  # and the TensorFlow run (tf.data feeds fit on both)

CONFIG = dict(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
              max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _task(name, n=64, length=8, seed=0):
    """Inputs and labels a tiny BERT can learn in a few dozen steps."""
    rng = np.random.RandomState(seed)
    ids = rng.randint(5, 40, (n, length)).astype("int32")
    x = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    if name == "BertForSequenceClassification":
        x["labels"] = (ids[:, 1] % 2).astype("int32")
    elif name == "BertForNextSentencePrediction":
        x["labels"] = (ids[:, 2] > 22).astype("int32")
    elif name == "BertForTokenClassification":
        x["labels"] = (ids % 3).astype("int32")
    elif name == "BertForMaskedLM":
        labels = ids.copy()
        labels[:, 1::2] = -100
        x["labels"] = labels
    elif name == "BertLMHeadModel":
        ids = np.tile(np.arange(length) + 5, (n, 1)).astype("int32") + rng.randint(0, 2, (n, 1)).astype("int32")
        x = {"input_ids": ids, "attention_mask": np.ones_like(ids), "labels": ids}
    elif name == "BertForPreTraining":
        x["labels"] = ids.copy()
        x["next_sentence_label"] = (ids[:, 1] % 2).astype("int32")
    elif name == "BertForQuestionAnswering":
        x["start_positions"] = np.argmax(ids, axis=1).astype("int32")
        x["end_positions"] = np.argmin(ids, axis=1).astype("int32")
    elif name == "BertForMultipleChoice":
        ids = rng.randint(5, 40, (n, 3, length)).astype("int32")
        answer = rng.randint(0, 3, (n,))
        ids[np.arange(n), answer, 1] = 4
        x = {"input_ids": ids, "attention_mask": np.ones_like(ids), "labels": answer.astype("int32")}
    return x


def _extra(name):
    if name == "BertLMHeadModel":
        return {"is_decoder": True}
    if name == "BertForTokenClassification":
        return {"num_labels": 3}
    return {}


def _dataset(x, batch_size=16):
    return tf.data.Dataset.from_tensor_slices(x).shuffle(64, seed=0).batch(batch_size)


@pytest.mark.parametrize("name", [
    "BertForSequenceClassification", "BertForNextSentencePrediction", "BertForTokenClassification",
    "BertForMaskedLM", "BertLMHeadModel", "BertForPreTraining", "BertForQuestionAnswering",
    "BertForMultipleChoice",
])
def test_fit_own_loss_decreases(name):
    keras.utils.set_random_seed(0)
    model = getattr(kbs, name)(kbs.BertConfig(**CONFIG, **_extra(name)))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=name == "BertForSequenceClassification")
    data = _dataset(_task(name))
    before = model.evaluate(data, verbose=0)
    model.fit(data, epochs=6, verbose=0)
    after = model.evaluate(data, verbose=0)
    assert after < 0.7 * before, (before, after)


def test_fit_with_compiled_loss_metrics_xla_and_y():
    keras.utils.set_random_seed(0)
    x = _task("BertForSequenceClassification")
    labels = x.pop("labels")
    model = kbs.BertForSequenceClassification(kbs.BertConfig(**CONFIG))
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=True)
    history = model.fit(x, labels, batch_size=16, epochs=8, verbose=0)
    assert history.history["accuracy"][-1] > 0.8
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    predictions = model.predict(x, batch_size=16, verbose=0)
    assert predictions["logits"].shape == (64, 2)


def test_own_loss_from_y_and_metrics_from_input_labels():
    keras.utils.set_random_seed(0)
    x = _task("BertForSequenceClassification")
    model = kbs.BertForSequenceClassification(kbs.BertConfig(**CONFIG))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"])
    history = model.fit(_dataset(x), epochs=3, verbose=0)
    assert "accuracy" in history.history
    labels = x.pop("labels")
    history = model.fit(x, labels, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def test_no_labels_no_loss_is_a_clear_error():
    model = kbs.BertForSequenceClassification(kbs.BertConfig(**CONFIG))
    model.compile(optimizer="adam")
    x = _task("BertForSequenceClassification")
    x.pop("labels")
    with pytest.raises(ValueError, match="compiled without a loss and got no labels"):
        model.fit(x, batch_size=16, epochs=1, verbose=0)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", pytest.param("mixed_float16", marks=pytest.mark.slow)])
def test_mixed_precision_fit(policy):
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = kbs.BertForSequenceClassification(kbs.BertConfig(**CONFIG))
        assert model.bert.embeddings.layer_norm.compute_dtype != "float32"
        model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
        if policy == "mixed_float16":
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        data = _dataset(_task("BertForSequenceClassification"))
        before = model.evaluate(data, verbose=0)
        model.fit(data, epochs=8, verbose=0)
        after = model.evaluate(data, verbose=0)
        assert np.isfinite(after) and after < 0.8 * before
        assert all(v.dtype == "float32" for v in model.trainable_variables)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_keras_file_round_trip_after_fit(tmp_path):
    keras.utils.set_random_seed(0)
    model = kbs.BertForTokenClassification(kbs.BertConfig(**CONFIG, num_labels=3))
    model.compile(optimizer="adam")
    x = _task("BertForTokenClassification")
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    path = str(tmp_path / "tagger.keras")
    model.save(path)
    back = keras.saving.load_model(path, safe_mode=True)
    ids = {"input_ids": x["input_ids"][:4]}
    np.testing.assert_allclose(np.asarray(back(ids).logits), np.asarray(model(ids).logits), atol=1e-6)
    back.fit(x, batch_size=16, epochs=1, verbose=0)
