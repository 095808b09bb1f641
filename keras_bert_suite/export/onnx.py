"""ONNX export of the encoder and every head through tf2onnx, for onnxruntime and other ONNX runtimes.

The graph takes token ids (`input_ids`, `attention_mask`, `token_type_ids`: int32, dynamic batch and length;
multiple choice: [batch, choices, length]) and returns the model's output tensors by name (`logits`,
`start_logits`, `last_hidden_state`, ...). Tokenization stays outside: use the tokenizers of this package.

`quantize="int8"` stores the weights of the matrix products as int8, one scale per output channel, and
quantizes their activations per call (onnxruntime's dynamic quantization); the embedding tables stay float32.
Tolerance, checked by the tests on the real MiniLM checkpoint and 64 SST-2 sentences: the cosine similarity of
mean-pooled sentence embeddings to the float32 model's is at least 0.99 on average and 0.98 for every sentence
(one scale per whole matrix instead gives 0.96 and 0.93).

Example:
    >>> export_onnx(model, "model.onnx")
    >>> onnxruntime.InferenceSession("model.onnx").run(None, {"input_ids": ids, ...})
    >>> export_onnx(model, "model-int8.onnx", quantize="int8")
"""

import os

import keras
import tensorflow as tf

from keras_bert_suite.export.on_tensorflow import export_on_tensorflow
from keras_bert_suite.io import atomic_path
from keras_bert_suite.models import BertForMultipleChoice, BertForPreTraining, BertForQuestionAnswering, BertModel

ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _output_names(model):
    if isinstance(model, BertModel):
        return ("last_hidden_state", "pooler_output") if model.add_pooling_layer else ("last_hidden_state",)
    if isinstance(model, BertForPreTraining):
        return ("prediction_logits", "seq_relationship_logits")
    if isinstance(model, BertForQuestionAnswering):
        return ("start_logits", "end_logits")
    return ("logits",)


def serving_function(model):
    """A `tf.function` from int32 token ids to the model's named output tensors, with dynamic shapes."""
    rank = 3 if isinstance(model, BertForMultipleChoice) else 2
    spec = [tf.TensorSpec([None] * rank, tf.int32, name=name) for name in ONNX_INPUTS]
    names = _output_names(model)

    @tf.function(input_signature=spec)
    def run(input_ids, attention_mask, token_type_ids):
        out = model(
            {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids},
            training=False,
        )
        return {name: tf.identity(out[name], name=name) for name in names}

    return run, names


QUANTIZATIONS = (None, "int8")


def _quantize_int8(source, target):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])


def export_onnx(model, path, opset=17, quantize=None):
    """Write `model` as an ONNX file at `path` (atomically) and return the path.

    `quantize`: None (float32) or "int8" (dynamic quantization of the matrix products, see above). Under the JAX
    backend a TensorFlow-backend child process rebuilds the model from its weights and converts it
    (`export/on_tensorflow.py`).
    """
    if keras.backend.backend() != "tensorflow":
        return export_on_tensorflow(export_onnx, model, None, path, opset=opset, quantize=quantize)
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"unknown quantize={quantize!r}; choose one of {QUANTIZATIONS}")
    try:
        import tf2onnx
    except ImportError:
        raise ImportError("ONNX export needs tf2onnx: pip install 'keras-bert-suite[onnx]'") from None
    run, names = serving_function(model)
    path = os.fspath(path)
    with atomic_path(path) as tmp:
        float_path = tmp + ".float32" if quantize else tmp
        try:
            tf2onnx.convert.from_function(
                run, input_signature=run.input_signature, opset=opset, output_path=float_path,
                outputs_as_nchw=None,
            )
            if quantize == "int8":
                _quantize_int8(float_path, tmp)
        finally:
            if quantize and os.path.exists(float_path):
                os.remove(float_path)
    return path
