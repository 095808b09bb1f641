"""Read and write safetensors checkpoints (`model.safetensors`, and sharded ones with `model.safetensors.index.json`).

A state dict here is `dict[str, numpy.ndarray]` keyed by transformers' PyTorch weight names, in torch's layout
(a Linear weight is [out, in]), e.g. `bert.encoder.layer.0.attention.self.query.weight` of shape [hidden, hidden].

The reader parses the file itself (an 8-byte little-endian header length, a JSON header, then raw little-endian
tensor bytes) and checks every offset and size against the file before reading, so a truncated or corrupt file
gives a `CheckpointError` instead of a crash or a huge allocation. bfloat16 (and float8) tensors, which numpy
cannot hold, come back as float32. Note that safetensors carries no checksum: flipped bytes inside tensor data
cannot be detected by any reader and simply change values.

Example:
    >>> sd = read_safetensors("bert-base-uncased/model.safetensors")
    >>> sd["bert.embeddings.word_embeddings.weight"].shape
    (30522, 768)
    >>> write_safetensors(sd, "out/model.safetensors")
"""

import json
import math
import os

import numpy as np

from keras_bert_suite.checkpoints.errors import CheckpointError, describe, load_json
from keras_bert_suite.io import atomic_path

_MAX_HEADER_BYTES = 100 * 1024 * 1024

# safetensors dtype tag -> (numpy dtype to read the raw bytes as, bytes per element)
_DTYPES = {
    "F64": (np.dtype("<f8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),
    "F8_E4M3": (np.dtype("u1"), 1),
    "F8_E5M2": (np.dtype("u1"), 1),
    "I64": (np.dtype("<i8"), 8),
    "I32": (np.dtype("<i4"), 4),
    "I16": (np.dtype("<i2"), 2),
    "I8": (np.dtype("i1"), 1),
    "U64": (np.dtype("<u8"), 8),
    "U32": (np.dtype("<u4"), 4),
    "U16": (np.dtype("<u2"), 2),
    "U8": (np.dtype("u1"), 1),
    "BOOL": (np.dtype("?"), 1),
}


def _float8_to_float32(raw: np.ndarray, tag: str, path, name) -> np.ndarray:
    try:
        import ml_dtypes
    except ImportError as exc:  # pragma: no cover - ml_dtypes ships with tensorflow
        raise CheckpointError(f"{tag} tensors need the ml_dtypes package", path=path, weight=name) from exc
    kind = ml_dtypes.float8_e4m3fn if tag == "F8_E4M3" else ml_dtypes.float8_e5m2
    return raw.view(kind).astype(np.float32)


def _parse_header(f, path, file_size):
    head = f.read(8)
    if len(head) < 8:
        raise CheckpointError(f"file is {file_size} bytes, too short for a safetensors header", path=path)
    n = int.from_bytes(head, "little")
    if n > file_size - 8 or n > _MAX_HEADER_BYTES:
        raise CheckpointError(
            f"header claims {n} bytes but the file has {file_size - 8} after the length; truncated or not safetensors",
            path=path,
        )
    raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"header is not valid JSON ({describe(exc)})", path=path) from exc
    if not isinstance(header, dict):
        raise CheckpointError("header is not a JSON object", path=path)
    return header, 8 + n


def _check_entry(name, info, path, data_size):
    if not isinstance(info, dict):
        raise CheckpointError("header entry is not an object", path=path, weight=name)
    tag, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if tag not in _DTYPES:
        raise CheckpointError(f"unknown dtype {tag!r}", path=path, weight=name)
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise CheckpointError(f"bad shape {shape!r}", path=path, weight=name)
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(o) is int for o in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= data_size
    ):
        raise CheckpointError(f"data offsets {offsets!r} lie outside the {data_size}-byte data section", path=path,
                              weight=name)
    nbytes = math.prod(shape) * _DTYPES[tag][1]
    if offsets[1] - offsets[0] != nbytes:
        raise CheckpointError(
            f"shape {shape} of {tag} needs {nbytes} bytes but offsets give {offsets[1] - offsets[0]}",
            path=path,
            weight=name,
        )
    return tag, tuple(shape), offsets[0]


def read_safetensors(path) -> dict:
    """Read one `.safetensors` file into `{name: numpy array}` (bfloat16/float8 become float32).

    Raises FileNotFoundError if `path` does not exist, CheckpointError if it is truncated, corrupt or not
    safetensors.

    Example:
        >>> sd = read_safetensors("model.safetensors")
        >>> sd["cls.predictions.bias"].shape     # [vocab_size]
        (30522,)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such safetensors file: {path}")
    try:
        with open(path, "rb") as f:
            file_size = os.fstat(f.fileno()).st_size
            header, data_start = _parse_header(f, path, file_size)
            data_size = file_size - data_start
            metadata = header.pop("__metadata__", None)
            if metadata is not None and not isinstance(metadata, dict):
                raise CheckpointError("__metadata__ is not a JSON object", path=path)
            entries = [(name, *_check_entry(name, info, path, data_size)) for name, info in header.items()]
            state = {}
            for name, tag, shape, begin in sorted(entries, key=lambda e: e[3]):
                raw = np.empty(shape, dtype=_DTYPES[tag][0])
                f.seek(data_start + begin)
                got = f.readinto(raw.reshape(-1).view(np.uint8)) if raw.size else 0
                if got != raw.nbytes:
                    raise CheckpointError(f"read {got} of {raw.nbytes} bytes; file truncated", path=path, weight=name)
                if tag == "BF16":
                    raw = (raw.astype(np.uint32) << 16).view(np.float32)
                elif tag.startswith("F8"):
                    raw = _float8_to_float32(raw, tag, path, name)
                state[name] = raw
            return {name: state[name] for name, *_ in entries}
    except CheckpointError:
        raise
    except (OSError, ValueError, MemoryError) as exc:
        raise CheckpointError(f"cannot read safetensors file ({describe(exc)})", path=path) from exc


def read_shard_index(index_json_path) -> dict:
    """Read a `*.index.json` shard index into `{weight name: absolute shard file path}`.

    Shared by the sharded safetensors and sharded pytorch_model.bin readers. Shard names must be plain file names
    (or relative paths) inside the index's folder.

    Example:
        >>> read_shard_index("model.safetensors.index.json")["bert.pooler.dense.weight"]
        '/models/bert/model-00002-of-00002.safetensors'
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
        >>> sd = read_sharded_safetensors("bert-large/model.safetensors.index.json")
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
