"""Every head against its transformers PyTorch twin: logits and loss, saving, and new-head reporting."""

import numpy as np
import pytest
import transformers

import keras_bert_suite as kbs
from helpers import TF_ONLY, batch, max_diff, torch_reference, torch_run

TOL = 1e-5

pytestmark = pytest.mark.jax  # and the TensorFlow run


def _labels(name, inputs, seed=0):
    rng = np.random.RandomState(seed)
    b, n = inputs["input_ids"].shape[:2]
    if name in ("BertForMaskedLM", "BertLMHeadModel"):
        labels = rng.randint(0, 99, (b, n))
        labels[:, ::3] = -100
        return {"labels": labels}
    if name == "BertForPreTraining":
        labels = rng.randint(0, 99, (b, n))
        labels[:, 1::2] = -100
        return {"labels": labels, "next_sentence_label": rng.randint(0, 2, (b,))}
    if name == "BertForNextSentencePrediction":
        return {"labels": rng.randint(0, 2, (b,))}
    if name == "BertForSequenceClassification":
        return {"labels": rng.randint(0, 3, (b,))}
    if name == "BertForTokenClassification":
        labels = rng.randint(0, 3, (b, n))
        labels[:, 0] = -100
        return {"labels": labels}
    if name == "BertForQuestionAnswering":
        return {"start_positions": rng.randint(0, n, (b,)), "end_positions": np.array([2, 50, 4][:b])}
    if name == "BertForMultipleChoice":
        return {"labels": rng.randint(0, n, (b,))}
    raise KeyError(name)


def _inputs(name):
    if name == "BertForMultipleChoice":
        flat = batch(batch_size=6, length=7)
        return {k: v.reshape(2, 3, 7) for k, v in flat.items()}
    return batch()


HEADS = {
    "BertForPreTraining": ("prediction_logits", "seq_relationship_logits"),
    "BertForMaskedLM": ("logits",),
    "BertLMHeadModel": ("logits",),
    "BertForNextSentencePrediction": ("logits",),
    "BertForSequenceClassification": ("logits",),
    "BertForMultipleChoice": ("logits",),
    "BertForTokenClassification": ("logits",),
    "BertForQuestionAnswering": ("start_logits", "end_logits"),
}


def _extra_config(name):
    if name == "BertLMHeadModel":
        return {"is_decoder": True}
    if name in ("BertForSequenceClassification", "BertForTokenClassification"):
        return {"num_labels": 3}
    return {}


@pytest.mark.parametrize("name", sorted(HEADS))
def test_head_parity_with_loss(tmp_path, name):
    ref = torch_reference(name, tmp_path, **_extra_config(name))
    model = getattr(kbs, name).from_pretrained(tmp_path)
    assert not model.loading_info.missing_keys and not model.loading_info.unexpected_keys
    inputs = _inputs(name)
    labels = _labels(name, inputs)
    want = torch_run(ref, **inputs, **labels, **({"use_cache": False} if name == "BertLMHeadModel" else {}))
    got = model({**inputs, **labels})
    for key in HEADS[name]:
        assert max_diff(got[key], want[key]) < TOL, key
    assert abs(float(got.loss) - float(want.loss)) < TOL


@pytest.mark.parametrize("name", sorted(HEADS))
def test_save_pretrained_loads_in_transformers(tmp_path, name):
    config = kbs.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=37, max_position_embeddings=64, **_extra_config(name))
    model = getattr(kbs, name)(config)
    model.save_pretrained(tmp_path)
    ref, info = getattr(transformers, name).from_pretrained(tmp_path, attn_implementation="eager",
                                                            output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    inputs = _inputs(name)
    want = torch_run(ref.eval(), **inputs, **({"use_cache": False} if name == "BertLMHeadModel" else {}))
    got = model(inputs)
    for key in HEADS[name]:
        assert max_diff(got[key], want[key]) < TOL, key


@pytest.mark.parametrize("problem_type, labels", [
    ("regression", np.array([0.5, -1.0, 2.0], "float32")),
    ("multi_label_classification", np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0]], "float32")),
])
def test_sequence_classification_problem_types(tmp_path, problem_type, labels):
    num_labels = 1 if problem_type == "regression" else 3
    ref = torch_reference("BertForSequenceClassification", tmp_path, num_labels=num_labels,
                          problem_type=problem_type)
    model = kbs.BertForSequenceClassification.from_pretrained(tmp_path)
    inputs = batch()
    want = torch_run(ref, **inputs, labels=labels)
    got = model({**inputs, "labels": labels})
    assert max_diff(got.logits, want.logits) < TOL
    assert abs(float(got.loss) - float(want.loss)) < TOL


def test_new_head_on_base_checkpoint_is_reported(tmp_path):
    torch_reference("BertModel", tmp_path)
    model, info = kbs.BertForSequenceClassification.from_pretrained(tmp_path, num_labels=4,
                                                                     output_loading_info=True)
    assert sorted(info.newly_initialized) == ["classifier.bias", "classifier.weight"]
    assert not info.unexpected_keys
    assert model(batch()).logits.shape == (3, 4)
    # and the reverse: a head checkpoint into the bare model drops the head, named
    torch_reference("BertForPreTraining", tmp_path / "pt")
    _, info = kbs.BertModel.from_pretrained(tmp_path / "pt", output_loading_info=True)
    assert not info.missing_keys and "cls.seq_relationship.weight" in info.unexpected_keys


def test_tied_embeddings(tmp_path):
    torch_reference("BertForMaskedLM", tmp_path)
    model = kbs.BertForMaskedLM.from_pretrained(tmp_path)
    names = model.hf_weights()
    assert "cls.predictions.decoder.weight" not in names
    table = model.bert.embeddings.word_embeddings.embeddings
    assert sum(v is table for v in model.trainable_variables) == 1


def test_generate_greedy_matches_transformers(tmp_path):
    """Greedy decoding: transformers' tokens (a tf.while_loop on TensorFlow, an eager loop on JAX)."""
    import torch

    ref = torch_reference("BertLMHeadModel", tmp_path, is_decoder=True)
    model = kbs.BertLMHeadModel.from_pretrained(tmp_path)
    prompt = np.array([[5, 17, 42], [8, 9, 10]], "int64")
    with torch.no_grad():
        want = ref.generate(torch.tensor(prompt), max_new_tokens=6, do_sample=False, pad_token_id=0,
                            attention_mask=torch.ones(2, 3, dtype=torch.long)).numpy()
    got = model.generate(prompt, max_new_tokens=6)
    np.testing.assert_array_equal(np.asarray(got), want)


@TF_ONLY
def test_generate_samples_in_a_tf_function(tmp_path):
    import tensorflow as tf

    torch_reference("BertLMHeadModel", tmp_path, is_decoder=True)
    model = kbs.BertLMHeadModel.from_pretrained(tmp_path)
    prompt = np.array([[5, 17, 42], [8, 9, 10]], "int64")
    graph = tf.function(lambda ids: model.generate(ids, max_new_tokens=6, do_sample=True, top_k=5, seed=(1, 2)))
    sampled = graph(tf.constant(prompt))
    assert sampled.shape == (2, 9)
    np.testing.assert_array_equal(sampled.numpy(), graph(tf.constant(prompt)).numpy())


@pytest.mark.parametrize("name", ["BertForPreTraining", "BertForMaskedLM"])
def test_masked_lm_positions_match_transformers(tmp_path, name):
    """With `masked_lm_positions` the MLM head runs at those positions only: the logits there and the loss
    are transformers' (which computes every position)."""
    from keras_bert_suite.pretraining.masking import masked_positions

    ref = torch_reference(name, tmp_path)
    model = getattr(kbs, name).from_pretrained(tmp_path)
    inputs = _inputs(name)
    labels = _labels(name, inputs)
    want = torch_run(ref, **inputs, **labels)
    n = inputs["input_ids"].shape[1]
    positions, compact = masked_positions(labels["labels"], max_predictions=n)  # slots to spare: -100 padding
    got = model({**inputs, **labels, "labels": compact, "masked_lm_positions": positions})
    key = HEADS[name][0]
    used = compact.numpy() != -100
    gathered = np.take_along_axis(np.asarray(want[key]), positions.numpy()[..., None], axis=1)
    assert got[key].shape == (*positions.shape, 99)
    assert max_diff(np.asarray(got[key])[used], gathered[used]) < TOL
    assert abs(float(got.loss) - float(want.loss)) < TOL
