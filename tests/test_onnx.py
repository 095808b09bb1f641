"""ONNX export of the encoder and every head, checked in onnxruntime against the Keras model."""

import numpy as np
import pytest

import keras_bert_suite as kbs
from conftest import batch

onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")

from keras_bert_suite.export import export_onnx  # noqa: E402

NAMES = ["BertModel", "BertForPreTraining", "BertForMaskedLM", "BertLMHeadModel", "BertForNextSentencePrediction",
         "BertForSequenceClassification", "BertForMultipleChoice", "BertForTokenClassification",
         "BertForQuestionAnswering"]


@pytest.mark.parametrize("name", NAMES)
def test_onnx_parity_dynamic_shapes(tmp_path, name):
    import keras

    keras.utils.set_random_seed(0)
    config = kbs.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=37, is_decoder=name == "BertLMHeadModel")
    model = getattr(kbs, name)(config)
    path = export_onnx(model, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(path)
    outputs = [o.name for o in session.get_outputs()]
    for batch_size, length in ((2, 7), (3, 11)):  # dynamic batch and length
        inputs = {k: v.astype("int32") for k, v in batch(batch_size=batch_size * 2 if name == "BertForMultipleChoice"
                                                          else batch_size, length=length).items()}
        if name == "BertForMultipleChoice":
            inputs = {k: v.reshape(batch_size, 2, length) for k, v in inputs.items()}
        got = dict(zip(outputs, session.run(None, inputs)))
        want = model(inputs)
        for key, value in got.items():
            np.testing.assert_allclose(value, want[key].numpy(), atol=1e-4)
