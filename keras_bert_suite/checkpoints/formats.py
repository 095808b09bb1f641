"""Find which checkpoint format a folder or file holds, and read it into a torch-named state dict.

Formats: "safetensors", "safetensors_sharded", "pytorch_bin", "pytorch_bin_sharded", "tf_h5", "keras_hub",
"google_tf1". In a folder the first of these files wins: model.safetensors, model.safetensors.index.json,
pytorch_model.bin, pytorch_model.bin.index.json, tf_model.h5, model.weights.h5 (a KerasHub preset),
bert_model.ckpt.index (then any other *.ckpt.index, then the *.ckpt-STEP.index with the largest step). A file
is recognised by its name, else by its first bytes; a TF checkpoint may also be given by its prefix
(`.../bert_model.ckpt`).

Example:
    >>> import keras_bert_suite as kbs
    >>> config = kbs.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    ...                         intermediate_size=37)
    >>> kbs.BertForPreTraining(config).save_pretrained("bert-tiny")      # config.json + model.safetensors
    >>> detect_format("bert-tiny")
    'safetensors'
    >>> from keras_bert_suite.checkpoints.google_tf1 import write_google_checkpoint
    >>> write_google_checkpoint(read_state_dict("bert-tiny")[0], "google/bert_model.ckpt")    # Google's layout
    >>> state, fmt, file = read_state_dict("google")
    >>> fmt, os.path.basename(file)
    ('google_tf1', 'bert_model.ckpt')
"""

import glob
import os
import re

from keras_bert_suite.checkpoints.errors import CheckpointError
from keras_bert_suite.checkpoints.google_tf1 import read_google_checkpoint, resolve_prefix
from keras_bert_suite.checkpoints.keras_hub_preset import read_preset_weights
from keras_bert_suite.checkpoints.pytorch_bin import read_pytorch_bin
from keras_bert_suite.checkpoints.safetensors_io import read_safetensors, read_sharded_safetensors
from keras_bert_suite.checkpoints.tf_h5 import read_tf_h5

_FOLDER_FILES = (
    ("model.safetensors", "safetensors"),
    ("model.safetensors.index.json", "safetensors_sharded"),
    ("pytorch_model.bin", "pytorch_bin"),
    ("pytorch_model.bin.index.json", "pytorch_bin_sharded"),
    ("tf_model.h5", "tf_h5"),
    ("model.weights.h5", "keras_hub"),
)
_READERS = {
    "safetensors": read_safetensors,
    "safetensors_sharded": read_sharded_safetensors,
    "pytorch_bin": read_pytorch_bin,
    "pytorch_bin_sharded": read_pytorch_bin,
    "tf_h5": read_tf_h5,
    "keras_hub": read_preset_weights,
    "google_tf1": read_google_checkpoint,
}
_LOOKED_FOR = [name for name, _ in _FOLDER_FILES] + ["bert_model.ckpt.index", "*.ckpt.index", "*.ckpt-STEP.index"]


def _sniff(path):
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "tf_h5"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"  # 8-byte header length, then the JSON header
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80"):
        return "pytorch_bin"  # torch's zip format, or the old raw pickle format
    return None


def _resolve(path):
    """`(format, file)` for a folder, file, or TF checkpoint prefix."""
    path = os.fspath(path)
    if os.path.isdir(path):
        for name, fmt in _FOLDER_FILES:
            candidate = os.path.join(path, name)
            if os.path.isfile(candidate):
                return fmt, candidate
        if glob.glob(os.path.join(glob.escape(path), "*.ckpt.index")) or glob.glob(
            os.path.join(glob.escape(path), "*.ckpt-*.index")
        ):
            return "google_tf1", resolve_prefix(path)
        raise CheckpointError(f"no checkpoint found; looked for {', '.join(_LOOKED_FOR)}", path=path)
    if os.path.isfile(path):
        base = os.path.basename(path)
        if base.endswith(".safetensors.index.json"):
            return "safetensors_sharded", path
        if base.endswith(".bin.index.json"):
            return "pytorch_bin_sharded", path
        if base.endswith(".safetensors"):
            return "safetensors", path
        if base.endswith((".bin", ".pt", ".pth")):
            return "pytorch_bin", path
        if base == "model.weights.h5":
            return "keras_hub", path
        if base.endswith((".h5", ".hdf5")):
            return "tf_h5", path
        if base.endswith(".index") or re.search(r"\.data-\d+-of-\d+$", base):
            return "google_tf1", resolve_prefix(path)
        try:
            fmt = _sniff(path)
        except OSError as exc:
            raise CheckpointError(f"cannot read file ({exc})", path=path) from exc
        if fmt is None:
            raise CheckpointError("unknown checkpoint format (not safetensors, PyTorch, HDF5 or a TF checkpoint)",
                                  path=path)
        return fmt, path
    if os.path.isfile(path + ".index"):
        return "google_tf1", path
    raise FileNotFoundError(f"No such checkpoint folder or file: {path}")


def detect_format(path) -> str:
    """The format name of the checkpoint in folder / at file or prefix `path`.

    Raises FileNotFoundError if nothing exists at `path`, CheckpointError if a folder holds no known checkpoint
    (the message lists the names looked for) or a file's format is unknown.

    Example:
        >>> detect_format("out/tf_model.h5")  # doctest: +SKIP
        'tf_h5'
    """
    return _resolve(path)[0]


def read_state_dict(path):
    """Read the checkpoint in folder / at file or prefix `path`; returns `(state_dict, format, file)`.

    `state_dict` maps transformers' PyTorch weight names to numpy arrays in torch's layout; `file` is the file
    (or, for "google_tf1", the checkpoint prefix) that was read.

    Example:
        >>> import keras_bert_suite as kbs
        >>> kbs.BertModel(kbs.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
        ...                              num_attention_heads=4)).save_pretrained("bert-tiny")
        >>> state, fmt, file = read_state_dict("bert-tiny")
        >>> state["pooler.dense.weight"].shape, fmt
        ((32, 32), 'safetensors')
    """
    fmt, file = _resolve(path)
    return _READERS[fmt](file), fmt, file
