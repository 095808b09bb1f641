"""Hugging Face Hub ids in every `from_pretrained`: a pre-seeded cache offline, and the real download path against
a loopback stand-in for the Hub (tests/fake_hub.py). Tiny random models; no internet."""

import json
import os

import huggingface_hub.constants
import keras
import numpy as np
import pytest
from fake_hub import FakeHub, seed_cache
from helpers import TINY, batch
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

import keras_bert_suite as kbs
from keras_bert_suite.checkpoints.mapping import model_state_dict
from keras_bert_suite.checkpoints.safetensors_io import read_safetensors
from keras_bert_suite.hub import (
    InvalidPretrainedNameError,
    PretrainedNotFoundError,
    ShardIndexError,
    resolve_pretrained,
)

MODEL_CLASSES = (
    "BertModel", "BertForPreTraining", "BertLMHeadModel", "BertForMaskedLM", "BertForNextSentencePrediction",
    "BertForSequenceClassification", "BertForMultipleChoice", "BertForTokenClassification",
    "BertForQuestionAnswering",
)
TEXTS = ["a bad cafe", "the ace", "deed faced a bead, dab"]


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory):
    """A Hub-style folder: a tiny random BertForPreTraining, its tokenizer, a decoy pytorch_model.bin that must
    never be fetched (model.safetensors comes first), and a sentence-transformers style 1_Pooling/config.json."""
    folder = tmp_path_factory.mktemp("tiny_repo")
    keras.utils.set_random_seed(0)
    model = kbs.BertForPreTraining(kbs.BertConfig(**TINY))
    model(batch())
    model.save_pretrained(str(folder))
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["the", "bad", "cafe", "ace", "deed", "faced", "bead", "dab", ",", "."]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(letters) + ["##" + c for c in letters] + words
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    kbs.BertTokenizer.from_pretrained(str(folder)).save_pretrained(str(folder))
    (folder / "pytorch_model.bin").write_bytes(b"decoy")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    return folder


@pytest.fixture
def offline_cache(tmp_path, monkeypatch, tiny_repo):
    cache = tmp_path / "hub"
    seed_cache(str(cache), "org/tiny", str(tiny_repo))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def hub(tmp_path, monkeypatch, tiny_repo):
    """The loopback Hub serving org/tiny (org/gated refuses), downloads on, an empty cache, progress bars on."""
    with FakeHub({"org/tiny": str(tiny_repo)}, gated={"org/gated"}) as server:
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
        monkeypatch.setenv("TQDM_POSITION", "-1")  # huggingface_hub's bars show even without a terminal
        yield server


def test_local_paths_are_returned_unchanged(tiny_repo):
    folder = str(tiny_repo)
    assert resolve_pretrained(folder) == folder
    assert resolve_pretrained(folder, subfolder="1_Pooling", kind=None) == os.path.join(folder, "1_Pooling")
    assert resolve_pretrained(os.path.join(folder, "vocab.txt"), kind="tokenizer").endswith("vocab.txt")


@pytest.mark.jax  # Hub ids under both backends
def test_every_class_and_tokenizer_loads_by_id_from_the_cache(offline_cache, tiny_repo):
    folder = str(tiny_repo)
    assert kbs.BertConfig.from_pretrained("org/tiny") == kbs.BertConfig.from_pretrained(folder)
    checkpoint = read_safetensors(os.path.join(folder, "model.safetensors"))
    checkpoint.update({key[len("bert."):]: value for key, value in checkpoint.items() if key.startswith("bert.")})
    for name in MODEL_CLASSES:
        model = getattr(kbs, name).from_pretrained("org/tiny", num_labels=3)
        loaded = {key: value for key, value in model_state_dict(model).items() if key in checkpoint}
        assert len(loaded) >= TINY["num_hidden_layers"] * 16 + 5, name  # every layer and the embeddings
        for key, value in loaded.items():
            np.testing.assert_array_equal(value, checkpoint[key], err_msg=f"{name}: {key}")
    ids = batch()
    np.testing.assert_array_equal(kbs.BertModel.from_pretrained("org/tiny")(ids).last_hidden_state,
                                  kbs.BertModel.from_pretrained(folder)(ids).last_hidden_state)
    tok = kbs.BertTokenizer.from_pretrained("org/tiny")
    assert tok.name_or_path == "org/tiny"
    by_folder = kbs.BertTokenizer.from_pretrained(folder)
    assert tok(TEXTS, padding=True)["input_ids"] == by_folder(TEXTS, padding=True)["input_ids"]
    # The fast and in-graph tokenizers' outputs are a function of the vocabulary and settings (their first call
    # traces a graph, ~10 s here), so these are compared.
    fast = kbs.BertTokenizerFast.from_pretrained("org/tiny")
    assert fast.name_or_path == "org/tiny" and fast.vocab == tok.vocab
    by_id = kbs.TFBertTokenizer.from_pretrained("org/tiny", revision="main", local_files_only=True)
    by_folder = kbs.TFBertTokenizer.from_pretrained(folder)
    assert by_id.vocab == by_folder.vocab == sorted(fast.vocab, key=fast.vocab.get)
    assert {**by_id.get_config(), "name": ""} == {**by_folder.get_config(), "name": ""}


def test_offline_picks_the_first_cached_weights_format(tmp_path, monkeypatch, tiny_repo):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = str(tmp_path / "hub")
    only_bin = tmp_path / "only_bin"
    only_bin.mkdir()
    (only_bin / "config.json").write_bytes((tiny_repo / "config.json").read_bytes())
    (only_bin / "pytorch_model.bin").write_bytes(b"x")
    (only_bin / "model.safetensors.index.json").write_text('{"weight_map": {"w": "model-00001-of-00002.safetensors"}}')
    seed_cache(cache, "org/only-bin", str(only_bin))
    folder = resolve_pretrained("org/only-bin", cache_dir=cache)  # the index's shard is missing: skipped
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors.index.json", "pytorch_model.bin"]
    os.remove(only_bin / "pytorch_model.bin")
    with pytest.raises(PretrainedNotFoundError, match="no BERT weights.*model.safetensors, model.safetensors.index"
                                                      r".json, pytorch_model.bin, .*tf_model.h5"):
        resolve_pretrained("org/only-bin", cache_dir=cache)
    assert resolve_pretrained("org/only-bin", cache_dir=cache, kind="config") == folder
    (only_bin / "model.safetensors.index.json").write_text('{"weight_map": {"w": "../outside.safetensors"}}')
    with pytest.raises(ShardIndexError, match="bad shard file name '../outside.safetensors'"):
        resolve_pretrained("org/only-bin", cache_dir=cache)


def test_bad_names_and_uncached_ids(offline_cache):
    with pytest.raises(PretrainedNotFoundError) as info:
        kbs.BertModel.from_pretrained("org/unknown")
    message = str(info.value)
    assert "'org/unknown'" in message and str(offline_cache) in message and "HF_HUB_OFFLINE" in message
    with pytest.raises(PretrainedNotFoundError, match="org/tiny.*revision 'v2'"):
        kbs.BertTokenizer.from_pretrained("org/tiny", revision="v2")
    for bad in ("a/b/c", "/no/such/folder", "bad--name"):
        with pytest.raises(InvalidPretrainedNameError, match=f"no config at '{bad}'.*valid Hugging Face Hub"):
            kbs.BertConfig.from_pretrained(bad)
    assert issubclass(InvalidPretrainedNameError, FileNotFoundError)
    assert issubclass(InvalidPretrainedNameError, ValueError)
    with pytest.raises(ValueError, match="kind"):
        resolve_pretrained("org/tiny", kind="weights")


def test_download_fetches_only_what_is_needed_then_works_offline(hub, tmp_path, monkeypatch, capfd):
    assert huggingface_hub.constants.ENDPOINT != hub.url  # the environment of the call is the one honoured
    offline_at_import = huggingface_hub.constants.HF_HUB_OFFLINE
    model = kbs.BertForSequenceClassification.from_pretrained("org/tiny", num_labels=2)
    assert hub.downloaded() == ["/org/tiny/resolve/main/config.json", "/org/tiny/resolve/main/model.safetensors"]
    assert "model.safetensors" in capfd.readouterr().err  # huggingface_hub's progress bar
    assert huggingface_hub.constants.HF_HUB_OFFLINE == offline_at_import  # restored after the call
    snapshot = resolve_pretrained("org/tiny", kind="config")
    assert snapshot.startswith(str(tmp_path / "hub" / "models--org--tiny" / "snapshots"))
    assert sorted(os.listdir(snapshot)) == ["config.json", "model.safetensors"]

    del hub.requests[:]
    kbs.TFBertTokenizer.from_pretrained("org/tiny")
    fetched = sorted(path.rsplit("/", 1)[1] for path in hub.downloaded())
    assert fetched == ["special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]
    del hub.requests[:]
    pooling = resolve_pretrained("org/tiny", kind=None, extra_files=("1_Pooling/*", "modules.json"))
    assert hub.downloaded() == ["/org/tiny/resolve/main/1_Pooling/config.json"]
    assert os.path.isfile(os.path.join(pooling, "1_Pooling", "config.json"))
    del hub.requests[:]
    hub.repos["org/plain"] = hub.repos["org/tiny"]
    plain = resolve_pretrained("org/plain", kind=None, extra_files=("modules.json",))  # none present
    assert hub.downloaded() == ["/org/plain/resolve/main/config.json"] and os.listdir(plain) == ["config.json"]

    del hub.requests[:]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = kbs.BertForSequenceClassification.from_pretrained("org/tiny", num_labels=2)
    kbs.BertTokenizerFast.from_pretrained("org/tiny")
    assert hub.requests == []
    for a, b in zip(model.weights[:5], again.weights[:5]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_subfolder_and_local_files_only(hub, tmp_path, monkeypatch, tiny_repo):
    nested = tmp_path / "nested"
    (nested / "bert").mkdir(parents=True)
    (nested / "bert" / "config.json").write_bytes((tiny_repo / "config.json").read_bytes())
    hub.repos["org/nested"] = str(nested)
    config = kbs.BertConfig.from_pretrained("org/nested", subfolder="bert")
    assert config.hidden_size == TINY["hidden_size"]
    assert hub.downloaded() == ["/org/nested/resolve/main/bert/config.json"]
    del hub.requests[:]
    assert kbs.BertConfig.from_pretrained("org/nested", subfolder="bert", local_files_only=True) == config
    assert hub.requests == []
    with pytest.raises(PretrainedNotFoundError, match="org/nested.*local_files_only=True"):
        resolve_pretrained("org/nested", local_files_only=True, revision="0" * 40)


def test_gated_and_unknown_repos_raise_the_hub_error_with_the_id(hub):
    with pytest.raises(GatedRepoError, match="'org/gated'") as info:
        kbs.BertModel.from_pretrained("org/gated")
    assert isinstance(info.value.__cause__, GatedRepoError)
    assert info.value.response.status_code == 403
    with pytest.raises(RepositoryNotFoundError, match="'org/missing'"):
        kbs.BertTokenizer.from_pretrained("org/missing")
    hub.repos["org/listed"] = hub.repos["org/tiny"]
    hub.gated_downloads.add("org/listed")  # the Hub lists a gated repo's files, and refuses the downloads
    with pytest.raises(GatedRepoError, match="(?s)'org/listed'.*resolve/main/config.json") as info:
        kbs.BertConfig.from_pretrained("org/listed")
    assert isinstance(info.value.__cause__, GatedRepoError)


def test_sharded_weights_download_with_their_shards(hub, tmp_path, tiny_repo):
    from safetensors.numpy import save_file

    sharded = tmp_path / "sharded"
    sharded.mkdir()
    (sharded / "config.json").write_bytes((tiny_repo / "config.json").read_bytes())
    state = read_safetensors(os.path.join(tiny_repo, "model.safetensors"))
    names = sorted(state)
    weight_map = {}
    for i, part in enumerate((names[: len(names) // 2], names[len(names) // 2:])):
        shard = f"model-0000{i + 1}-of-00002.safetensors"
        save_file({name: state[name] for name in part}, str(sharded / shard))
        weight_map.update(dict.fromkeys(part, shard))
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (sharded / "tf_model.h5").write_bytes(b"decoy")
    hub.repos["org/sharded"] = str(sharded)
    model = kbs.BertForPreTraining.from_pretrained("org/sharded")
    fetched = sorted(path.rsplit("/", 1)[1] for path in hub.downloaded())
    assert fetched == ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                       "model.safetensors.index.json"]
    for name, value in model_state_dict(model).items():
        np.testing.assert_array_equal(value, state[name], err_msg=name)


def test_unreachable_hub_falls_back_to_the_cache(offline_cache, monkeypatch):
    with FakeHub({}) as closed:
        url = closed.url  # the port is closed once the server stops
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", url)
    assert kbs.BertConfig.from_pretrained("org/tiny").hidden_size == TINY["hidden_size"]
    with pytest.raises(PretrainedNotFoundError, match=f"org/unknown.*the Hub at {url} could not be reached"):
        resolve_pretrained("org/unknown")


def test_cache_folder_follows_the_environment_of_the_call(tmp_path, monkeypatch, tiny_repo):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    seed_cache(str(tmp_path / "home" / "hub"), "org/tiny", str(tiny_repo))
    assert resolve_pretrained("org/tiny", kind="config").startswith(str(tmp_path / "home" / "hub"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    with pytest.raises(PretrainedNotFoundError, match="elsewhere"):
        resolve_pretrained("org/tiny", kind="config")
    explicit = resolve_pretrained("org/tiny", kind="config", cache_dir=tmp_path / "home" / "hub")
    assert explicit.startswith(str(tmp_path / "home" / "hub"))


def test_convert_takes_a_hub_id(offline_cache, tmp_path, tiny_repo):
    from keras_bert_suite.convert import convert

    convert("org/tiny", tmp_path / "out", keras_file=False, verbose=0)
    assert sorted(os.listdir(tmp_path / "out")) == ["config.json", "model.safetensors", "special_tokens_map.json",
                                                    "tokenizer_config.json", "vocab.txt"]
    assert (tmp_path / "out" / "vocab.txt").read_text() == (tiny_repo / "vocab.txt").read_text()


def test_keras_hub_preset_repos_fetch_their_own_files(hub, tmp_path, tiny_repo):
    preset = tmp_path / "preset"
    (preset / "assets" / "tokenizer").mkdir(parents=True)
    for name in ("config.json", "model.weights.h5", "task.json", "task.weights.h5", "tokenizer.json",
                 "metadata.json", "assets/tokenizer/vocabulary.txt"):
        (preset / name).write_text(json.dumps({"file": name}))  # distinct contents: distinct blobs
    hub.repos["keras/tiny-preset"] = str(preset)
    resolve_pretrained("keras/tiny-preset")
    resolve_pretrained("keras/tiny-preset", kind="tokenizer")
    assert sorted(path.split("/resolve/main/")[1] for path in hub.downloaded()) == [
        "assets/tokenizer/vocabulary.txt", "config.json", "model.weights.h5", "task.json", "task.weights.h5",
        "tokenizer.json"]
    os.remove(preset / "assets" / "tokenizer" / "vocabulary.txt")
    with pytest.raises(PretrainedNotFoundError, match="no vocabulary.*vocab.txt, assets/tokenizer/vocabulary.txt"):
        resolve_pretrained("keras/tiny-preset", kind="tokenizer", force_download=True)


def test_download_after_huggingface_hub_made_its_session_offline(hub, monkeypatch):
    """huggingface_hub caches one HTTP session, made with an offline adapter when HF_HUB_OFFLINE was on at the
    time (sentence-transformers, transformers or keras-hub may have made it so earlier in the process)."""
    from huggingface_hub.utils import get_session, reset_sessions

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    reset_sessions()
    get_session()  # cached with the offline adapter
    folder = resolve_pretrained("org/tiny", kind="config")
    assert os.path.isfile(os.path.join(folder, "config.json"))
    assert hub.downloaded() == ["/org/tiny/resolve/main/config.json"]
