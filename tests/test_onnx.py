"""ONNX export of the encoder and every head, checked in onnxruntime against the Keras model."""

import numpy as np
import pytest

import keras_bert_suite as kbs
from helpers import batch

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


def test_unknown_quantization_is_named(tmp_path):
    model = kbs.BertModel(kbs.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                         intermediate_size=37))
    with pytest.raises(ValueError, match="int4"):
        export_onnx(model, tmp_path / "model.onnx", quantize="int4")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_int8_export_keeps_sentence_embeddings_of_the_real_checkpoint(tmp_path, minilm):
    """Stated tolerance of the int8 option: cosine between the int8 and float32 mean-pooled embeddings of real
    sentences >= 0.99 on average, >= 0.98 for each; the file holds the matrix-product weights in int8."""
    import os

    from helpers import sst2_sentences
    from keras_bert_suite.tokenizers import BertTokenizerFast

    model = kbs.BertModel.from_pretrained(minilm)
    path = export_onnx(model, tmp_path / "minilm-int8.onnx", quantize="int8")
    float_bytes = sum(int(np.prod(w.shape)) * 4 for w in model.weights)
    assert os.path.getsize(path) < 0.7 * float_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["minilm-int8.onnx"]  # no float32 file left behind

    enc = BertTokenizerFast.from_pretrained(minilm)(sst2_sentences(64), padding=True, return_tensors="np")
    inputs = {k: enc[k].astype("int32") for k in ("input_ids", "attention_mask", "token_type_ids")}
    session = onnxruntime.InferenceSession(path)
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))["last_hidden_state"]
    want = model(inputs).last_hidden_state.numpy()
    mask = inputs["attention_mask"][..., None]

    def pooled(h):
        v = (h * mask).sum(1) / mask.sum(1)
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    cosine = (pooled(got) * pooled(want)).sum(-1)
    assert cosine.mean() >= 0.99 and cosine.min() >= 0.98, (cosine.mean(), cosine.min())
