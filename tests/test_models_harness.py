"""Every model class through the shared harness (tests/helpers.py), plus the dtype policy in the config."""

import keras
import numpy as np
import pytest

from helpers import TINY, batch, run_model_saving_test, run_precision_test, run_serialization_test

import keras_bert_suite as kbs

from keras_bert_suite.export.saved_model import with_compute_dtype

pytestmark = pytest.mark.jax  # and the TensorFlow run

MODEL_CLASSES = (
    kbs.BertModel, kbs.BertForPreTraining, kbs.BertForMaskedLM, kbs.BertForNextSentencePrediction,
    kbs.BertLMHeadModel, kbs.BertForSequenceClassification, kbs.BertForTokenClassification,
    kbs.BertForMultipleChoice, kbs.BertForQuestionAnswering,
)


def test_dtype_policy_is_in_the_config_and_the_export_copy_leaves_the_global_policy(tmp_path):
    model = kbs.BertForSequenceClassification(kbs.BertConfig(**TINY), dtype="mixed_bfloat16")
    loaded = run_model_saving_test(model, batch(), tmp_path, atol=1e-2)
    assert loaded.dtype_policy.name == "mixed_bfloat16" and loaded.bert.encoder.dtype_policy.name == "mixed_bfloat16"
    config = model.get_config()
    assert keras.dtype_policies.deserialize(config["dtype"]).name == "mixed_bfloat16"
    clone = kbs.BertForSequenceClassification.from_config(config)
    assert {layer.dtype_policy.name for layer in clone._flatten_layers()} == {"mixed_bfloat16"}
    assert clone(batch()).logits.dtype == "bfloat16"
    old = {k: v for k, v in config.items() if k != "dtype"}
    assert kbs.BertForSequenceClassification.from_config(old).dtype_policy.name == "float32"

    plain = kbs.BertForSequenceClassification(kbs.BertConfig(**TINY))
    copy = with_compute_dtype(plain, "bfloat16")
    assert keras.config.dtype_policy().name == "float32" and plain.dtype_policy.name == "float32"
    assert copy.dtype_policy.name == "mixed_bfloat16"
    assert {v.dtype for v in copy.weights} == {"float32"}
    for name, weight in copy.hf_weights().items():
        assert (weight.variable.numpy() == plain.hf_weights()[name].variable.numpy()).all(), name


def test_serving_task_is_a_class_attribute():
    from keras_bert_suite.export.signatures import TASKS, task_of

    tasks = {cls.__name__: cls.serving_task for cls in MODEL_CLASSES}
    assert tasks["BertForPreTraining"] == tasks["BertForMaskedLM"] == "masked_lm"
    assert set(tasks.values()) == set(TASKS)

    class Renamed(kbs.BertForSequenceClassification):  # the class name no longer decides the task
        serving_task = "feature_extraction"

    assert task_of(Renamed(kbs.BertConfig(**TINY))) == "feature_extraction"


def _config(cls):
    return kbs.BertConfig(**TINY, is_decoder=cls is kbs.BertLMHeadModel)


def _inputs(cls):
    data = batch()
    if cls is kbs.BertForMultipleChoice:  # [batch, choices, length]
        data = {k: np.stack([v, v[::-1]], axis=1) for k, v in data.items()}
    return data


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda cls: cls.__name__)
def test_model(cls, tmp_path):
    keras.utils.set_random_seed(0)
    model = cls(_config(cls))
    revived = run_serialization_test(model)
    assert revived.serving_task == cls.serving_task
    run_model_saving_test(model, _inputs(cls), tmp_path, atol=1e-5)
    run_precision_test(cls, {"config": _config(cls)}, _inputs(cls))
