"""TFBertTokenizer: .keras save/load, SavedModel, tf.data, static shapes, errors and odd inputs."""


import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import minilm_folder

from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer

TEXTS = ["Hello world! [MASK] café", "", "中文 and ﬁne Straße", "x" * 120]


@pytest.fixture(scope="module")
def reference():
    return BertTokenizer.from_pretrained(minilm_folder())


@pytest.fixture(scope="module")
def layer():
    return TFBertTokenizer.from_pretrained(minilm_folder(), padding="max_length", max_length=16)


def _expected(reference, texts, **kw):
    return reference(texts, padding="max_length", max_length=16, truncation=True, **kw)


def test_call_matches_python(layer, reference):
    out = layer(tf.constant(TEXTS))
    exp = _expected(reference, TEXTS)
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        assert out[key].dtype == tf.int32
        assert out[key].numpy().tolist() == exp[key]


def test_keras_file_roundtrip(layer, reference, tmp_path):
    inp = keras.Input(shape=(), dtype="string")
    out = layer(inp)
    model = keras.Model(inp, out)
    path = str(tmp_path / "tok.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    got = loaded(tf.constant(TEXTS))
    assert got["input_ids"].numpy().tolist() == _expected(reference, TEXTS)["input_ids"]
    cfg = loaded.layers[-1].get_config()
    assert cfg["max_length"] == 16 and cfg["padding"] == "max_length" and cfg["vocab"] is None
    assert loaded.layers[-1].vocab == layer.vocab
    with zipfile.ZipFile(path) as archive:
        assets = [n for n in archive.namelist() if n.endswith("/vocabulary.txt")]
        assert len(assets) == 1 and assets[0].startswith("assets/")
        assert archive.read(assets[0]).decode("utf-8").splitlines() == layer.vocab
        assert b"[unused0]" not in archive.read("config.json")


def test_old_format_config_with_vocabulary_loads(layer, reference):
    old = {**layer.get_config(), "vocab": list(layer.vocab)}
    clone = TFBertTokenizer.from_config(old)
    assert clone(tf.constant(TEXTS))["input_ids"].numpy().tolist() == _expected(reference, TEXTS)["input_ids"]


def test_keras_file_of_the_old_format_loads(layer, reference, tmp_path):
    """A .keras file written before the vocabulary became an asset: the token list in config.json, no asset."""
    inp = keras.Input(shape=(), dtype="string")
    new, old = str(tmp_path / "new.keras"), str(tmp_path / "old.keras")
    keras.Model(inp, layer(inp)).save(new)
    with zipfile.ZipFile(new) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            if item.filename.endswith("/vocabulary.txt"):
                continue
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                tokenizer = [lay for lay in config["config"]["layers"] if lay["class_name"] == "TFBertTokenizer"][0]
                tokenizer["config"]["vocab"] = list(layer.vocab)
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    loaded = keras.models.load_model(old, safe_mode=True)
    assert loaded(tf.constant(TEXTS))["input_ids"].numpy().tolist() == _expected(reference, TEXTS)["input_ids"]


def test_vocabulary_path_refused_in_safe_mode(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n", encoding="utf-8")
    config = {**TFBertTokenizer(vocab=str(path)).get_config(), "vocab": str(path)}
    with keras.src.saving.serialization_lib.SafeModeScope(True):
        with pytest.raises((ValueError, TypeError), match="safe mode"):  # Keras wraps it in a TypeError
            TFBertTokenizer.from_config(config)
    with keras.src.saving.serialization_lib.SafeModeScope(False):
        assert TFBertTokenizer.from_config(config).vocab[-1] == "hello"
    with pytest.raises(ValueError, match="no vocabulary"):
        TFBertTokenizer.from_config(TFBertTokenizer(vocab=str(path)).get_config())(tf.constant(["hello"]))


def test_get_config_roundtrip(layer):
    cfg = layer.get_config()
    clone = TFBertTokenizer.from_config(cfg)
    assert clone.get_config() == cfg


def test_saved_model_roundtrip(layer, reference, tmp_path):
    class Serving(tf.Module):
        def __init__(self, tok):
            super().__init__()
            self.tok = tok

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, texts):
            return self.tok(texts)

    module = Serving(layer)
    path = str(tmp_path / "sm")
    tf.saved_model.save(module, path)
    loaded = tf.saved_model.load(path)
    got = loaded(tf.constant(TEXTS))
    assert got["input_ids"].numpy().tolist() == _expected(reference, TEXTS)["input_ids"]


def test_tf_data(layer, reference):
    ds = tf.data.Dataset.from_tensor_slices(TEXTS).batch(2).map(layer)
    rows = np.concatenate([b["input_ids"].numpy() for b in ds]).tolist()
    assert rows == _expected(reference, TEXTS)["input_ids"]
    spec = ds.element_spec["input_ids"]
    assert spec.shape.as_list() == [None, 16]


def test_pairs_offsets_special_mask(reference):
    tok = TFBertTokenizer.from_tokenizer(
        reference, return_offsets_mapping=True, return_special_tokens_mask=True, padding_side="left"
    )
    a, b = ["Héllo there", "a"], ["second [SEP] text", ""]
    out = tok(tf.constant(a), tf.constant(b))
    exp = reference(a, b, padding=True, padding_side="left", return_offsets_mapping=True,
                    return_special_tokens_mask=True)
    for key in exp:
        got = out[key].numpy().tolist()
        want = [[list(t) for t in row] for row in exp[key]] if key == "offset_mapping" else exp[key]
        assert got == want, key


def test_invalid_utf8_raises(layer):
    with pytest.raises(tf.errors.InvalidArgumentError):
        layer(tf.constant([b"ok", b"bad \xff\xfe"]))


def test_nul_bytes_and_empty(layer, reference):
    texts = ["a\x00b", "\x00", "", "   "]
    out = layer(tf.constant([t.encode() for t in texts]))
    assert out["input_ids"].numpy().tolist() == _expected(reference, texts)["input_ids"]


def test_megabyte_string(reference):
    tok = TFBertTokenizer.from_tokenizer(reference, padding="max_length", max_length=8)
    big = ("word " * 250_000) + "end"
    out = tok(tf.constant([big, "short"]))
    assert out["input_ids"].shape == (2, 8)
    assert out["input_ids"].numpy().tolist() == reference([big, "short"], padding="max_length", max_length=8,
                                                          truncation=True)["input_ids"]


def test_pad_to_multiple_static_shape(reference):
    tok = TFBertTokenizer.from_tokenizer(reference, padding="max_length", max_length=10, pad_to_multiple_of=8)
    spec = tf.function(tok).get_concrete_function(tf.TensorSpec([None], tf.string)).structured_outputs
    assert spec["input_ids"].shape.as_list() == [None, 16]


def test_bad_settings():
    with pytest.raises(ValueError):
        TFBertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], padding="max_length")
    with pytest.raises(ValueError):
        TFBertTokenizer(vocab=["a", "b"])
    with pytest.raises(TypeError):
        TFBertTokenizer.from_pretrained(minilm_folder())(tf.constant([1, 2]))
