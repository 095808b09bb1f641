"""KerasHub BERT presets in both directions, against presets that KerasHub itself writes and loads.

Loading: a tiny random BERT is saved as a Hugging Face folder; KerasHub converts that folder into its own
`BertBackbone` / `BertTokenizer` and `save_to_preset`s them; every model class and tokenizer of ours must load the
preset and give exactly what it gives from the Hugging Face folder. A preset of another backbone is refused,
naming the class. Writing: `save_keras_hub_preset` and `kbs convert --to keras-hub` write presets that KerasHub
loads, with outputs equal to ours up to KerasHub's tanh GELU and the same token ids. The slow test does both on
the real MiniLM checkpoint, the preset made by `BertBackbone.from_preset("hf://...")` from a pre-seeded Hub cache.
"""

import json
import os

import numpy as np
import pytest

from helpers import TINY, batch, max_diff, minilm_folder, sst2_sentences, torch_reference

keras_hub = pytest.importorskip("keras_hub")

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.checkpoints.errors import CheckpointError  # noqa: E402
from keras_bert_suite.checkpoints.formats import detect_format, read_state_dict  # noqa: E402
from keras_bert_suite.checkpoints.keras_hub_preset import NotBertPresetError  # noqa: E402
from keras_bert_suite.cli import main  # noqa: E402
from keras_bert_suite.convert import save_keras_hub_preset  # noqa: E402
from keras_bert_suite.tokenizers import BertTokenizer, BertTokenizerFast, TFBertTokenizer  # noqa: E402

WORDS = ["hello", "world", "the", "cafe", "bert", "keras", "hub", "preset", "a", "an", "is", "good", "film",
         "Hello", "World", "The", "Bert", "Keras"]
VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + ["##s", "##ing", "##ed", ",", ".", "!", "'"]
         + [f"w{i}" for i in range(99)])[:TINY["vocab_size"]]
TEXTS = ["Hello world!", "the films, the CAFÉ.", "Keras hubs presets is good", "bert's preset: an unknownword",
         "", "  a  ", "Hello [MASK] world"]
# KerasHub's tanh-approximate GELU against BERT's exact one, on the hidden states of real tokens: measured 3.3e-5
# on these tiny random weights; on MiniLM (hidden states up to 6.2 in size) max 4.1e-3 / mean 3.8e-4 over 16 SST-2
# sentences, max 9.5e-3 / mean 3.6e-4 over 64.
TINY_TANH_GELU_TOL = 1e-3
MINILM_TANH_GELU_MAX, MINILM_TANH_GELU_MEAN = 2e-2, 1e-3


def _hf_folder(path, do_lower_case=True):
    torch_reference("BertModel", str(path))
    BertTokenizer(vocab=VOCAB, do_lower_case=do_lower_case).save_pretrained(str(path))
    return str(path)


def _keras_hub_preset(hf, dst):
    """The preset KerasHub itself makes from the Hugging Face folder `hf` (its own converter)."""
    keras_hub.models.BertBackbone.from_preset(hf).save_to_preset(str(dst))
    keras_hub.models.BertTokenizer.from_preset(hf).save_to_preset(str(dst))
    return str(dst)


def _keras_hub_inputs(x):
    return {"token_ids": x["input_ids"].astype("int32"), "segment_ids": x["token_type_ids"].astype("int32"),
            "padding_mask": x["attention_mask"].astype("int32")}


def _ids(tokens):
    """KerasHub tokenizer output (tensor, ragged tensor or numpy array) as Python lists."""
    if hasattr(tokens, "to_list"):
        return tokens.to_list()
    if isinstance(tokens, list):
        return [np.asarray(row).tolist() for row in tokens]
    return np.asarray(tokens).tolist()


def _masked(hidden, mask):
    return np.where(mask[..., None].astype(bool), np.asarray(hidden), 0.0)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("presets")
    hf = _hf_folder(root / "hf")
    return hf, _keras_hub_preset(hf, root / "preset")


@pytest.mark.jax  # from_pretrained of a KerasHub preset under both backends
def test_keras_hub_preset_loads_like_its_hugging_face_folder(folders):
    hf, preset = folders
    assert detect_format(preset) == "keras_hub"
    assert sorted(os.listdir(preset)) == ["assets", "config.json", "metadata.json", "model.weights.h5",
                                          "tokenizer.json"]
    state, _, _ = read_state_dict(preset)
    want, _, _ = read_state_dict(hf)
    assert sorted(state) == sorted(want)
    for name, value in want.items():
        np.testing.assert_array_equal(state[name], value, err_msg=name)

    x = batch()
    ours, reference = kbs.BertModel.from_pretrained(preset), kbs.BertModel.from_pretrained(hf)
    assert ours.config.hidden_act == "gelu" and ours.loading_info.unexpected_keys == []
    got, want = ours(x), reference(x)
    assert max_diff(got.last_hidden_state, want.last_hidden_state) == 0.0
    assert max_diff(got.pooler_output, want.pooler_output) == 0.0

    classifier = kbs.BertForSequenceClassification.from_pretrained(preset, num_labels=3)
    assert classifier.loading_info.missing_keys == ["classifier.weight", "classifier.bias"]
    np.testing.assert_array_equal(classifier.bert.pooler.dense.kernel.numpy(),
                                  reference.bert.pooler.dense.kernel.numpy())


def test_task_presets_load_their_heads(folders, tmp_path):
    _, preset = folders
    backbone = keras_hub.models.BertBackbone.from_preset(preset)
    x = batch()
    classifier = keras_hub.models.BertTextClassifier(backbone, num_classes=3, preprocessor=None)
    classifier.save_to_preset(str(tmp_path / "classifier"))
    ours = kbs.BertForSequenceClassification.from_pretrained(str(tmp_path / "classifier"))
    assert ours.config.num_labels == 3 and ours.loading_info.missing_keys == []
    want = classifier.predict(_keras_hub_inputs(x), verbose=0)
    assert max_diff(ours(x).logits, want) < TINY_TANH_GELU_TOL

    mlm = keras_hub.models.BertMaskedLM(backbone, preprocessor=None)
    mlm.save_to_preset(str(tmp_path / "mlm"))
    ours = kbs.BertForMaskedLM.from_pretrained(str(tmp_path / "mlm"))
    assert ours.loading_info.missing_keys == []  # unused: the pooler, which BertForMaskedLM has not
    positions = np.array([[1, 2], [3, 4], [0, 5]])
    want = mlm.predict({**_keras_hub_inputs(x), "mask_positions": positions}, verbose=0)
    got = np.take_along_axis(np.asarray(ours(x).logits), positions[..., None], axis=1)
    # KerasHub's MaskedLMHead normalizes with epsilon 1e-5 where BERT's head uses 1e-12: 1.5e-3 measured here.
    assert max_diff(got, want) < 5e-3


@pytest.mark.parametrize("cls", [BertTokenizer, BertTokenizerFast, TFBertTokenizer])
def test_preset_tokenizers_give_the_hugging_face_ids(folders, cls):
    hf, preset = folders
    ours, reference = cls.from_pretrained(preset), cls.from_pretrained(hf)
    if cls is TFBertTokenizer:
        import tensorflow as tf

        got, want = ours(tf.constant(TEXTS))["input_ids"], reference(tf.constant(TEXTS))["input_ids"]
        assert got.to_list() == want.to_list() if isinstance(got, tf.RaggedTensor) else (
            got.numpy().tolist() == want.numpy().tolist())
    else:
        assert ours(TEXTS)["input_ids"] == reference(TEXTS)["input_ids"]
        assert ours.vocab == reference.vocab and ours.do_lower_case


def test_cased_preset_tokenizer_keeps_case(tmp_path):
    hf = tmp_path / "hf"
    kbs.BertConfig(**TINY).save_pretrained(str(hf))  # KerasHub reads a folder only with its config.json
    BertTokenizer(vocab=VOCAB, do_lower_case=False).save_pretrained(str(hf))
    keras_hub.models.BertTokenizer.from_preset(str(hf)).save_to_preset(str(tmp_path / "preset"))
    tokenizer = BertTokenizer.from_pretrained(str(tmp_path / "preset"))
    assert not tokenizer.do_lower_case
    assert tokenizer(TEXTS)["input_ids"] == BertTokenizer.from_pretrained(str(hf))(TEXTS)["input_ids"]


def _fake_preset(folder, backbone, tokenizer=None):
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"module": "keras_hub.src.models", "class_name": backbone.split(">")[-1],
                   "config": {"vocabulary_size": 99, "num_layers": 2}, "registered_name": backbone}, f)
    if tokenizer:
        with open(os.path.join(folder, "tokenizer.json"), "w") as f:
            json.dump({"class_name": tokenizer.split(">")[-1], "config": {}, "registered_name": tokenizer}, f)
    with open(os.path.join(folder, "model.weights.h5"), "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n")
    return str(folder)


@pytest.mark.parametrize("backbone,tokenizer", [
    ("keras_hub>GPT2Backbone", "keras_hub>GPT2Tokenizer"),
    ("keras_hub>DistilBertBackbone", "keras_hub>DistilBertTokenizer"),
    ("keras_hub>RobertaBackbone", "keras_hub>RobertaTokenizer"),
])
def test_preset_of_another_backbone_is_refused_naming_it(tmp_path, backbone, tokenizer):
    preset = _fake_preset(tmp_path / "other", backbone, tokenizer)
    with pytest.raises(NotBertPresetError, match=backbone):
        kbs.BertModel.from_pretrained(preset)
    with pytest.raises(NotBertPresetError, match=backbone):
        read_state_dict(preset)
    with pytest.raises(NotBertPresetError, match=tokenizer):
        BertTokenizer.from_pretrained(preset)


def test_missing_preset_weight_is_named(folders, tmp_path):
    import shutil

    import h5py

    preset = shutil.copytree(folders[1], tmp_path / "broken")
    with h5py.File(preset / "model.weights.h5", "a") as f:
        key = next(k for k in f["layers"] if f["layers"][k]["vars"].attrs.get("name") == "pooled_dense")
        del f["layers"][key]["vars"]["0"]
    with pytest.raises(CheckpointError, match=r"model\.weights\.h5: weight 'pooler\.dense\.weight'"):
        kbs.BertModel.from_pretrained(str(preset))


def test_save_keras_hub_preset_loads_in_keras_hub(folders, tmp_path):
    hf, _ = folders
    model = kbs.BertForSequenceClassification.from_pretrained(hf, num_labels=2)
    tokenizer = BertTokenizer.from_pretrained(hf)
    dst = tmp_path / "out"
    os.makedirs(dst / "old")  # an existing folder is replaced whole
    assert save_keras_hub_preset(model, tokenizer, str(dst), verbose=0) == str(dst)
    assert not os.path.exists(dst / "old")

    backbone = keras_hub.models.BertBackbone.from_preset(str(dst))
    x = batch()
    got, want = backbone(_keras_hub_inputs(x)), model.bert(**x)
    assert max_diff(_masked(got["sequence_output"], x["attention_mask"]),
                    _masked(want.last_hidden_state, x["attention_mask"])) < TINY_TANH_GELU_TOL
    assert max_diff(got["pooled_output"], want.pooler_output) < TINY_TANH_GELU_TOL

    kh_tokenizer = keras_hub.models.BertTokenizer.from_preset(str(dst))
    for text in TEXTS:
        assert _ids(kh_tokenizer(text)) == tokenizer.encode(text, add_special_tokens=False), text

    back = kbs.BertForSequenceClassification.from_pretrained(str(dst))
    assert max_diff(back(x).logits, model(x).logits) == 0.0

    # The classifier is a BertTextClassifier task with its preprocessor: raw strings in, our logits out.
    task = keras_hub.models.BertTextClassifier.from_preset(str(dst))
    encoded = {k: np.asarray(v) for k, v in tokenizer(TEXTS, padding=True, return_tensors="np").items()}
    assert max_diff(task(task.preprocessor(TEXTS)), model(encoded).logits) < TINY_TANH_GELU_TOL


def test_save_keras_hub_preset_writes_the_mlm_head_as_a_task(folders, tmp_path):
    hf, _ = folders
    model = kbs.BertForMaskedLM.from_pretrained(hf)
    dst = str(tmp_path / "mlm")
    save_keras_hub_preset(model, BertTokenizer.from_pretrained(hf), dst, verbose=0)
    task = keras_hub.models.BertMaskedLM.from_preset(dst)
    x, positions = batch(), np.array([[1, 2], [3, 4], [0, 5]])
    want = np.take_along_axis(np.asarray(model(x).logits), positions[..., None], axis=1)
    got = task({**_keras_hub_inputs(x), "mask_positions": positions})  # called: predict would preprocess
    assert max_diff(got, want) < 5e-3  # KerasHub's MaskedLMHead epsilon 1e-5 against BERT's 1e-12
    back = kbs.BertForMaskedLM.from_pretrained(dst)
    assert back.loading_info.missing_keys == []
    assert max_diff(back(x).logits, model(x).logits) == 0.0


def test_kbs_convert_to_keras_hub(folders, tmp_path):
    hf, _ = folders
    dst = tmp_path / "cli"
    assert main(["convert", hf, str(dst), "--to", "keras-hub"]) == 0
    assert keras_hub.models.BertBackbone.from_preset(str(dst)).num_layers == TINY["num_hidden_layers"]
    assert keras_hub.models.BertTokenizer.from_preset(str(dst)).lowercase
    assert not os.path.exists(dst / "model.keras")


def test_kbs_convert_from_a_preset_to_hugging_face(folders, tmp_path):
    hf, preset = folders
    dst = tmp_path / "hf_again"
    assert main(["convert", preset, str(dst), "--no-keras"]) == 0
    want, _, _ = read_state_dict(hf)
    got, fmt, _ = read_state_dict(str(dst))
    assert fmt == "safetensors" and sorted(got) == sorted(want)
    assert max(max_diff(got[k], want[k]) for k in want) == 0.0
    assert BertTokenizer.from_pretrained(str(dst))(TEXTS)["input_ids"] == BertTokenizer.from_pretrained(hf)(TEXTS)[
        "input_ids"]


def test_bfloat16_preset_loads_in_float32(tmp_path):
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=99, num_layers=1, num_heads=4, hidden_dim=32, intermediate_dim=37, max_sequence_length=64,
        dtype="bfloat16")
    backbone.save_to_preset(str(tmp_path / "bf16"))
    model = kbs.BertModel.from_pretrained(str(tmp_path / "bf16"))
    want = backbone.get_layer("token_embedding").embeddings.numpy().astype("float32")
    assert model.loading_info.missing_keys == [] and model.loading_info.unexpected_keys == []
    np.testing.assert_array_equal(model.bert.embeddings.word_embeddings.embeddings.numpy(), want)


def test_writing_without_keras_hub_says_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "keras_hub", None)
    with pytest.raises(ImportError, match="pip install keras-hub"):
        save_keras_hub_preset(kbs.BertModel(kbs.BertConfig(**TINY)), None, str(tmp_path / "out"), verbose=0)
    assert not os.path.exists(tmp_path / "out")


def test_backbones_keras_hub_cannot_express_are_refused(tmp_path):
    model = kbs.BertModel(kbs.BertConfig(**TINY, position_embedding_type="relative_key"))
    with pytest.raises(ValueError, match="relative_key"):
        save_keras_hub_preset(model, None, str(tmp_path / "out"), verbose=0)
    assert not os.path.exists(tmp_path / "out")


def _seed_hub_cache(cache, repo_id, folder):
    """A Hugging Face Hub cache holding `folder` as the main revision of `repo_id`, files linked, not copied."""
    commit = "0" * 40
    repo = os.path.join(cache, "models--" + repo_id.replace("/", "--"))
    snapshot = os.path.join(repo, "snapshots", commit)
    os.makedirs(os.path.join(repo, "refs"))
    os.makedirs(snapshot)
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(commit)
    for root, _, files in os.walk(folder):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), folder)
            os.makedirs(os.path.dirname(os.path.join(snapshot, rel)), exist_ok=True)
            os.symlink(os.path.join(root, name), os.path.join(snapshot, rel))


@pytest.mark.slow
def test_minilm_both_directions(tmp_path, monkeypatch):
    import huggingface_hub

    hf = minilm_folder()
    cache = str(tmp_path / "hub")
    _seed_hub_cache(cache, "sentence-transformers/all-MiniLM-L6-v2", hf)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", cache)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    handle = "hf://sentence-transformers/all-MiniLM-L6-v2"
    preset = str(tmp_path / "preset")
    keras_hub.models.BertBackbone.from_preset(handle).save_to_preset(preset)
    keras_hub.models.BertTokenizer.from_preset(handle).save_to_preset(preset)

    sentences = sst2_sentences(200)
    tokenizer, reference_tokenizer = BertTokenizerFast.from_pretrained(preset), BertTokenizerFast.from_pretrained(hf)
    x = {k: np.asarray(v) for k, v in tokenizer(sentences[:16], padding=True, return_tensors="np").items()}
    assert tokenizer(sentences)["input_ids"] == reference_tokenizer(sentences)["input_ids"]

    ours, reference = kbs.BertModel.from_pretrained(preset), kbs.BertModel.from_pretrained(hf)
    assert max_diff(ours(x).last_hidden_state, reference(x).last_hidden_state) == 0.0

    # Our writer, from the Hugging Face folder: KerasHub loads it; outputs differ by its tanh GELU only.
    dst = str(tmp_path / "written")
    save_keras_hub_preset(hf, None, dst, verbose=0)
    backbone = keras_hub.models.BertBackbone.from_preset(dst)
    got, want = backbone(_keras_hub_inputs(x)), reference(x)
    real = x["attention_mask"].astype(bool)
    diff = np.abs(np.asarray(got["sequence_output"]) - np.asarray(want.last_hidden_state))[real]
    assert 0.0 < diff.max() < MINILM_TANH_GELU_MAX and diff.mean() < MINILM_TANH_GELU_MEAN
    kh_tokenizer = keras_hub.models.BertTokenizer.from_preset(dst)
    got_ids = _ids(kh_tokenizer(sentences))
    want_ids = reference_tokenizer(sentences, add_special_tokens=False)["input_ids"]
    assert got_ids == want_ids
