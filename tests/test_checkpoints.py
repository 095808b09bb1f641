"""Checkpoint readers/writers against files written by the tools that really write each format.

A tiny random BERT (transformers' PyTorch BertForPreTraining) is saved as safetensors, pytorch_model.bin and sharded
versions of both; transformers' TF models (run in a subprocess with tf-keras, so this process keeps Keras 3) save
tf_model.h5 files; a TF1 Saver in a tf.Graph writes a Google-style checkpoint. Every reader must give back the torch
model's own state_dict. Truncated and byte-flipped files must raise CheckpointError naming the file.
"""

import importlib.util
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from keras_bert_suite.checkpoints.errors import CheckpointError  # noqa: E402
from keras_bert_suite.checkpoints.formats import detect_format, read_state_dict  # noqa: E402
from keras_bert_suite.checkpoints.google_tf1 import (  # noqa: E402
    read_google_checkpoint,
    read_google_config,
    write_google_checkpoint,
)
from keras_bert_suite.checkpoints.pytorch_bin import read_pytorch_bin  # noqa: E402
from keras_bert_suite.checkpoints.safetensors_io import (  # noqa: E402
    read_safetensors,
    read_sharded_safetensors,
    write_safetensors,
)
from keras_bert_suite.checkpoints.tf_h5 import read_tf_h5  # noqa: E402

TIED = {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}
LAYERS = 2


def tiny_config(**kwargs):
    return transformers.BertConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=LAYERS, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, **kwargs,
    )


def torch_state(model):
    return {
        k: v.detach().cpu().numpy()
        for k, v in model.state_dict().items()
        if not k.endswith(("position_ids", "token_type_ids"))
    }


def assert_same_state(got, want, omitted=frozenset()):
    """`got` has exactly `want`'s names (less `omitted`), shapes, dtypes and values."""
    assert set(got) == set(want) - set(omitted), (sorted(set(got) ^ (set(want) - set(omitted))))
    for name, value in got.items():
        assert isinstance(value, np.ndarray), name
        assert value.shape == want[name].shape, (name, value.shape, want[name].shape)
        assert value.dtype == want[name].dtype, (name, value.dtype)
        np.testing.assert_allclose(value, want[name], rtol=0, atol=1e-6, err_msg=name)


# ---------------------------------------------------------------- fixtures: files written by the real tools


@pytest.fixture(scope="module")
def pt(tmp_path_factory):
    """PyTorch models and their save_pretrained folders."""
    root = tmp_path_factory.mktemp("pt")
    torch.manual_seed(0)
    models = {
        "pretraining": transformers.BertForPreTraining(tiny_config()).eval(),
        "seqcls": transformers.BertForSequenceClassification(tiny_config(num_labels=3)).eval(),
        "qa": transformers.BertForQuestionAnswering(tiny_config()).eval(),
        "base": transformers.BertModel(tiny_config()).eval(),
    }
    with torch.no_grad():  # make biases non-zero so a mixed-up bias is noticed
        for model in models.values():
            for name, p in model.named_parameters():
                if name.endswith("bias"):
                    p.normal_(0, 0.02)
    pre = models["pretraining"]
    pre.save_pretrained(root / "safetensors", safe_serialization=True)
    pre.save_pretrained(root / "bin", safe_serialization=False)
    pre.save_pretrained(root / "safetensors_sharded", safe_serialization=True, max_shard_size="20KB")
    pre.save_pretrained(root / "bin_sharded", safe_serialization=False, max_shard_size="20KB")
    for name in ("seqcls", "qa", "base"):
        models[name].save_pretrained(root / name, safe_serialization=True)
    return {"root": root, "models": models, "state": {k: torch_state(m) for k, m in models.items()}}


TF_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import transformers
    src, dst = sys.argv[1], sys.argv[2]
    classes = {
        "safetensors": transformers.TFBertForPreTraining,
        "seqcls": transformers.TFBertForSequenceClassification,
        "qa": transformers.TFBertForQuestionAnswering,
        "base": transformers.TFBertModel,
    }
    for name, cls in classes.items():
        cls.from_pretrained(os.path.join(src, name), from_pt=True).save_pretrained(os.path.join(dst, name))
    """
)


@pytest.fixture(scope="module")
def tf_h5(pt, tmp_path_factory):
    """tf_model.h5 folders written by transformers' TF 2 models (tf-keras) in a subprocess."""
    if importlib.util.find_spec("tf_keras") is None:
        pytest.skip("transformers' TF models need tf-keras")
    dst = tmp_path_factory.mktemp("tf")
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, "-c", TF_SCRIPT, str(pt["root"]), str(dst)], env=env, capture_output=True, text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"pretraining": dst / "safetensors", "seqcls": dst / "seqcls", "qa": dst / "qa", "base": dst / "base"}


def google_names(num_layers):
    """Google variable name -> (torch name, transposed?), spelled out as in Google's release."""
    table = {
        "bert/embeddings/word_embeddings": ("bert.embeddings.word_embeddings.weight", False),
        "bert/embeddings/position_embeddings": ("bert.embeddings.position_embeddings.weight", False),
        "bert/embeddings/token_type_embeddings": ("bert.embeddings.token_type_embeddings.weight", False),
        "bert/embeddings/LayerNorm/gamma": ("bert.embeddings.LayerNorm.weight", False),
        "bert/embeddings/LayerNorm/beta": ("bert.embeddings.LayerNorm.bias", False),
        "bert/pooler/dense/kernel": ("bert.pooler.dense.weight", True),
        "bert/pooler/dense/bias": ("bert.pooler.dense.bias", False),
        "cls/predictions/transform/dense/kernel": ("cls.predictions.transform.dense.weight", True),
        "cls/predictions/transform/dense/bias": ("cls.predictions.transform.dense.bias", False),
        "cls/predictions/transform/LayerNorm/gamma": ("cls.predictions.transform.LayerNorm.weight", False),
        "cls/predictions/transform/LayerNorm/beta": ("cls.predictions.transform.LayerNorm.bias", False),
        "cls/predictions/output_bias": ("cls.predictions.bias", False),
        "cls/seq_relationship/output_weights": ("cls.seq_relationship.weight", False),
        "cls/seq_relationship/output_bias": ("cls.seq_relationship.bias", False),
    }
    dense = ["attention/self/query", "attention/self/key", "attention/self/value", "attention/output/dense",
             "intermediate/dense", "output/dense"]
    for i in range(num_layers):
        for d in dense:
            torch_prefix = f"bert.encoder.layer.{i}." + d.replace("/", ".")
            table[f"bert/encoder/layer_{i}/{d}/kernel"] = (torch_prefix + ".weight", True)
            table[f"bert/encoder/layer_{i}/{d}/bias"] = (torch_prefix + ".bias", False)
        for ln in ["attention/output/LayerNorm", "output/LayerNorm"]:
            torch_prefix = f"bert.encoder.layer.{i}." + ln.replace("/", ".")
            table[f"bert/encoder/layer_{i}/{ln}/gamma"] = (torch_prefix + ".weight", False)
            table[f"bert/encoder/layer_{i}/{ln}/beta"] = (torch_prefix + ".bias", False)
    return table


@pytest.fixture(scope="module")
def google(pt, tmp_path_factory):
    """A Google-release folder: bert_config.json, vocab.txt, and a TF1 Saver checkpoint with Adam slots."""
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("google")
    state = pt["state"]["pretraining"]
    graph = tf.Graph()
    with graph.as_default():
        variables = {}
        for gname, (tname, transpose) in google_names(LAYERS).items():
            value = state[tname].T if transpose else state[tname]
            variables[gname] = tf.compat.v1.Variable(value, name=gname)
            variables[gname + "/adam_m"] = tf.compat.v1.Variable(np.ones_like(value), name=gname + "/adam_m")
            variables[gname + "/adam_v"] = tf.compat.v1.Variable(np.ones_like(value), name=gname + "/adam_v")
        variables["global_step"] = tf.compat.v1.Variable(np.int64(1000), name="global_step")
        saver = tf.compat.v1.train.Saver(var_list=variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, str(folder / "bert_model.ckpt"), write_meta_graph=False, write_state=False)
    cfg = pt["models"]["pretraining"].config
    google_config = {
        "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "hidden_size": cfg.hidden_size, "initializer_range": 0.02, "intermediate_size": cfg.intermediate_size,
        "max_position_embeddings": cfg.max_position_embeddings, "num_attention_heads": cfg.num_attention_heads,
        "num_hidden_layers": cfg.num_hidden_layers, "type_vocab_size": 2, "vocab_size": cfg.vocab_size,
    }
    (folder / "bert_config.json").write_text(json.dumps(google_config))
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]) + "\n")
    return folder


# ---------------------------------------------------------------- every reader returns the torch state_dict


def test_safetensors_reader_matches_torch(pt):
    want = pt["state"]["pretraining"]
    got = read_safetensors(pt["root"] / "safetensors" / "model.safetensors")
    assert_same_state(got, want, omitted=TIED)  # transformers drops tied weights from safetensors
    state, fmt, file = read_state_dict(pt["root"] / "safetensors")
    assert fmt == "safetensors" and os.path.basename(file) == "model.safetensors"
    assert_same_state(state, want, omitted=TIED)


def test_pytorch_bin_reader_matches_torch(pt):
    want = pt["state"]["pretraining"]
    assert_same_state(read_pytorch_bin(pt["root"] / "bin" / "pytorch_model.bin"), want)  # tied weights included
    state, fmt, _ = read_state_dict(pt["root"] / "bin")
    assert fmt == "pytorch_bin"
    assert_same_state(state, want)


def test_sharded_safetensors_reader_matches_torch(pt):
    folder = pt["root"] / "safetensors_sharded"
    assert len(list(folder.glob("model-*.safetensors"))) > 1
    got = read_sharded_safetensors(folder / "model.safetensors.index.json")
    assert_same_state(got, pt["state"]["pretraining"], omitted=TIED)
    assert detect_format(folder) == "safetensors_sharded"


def test_sharded_pytorch_bin_reader_matches_torch(pt):
    folder = pt["root"] / "bin_sharded"
    assert len(list(folder.glob("pytorch_model-*.bin"))) > 1
    got = read_pytorch_bin(folder / "pytorch_model.bin.index.json")
    want = pt["state"]["pretraining"]
    assert set(got) | TIED >= set(want) - TIED
    assert_same_state(got, want, omitted=TIED - set(got))
    state, fmt, _ = read_state_dict(folder)
    assert fmt == "pytorch_bin_sharded" and state.keys() == got.keys()


def test_tf_h5_pretraining_matches_torch(tf_h5, pt):
    got = read_tf_h5(tf_h5["pretraining"] / "tf_model.h5")
    assert_same_state(got, pt["state"]["pretraining"], omitted=TIED)
    assert detect_format(tf_h5["pretraining"]) == "tf_h5"


@pytest.mark.parametrize("head, names", [("seqcls", "classifier"), ("qa", "qa_outputs")])
def test_tf_h5_heads_match_torch(tf_h5, pt, head, names):
    got = read_tf_h5(tf_h5[head] / "tf_model.h5")
    want = pt["state"][head]
    assert_same_state(got, want)
    assert {k for k in got if not k.startswith("bert.")} == {f"{names}.weight", f"{names}.bias"}
    assert got[f"{names}.weight"].shape == (3 if head == "seqcls" else 2, 32)  # torch's [out, in]


def test_tf_h5_bare_model_has_no_prefix(tf_h5, pt):
    got, fmt, _ = read_state_dict(tf_h5["base"])
    assert fmt == "tf_h5"
    assert_same_state(got, pt["state"]["base"])
    assert "embeddings.word_embeddings.weight" in got and "pooler.dense.weight" in got


def test_google_checkpoint_matches_torch_and_skips_optimizer(google, pt):
    want = pt["state"]["pretraining"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # adam_m / adam_v / global_step are skipped silently
        for path in (google, google / "bert_model.ckpt", google / "bert_model.ckpt.index"):
            assert_same_state(read_google_checkpoint(path), want, omitted=TIED)
    state, fmt, file = read_state_dict(google)
    assert fmt == "google_tf1" and file == str(google / "bert_model.ckpt")
    assert_same_state(state, want, omitted=TIED)
    assert detect_format(google / "bert_model.ckpt") == "google_tf1"


def test_read_google_config_gives_transformers_form(google, pt):
    config = read_google_config(google)
    assert config["model_type"] == "bert"
    assert json.loads((google / "bert_config.json").read_text()).items() <= config.items()
    assert read_google_config(google / "bert_model.ckpt") == config
    hf = transformers.BertConfig(**config)
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
        assert getattr(hf, key) == getattr(pt["models"]["pretraining"].config, key)


def test_write_google_checkpoint_uses_googles_names(google, pt, tmp_path):
    import tensorflow as tf

    state = pt["state"]["pretraining"]  # includes the tied decoder, which the format stores once
    write_google_checkpoint(state, tmp_path / "release" / "bert_model.ckpt")
    names = {n for n, _ in tf.train.list_variables(str(tmp_path / "release" / "bert_model.ckpt"))}
    assert names == set(google_names(LAYERS))
    reference = tf.train.load_checkpoint(str(google / "bert_model.ckpt"))
    written = tf.train.load_checkpoint(str(tmp_path / "release" / "bert_model.ckpt"))
    for name in names:
        np.testing.assert_array_equal(written.get_tensor(name), reference.get_tensor(name), err_msg=name)
    assert sorted(os.listdir(tmp_path / "release")) == ["bert_model.ckpt.data-00000-of-00001",
                                                        "bert_model.ckpt.index"]
    # a bare BertModel state dict gets Google's bert/ scope
    write_google_checkpoint(pt["state"]["base"], tmp_path / "base" / "bert_model.ckpt")
    assert_same_state(read_google_checkpoint(tmp_path / "base"),
                      {"bert." + k: v for k, v in pt["state"]["base"].items()})


def test_write_google_checkpoint_refuses_untied_decoder(pt, tmp_path):
    state = dict(pt["state"]["pretraining"])
    state["cls.predictions.decoder.weight"] = state["cls.predictions.decoder.weight"] + 1
    with pytest.raises(CheckpointError, match="cls.predictions.decoder.weight"):
        write_google_checkpoint(state, tmp_path / "bert_model.ckpt")
    with pytest.raises(CheckpointError, match="no name in Google"):
        write_google_checkpoint({"lm_head.weight": np.zeros((2, 2), np.float32)}, tmp_path / "bert_model.ckpt")
    assert not list(tmp_path.iterdir())


def test_google_checkpoint_without_bert_variables(tmp_path):
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        v = tf.compat.v1.Variable(np.zeros(3, np.float32), name="dense/kernel")
        saver = tf.compat.v1.train.Saver(var_list={"dense/kernel": v})
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(v.initializer)
            saver.save(sess, str(tmp_path / "model.ckpt"), write_meta_graph=False, write_state=False)
    with pytest.raises(CheckpointError, match="no Google BERT variables"):
        read_google_checkpoint(tmp_path)

    graph = tf.Graph()
    with graph.as_default():
        names = ["dense/kernel", "bert/pooler/dense/bias"]
        variables = {n: tf.compat.v1.Variable(np.ones(3, np.float32), name=n) for n in names}
        saver = tf.compat.v1.train.Saver(var_list=variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run([v.initializer for v in variables.values()])
            saver.save(sess, str(tmp_path / "mixed" / "model.ckpt"), write_meta_graph=False, write_state=False)
    with pytest.warns(UserWarning, match="dense/kernel"):
        state = read_google_checkpoint(tmp_path / "mixed" / "model.ckpt")
    assert list(state) == ["bert.pooler.dense.bias"]


@pytest.mark.parametrize("head, google_name", [("seqcls", "output_weights"), ("qa", "cls/squad/output_weights")])
def test_google_checkpoint_fine_tuned_heads_round_trip(pt, tmp_path, head, google_name):
    import tensorflow as tf

    write_google_checkpoint(pt["state"][head], tmp_path / "bert_model.ckpt")
    shapes = dict(tf.train.list_variables(str(tmp_path / "bert_model.ckpt")))
    assert shapes[google_name] == [3 if head == "seqcls" else 2, 32]  # run_classifier / run_squad layout
    assert_same_state(read_google_checkpoint(tmp_path), pt["state"][head])


# ---------------------------------------------------------------- writers, dtypes


def test_write_safetensors_loads_in_transformers(pt, tmp_path):
    state = {k: v for k, v in pt["state"]["pretraining"].items() if k not in TIED}
    write_safetensors(state, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(pt["models"]["pretraining"].config.to_json_string())
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]  # no temporary file left
    assert_same_state(read_safetensors(tmp_path / "model.safetensors"), state)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "model.safetensors"), "np") as f:
        assert f.metadata() == {"format": "pt"}
    reloaded = transformers.BertForPreTraining.from_pretrained(tmp_path)
    assert_same_state(torch_state(reloaded), pt["state"]["pretraining"])


def test_bfloat16_becomes_float32(tmp_path):
    from safetensors.torch import save_file

    value = torch.randn(5, 3).to(torch.bfloat16)
    save_file({"w": value, "n": torch.arange(4)}, str(tmp_path / "bf16.safetensors"))
    torch.save({"w": value}, tmp_path / "bf16.bin")
    for got in (read_safetensors(tmp_path / "bf16.safetensors"), read_pytorch_bin(tmp_path / "bf16.bin")):
        assert got["w"].dtype == np.float32
        np.testing.assert_array_equal(got["w"], value.float().numpy())
    assert read_safetensors(tmp_path / "bf16.safetensors")["n"].tolist() == [0, 1, 2, 3]


def test_old_non_zip_torch_format(pt, tmp_path):
    state = pt["models"]["pretraining"].state_dict()
    torch.save(state, tmp_path / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    got, fmt, _ = read_state_dict(tmp_path)
    assert fmt == "pytorch_bin"
    assert_same_state(got, pt["state"]["pretraining"])


# ---------------------------------------------------------------- format detection


def test_detect_format_priority_and_paths(pt, tf_h5, google, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    order = [
        (google / "bert_model.ckpt.index", "google_tf1"),
        (google / "bert_model.ckpt.data-00000-of-00001", "google_tf1"),
        (tf_h5["pretraining"] / "tf_model.h5", "tf_h5"),
        (pt["root"] / "bin_sharded" / "pytorch_model.bin.index.json", "pytorch_bin_sharded"),
        (pt["root"] / "bin" / "pytorch_model.bin", "pytorch_bin"),
        (pt["root"] / "safetensors_sharded" / "model.safetensors.index.json", "safetensors_sharded"),
        (pt["root"] / "safetensors" / "model.safetensors", "safetensors"),
    ]
    for src, fmt in order:  # each added file has a higher priority than those already there
        shutil.copy(src, mixed / src.name)
        if fmt != "google_tf1" or src.name.endswith(".index"):
            assert detect_format(mixed) == fmt
        assert detect_format(src) == fmt
    renamed = tmp_path / "weights.dat"
    for src, fmt in [(pt["root"] / "bin" / "pytorch_model.bin", "pytorch_bin"),
                     (tf_h5["base"] / "tf_model.h5", "tf_h5"),
                     (pt["root"] / "safetensors" / "model.safetensors", "safetensors")]:
        shutil.copy(src, renamed)
        assert detect_format(renamed) == fmt  # by content


def test_missing_and_empty_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        detect_format(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_state_dict(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError) as info:
        read_state_dict(tmp_path / "empty")
    for name in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json", "tf_model.h5", "bert_model.ckpt.index"):
        assert name in str(info.value)
    assert str(tmp_path / "empty") in str(info.value)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="unknown checkpoint format"):
        detect_format(tmp_path / "notes.txt")


def test_checkpoint_error_names_file_and_weight():
    err = CheckpointError("bad shape", path="/x/model.safetensors", weight="classifier.weight")
    assert isinstance(err, ValueError)
    assert "/x/model.safetensors" in str(err) and "classifier.weight" in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.weight == "classifier.weight"


def test_missing_torch_gives_install_hint(pt, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    path = pt["root"] / "bin" / "pytorch_model.bin"
    with pytest.raises(CheckpointError) as info:
        read_pytorch_bin(path)
    message = str(info.value)
    assert "pip install torch" in message and "kbs convert" in message and str(path) in message


# ---------------------------------------------------------------- incomplete, truncated and corrupt files


def test_sharded_index_problems_name_the_shard(pt, tmp_path):
    folder = tmp_path / "sharded"
    shutil.copytree(pt["root"] / "safetensors_sharded", folder)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shard = sorted(set(index["weight_map"].values()))[1]
    os.remove(folder / shard)
    with pytest.raises(CheckpointError, match=shard):
        read_state_dict(folder)
    shutil.copy(pt["root"] / "safetensors_sharded" / shard, folder / shard)
    index["weight_map"]["bert.extra.weight"] = shard
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="bert.extra.weight") as info:
        read_state_dict(folder)
    assert shard in str(info.value)
    (folder / "model.safetensors.index.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="model.safetensors.index.json"):
        read_state_dict(folder)


def _targets(pt, tf_h5, google):
    return {
        "safetensors": (pt["root"] / "safetensors", "model.safetensors"),
        "safetensors_sharded": (pt["root"] / "safetensors_sharded", "model-00002-of-00005.safetensors"),
        "safetensors_index": (pt["root"] / "safetensors_sharded", "model.safetensors.index.json"),
        "pytorch_bin": (pt["root"] / "bin", "pytorch_model.bin"),
        "pytorch_bin_sharded": (pt["root"] / "bin_sharded", "pytorch_model-00001-of-00005.bin"),
        "tf_h5": (tf_h5["pretraining"], "tf_model.h5"),
        "google_tf1_index": (google, "bert_model.ckpt.index"),
        "google_tf1_data": (google, "bert_model.ckpt.data-00000-of-00001"),
    }


TARGETS = ["safetensors", "safetensors_sharded", "safetensors_index", "pytorch_bin", "pytorch_bin_sharded", "tf_h5",
           "google_tf1_index", "google_tf1_data"]


def _read_mutated(src_folder, target, data, tmp_path):
    folder = tmp_path / "mutated"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(src_folder, folder)
    (folder / target).write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            read_state_dict(folder)
        except CheckpointError as exc:
            assert str(folder) in str(exc), exc  # the error names the file (or prefix) it is about
            return "CheckpointError"
    return "read"


@pytest.mark.parametrize("which", TARGETS)
def test_truncated_files_raise_checkpoint_error(pt, tf_h5, google, tmp_path, which):
    src, target = _targets(pt, tf_h5, google)[which]
    data = (src / target).read_bytes()
    n = len(data.rstrip()) if target.endswith(".json") else len(data)  # cutting a JSON's final newline is harmless
    for cut in sorted({0, 1, 7, 8, 9, 64, n // 3, n // 2, n - 64, n - 1}):
        assert _read_mutated(src, target, data[:cut], tmp_path) == "CheckpointError", cut


FUZZ_MUTATIONS = 30


@pytest.mark.parametrize("which", TARGETS)
def test_fuzzed_files_never_crash(pt, tf_h5, google, tmp_path, which):
    """Flip bytes (half in the first 4 KiB, where headers live), or truncate at random points.

    The only allowed outcomes are a CheckpointError or a successful read: safetensors, zip and HDF5 carry no
    checksum over tensor data, so a flip there silently changes a value.
    """
    src, target = _targets(pt, tf_h5, google)[which]
    data = (src / target).read_bytes()
    rng = random.Random(which)
    counts = {"CheckpointError": 0, "read": 0}
    for i in range(FUZZ_MUTATIONS):
        if i % 3 == 2:
            mutated = data[: rng.randrange(len(data))]
        else:
            mutated = bytearray(data)
            pos = rng.randrange(min(len(data), 4096)) if i % 3 == 0 else rng.randrange(len(data))
            mutated[pos] ^= rng.choice([0x01, 0x10, 0x80, 0xFF])
        counts[_read_mutated(src, target, bytes(mutated), tmp_path)] += 1
    print(f"{which}: {FUZZ_MUTATIONS} mutations -> {counts}")
    assert sum(counts.values()) == FUZZ_MUTATIONS
    assert counts["CheckpointError"] >= FUZZ_MUTATIONS // 3  # every truncation, at least, is caught


# ---------------------------------------------------------------- every format loads into our models


def _reference_logits(model, inputs):
    with torch.no_grad():
        return model(**{k: torch.tensor(v) for k, v in inputs.items()})


@pytest.mark.parametrize("source", ["safetensors", "bin", "safetensors_sharded", "bin_sharded", "tf_h5", "google"])
def test_bert_for_pretraining_from_every_format_matches_torch(pt, tf_h5, google, source):
    import keras_bert_suite as kbs
    from helpers import batch, max_diff

    folder = {"tf_h5": tf_h5["pretraining"], "google": google}.get(source, pt["root"] / source)
    model = kbs.BertForPreTraining.from_pretrained(folder)
    assert not model.loading_info.missing_keys and not model.loading_info.unexpected_keys
    inputs = batch()
    want = _reference_logits(pt["models"]["pretraining"], inputs)
    got = model(inputs)
    assert max_diff(got.prediction_logits, want.prediction_logits) < 1e-5
    assert max_diff(got.seq_relationship_logits, want.seq_relationship_logits) < 1e-5


@pytest.mark.parametrize("head, cls_name, key", [
    ("seqcls", "BertForSequenceClassification", "logits"),
    ("qa", "BertForQuestionAnswering", "start_logits"),
])
def test_heads_from_tf_h5_match_torch(pt, tf_h5, head, cls_name, key):
    import keras_bert_suite as kbs
    from helpers import batch, max_diff

    model = getattr(kbs, cls_name).from_pretrained(tf_h5[head])
    inputs = batch()
    assert max_diff(model(inputs)[key], _reference_logits(pt["models"][head], inputs)[key]) < 1e-5


# ---------------------------------------------------------------- kbs convert


def test_kbs_convert_google_checkpoint_round_trip(pt, google, tmp_path):
    import keras

    from helpers import batch, max_diff
    from keras_bert_suite.cli import main

    out = tmp_path / "hf"
    assert main(["convert", str(google), str(out), "--uncased"]) == 0
    assert sorted(os.listdir(out)) == sorted([
        "config.json", "model.safetensors", "model.keras", "vocab.txt", "tokenizer_config.json",
        "special_tokens_map.json",
    ])
    inputs = batch()
    want = _reference_logits(pt["models"]["pretraining"], inputs)
    ref = transformers.BertForPreTraining.from_pretrained(out).eval()
    assert max_diff(_reference_logits(ref, inputs).prediction_logits, want.prediction_logits) < 1e-5
    back = keras.saving.load_model(out / "model.keras")
    assert max_diff(back(inputs).seq_relationship_logits, want.seq_relationship_logits) < 1e-5
    assert transformers.BertTokenizer.from_pretrained(out).do_lower_case


def test_kbs_convert_errors_leave_no_output(tmp_path, capsys):
    from keras_bert_suite.cli import main

    (tmp_path / "empty").mkdir()
    assert main(["convert", str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith(".out")] == []


def test_kbs_console_script_converts_bin(pt, tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "kbs")
    proc = subprocess.run([exe, "convert", str(pt["root"] / "bin"), str(tmp_path / "out"), "--no-keras"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "as BertForPreTraining" in proc.stdout
    assert os.path.exists(tmp_path / "out" / "model.safetensors")
