"""int8 SavedModels (`export_saved_model(..., quantize="int8")`): the int8 dense layer against the float one, the
export's answers against the float model, its ops against TF Serving 2.20's, and the stated tolerance on the real
MiniLM checkpoint over the 872 SST-2 dev sentences."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_bert_suite as kbs
from helpers import SHARED_DATA, TINY, sst2_sentences
from keras_bert_suite.export import export_saved_model
from keras_bert_suite.export.compat import check_tf_serving
from keras_bert_suite.layers.dense import Int8Dense, quantize_dense_int8
from keras_bert_suite.tokenizers import BertTokenizer

pytestmark = pytest.mark.slow  # int8 exports with their own graph-mode kernels

WORDS = "the a film is good bad story about it was not very funny dull , . !".split()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
TEXTS = ["the film is good .", "bad", "a story about it , not very funny !", "dull dull film", "it was good"]


def _float_dense(seed=0, units=24, depth=40):
    keras.utils.set_random_seed(seed)
    layer = keras.layers.Dense(units, bias_initializer="random_normal")
    layer.build((None, depth))
    return layer


def test_int8_dense_matches_float_dense_and_drops_the_float_kernel():
    layer = _float_dense()
    x = np.random.default_rng(1).standard_normal([3, 5, 40]).astype("float32") + 0.5
    want = layer(x).numpy()
    assert quantize_dense_int8(layer) is layer and isinstance(layer, Int8Dense)
    got = layer(x).numpy()
    assert got.shape == want.shape == (3, 5, 24)
    # inputs and kernel at 8 bits: error a small fraction of the output's scale
    assert np.abs(got - want).max() < 0.02 * np.abs(want).max(), np.abs(got - want).max()
    names = sorted(w.name for w in layer.weights)
    assert names == ["bias", "kernel_column_sum", "kernel_int8", "kernel_scale"]
    assert layer.kernel_int8.dtype == "int8"
    assert tf.function(layer)(x).shape == (3, 5, 24)  # graph mode, as in the SavedModel
    assert layer(np.zeros([0, 40], "float32")).shape == (0, 24)  # an empty batch
    assert np.isfinite(layer(np.zeros([2, 40], "float32")).numpy()).all()  # a constant input (no range)


def test_row_scales_follow_each_token_when_one_token_is_large():
    """One input range per row: a row of large activations no longer coarsens the other rows' steps."""
    x = np.random.default_rng(2).standard_normal([4, 40]).astype("float32")
    x[0] *= 50.0
    errors = {}
    for row_scales in (False, True):
        layer = _float_dense()
        want = layer(x).numpy()
        quantize_dense_int8(layer, row_scales=row_scales)
        assert layer.row_scales is row_scales
        errors[row_scales] = np.abs(layer(x).numpy() - want)[1:].max()  # the ordinary rows
        assert layer(np.zeros([0, 40], "float32")).shape == (0, 24)
        assert np.isfinite(layer(np.zeros([2, 40], "float32")).numpy()).all()
    assert errors[True] < errors[False] / 5, errors


def test_with_int8_encoder_keeps_named_layers_float(tiny_classifier):
    from keras_bert_suite.export.saved_model import with_int8_encoder

    model, _ = tiny_classifier

    def int8_paths(copy):
        return sorted(layer.path for layer in copy._flatten_layers() if isinstance(layer, Int8Dense))

    every = int8_paths(with_int8_encoder(model))
    assert len(every) == 6 * TINY["num_hidden_layers"]
    kept = int8_paths(with_int8_encoder(model, keep_float=("output", "layer_0")))
    assert len(kept) == 5 * (TINY["num_hidden_layers"] - 1)
    assert not any("layer_0/" in p for p in kept) and not any(p.endswith("/output_dense") for p in kept)
    with pytest.raises(ValueError, match="keep_float names no encoder dense layers: \\['ffn'\\]"):
        with_int8_encoder(model, keep_float=("ffn",))


def test_quantize_dense_int8_refuses_what_it_cannot_convert():
    with pytest.raises(ValueError, match="not built"):
        quantize_dense_int8(keras.layers.Dense(4))
    with pytest.raises(TypeError, match="EinsumDense"):
        quantize_dense_int8(keras.layers.EinsumDense("ab,bc->ac", output_shape=4))


@pytest.fixture(scope="module")
def tiny_classifier():
    keras.utils.set_random_seed(0)
    config = kbs.BertConfig(**{**TINY, "vocab_size": len(VOCAB)}, id2label={0: "neg", 1: "pos"})
    return kbs.BertForSequenceClassification(config), BertTokenizer(vocab=VOCAB)


def test_int8_export_answers_close_to_the_float_model(tiny_classifier, tmp_path):
    model, tokenizer = tiny_classifier
    path = export_saved_model(model, tokenizer, tmp_path / "int8", max_length=32, quantize="int8")
    out = tf.saved_model.load(path).signatures["serving_default"](text=tf.constant(TEXTS))
    enc = tokenizer(TEXTS, padding=True, return_tensors="np")
    want = model({k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}).logits.numpy()
    np.testing.assert_allclose(out["logits"].numpy(), want, atol=0.05 * np.abs(want).max() + 1e-3)
    # the float model is left as it was
    assert all(type(layer) is keras.layers.Dense for layer in model._flatten_layers()
               if isinstance(layer, keras.layers.Dense))
    empty = tf.saved_model.load(path).signatures["serving_default"](text=tf.constant([], tf.string))
    assert empty["logits"].shape[0] == 0


def test_int8_export_uses_only_tf_serving_2_20_ops_and_no_xla(tiny_classifier, tmp_path):
    model, tokenizer = tiny_classifier
    path = export_saved_model(model, tokenizer, tmp_path / "int8", max_length=32, quantize="int8", warmup=False)
    report = check_tf_serving(path, "2.20.0")
    assert report.ok, report.format()
    assert "QuantizedMatMulWithBiasAndDequantize" in report.ops
    assert not report.xla


def test_quantize_refuses_bad_combinations(tiny_classifier, tmp_path):
    model, tokenizer = tiny_classifier
    with pytest.raises(ValueError, match="quantize must be one of"):
        export_saved_model(model, tokenizer, tmp_path / "a", quantize="int4")
    with pytest.raises(ValueError, match="compute_dtype"):
        export_saved_model(model, tokenizer, tmp_path / "b", quantize="int8", compute_dtype="bfloat16")
    with pytest.raises(ValueError, match="XLA"):
        export_saved_model(model, tokenizer, tmp_path / "c", quantize="int8", jit_compile=True)
    assert not os.listdir(tmp_path)


def _dev():
    with open(os.path.join(SHARED_DATA, "sst2", "dev.tsv"), encoding="utf-8") as f:
        return [line.split("\t")[0] for line in f.read().splitlines()[1:]]


def _train(n):
    with open(os.path.join(SHARED_DATA, "sst2", "train.tsv"), encoding="utf-8") as f:
        rows = [line.split("\t") for line in f.read().splitlines()[1:]]
    rows = [(text, int(label)) for text, label in rows if len(text.split()) >= 6][:n]
    return [t for t, _ in rows], np.array([y for _, y in rows])


def _serve(path, texts, key):
    fn = tf.saved_model.load(path).signatures["serving_default"]
    return np.concatenate([fn(text=tf.constant(texts[i:i + 32]))[key].numpy() for i in range(0, len(texts), 32)])


@pytest.mark.slow
def test_int8_export_keeps_mean_pooled_embeddings_of_the_real_checkpoint(minilm, tmp_path):
    """Stated tolerance: cosine of the int8 SavedModel's mean-pooled embeddings to the float32 model's >= 0.995 on
    average over the 872 SST-2 dev sentences, >= 0.99 for each (measured with one input range per token 0.9987
    and 0.9936; with one range per call it was 0.9918 and 0.9704)."""
    texts = _dev()
    encoder = kbs.SentenceTransformer(minilm)
    want = encoder.encode(texts, batch_size=32, normalize_embeddings=True)
    path = export_saved_model(encoder, export_dir=tmp_path / "emb", quantize="int8", normalize_embeddings=True,
                              warmup=False)
    got = _serve(path, texts, "sentence_embedding")
    got = got / np.linalg.norm(got, axis=-1, keepdims=True)
    cosine = (got * want).sum(-1)
    print(f"int8 embeddings over {len(texts)} SST-2 dev sentences: cosine mean {cosine.mean():.4f}, "
          f"min {cosine.min():.4f}")
    assert cosine.mean() >= 0.995 and cosine.min() >= 0.99, (cosine.mean(), cosine.min())


@pytest.mark.slow
def test_int8_export_keeps_labels_of_a_trained_head_on_sst2_dev(minilm, tmp_path):
    """Labels against the float32 model's on the 872 SST-2 dev sentences. No fine-tuned SST-2 checkpoint is at
    hand, so the head is trained here on frozen float32 features (a ridge regression of the labels on the pooled
    output of 1,024 SST-2 train sentences; 66% accurate: the checkpoint's pooler was not trained for this), whose
    small margins make labels flip easily. Measured: 97.8% equal (95.4% with one input range per call), the same
    accuracy; the test holds that level, and int8 accuracy within 1 point. A classifier fine-tuned on SST-2, whose
    margins are real, keeps 100% of its labels (the int8 ablation, last in commit dd87116: docs/benchmarks.md)."""
    model = kbs.BertForSequenceClassification.from_pretrained(minilm, num_labels=2)
    tokenizer = BertTokenizer.from_pretrained(minilm)

    def features(texts):
        out = []
        for i in range(0, len(texts), 64):
            enc = tokenizer(texts[i:i + 64], padding=True, truncation=True, max_length=128, return_tensors="np")
            out.append(model.bert(**{k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
                       .pooler_output.numpy())
        return np.concatenate(out)

    texts, labels = _train(1024)
    x = np.concatenate([features(texts), np.ones([len(texts), 1], "float32")], 1).astype("float64")
    target = np.stack([labels == 0, labels == 1], 1).astype("float64") * 2 - 1
    solution = np.linalg.solve(x.T @ x + 1.0 * np.eye(x.shape[1]), x.T @ target)
    model.classifier.dense.kernel.assign(solution[:-1].astype("float32"))
    model.classifier.dense.bias.assign(solution[-1].astype("float32"))

    dev = _dev()
    path = export_saved_model(model, tokenizer, tmp_path / "cls", quantize="int8", warmup=False)
    got = _serve(path, dev, "logits")
    want = np.concatenate([model.classifier(features(dev[i:i + 64])).numpy() for i in range(0, len(dev), 64)])
    agree = (got.argmax(-1) == want.argmax(-1)).mean()
    with open(os.path.join(SHARED_DATA, "sst2", "dev.tsv"), encoding="utf-8") as f:
        gold = np.array([int(line.split("\t")[1]) for line in f.read().splitlines()[1:]])
    print(f"int8 labels equal to float32 on {agree:.2%} of {len(dev)} SST-2 dev sentences; accuracy float32 "
          f"{(want.argmax(-1) == gold).mean():.4f}, int8 {(got.argmax(-1) == gold).mean():.4f}")
    accuracy = (want.argmax(-1) == gold).mean(), (got.argmax(-1) == gold).mean()
    assert accuracy[0] > 0.6  # the head is a real classifier
    assert abs(accuracy[0] - accuracy[1]) <= 0.01, accuracy
    assert agree >= 0.97, agree


def test_kbs_export_quantize_flag(tiny_classifier, tmp_path, capsys):
    from keras_bert_suite.cli import main

    model, tokenizer = tiny_classifier
    model.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    base = tmp_path / "savedmodels" / "tiny"
    assert main(["export", str(tmp_path / "tiny"), "--out", str(base), "--max-length", "32", "--quantize", "int8"]) == 0
    assert "--xla_cpu_compilation_enabled" not in capsys.readouterr().out
    report = check_tf_serving(str(base / "1"), "2.20.0")
    assert report.ok and "QuantizedMatMulWithBiasAndDequantize" in report.ops and not report.xla
