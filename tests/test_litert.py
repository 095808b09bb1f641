"""LiteRT export with the tokenizer inside: the LiteRT-convertible tokenizer gives TFBertTokenizer's ids and
offsets; the exported .tflite, run by tf.lite's interpreter with tensorflow-text's kernels, answers as the
raw-text SavedModel does (labels, probabilities, embeddings, per-token labels and offsets) on real text."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_bert_suite as kbs
from helpers import SHARED_DATA, minilm_folder, sst2_sentences
from keras_bert_suite.export import export_saved_model
from keras_bert_suite.export.litert import export_litert, litert_interpreter, run_litert
from keras_bert_suite.tokenizers import TFBertTokenizer
from keras_bert_suite.tokenizers.litert import LiteTokenizer
from tokenizer_corpus import CASED, HANDMADE, blns, udhr_sample

EDGE = ["", "[CLS] hello [MASK]!", "Héllo wörld İstanbul 你好", "word " * 200]


def _udhr(n):
    with open(os.path.join(SHARED_DATA, "multilingual", "udhr_paragraphs.tsv"), encoding="utf-8") as f:
        rows = [line.split("\t")[2] for line in f.read().splitlines()[1:]]
    return rows[::len(rows) // n][:n]


@pytest.fixture(scope="module")
def tokenizer():
    return TFBertTokenizer.from_pretrained(minilm_folder())


def _reference(tokenizer):
    return tokenizer.with_settings(max_length=128, truncation=True, pad_to_multiple_of=8,
                                   return_offsets_mapping=True)


def _assert_same_encoding(lite, reference, texts):
    run = tf.function(lite.__call__)
    for i in range(0, len(texts), 32):
        batch = tf.constant(texts[i:i + 32])
        got, want = run(batch), reference(batch)
        np.testing.assert_array_equal(got["input_ids"], want["input_ids"], err_msg=repr(texts[i:i + 32]))
        np.testing.assert_array_equal(got["attention_mask"], want["attention_mask"])
        real = got["real_tokens"].numpy().astype(bool)
        offsets = want["offset_mapping"].numpy()
        np.testing.assert_array_equal(got["token_start"].numpy()[real], offsets[..., 0][real])
        np.testing.assert_array_equal(got["token_end"].numpy()[real], offsets[..., 1][real])


def test_lite_tokenizer_gives_the_graph_tokenizers_ids_and_offsets(tokenizer):
    texts = HANDMADE + udhr_sample(per_language=1) + blns() + sst2_sentences(32) + EDGE
    _assert_same_encoding(LiteTokenizer(tokenizer), _reference(tokenizer), texts)


def test_lite_tokenizer_keeps_never_split_words_and_added_special_tokens(tokenizer):
    custom = tokenizer.with_settings(never_split=["hello", "unbelievable", "zzzq"],
                                     additional_special_tokens=["[unused1]"])
    texts = ["Hello hello HELLO unbelievable zzzq", "x[unused1]y [unused1] [UNUSED1]", "hello,world zzzq!"]
    _assert_same_encoding(LiteTokenizer(custom), _reference(custom), texts + HANDMADE[:8])


def test_tokenizers_that_keep_accents_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="NFC"):
        LiteTokenizer(TFBertTokenizer.from_pretrained(CASED))


def _tiny(cls, **config):
    keras.utils.set_random_seed(0)
    model = cls(kbs.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=37, max_position_embeddings=512, **config))
    model({"input_ids": tf.constant([[1, 2]]), "attention_mask": tf.constant([[1, 1]]),
           "token_type_ids": tf.constant([[0, 0]])})
    return model


def _assert_builtin_resolver_refuses(path):
    """TF Serving's LiteRT path (`--prefer_tflite_model`, tensorflow_serving/servables/tensorflow/tflite_session.cc)
    builds its interpreter with LiteRT's builtin op resolver plus ParseExample only: the tokenizer's
    tensorflow-text kernels are not there, so it cannot load our file (docs/litert.md, "Serving it")."""
    interpreter = tf.lite.Interpreter(model_path=str(path),
                                      experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN)
    with pytest.raises(RuntimeError, match="unresolved custom op: (FastWordpieceTokenize|TFText)"):
        interpreter.allocate_tensors()
        interpreter.get_signature_runner()(text=np.array([b"a film"], dtype=object))


@pytest.mark.slow
@pytest.mark.parametrize("task", ["feature_extraction", "sequence_classification", "token_classification",
                                  "masked_lm"])
def test_litert_answers_as_the_saved_model_on_real_text(tmp_path, tokenizer, tiny_export, task):
    model, saved = tiny_export(task, jit_compile=False)
    path = export_litert(model, tokenizer, tmp_path / "model.tflite")
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]
    served = tf.saved_model.load(saved)
    texts = sst2_sentences(6) + _udhr(4) + EDGE
    if task == "masked_lm":  # rows with no, one and several masks
        texts = [t.replace(" the ", " [MASK] ", 2) for t in texts] + ["[MASK] is [MASK] and [MASK].", "[MASK]"]
    got = run_litert(litert_interpreter(path), texts)
    want = {k: v.numpy() for k, v in served.signatures["serving_default"](text=tf.constant(texts)).items()}
    ids = _reference(tokenizer)(tf.constant(texts))["input_ids"].numpy()
    np.testing.assert_array_equal(got["input_ids"], ids)
    if task == "sequence_classification":
        _assert_builtin_resolver_refuses(path)
        np.testing.assert_array_equal(got["label"], want["label"])
        np.testing.assert_allclose(got["probabilities"], want["probabilities"], atol=1e-5)
    elif task == "feature_extraction":
        np.testing.assert_allclose(got["sentence_embedding"], want["sentence_embedding"], atol=1e-5)
        np.testing.assert_allclose(got["pooler_output"], want["pooler_output"], atol=1e-5)
    elif task == "masked_lm":
        assert got["num_masks"].tolist() == want["num_masks"].tolist() and got["num_masks"].max() >= 2
        for key in ("tokens", "token_ids"):
            np.testing.assert_array_equal(got[key], want[key])
        np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-5)
    else:
        np.testing.assert_array_equal(got["token_labels"], want["token_labels"])
        np.testing.assert_array_equal(got["token_start"], want["token_start"])
        np.testing.assert_array_equal(got["token_end"], want["token_end"])


def test_unsupported_task_and_quantization_are_named_and_nothing_is_written(tmp_path, tokenizer):
    with pytest.raises(ValueError, match="question_answering"):
        export_litert(_tiny(kbs.BertForQuestionAnswering), tokenizer, tmp_path / "m.tflite")
    with pytest.raises(ValueError, match="int4"):
        export_litert(_tiny(kbs.BertModel), tokenizer, tmp_path / "m.tflite", quantize="int4")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_minilm_embeddings_equal_the_saved_model_and_int8_stays_close(tmp_path, tokenizer):
    """Real checkpoint, real text (SST-2 and UDHR in many scripts): float32 LiteRT embeddings equal the
    SavedModel's within 1e-5; the int8 (dynamic-range) file is under a third of the float one and keeps
    cosine >= 0.99 on average, >= 0.97 for each sentence; the float16-weight file is under 55% of the float one
    and keeps cosine >= 0.9999 for each sentence (the tolerances docs/litert.md states)."""
    model = kbs.BertModel.from_pretrained(minilm_folder())
    texts = sst2_sentences(24) + _udhr(24)
    served = tf.saved_model.load(export_saved_model(model, tokenizer, tmp_path / "saved", jit_compile=False))
    want = served.signatures["serving_default"](text=tf.constant(texts))["sentence_embedding"].numpy()
    float_path = export_litert(model, tokenizer, tmp_path / "minilm.tflite")
    got = run_litert(litert_interpreter(float_path), texts)["sentence_embedding"]
    np.testing.assert_allclose(got, want, atol=1e-5)
    int8_path = export_litert(model, tokenizer, tmp_path / "minilm-int8.tflite", quantize="dynamic_int8")
    assert os.path.getsize(int8_path) < os.path.getsize(float_path) / 3
    int8 = run_litert(litert_interpreter(int8_path), texts)["sentence_embedding"]
    cosine = (int8 * want).sum(-1)
    assert cosine.mean() >= 0.99 and cosine.min() >= 0.97, (cosine.mean(), cosine.min())
    half_path = export_litert(model, tokenizer, tmp_path / "minilm-fp16.tflite", quantize="float16")
    assert os.path.getsize(half_path) < 0.55 * os.path.getsize(float_path)
    half = run_litert(litert_interpreter(half_path), texts)["sentence_embedding"]
    cosine = (half * want).sum(-1)
    print(f"float16 weights: cosine to float32 min {cosine.min():.6f}")
    assert cosine.min() >= 0.9999, cosine.min()


@pytest.mark.slow
def test_kbs_predict_answers_from_a_litert_file_and_refuses_invalid_utf8(tmp_path, tokenizer, capsys):
    from keras_bert_suite.cli import main

    model = _tiny(kbs.BertForSequenceClassification, id2label={0: "negative", 1: "positive"})
    path = export_litert(model, tokenizer, tmp_path / "sst2.tflite")
    texts = ["a gorgeous , witty , seductive movie .", "dull"]
    capsys.readouterr()
    assert main(["predict", path, *texts]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    want = run_litert(litert_interpreter(path), texts)
    assert [r["label"] for r in rows] == [label.decode() for label in want["label"]]
    np.testing.assert_allclose([r["probabilities"] for r in rows], want["probabilities"], atol=1e-6)
    assert main(["predict", path, "x", "--signature", "pair"]) == 2
    assert "one signature" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "missing.tflite"), "x"]) == 2
    assert "no LiteRT file at" in capsys.readouterr().err
    # the LiteRT tokenizer would drop invalid bytes silently: they are refused before the call, as the SavedModel does
    with pytest.raises(ValueError, match="row 1 is not valid UTF-8"):
        run_litert(litert_interpreter(path), ["fine", b"\xff\xfe broken"])
