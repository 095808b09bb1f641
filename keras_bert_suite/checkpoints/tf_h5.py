"""Read transformers' TensorFlow `tf_model.h5` weight files into PyTorch-named state dicts.

transformers 4.x TF models (`TFBertForPreTraining.save_pretrained`, `TFBertModel`, `TFBertForSequenceClassification`,
`TFBertForQuestionAnswering`, ...) save Keras 2 HDF5 weights: the root attribute `layer_names` lists the top-level
layers (`bert`, `mlm___cls`, `nsp___cls`, `classifier`, `dropout_37`, ...), each layer group's attribute
`weight_names` lists its weights, and each weight is the dataset `<layer>/<weight name>`, e.g.
`bert/tf_bert_for_pre_training/bert/encoder/layer_._0/attention/self/query/kernel:0` of shape [in, out].

Names are converted to transformers' PyTorch names: the model scope (`tf_bert_for_pre_training/`) and `:0` are
dropped, `layer_._0` becomes `layer.0`, `mlm___cls`/`nsp___cls` become `cls`, `kernel` becomes `weight` and is
transposed to [out, in], LayerNorm `gamma`/`beta` become `weight`/`bias`, and embedding tables get `.weight`:

    tf_bert_for_pre_training/bert/encoder/layer_._0/attention/self/query/kernel:0  [32, 32]
        -> bert.encoder.layer.0.attention.self.query.weight                          [32, 32] (transposed)
    tf_bert_for_pre_training/mlm___cls/predictions/bias:0   -> cls.predictions.bias
    tf_bert_for_pre_training/nsp___cls/seq_relationship/kernel:0 -> cls.seq_relationship.weight  [2, hidden]
    tf_bert_for_sequence_classification/classifier/kernel:0 -> classifier.weight                  [labels, hidden]

A file holding only the `bert` layer (TFBertModel) gives bare names without `bert.`, as PyTorch's BertModel saves.
Weights shared between layers (the MLM head's tied word embeddings) appear once. The tied decoder
(`cls.predictions.decoder.*`) is not stored in TF files and is not returned.

Example:
    >>> sd = read_tf_h5("bert-base-uncased/tf_model.h5")  # doctest: +SKIP
    >>> sd["bert.embeddings.word_embeddings.weight"].shape  # doctest: +SKIP
    (30522, 768)
"""

import os
import re

import numpy as np

from keras_bert_suite.checkpoints.errors import CheckpointError, describe

_LAST = {"kernel": "weight", "gamma": "weight", "beta": "bias", "embeddings": "weight"}


def _attr_list(group, name):
    """A list-of-strings attribute, also when Keras split a large one into `name0`, `name1`, ..."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, i = [], 0
        while f"{name}{i}" in group.attrs:
            values.extend(group.attrs[f"{name}{i}"])
            i += 1
        if not i:
            return None
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def tf_name_to_torch(tf_name: str):
    """Convert one TF weight name to `(torch name, transpose?)`.

    Example:
        >>> tf_name_to_torch("tf_bert_model/bert/pooler/dense/kernel:0")
        ('bert.pooler.dense.weight', True)
    """
    name = re.sub(r":\d+$", "", tf_name)
    name = name.replace("_._", "/")
    parts = [p for p in name.split("/") if p]
    if len(parts) < 2:
        raise ValueError(f"unexpected TF weight name {tf_name!r}")
    parts = parts[1:]  # the model scope, e.g. tf_bert_for_pre_training
    parts = [p.split("___")[-1] for p in parts]  # mlm___cls -> cls, nsp___cls -> cls
    last = parts[-1]
    transpose = last == "kernel"
    if last in _LAST:
        parts[-1] = _LAST[last]
    elif last != "weight" and last != "bias":
        raise ValueError(f"unexpected TF weight name {tf_name!r}")
    return ".".join(parts), transpose


def _read_dataset(ds, file_size, path, name):
    import h5py

    if not isinstance(ds, h5py.Dataset):
        raise CheckpointError("is not a dataset", path=path, weight=name)
    if ds.dtype.kind not in "fiub":
        raise CheckpointError(f"unsupported dtype {ds.dtype}", path=path, weight=name)
    # Uncompressed data cannot be larger than the file: this catches corrupt shapes before a huge allocation.
    if ds.compression is None and ds.size * ds.dtype.itemsize > file_size:
        raise CheckpointError(f"shape {ds.shape} is larger than the file", path=path, weight=name)
    return np.asarray(ds[()])


def read_tf_h5(path) -> dict:
    """Read a transformers TF `tf_model.h5` into `{torch weight name: numpy array}` ([out, in] kernels).

    Raises FileNotFoundError if `path` does not exist, CheckpointError if it is truncated, corrupt, or not a
    Keras weights file.

    Example:
        >>> read_tf_h5("tf_model.h5")["qa_outputs.weight"].shape      # TFBertForQuestionAnswering  # doctest: +SKIP
        (2, 768)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such TF weights file: {path}")
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py ships with tensorflow
        raise CheckpointError("reading tf_model.h5 needs h5py: `pip install h5py`", path=path) from exc
    try:
        file_size = os.path.getsize(path)
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
            layer_names = _attr_list(root, "layer_names")
            if layer_names is None:
                raise CheckpointError("no 'layer_names' attribute; not a Keras weights file", path=path)
            state, weighted_layers = {}, []
            for layer in layer_names:
                if layer not in root:
                    raise CheckpointError(f"layer {layer!r} listed in layer_names is missing", path=path)
                weight_names = _attr_list(root[layer], "weight_names") or []
                if weight_names:
                    weighted_layers.append(layer)
                for wn in weight_names:
                    try:
                        torch_name, transpose = tf_name_to_torch(wn)
                    except ValueError as exc:
                        raise CheckpointError(str(exc), path=path, weight=wn) from exc
                    if torch_name in state:
                        continue  # a shared weight listed again by another layer (tied embeddings)
                    if wn not in root[layer]:
                        raise CheckpointError("listed in weight_names but missing", path=path, weight=wn)
                    value = _read_dataset(root[layer][wn], file_size, path, wn)
                    if transpose:
                        if value.ndim != 2:
                            raise CheckpointError(f"kernel has shape {value.shape}, expected 2-D", path=path,
                                                  weight=wn)
                        value = np.ascontiguousarray(value.T)
                    state[torch_name] = value
            if not state:
                raise CheckpointError("file holds no weights", path=path)
            if weighted_layers == ["bert"]:  # a bare TFBertModel: PyTorch's BertModel has no `bert.` prefix
                state = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in state.items()}
            return state
    except CheckpointError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, RuntimeError, TypeError on bad files
        raise CheckpointError(f"cannot read HDF5 weights file ({describe(exc)})", path=path) from exc
