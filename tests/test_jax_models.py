"""The models under the JAX backend, the way JAX users run them: output classes as JAX pytrees through
`jax.jit`, gradients by `jax.grad` over `model.stateless_call` against PyTorch's, `predict` / `evaluate`,
keyword calls, sampling in `generate`, and clear errors for text given to a model.

The shared model tests (test_heads.py, test_bert_model.py, test_training.py, test_models_harness.py,
test_training_curve.py) run under JAX too; this file holds what only JAX has.
Run: KERAS_BACKEND=jax python -m pytest -m jax tests/test_jax_models.py
"""

import numpy as np
import pytest
import keras

import keras_bert_suite as kbs
from helpers import TINY, batch, max_diff, torch_reference, torch_run
from test_heads import HEADS, _extra_config, _inputs, _labels

pytestmark = [pytest.mark.jax, pytest.mark.jax_only]

TOL = 1e-5
GRAD_RTOL = 1e-4


def _reference_pair(tmp_path, name):
    ref = torch_reference(name, tmp_path, **_extra_config(name))
    return ref, getattr(kbs, name).from_pretrained(tmp_path)


def _stateless(model):
    return [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables]


def test_output_classes_are_jax_pytrees():
    import jax

    out = kbs.QuestionAnsweringModelOutput(start_logits=np.ones([2, 3]), end_logits=np.zeros([2, 3]))
    leaves, tree = jax.tree_util.tree_flatten(out)
    assert len(leaves) == 2
    back = jax.tree_util.tree_unflatten(tree, leaves)
    assert type(back) is kbs.QuestionAnsweringModelOutput and back.hidden_states is None
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(out)[0]]
    assert paths == ["['end_logits']", "['start_logits']"]
    doubled = jax.tree_util.tree_map(lambda x: 2 * x, out)
    assert type(doubled) is kbs.QuestionAnsweringModelOutput and doubled.start_logits[0, 0] == 2


@pytest.mark.parametrize("name", sorted(HEADS))
def test_jit_over_stateless_call_returns_the_output_class_equal_to_pytorch(tmp_path, name):
    import jax

    ref, model = _reference_pair(tmp_path, name)
    inputs = _inputs(name)
    labels = _labels(name, inputs)
    extra = {"use_cache": False} if name == "BertLMHeadModel" else {}
    want = torch_run(ref, **inputs, **labels, **extra)
    trainable, frozen = _stateless(model)
    step = jax.jit(lambda t, f, x: model.stateless_call(t, f, x)[0])
    got = step(trainable, frozen, {**inputs, **labels})
    assert type(got).__name__ == type(model(inputs)).__name__
    for key in HEADS[name]:
        assert max_diff(got[key], want[key]) < TOL, key
    assert abs(float(got.loss) - float(want.loss)) < TOL


@pytest.mark.parametrize("name", sorted(HEADS))
def test_jax_grad_over_stateless_call_equals_pytorch(tmp_path, name):
    """Gradients of the model's own loss, as a custom JAX loop (optax, ...) takes them, against PyTorch's
    `loss.backward()` with the same weights, tensor by tensor under transformers' names.

    One row is left out: the word embedding of the padding id. PyTorch's `nn.Embedding(padding_idx=0)` gives
    that row no gradient from the lookup; ours (as transformers' TF and Flax BERT) does. Padded positions are
    masked out of attention, so the loss and every other gradient are the same."""
    import jax
    import torch

    ref, model = _reference_pair(tmp_path, name)
    inputs = _inputs(name)
    labels = _labels(name, inputs)
    extra = {"use_cache": False} if name == "BertLMHeadModel" else {}
    ref.zero_grad()
    ref(**{k: torch.tensor(v) for k, v in {**inputs, **labels}.items()}, **extra).loss.backward()
    theirs = {n: (None if p.grad is None else p.grad.numpy()) for n, p in ref.named_parameters()}

    trainable, frozen = _stateless(model)
    x = {**inputs, **labels}
    grads = jax.grad(lambda t: model.stateless_call(t, frozen, x)[0].loss)(trainable)
    index = {id(v): i for i, v in enumerate(model.trainable_variables)}
    checked = 0
    for hf_name, weight in model.hf_weights().items():
        ours = weight.to_hf(np.asarray(grads[index[id(weight.variable)]]))
        want = theirs[hf_name]
        if hf_name.endswith("word_embeddings.weight"):
            rows = np.arange(len(ours)) != model.config.pad_token_id
            ours, want = ours[rows], want[rows]
        if want is None:  # a weight the loss does not reach in PyTorch (e.g. the pooler of a token head)
            assert np.abs(ours).max() < 1e-8, hf_name
            continue
        # relative to the tensor's largest gradient; 1e-7 absolute for gradients that are 0 in exact arithmetic
        # (key and QA biases: softmax ignores a constant shift) and come out as rounding noise on both sides
        assert np.abs(ours - want).max() <= GRAD_RTOL * np.abs(want).max() + 1e-7, hf_name
        checked += 1
    assert checked > 10


def test_predict_predict_on_batch_and_evaluate(tmp_path):
    ref, model = _reference_pair(tmp_path, "BertForQuestionAnswering")
    inputs = _inputs("BertForQuestionAnswering")
    labels = _labels("BertForQuestionAnswering", inputs)
    want = torch_run(ref, **inputs, **labels)
    for got in (model.predict(inputs, batch_size=2, verbose=0), model.predict_on_batch(inputs)):
        assert set(got) == {"start_logits", "end_logits"}
        assert max_diff(got["start_logits"], want.start_logits) < TOL
        assert max_diff(got["end_logits"], want.end_logits) < TOL
    model.compile(optimizer="sgd")
    loss = model.evaluate({**inputs, **labels}, batch_size=3, verbose=0)
    assert abs(loss - float(want.loss)) < TOL

    ref, model = _reference_pair(tmp_path / "cls", "BertForSequenceClassification")
    inputs = batch()
    labels = _labels("BertForSequenceClassification", inputs)
    want = torch_run(ref, **inputs, **labels)
    model.compile(optimizer="sgd", metrics=["accuracy"])
    loss, accuracy = model.evaluate({**inputs, **labels}, batch_size=3, verbose=0)
    assert abs(loss - float(want.loss)) < TOL
    expected = np.mean(np.argmax(want.logits.numpy(), -1) == labels["labels"])
    assert abs(accuracy - expected) < 1e-6
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    compiled = model.evaluate(inputs, labels["labels"], verbose=0, return_dict=True)
    assert abs(compiled["loss"] - float(want.loss)) < TOL


def test_fit_with_dropout_and_keyword_calls():
    keras.utils.set_random_seed(0)
    model = kbs.BertForSequenceClassification(kbs.BertConfig(**TINY))  # dropout 0.1: Keras's masks on JAX
    inputs = batch(batch_size=8)
    labels = np.arange(8) % 2
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit({**inputs, "labels": labels}, batch_size=4, epochs=4, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]
    np.testing.assert_array_equal(np.asarray(model(**inputs).logits), np.asarray(model(inputs).logits))
    assert model(**inputs, output_hidden_states=True).hidden_states[0].shape == (8, 9, 32)


def test_generate_samples_with_keras_random_and_repeats_with_the_seed(tmp_path):
    """Greedy decoding's parity with transformers runs under both backends (test_heads.py); here sampling."""
    torch_reference("BertLMHeadModel", tmp_path, is_decoder=True)
    model = kbs.BertLMHeadModel.from_pretrained(tmp_path)
    prompt = np.array([[5, 17, 42], [8, 9, 10]], "int64")
    sampled = [np.asarray(model.generate(prompt, max_new_tokens=4, do_sample=True, top_k=5, seed=(1, 2)))
               for _ in range(2)]
    assert sampled[0].shape == (2, 7)
    np.testing.assert_array_equal(sampled[0], sampled[1])


def test_text_given_to_a_model_is_a_clear_error():
    import tensorflow as tf

    model = kbs.BertModel(kbs.BertConfig(**TINY))
    for text in ("a sentence", ["a sentence", "another"], np.array(["a sentence"]), tf.constant(["a sentence"])):
        with pytest.raises(TypeError, match="takes token ids, not text.*input_ids.*Tokenize first"):
            model(text)
    with pytest.raises(TypeError, match="not text"):
        model({"input_ids": np.array([[2, 3]]), "attention_mask": [["1", "1"]]})
