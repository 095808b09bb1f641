"""Read PyTorch `pytorch_model.bin` checkpoints (and sharded ones with `pytorch_model.bin.index.json`).

The file is loaded with `torch.load(path, map_location="cpu", weights_only=True)`, which unpickles tensors only
and never runs code from the file. torch is optional for this package: without it the reader raises a
`CheckpointError` that says to `pip install torch`, or to convert the checkpoint elsewhere with `kbs convert`.

Tensors come back as numpy arrays in torch's layout (a Linear weight is [out, in]); bfloat16 and other dtypes
numpy cannot hold become float32. Tied weights that torch saved once under two names (e.g.
`cls.predictions.decoder.weight`, the same storage as `bert.embeddings.word_embeddings.weight`) are returned
under both names, each its own array.

Example:
    >>> sd = read_pytorch_bin("bert-base-uncased/pytorch_model.bin")
    >>> sd["bert.encoder.layer.0.attention.self.query.weight"].shape   # [out, in]
    (768, 768)
"""

import os

import numpy as np

from keras_bert_suite.checkpoints.errors import CheckpointError, describe
from keras_bert_suite.checkpoints.safetensors_io import read_sharded

_INSTALL_HINT = (
    "reading pytorch_model.bin needs PyTorch: `pip install torch`, "
    "or convert the checkpoint to safetensors on a machine that has it with `kbs convert`"
)


def _import_torch(path):
    try:
        import torch
    except ImportError as exc:
        raise CheckpointError(_INSTALL_HINT, path=path) from exc
    return torch


def _to_numpy(torch, name, value, path):
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(f"entry is a {type(value).__name__}, not a tensor", path=path, weight=name)
    value = value.detach().cpu()
    if value.is_complex() or value.is_quantized or value.layout != torch.strided:
        raise CheckpointError(f"unsupported tensor kind {value.dtype}/{value.layout}", path=path, weight=name)
    if value.dtype.is_floating_point and value.dtype not in (torch.float16, torch.float32, torch.float64):
        value = value.to(torch.float32)
    return np.array(value.numpy(), copy=True)


def _unwrap(obj, path):
    # Some training scripts save {"state_dict": {...}} or {"model": {...}}; transformers saves the dict itself.
    if isinstance(obj, dict) and len(obj) == 1:
        (key, inner), = obj.items()
        if key in ("state_dict", "model", "model_state_dict") and isinstance(inner, dict):
            return inner
    if not isinstance(obj, dict):
        raise CheckpointError(f"file holds a {type(obj).__name__}, not a state dict", path=path)
    return obj


def read_pytorch_bin(path) -> dict:
    """Read a `pytorch_model.bin` (or any `torch.save`d state dict), or a `pytorch_model.bin.index.json`.

    Returns `{torch weight name: numpy array}`. Raises FileNotFoundError if `path` does not exist, and
    CheckpointError if the file is truncated or corrupt, is not a state dict, or torch is not installed.

    Example:
        >>> read_pytorch_bin("out/pytorch_model.bin.index.json")["cls.seq_relationship.weight"].shape
        (2, 768)
    """
    path = os.fspath(path)
    if path.endswith(".index.json"):
        return read_sharded(path, read_pytorch_bin)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such PyTorch checkpoint: {path}")
    torch = _import_torch(path)
    try:
        try:
            # mmap keeps torch from allocating storage sizes claimed by a corrupt file before it checks them.
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap can only be used" not in str(exc):
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)  # the pre-1.6 non-zip format
        state = _unwrap(obj, path)
        result = {}
        for name, value in state.items():
            if not isinstance(name, str):
                raise CheckpointError(f"weight name {name!r} is not a string", path=path)
            result[name] = _to_numpy(torch, name, value, path)
        return result
    except CheckpointError:
        raise
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, ValueError, ... on bad files
        raise CheckpointError(f"cannot read PyTorch checkpoint ({describe(exc)})", path=path) from exc
