"""Read and write safetensors checkpoints (`model.safetensors`, and sharded ones with `model.safetensors.index.json`).

A state dict here is `dict[str, numpy.ndarray]` keyed by transformers' PyTorch weight names, in torch's layout
(a Linear weight is [out, in]), e.g. `bert.encoder.layer.0.attention.self.query.weight` of shape [hidden, hidden].

The reader is the `safetensors` library's (`safe_open`, memory-mapped, one tensor at a time): it checks the
header and every offset and size against the file before reading, so a truncated or corrupt file gives a
`CheckpointError` (wrapping the library's error) instead of a crash or a huge allocation. bfloat16 tensors come
through `ml_dtypes` (which gives numpy a bfloat16 type) and float8 ones through a memory map of their bytes (the
library's numpy reader has no float8); both come back as float32. Note that safetensors carries no checksum:
flipped bytes inside tensor data cannot be detected by any reader and simply change values.

Example:
    >>> import keras_bert_suite as kbs
    >>> config = kbs.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    ...                         intermediate_size=37)
    >>> kbs.BertForPreTraining(config).save_pretrained("bert-tiny")      # config.json + model.safetensors
    >>> sd = read_safetensors("bert-tiny/model.safetensors")
    >>> sd["bert.embeddings.word_embeddings.weight"].shape
    (99, 32)
    >>> write_safetensors(sd, "out/model.safetensors")
"""

import json
import os

import ml_dtypes  # also gives numpy the bfloat16 type that safe_open(framework="numpy") returns
import numpy as np

from keras_bert_suite.checkpoints.errors import CheckpointError, describe, load_json
from keras_bert_suite.io import atomic_path

_FLOAT8 = {"F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2}


def _float8_tensor(path, name, shape, kind):
    """A float8 tensor as float32, from a memory map of its bytes (the header was checked by `safe_open`)."""
    with open(path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        begin, end = json.loads(f.read(header_size))[name]["data_offsets"]
    if begin == end:
        return np.zeros(shape, np.float32)
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_size + begin, shape=(end - begin,))
    return raw.view(kind).reshape(shape).astype(np.float32)


def _tensor(f, path, name):
    """One tensor of an open file, float32 for bfloat16 and float8."""
    tensor_slice = f.get_slice(name)
    tag = tensor_slice.get_dtype()
    if tag in _FLOAT8:
        return _float8_tensor(path, name, tuple(tensor_slice.get_shape()), _FLOAT8[tag])
    value = f.get_tensor(name)
    return value.astype(np.float32) if tag == "BF16" else value


def read_safetensors(path) -> dict:
    """Read one `.safetensors` file into `{name: numpy array}` (bfloat16/float8 become float32).

    Args:
        path: the `.safetensors` file.

    Returns:
        `{name: numpy array}` in the file's order, arrays in their stored dtype (bfloat16 and float8 as float32).

    Raises FileNotFoundError if `path` does not exist, CheckpointError if it is truncated, corrupt or not
    safetensors.

    Example:
        >>> write_safetensors({"cls.predictions.bias": np.zeros(30522, np.float32)}, "model.safetensors")
        >>> sd = read_safetensors("model.safetensors")
        >>> sd["cls.predictions.bias"].shape     # [vocab_size]
        (30522,)
    """
    from safetensors import SafetensorError, safe_open

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such safetensors file: {path}")
    name = None
    try:
        with safe_open(path, framework="numpy") as f:
            names = f.offset_keys()
        state = {}
        for name in names:
            # A fresh map per tensor: the pages read stay resident only while their tensor is copied out, so
            # the peak is the arrays plus one tensor, not the arrays plus the whole file.
            with safe_open(path, framework="numpy") as f:
                state[name] = _tensor(f, path, name)
        return state
    except (SafetensorError, OSError, ValueError, TypeError, KeyError, MemoryError) as exc:
        raise CheckpointError(f"cannot read safetensors file ({describe(exc)})", path=path, weight=name) from exc


def read_shard_index(index_json_path) -> dict:
    """Read a `*.index.json` shard index into `{weight name: absolute shard file path}`.

    Shared by the sharded safetensors and sharded pytorch_model.bin readers. Shard names must be plain file names
    (or relative paths) inside the index's folder.

    Example:
        >>> os.makedirs("bert")
        >>> with open("bert/model.safetensors.index.json", "w") as f:
        ...     json.dump({"weight_map": {"bert.pooler.dense.weight": "model-00002-of-00002.safetensors"}}, f)
        >>> read_shard_index("bert/model.safetensors.index.json")["bert.pooler.dense.weight"]
        '/.../bert/model-00002-of-00002.safetensors'
    """
    index_json_path = os.fspath(index_json_path)
    if not os.path.exists(index_json_path):
        raise FileNotFoundError(f"No such shard index: {index_json_path}")
    index = load_json(index_json_path, "shard index is not valid JSON")
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError("shard index has no 'weight_map' object", path=index_json_path)
    folder = os.path.dirname(os.path.abspath(index_json_path))
    result = {}
    for name, shard in weight_map.items():
        outside = isinstance(shard, str) and (os.path.isabs(shard) or ".." in shard.replace("\\", "/").split("/"))
        if not isinstance(shard, str) or not shard or outside:
            raise CheckpointError(f"bad shard file name {shard!r} in weight_map", path=index_json_path, weight=name)
        result[name] = os.path.join(folder, shard)
    return result


def read_sharded(index_json_path, read_one) -> dict:
    """Read every shard named by a shard index with `read_one(shard_path)` and return the weights the index lists.

    A shard that is missing, or lacks a weight the index puts in it, raises CheckpointError naming that shard.
    """
    index_json_path = os.fspath(index_json_path)
    weight_map = read_shard_index(index_json_path)
    shards = {}
    for shard in dict.fromkeys(weight_map.values()):
        if not os.path.exists(shard):
            raise CheckpointError(f"shard listed in {os.path.basename(index_json_path)} is missing", path=shard)
        shards[shard] = read_one(shard)
    state = {}
    for name, shard in weight_map.items():
        if name not in shards[shard]:
            raise CheckpointError(
                f"weight listed in {os.path.basename(index_json_path)} is not in this shard", path=shard, weight=name
            )
        state[name] = shards[shard][name]
    return state


def read_sharded_safetensors(index_json_path) -> dict:
    """Read a sharded safetensors checkpoint from its `model.safetensors.index.json` (with a `weight_map`).

    Example:
        >>> sd = read_sharded_safetensors("bert-large/model.safetensors.index.json")  # doctest: +SKIP
    """
    return read_sharded(index_json_path, read_safetensors)


def write_safetensors(state_dict, path, metadata={"format": "pt"}):  # noqa: B006 - never mutated
    """Write `{name: array}` to one `.safetensors` file atomically (a failed write leaves any old file intact).

    `metadata` (str -> str) goes into the header; transformers expects `{"format": "pt"}`. Arrays are written
    C-contiguous in their own dtype.

    Example:
        >>> write_safetensors({"classifier.weight": np.zeros((2, 768), np.float32)}, "out/model.safetensors")
    """
    path = os.fspath(path)
    from safetensors.numpy import save_file

    tensors = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise CheckpointError(f"weight names must be strings, got {name!r}", path=path)
        try:
            tensors[name] = np.ascontiguousarray(np.asarray(value))
        except Exception as exc:
            raise CheckpointError(f"not an array ({describe(exc)})", path=path, weight=name) from exc
    meta = None if metadata is None else {str(k): str(v) for k, v in metadata.items()}
    try:
        with atomic_path(path) as tmp:
            save_file(tensors, tmp, metadata=meta)
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"cannot write safetensors file ({describe(exc)})", path=path) from exc
