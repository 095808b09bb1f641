"""KerasHub BERT presets read as a `BertConfig` and a transformers-named state dict; the weight table both ways.

A preset folder is what `keras_hub.models.BertBackbone.save_to_preset(dir)` and
`keras_hub.models.BertTokenizer.save_to_preset(dir)` write:

    config.json                       the backbone as a serialized Keras object:
                                      {"registered_name": "keras_hub>BertBackbone", "config": {"vocabulary_size",
                                      "num_layers", "num_heads", "hidden_dim", "intermediate_dim", "dropout",
                                      "max_sequence_length", "num_segments", ...}}
    model.weights.h5                  Keras 3 weights: layers/<key>/[<sublayer>/...]vars/<index>, each `vars`
                                      group naming its layer in the attribute `name` (e.g. "transformer_layer_0")
    tokenizer.json                    the tokenizer layer's settings  } read by
    assets/tokenizer/vocabulary.txt   one token per line              } `tokenizers.keras_hub_assets`
    metadata.json, maybe preprocessor.json
    task.json, task.weights.h5        a task's head, when the preset was saved from a task: the heads of
                                      `BertTextClassifier` (-> `classifier.*`, num_labels) and `BertMaskedLM`
                                      (-> `cls.predictions.*`) are read; other tasks' heads are not. Our
                                      models give logits: a classifier's `activation` (e.g. softmax) is not
                                      applied

The backbone's weights map onto transformers' names (`embeddings.*`, `encoder.layer.N.*`, `pooler.*`; as
PyTorch's BertModel saves them, without `bert.`). Attention kernels are kept per head in KerasHub:

    transformer_layer_N/_self_attention_layer/query_dense  kernel [hidden, heads, head_dim], bias [heads, head_dim]
        -> encoder.layer.N.attention.self.query.weight [hidden, hidden] (merged, transposed), .bias [hidden]
    transformer_layer_N/_self_attention_layer/output_dense kernel [heads, head_dim, hidden]
        -> encoder.layer.N.attention.output.dense.weight [hidden, hidden] (merged, transposed)
    token_embedding / position_embedding / segment_embedding
        -> embeddings.word_embeddings / position_embeddings / token_type_embeddings .weight
    pooled_dense -> pooler.dense;  LayerNormalization gamma, beta -> LayerNorm .weight, .bias

Activation: KerasHub's BERT computes GELU with the tanh approximation, while BERT's published weights were
trained with the exact (erf) GELU. The weights in a BERT preset are BERT's, so a preset loads here with
`hidden_act="gelu"` (exact): its outputs equal those of the same weights from a Hugging Face folder, and differ
from KerasHub's own outputs by the approximation (on MiniLM's hidden states: max 4e-3 to 1e-2, mean 4e-4).
Likewise a `BertMaskedLM` head loads with BERT's LayerNorm epsilon 1e-12, where KerasHub's MaskedLMHead uses 1e-5.

Reading needs only h5py. Writing presets goes through keras_hub itself (`keras_bert_suite.keras_hub_writer`),
using the weight table and `to_keras` from here. This module imports nothing above the checkpoint readers (no
tokenizers, no models): the config's `architectures` holds our model class by name, as config.json does.

Example:
    >>> is_keras_hub_preset("bert_tiny_preset/")  # doctest: +SKIP
    True
    >>> config = BertConfig.from_dict(read_preset_config("bert_tiny_preset/"))  # doctest: +SKIP
    >>> state = read_preset_weights("bert_tiny_preset/")  # doctest: +SKIP
    >>> state["encoder.layer.0.attention.self.query.weight"].shape  # doctest: +SKIP
    (128, 128)
"""

import os
import re

import numpy as np

from keras_bert_suite.checkpoints.errors import CheckpointError, describe, load_json

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
TASK_FILE = "task.json"
TASK_WEIGHTS_FILE = "task.weights.h5"
SHARDED_WEIGHTS_FILE = "model.weights.json"
BACKBONE_CLASS = "BertBackbone"


class NotBertPresetError(CheckpointError):
    """A KerasHub preset whose backbone or tokenizer is not BERT's (GPT-2, DistilBERT, RoBERTa, ...)."""


# ----------------------------------------------------------------- the weight table
# (layer name, sublayer attributes, variable index, variable attribute, transformers name, layout)
# layout: "kernel_in"  [in, *out] -> [out, in]      (Dense, query/key/value EinsumDense)
#         "kernel_out" [*in, out] -> [out, in]      (attention output EinsumDense)
#         "flat"       any shape -> 1-D             (per-head biases)
#         "same"       unchanged                    (embeddings, LayerNorm, Dense biases)
_EMBEDDINGS = (
    ("token_embedding", (), 0, "embeddings", "embeddings.word_embeddings.weight", "same"),
    ("position_embedding", (), 0, "position_embeddings", "embeddings.position_embeddings.weight", "same"),
    ("segment_embedding", (), 0, "embeddings", "embeddings.token_type_embeddings.weight", "same"),
    ("embeddings_layer_norm", (), 0, "gamma", "embeddings.LayerNorm.weight", "same"),
    ("embeddings_layer_norm", (), 1, "beta", "embeddings.LayerNorm.bias", "same"),
)
_ATTENTION = "_self_attention_layer"
_BLOCK = (
    ((_ATTENTION, "query_dense"), 0, "kernel", "attention.self.query.weight", "kernel_in"),
    ((_ATTENTION, "query_dense"), 1, "bias", "attention.self.query.bias", "flat"),
    ((_ATTENTION, "key_dense"), 0, "kernel", "attention.self.key.weight", "kernel_in"),
    ((_ATTENTION, "key_dense"), 1, "bias", "attention.self.key.bias", "flat"),
    ((_ATTENTION, "value_dense"), 0, "kernel", "attention.self.value.weight", "kernel_in"),
    ((_ATTENTION, "value_dense"), 1, "bias", "attention.self.value.bias", "flat"),
    ((_ATTENTION, "output_dense"), 0, "kernel", "attention.output.dense.weight", "kernel_out"),
    ((_ATTENTION, "output_dense"), 1, "bias", "attention.output.dense.bias", "same"),
    (("_self_attention_layer_norm",), 0, "gamma", "attention.output.LayerNorm.weight", "same"),
    (("_self_attention_layer_norm",), 1, "beta", "attention.output.LayerNorm.bias", "same"),
    (("_feedforward_intermediate_dense",), 0, "kernel", "intermediate.dense.weight", "kernel_in"),
    (("_feedforward_intermediate_dense",), 1, "bias", "intermediate.dense.bias", "same"),
    (("_feedforward_output_dense",), 0, "kernel", "output.dense.weight", "kernel_in"),
    (("_feedforward_output_dense",), 1, "bias", "output.dense.bias", "same"),
    (("_feedforward_layer_norm",), 0, "gamma", "output.LayerNorm.weight", "same"),
    (("_feedforward_layer_norm",), 1, "beta", "output.LayerNorm.bias", "same"),
)
POOLER = (
    ("pooled_dense", (), 0, "kernel", "pooler.dense.weight", "kernel_in"),
    ("pooled_dense", (), 1, "bias", "pooler.dense.bias", "same"),
)
# The h5 group keys Keras derives from the layer classes, for files whose `vars` groups carry no names.
_KEY_TO_LAYER = {
    "reversible_embedding": "token_embedding",
    "position_embedding": "position_embedding",
    "embedding": "segment_embedding",
    "layer_normalization": "embeddings_layer_norm",
    "dense": "pooled_dense",
}
# Task heads: KerasHub task class -> (our model class's name, as config.json's `architectures` gives it; head
# weights; h5 keys of files without layer names).
TASKS = {
    "BertTextClassifier": ("BertForSequenceClassification", (
        ("logits", (), 0, "kernel", "classifier.weight", "kernel_in"),
        ("logits", (), 1, "bias", "classifier.bias", "same"),
    ), {"dense": "logits"}),
    "BertMaskedLM": ("BertForMaskedLM", (
        ("mlm_head", ("_intermediate_dense",), 0, "kernel", "cls.predictions.transform.dense.weight", "kernel_in"),
        ("mlm_head", ("_intermediate_dense",), 1, "bias", "cls.predictions.transform.dense.bias", "same"),
        ("mlm_head", ("_intermediate_layer_norm",), 0, "gamma", "cls.predictions.transform.LayerNorm.weight", "same"),
        ("mlm_head", ("_intermediate_layer_norm",), 1, "beta", "cls.predictions.transform.LayerNorm.bias", "same"),
        ("mlm_head", (), 0, "_bias", "cls.predictions.bias", "same"),
    ), {"masked_lm_head": "mlm_head"}),
}


def weight_table(num_layers):
    """Every backbone weight as `(layer, sublayers, index, attribute, transformers name, layout)`.

    Example:
        >>> weight_table(2)[5]
        ('transformer_layer_0', ('_self_attention_layer', 'query_dense'), 0, 'kernel',
         'encoder.layer.0.attention.self.query.weight', 'kernel_in')
    """
    rows = list(_EMBEDDINGS)
    for i in range(num_layers):
        rows += [(f"transformer_layer_{i}", sub, index, attr, f"encoder.layer.{i}.{name}", layout)
                 for sub, index, attr, name, layout in _BLOCK]
    return rows + list(POOLER)


def _to_torch(value, layout):
    if layout == "kernel_in":
        return np.ascontiguousarray(value.reshape(value.shape[0], -1).T)
    if layout == "kernel_out":
        return np.ascontiguousarray(value.reshape(-1, value.shape[-1]).T)
    if layout == "flat":
        return value.reshape(-1)
    return value


def to_keras(value, layout, shape):
    """A transformers-layout weight ([out, in]) in KerasHub's layout `layout` and variable shape `shape` (the
    inverse of reading).

    Example:
        >>> to_keras(np.zeros((8, 4)), "kernel_in", (4, 2, 4)).shape
        (4, 2, 4)
    """
    if layout in ("kernel_in", "kernel_out"):
        value = value.T
    return np.ascontiguousarray(value).reshape(shape)


# ----------------------------------------------------------------- configs
def registered_name(data):
    """The KerasHub class a serialized Keras object names ("keras_hub>BertBackbone"), or None for other JSON.

    Example:
        >>> registered_name({"registered_name": "keras_hub>BertBackbone", "config": {}})
        'keras_hub>BertBackbone'
    """
    if not isinstance(data, dict):
        return None
    name = data.get("registered_name")
    if isinstance(name, str):
        return name
    if isinstance(data.get("class_name"), str) and str(data.get("module", "")).startswith("keras_hub"):
        return "keras_hub>" + data["class_name"]
    return None


def is_class(name, class_name):
    """Whether the registered name `name` ("keras_hub>BertTokenizer") is of class `class_name` ("BertTokenizer").

    Example:
        >>> is_class("keras_hub>BertTokenizer", "BertTokenizer")
        True
    """
    return name.split(">")[-1] == class_name


def is_keras_hub_preset(path) -> bool:
    """Whether folder `path` (or the folder of file `path`) holds a KerasHub preset: its config.json is a
    serialized KerasHub object rather than a Hugging Face config.

    Example:
        >>> is_keras_hub_preset("bert-base-uncased")      # a Hugging Face folder
        False
    """
    path = os.fspath(path)
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    config = os.path.join(folder, CONFIG_FILE)
    if not os.path.isfile(config):
        return False
    try:
        data = load_json(config)
    except CheckpointError:
        return False
    return registered_name(data) is not None and "model_type" not in data


def _backbone_config(folder):
    path = os.path.join(folder, CONFIG_FILE)
    data = load_json(path)
    name = registered_name(data)
    if name is None:
        raise CheckpointError("not a KerasHub preset config (no 'registered_name')", path=path)
    if not is_class(name, BACKBONE_CLASS):
        raise NotBertPresetError(f"the preset's backbone is {name}, not a BERT backbone (keras_hub>{BACKBONE_CLASS})",
                                 path=path)
    config = data.get("config")
    if not isinstance(config, dict):
        raise CheckpointError("no 'config' object in the preset's backbone config", path=path)
    missing = [k for k in ("vocabulary_size", "num_layers", "num_heads", "hidden_dim", "intermediate_dim")
               if k not in config]
    if missing:
        raise CheckpointError(f"the preset's backbone config lacks {missing}", path=path)
    return config


def read_preset_config(path) -> dict:
    """The Hugging Face config (a dict for `BertConfig.from_dict`) of the KerasHub BERT preset in folder `path`.

    `hidden_act` is "gelu" (exact erf GELU, as BERT's weights were trained), not KerasHub's tanh approximation.
    Raises `NotBertPresetError` (naming the class found) when the backbone is not `keras_hub>BertBackbone`.

    Example:
        >>> read_preset_config("bert_tiny_preset")["num_hidden_layers"]  # doctest: +SKIP
        2
    """
    path = os.fspath(path)
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    kh = _backbone_config(folder)
    dropout = float(kh.get("dropout", 0.1))
    task_name, task = _task(folder)
    config = {
        "architectures": [TASKS[task_name][0] if task_name in TASKS else "BertModel"],
        "vocab_size": int(kh["vocabulary_size"]),
        "hidden_size": int(kh["hidden_dim"]),
        "num_hidden_layers": int(kh["num_layers"]),
        "num_attention_heads": int(kh["num_heads"]),
        "intermediate_size": int(kh["intermediate_dim"]),
        "hidden_act": "gelu",
        "hidden_dropout_prob": dropout,
        "attention_probs_dropout_prob": dropout,
        "max_position_embeddings": int(kh.get("max_sequence_length", 512)),
        "type_vocab_size": int(kh.get("num_segments", 2)),
        "layer_norm_eps": 1e-12,
    }
    if task_name == "BertTextClassifier" and "num_classes" in task:
        config["num_labels"] = int(task["num_classes"])
        config["classifier_dropout"] = float(task.get("dropout", dropout))
    return config


def _task(folder):
    """`(KerasHub task class name, its config)` from the preset's task.json, or `(None, {})` without one."""
    path = os.path.join(folder, TASK_FILE)
    if not os.path.isfile(path):
        return None, {}
    data = load_json(path)
    name = registered_name(data)
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    return (name.split(">")[-1] if name else None), config


# ----------------------------------------------------------------- weights
def _attr_text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else (None if value is None else str(value))


def _layer_groups(layers, key_to_layer=_KEY_TO_LAYER):
    """{layer name: h5 group} for the top-level layers of a Keras 3 weights file."""
    groups = {}
    for key in layers:
        group = layers[key]
        name = _attr_text(group["vars"].attrs.get("name")) if "vars" in group else None
        if name is None:
            block = re.fullmatch(r"transformer_encoder(?:_(\d+))?", key)
            name = f"transformer_layer_{int(block.group(1) or 0)}" if block else key_to_layer.get(key, key)
        groups[name] = group
    return groups


def _read_value(ds, path, name):
    import h5py

    if not isinstance(ds, h5py.Dataset):
        raise CheckpointError("is not a dataset", path=path, weight=name)
    value = np.asarray(ds[()])
    if _attr_text(ds.attrs.get("dtype")) == "bfloat16":
        import ml_dtypes

        value = value.view(ml_dtypes.bfloat16) if value.dtype.itemsize == 2 else value
        return value.astype(np.float32)
    if value.dtype.kind != "f":
        raise CheckpointError(f"has dtype {value.dtype}; expected floating point", path=path, weight=name)
    return value


def _read_h5(file, rows, key_to_layer=_KEY_TO_LAYER):
    """`{transformers name: array}` for `rows` of the weight table from the Keras 3 weights file `file`, plus the
    file's other layer variables under `keras_hub:<file name>:<path>`."""
    import h5py

    try:
        with h5py.File(file, "r") as f:
            if "layers" not in f:
                raise CheckpointError("no 'layers' group; not a Keras 3 weights file", path=file)
            groups = _layer_groups(f["layers"], key_to_layer)
            state, used = {}, set()
            for layer, sub, index, _, name, layout in rows:
                group = groups.get(layer)
                for part in sub:
                    group = group[part] if group is not None and part in group else None
                entry = f"vars/{index}"
                if group is None or entry not in group:
                    where = "/".join((layer,) + sub + (entry,))
                    raise CheckpointError(f"missing from the preset's weights (looked for {where})", path=file,
                                          weight=name)
                ds = group[entry]
                used.add(ds.name)
                state[name] = _to_torch(_read_value(ds, file, name), layout)

            def unused(h5_name, obj):
                if isinstance(obj, h5py.Dataset) and obj.name not in used:
                    state[f"keras_hub:{os.path.basename(file)}:{obj.name.lstrip('/')}"] = np.asarray(obj[()])

            f["layers"].visititems(unused)
            return state
    except CheckpointError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, ... on bad files
        raise CheckpointError(f"cannot read Keras weights file ({describe(exc)})", path=file) from exc


def read_preset_weights(path) -> dict:
    """Read a KerasHub BERT preset's `model.weights.h5` (and the head in `task.weights.h5` of a
    `BertTextClassifier` or `BertMaskedLM` preset) into `{transformers name: numpy array}` ([out, in]).

    `path` is the preset folder or its `model.weights.h5`. Backbone names have no `bert.` prefix (a bare
    BertModel's). Variables of layers a BERT backbone does not have are returned under their file paths
    (`keras_hub:model.weights.h5:...`), so that loading reports them as unused.

    Raises FileNotFoundError when the file is missing, `NotBertPresetError` when config.json names another
    backbone, CheckpointError (naming the file and weight) when a weight is missing or unreadable.

    Example:
        >>> read_preset_weights("bert_tiny_preset")["pooler.dense.weight"].shape  # doctest: +SKIP
        (128, 128)
    """
    path = os.fspath(path)
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    file = path if os.path.isfile(path) else os.path.join(folder, WEIGHTS_FILE)
    if not os.path.isfile(file):
        if os.path.isfile(os.path.join(folder, SHARDED_WEIGHTS_FILE)):
            raise CheckpointError(f"sharded preset weights ({SHARDED_WEIGHTS_FILE}) are not supported; "
                                  "save the preset with max_shard_size=None", path=folder)
        raise FileNotFoundError(f"No KerasHub preset weights file: {file}")
    state = _read_h5(file, weight_table(int(_backbone_config(folder)["num_layers"])))
    task_name, _ = _task(folder)
    task_file = os.path.join(folder, TASK_WEIGHTS_FILE)
    if task_name in TASKS and os.path.isfile(task_file):
        _, rows, key_to_layer = TASKS[task_name]
        state.update(_read_h5(task_file, rows, key_to_layer))
    return state
