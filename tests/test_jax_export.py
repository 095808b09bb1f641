"""Exports from a JAX-backend process: `export_saved_model`, `kbs export`, `export_onnx` and `export_litert`
rebuild the model on TensorFlow in a child process (export/on_tensorflow.py); the raw-text SavedModel, read by a
TensorFlow-only process, answers what the JAX model computes, within 1e-5, and so does the raw-text LiteRT file.

Run: KERAS_BACKEND=jax python -m pytest -m jax tests/test_jax_export.py
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import keras

import keras_bert_suite as kbs
from keras_bert_suite.export import export_litert, export_onnx, export_saved_model
from helpers import minilm_folder, sst2_sentences

pytestmark = [pytest.mark.jax, pytest.mark.jax_only]

TOL = 1e-5
MAX_LENGTH = 32

# Reads a SavedModel in a process where Keras runs on TensorFlow, and prints its logits for the given texts.
READ_SAVED_MODEL = """
import json, sys
import keras, tensorflow as tf, tensorflow_text  # the tokenizer's string ops
assert keras.backend.backend() == "tensorflow"
path, texts = sys.argv[1], json.loads(sys.argv[2])
out = tf.saved_model.load(path).signatures["serving_default"](text=tf.constant(texts))
print(json.dumps(out["logits"].numpy().tolist()))
"""


def _classifier():
    keras.utils.set_random_seed(0)
    return kbs.BertForSequenceClassification(kbs.BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        id2label={0: "negative", 1: "positive"}))


def _served_logits(path, texts):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run([sys.executable, "-c", READ_SAVED_MODEL, path, json.dumps(texts)], env=env,
                          capture_output=True, text=True, check=True)
    return np.array(json.loads(done.stdout.strip().splitlines()[-1]))


def _jax_logits(model, tokenizer, texts):
    enc = tokenizer(texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="np")
    return np.asarray(model(dict(enc)).logits)


@pytest.mark.slow  # a TensorFlow child process per export
def test_saved_model_from_jax_answers_as_the_jax_model(tmp_path):
    model, tokenizer = _classifier(), kbs.BertTokenizer.from_pretrained(minilm_folder())
    texts = sst2_sentences(6)
    path = export_saved_model(model, tokenizer, tmp_path / "classifier", max_length=MAX_LENGTH)
    assert path == str(tmp_path / "classifier" / "1") and os.path.isdir(os.path.join(path, "variables"))
    np.testing.assert_allclose(_served_logits(path, texts), _jax_logits(model, tokenizer, texts), atol=TOL)
    # the in-graph tokenizer travels too, and a second version goes next to the first
    layer = kbs.TFBertTokenizer.from_pretrained(minilm_folder())
    second = export_saved_model(model, layer, tmp_path / "classifier", max_length=MAX_LENGTH)
    assert second.endswith("2")
    np.testing.assert_allclose(_served_logits(second, texts), _jax_logits(model, tokenizer, texts), atol=TOL)


@pytest.mark.slow  # a TensorFlow child process per export
def test_kbs_export_in_a_jax_process(tmp_path):
    from keras_bert_suite.cli import main

    model, tokenizer = _classifier(), kbs.BertTokenizer.from_pretrained(minilm_folder())
    folder = tmp_path / "checkpoint"
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    assert main(["export", str(folder), "--out", str(tmp_path / "served"), "--max-length", str(MAX_LENGTH)]) == 0
    texts = sst2_sentences(3)
    np.testing.assert_allclose(_served_logits(str(tmp_path / "served" / "1"), texts),
                               _jax_logits(model, tokenizer, texts), atol=TOL)


@pytest.mark.slow  # a TensorFlow child process per export
def test_onnx_from_jax_answers_as_the_jax_model(tmp_path):
    import onnxruntime

    from helpers import batch

    model = _classifier()
    path = export_onnx(model, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(path)
    inputs = {k: v.astype("int32") for k, v in batch(batch_size=3, length=11).items()}
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))
    np.testing.assert_allclose(got["logits"], np.asarray(model(inputs).logits), atol=1e-4)


@pytest.mark.slow  # a TensorFlow child process per export
def test_litert_from_jax_answers_as_the_jax_model(tmp_path):
    from keras_bert_suite.export.litert import litert_interpreter, run_litert

    model, tokenizer = _classifier(), kbs.BertTokenizer.from_pretrained(minilm_folder())
    texts = sst2_sentences(4)
    path = export_litert(model, tokenizer, tmp_path / "model.tflite", max_length=MAX_LENGTH)
    assert path == str(tmp_path / "model.tflite")
    interpreter = litert_interpreter(path)
    for text, expected in zip(texts, _jax_logits(model, tokenizer, texts)):  # one call per text: no padding
        got = run_litert(interpreter, [text])["logits"]
        np.testing.assert_allclose(got[0], expected, atol=TOL)


def test_a_failing_child_export_says_so(tmp_path):
    model, tokenizer = _classifier(), kbs.BertTokenizer.from_pretrained(minilm_folder())
    with pytest.raises(ValueError, match="unknown task 'summarization'"):  # the child's error, raised here
        export_saved_model(model, tokenizer, tmp_path / "x", task="summarization")
