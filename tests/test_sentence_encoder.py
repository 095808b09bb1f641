"""SentenceTransformer: sentence-transformers folders on our BERT, checked against the sentence_transformers library.

Tiny folders are built with the library itself (a random tiny BERT with the MiniLM or bert-base-cased vocabulary,
Transformer + Pooling [+ Normalize]); the real MiniLM folder (legacy config files) runs in the slow tests.
"""

import csv
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from helpers import SHARED_DATA, max_diff, minilm_folder, sst2_sentences, torch_reference
from keras_bert_suite import SentenceTransformer
from keras_bert_suite.layers.sentence_pooling import POOLING_MODES, pool_tokens
from keras_bert_suite.sentence_folder import UnsupportedModuleError, read_sentence_folder

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
LONG = " ".join(["the film is a long meditation on memory and loss"] * 20)
MIXED = ["Ça a été écrit à Genève.", "Die Würde des Menschen ist unantastbar.", "人人生而自由", "ÉTÉ Ökonomie naïve"]


def multilingual(n_per_lang=1, langs=("fra", "deu_1996", "rus", "cmn_hans", "arb", "hin", "jpn", "ell_monotonic")):
    """The first paragraph-long line of each language in ../shared/data/multilingual/udhr_paragraphs.tsv."""
    path = os.path.join(SHARED_DATA, "multilingual", "udhr_paragraphs.tsv")
    if not os.path.exists(path):
        pytest.skip(f"{path} is not here")
    out, seen = [], {}
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row["lang"] in langs and len(row["text"]) > 40 and seen.get(row["lang"], 0) < n_per_lang:
                seen[row["lang"]] = seen.get(row["lang"], 0) + 1
                out.append(row["text"])
    return out


def build_folder(path, tokenizer_folder, pooling, normalize=True, max_seq_length=24, do_lower_case=False,
                 vocab_size=30522, legacy_config=False):
    """A sentence-transformers folder saved by the library: a random tiny BERT + `tokenizer_folder`'s files."""
    from sentence_transformers import SentenceTransformer as Reference
    from sentence_transformers import models

    bert = os.path.join(str(path), "bert")
    torch_reference("BertModel", bert, vocab_size=vocab_size)
    for name in TOKENIZER_FILES:
        if os.path.exists(os.path.join(tokenizer_folder, name)):
            shutil.copy(os.path.join(tokenizer_folder, name), bert)
    transformer = models.Transformer(bert, max_seq_length=max_seq_length, do_lower_case=do_lower_case)
    modules = [transformer, models.Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling)]
    if normalize:
        modules.append(models.Normalize())
    out = os.path.join(str(path), "st")
    Reference(modules=modules, device="cpu").save(out)
    if legacy_config:  # as sentence-transformers 2.x wrote it: the tokenizer files untouched
        with open(os.path.join(out, "sentence_bert_config.json"), "w", encoding="utf-8") as f:
            json.dump({"max_seq_length": max_seq_length, "do_lower_case": do_lower_case}, f)
        for name in TOKENIZER_FILES:
            if os.path.exists(os.path.join(tokenizer_folder, name)):
                shutil.copy(os.path.join(tokenizer_folder, name), out)
    return out


def reference(folder):
    from sentence_transformers import SentenceTransformer as Reference

    return Reference(folder, device="cpu")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A folder with three pooling modes concatenated and no Normalize module, max_seq_length 24."""
    folder = build_folder(tmp_path_factory.mktemp("st"), minilm_folder(), ("cls", "max", "mean_sqrt_len_tokens"),
                          normalize=False)
    return folder, SentenceTransformer(folder), reference(folder)


def texts():
    return sst2_sentences(13) + MIXED + [LONG, ""]


# ----- pooling -----
@pytest.mark.parametrize("modes", [(m,) for m in POOLING_MODES] + [("cls", "mean", "max"), ("lasttoken", "cls")])
def test_pooling_matches_sentence_transformers_pooling_module(modes):
    import torch
    from sentence_transformers.models import Pooling

    rng = np.random.RandomState(0)
    hidden = rng.randn(3, 7, 8).astype("float32")
    mask = np.ones((3, 7), "int64")
    mask[1, 4:] = 0
    mask[2, 1:] = 0
    ref = Pooling(8, pooling_mode=modes)({"token_embeddings": torch.tensor(hidden),
                                          "attention_mask": torch.tensor(mask)})["sentence_embedding"]
    ours = pool_tokens(tf.constant(hidden), tf.constant(mask), modes)
    assert ours.shape == (3, 8 * len(modes))
    assert max_diff(ours, ref.numpy()) < 1e-6


# ----- folders -----
def _write(folder, name, data):
    os.makedirs(os.path.dirname(os.path.join(folder, name)) or folder, exist_ok=True)
    with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
        json.dump(data, f)


def _copy_minilm(tmp_path):
    """The MiniLM folder's small files copied (to edit), its weights linked."""
    folder = str(tmp_path / "m")
    shutil.copytree(minilm_folder(), folder, ignore=shutil.ignore_patterns("model.safetensors"))
    os.symlink(os.path.join(minilm_folder(), "model.safetensors"), os.path.join(folder, "model.safetensors"))
    return folder


def test_legacy_folder_settings_are_read():
    spec = read_sentence_folder(minilm_folder())
    assert spec.pooling_modes == ("mean",) and spec.normalize and spec.max_seq_length == 256
    assert not spec.do_lower_case and spec.embedding_dimension == 384


def test_unsupported_module_is_named_with_its_path(tmp_path):
    folder = _copy_minilm(tmp_path)
    with open(os.path.join(folder, "modules.json"), encoding="utf-8") as f:
        modules = json.load(f)
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    modules[3]["idx"] = 3
    _write(folder, "modules.json", modules)
    with pytest.raises(UnsupportedModuleError, match=r"sentence_transformers\.models\.Dense.*2_Dense"):
        SentenceTransformer(folder)
    _write(folder, "modules.json", [dict(modules[1], idx=0), dict(modules[0], idx=1)])
    with pytest.raises(UnsupportedModuleError, match=r"\['Pooling', 'Transformer'\]"):
        read_sentence_folder(folder)
    os.remove(os.path.join(folder, "modules.json"))
    with pytest.raises(FileNotFoundError, match="modules.json"):
        read_sentence_folder(folder)


def test_max_length_of_processing_kwargs_wins(tmp_path):
    folder = _copy_minilm(tmp_path)
    _write(folder, "sentence_bert_config.json", {"processing_kwargs": {"text": {"max_length": 64}}})
    assert read_sentence_folder(folder).max_seq_length == 64


def test_a_transformer_other_than_bert_is_refused(tmp_path):
    folder = _copy_minilm(tmp_path)
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    _write(folder, "config.json", {**config, "model_type": "xlm-roberta"})
    with pytest.raises(UnsupportedModuleError, match=r"config\.json.*'xlm-roberta'"):
        read_sentence_folder(folder)


def test_bad_pooling_config_is_named(tmp_path):
    folder = _copy_minilm(tmp_path)
    _write(folder, "1_Pooling/config.json", {"embedding_dimension": 384, "pooling_mode": "median"})
    with pytest.raises(ValueError, match=r"1_Pooling.config\.json.*median"):
        read_sentence_folder(folder)
    _write(folder, "1_Pooling/config.json", {"embedding_dimension": 768, "pooling_mode": ["mean"]})
    with pytest.raises(ValueError, match="768.*hidden_size 384"):
        SentenceTransformer(folder)


# ----- encode on a tiny model -----
def test_encode_matches_sentence_transformers(tiny):
    folder, ours, ref = tiny
    spec = read_sentence_folder(folder)
    assert spec.pooling_modes == ("cls", "max", "mean_sqrt_len_tokens") and not spec.normalize
    assert ours.max_seq_length == 24 == ref.max_seq_length
    sentences = texts()
    expected = ref.encode(sentences, batch_size=4)
    got = ours.encode(sentences, batch_size=4)
    assert got.shape == expected.shape == (len(sentences), 96) and got.dtype == np.float32
    assert max_diff(got, expected) < 1e-5
    assert max_diff(ours.encode(sentences, normalize_embeddings=True),
                    ref.encode(sentences, normalize_embeddings=True)) < 1e-5
    one = ours.encode(sentences[3])
    assert one.shape == (96,) and max_diff(one, expected[3]) < 1e-5
    tensor = ours.encode(sentences[:2], convert_to_tensor=True)
    assert isinstance(tensor, tf.Tensor) and tensor.shape == (2, 96)
    rows = ours.encode(sentences[:2], convert_to_numpy=False)
    assert isinstance(rows, list) and rows[1].shape == (96,)
    assert ours.encode([]).shape == (0, 96)
    # one trace for every batch shape (sorted batches of 4, the last one shorter; single texts)
    assert ours._forward.experimental_get_tracing_count() == 1
    assert ours._tokenize.experimental_get_tracing_count() == 1


def test_token_embeddings_and_progress_bar(tiny, capsys):
    _, ours, ref = tiny
    sentences = [LONG, "a fine film", "no"]
    expected = ref.encode(sentences, output_value="token_embeddings")
    got = ours.encode(sentences, output_value="token_embeddings", batch_size=2, show_progress_bar=True)
    assert [g.shape[0] for g in got] == [len(e) for e in expected] == [24, 5, 3]
    for g, e in zip(got, expected):
        assert max_diff(g, e.numpy()) < 1e-5
    assert "2/2" in capsys.readouterr().err
    with pytest.raises(ValueError, match="output_value"):
        ours.encode("x", output_value="logits")
    with pytest.raises(TypeError, match="item 1 is a int"):
        ours.encode(["x", 3])


def test_max_seq_length_can_be_changed(tiny):
    _, ours, ref = tiny
    try:
        ours.max_seq_length = ref.max_seq_length = 8
        assert max_diff(ours.encode([LONG, "a b"]), ref.encode([LONG, "a b"])) < 1e-5
        with pytest.raises(ValueError, match="max_seq_length"):
            ours.max_seq_length = 1000
    finally:
        ours.max_seq_length = ref.max_seq_length = 24


@pytest.mark.parametrize("legacy_config", [True, False])
def test_do_lower_case_lowercases_before_a_cased_tokenizer(tmp_path, legacy_config):
    """sentence-transformers 2.x kept do_lower_case in sentence_bert_config.json; 5.x saves a Lowercase step
    in tokenizer.json's normalizer instead."""
    cased = os.path.join(SHARED_DATA, "vocab", "bert-base-cased")
    if not os.path.isdir(cased):
        pytest.skip(f"{cased} is not here")
    folder = build_folder(tmp_path, cased, "mean", do_lower_case=True, vocab_size=28996,
                          legacy_config=legacy_config)
    assert read_sentence_folder(folder).do_lower_case
    ours, ref = SentenceTransformer(folder), reference(folder)
    sentences = MIXED + ["The CAT sat on the MAT"]
    assert max_diff(ours.encode(sentences), ref.encode(sentences)) < 1e-5


@pytest.mark.slow
def test_saved_model_matches_encode(tiny, tmp_path):
    from keras_bert_suite.export import export_saved_model

    _, ours, _ = tiny
    # XLA in exports is checked in test_export.py; here the folder's settings reach the signature
    path = export_saved_model(ours, export_dir=str(tmp_path / "embed"), jit_compile=False)
    served = tf.saved_model.load(path).signatures["serving_default"]
    sentences = texts()
    got = served(text=tf.constant(sentences))["sentence_embedding"].numpy()
    assert max_diff(got, ours.encode(sentences)) < 1e-5


def test_hub_id_from_a_seeded_cache(tiny, tmp_path, monkeypatch):
    folder, ours, _ = tiny
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--org--tiny-st"
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = SentenceTransformer("org/tiny-st")
    assert loaded.folder == str(repo / "snapshots" / commit)
    assert max_diff(loaded.encode(texts()[:5]), ours.encode(texts()[:5])) < 1e-6
    with pytest.raises(FileNotFoundError, match="org/absent"):
        SentenceTransformer("org/absent")


# ----- the real checkpoint -----
@pytest.mark.slow
def test_minilm_matches_sentence_transformers_on_real_text():
    ours, ref = SentenceTransformer(minilm_folder()), reference(minilm_folder())
    sentences = sst2_sentences(96) + multilingual() + [LONG * 3]
    expected = ref.encode(sentences)
    got = ours.encode(sentences)
    assert got.shape == expected.shape == (len(sentences), 384)
    assert max_diff(got, expected) < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
