"""Read and write Google's original BERT release format: TF1 checkpoints plus `bert_config.json`.

A release folder holds `bert_config.json`, `vocab.txt` and the checkpoint `bert_model.ckpt` (the files
`bert_model.ckpt.index` and `bert_model.ckpt.data-00000-of-00001`). Its variables are named like
`bert/encoder/layer_0/attention/self/query/kernel` ([in, out]); this module maps them to and from transformers'
PyTorch names ([out, in]):

    bert/embeddings/word_embeddings                    -> bert.embeddings.word_embeddings.weight   [vocab, hidden]
    bert/embeddings/LayerNorm/gamma, beta              -> bert.embeddings.LayerNorm.weight, .bias
    bert/encoder/layer_N/.../kernel, bias              -> bert.encoder.layer.N....weight (transposed), .bias
    bert/pooler/dense/kernel                           -> bert.pooler.dense.weight (transposed)
    cls/predictions/transform/dense/kernel             -> cls.predictions.transform.dense.weight (transposed)
    cls/predictions/transform/LayerNorm/gamma, beta    -> cls.predictions.transform.LayerNorm.weight, .bias
    cls/predictions/output_bias                        -> cls.predictions.bias                      [vocab]
    cls/seq_relationship/output_weights, output_bias   -> cls.seq_relationship.weight ([2, hidden], as is), .bias
    output_weights, output_bias (run_classifier.py)    -> classifier.weight ([labels, hidden], as is), .bias
    cls/squad/output_weights, output_bias (run_squad)  -> qa_outputs.weight ([2, hidden], as is), .bias

Optimizer state (`.../adam_m`, `.../adam_v`, `global_step`, ...) is skipped. The MLM decoder is tied to the word
embeddings in this format, so `cls.predictions.decoder.*` is neither read nor written. TensorFlow is imported only
when a function here is called.

Example:
    >>> sd = read_google_checkpoint("uncased_L-12_H-768_A-12")  # doctest: +SKIP
    >>> config = read_google_config("uncased_L-12_H-768_A-12")     # transformers config.json form  # doctest: +SKIP
    >>> write_google_checkpoint(sd, "out/bert_model.ckpt")  # doctest: +SKIP
"""

import glob
import math
import os
import re
import warnings

import numpy as np

from keras_bert_suite.checkpoints.errors import CheckpointError, describe, load_json

_SPECIAL = {
    "cls/predictions/output_bias": "cls.predictions.bias",
    "cls/seq_relationship/output_weights": "cls.seq_relationship.weight",
    "cls/seq_relationship/output_bias": "cls.seq_relationship.bias",
    "output_weights": "classifier.weight",
    "output_bias": "classifier.bias",
    "cls/squad/output_weights": "qa_outputs.weight",
    "cls/squad/output_bias": "qa_outputs.bias",
}
_SPECIAL_REVERSE = {v: k for k, v in _SPECIAL.items()}
_EMBEDDING_TABLES = ("word_embeddings", "position_embeddings", "token_type_embeddings")
_TRAINING_NAMES = {"global_step", "beta1_power", "beta2_power", "good_steps", "loss_scale", "current_loss_scale"}
_TRAINING_SUFFIXES = ("adam_m", "adam_v", "Adam", "Adam_1", "Momentum", "RMSProp", "RMSProp_1", "Adagrad",
                      "lamb_m", "lamb_v", "ExponentialMovingAverage")
_TIED = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
_REQUIRED_CONFIG_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")


def _is_training_state(name: str) -> bool:
    last = name.split("/")[-1]
    return name in _TRAINING_NAMES or last in _TRAINING_SUFFIXES or name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")


def google_name_to_torch(name: str):
    """Map one Google variable name to `(torch name, transpose?)`, or None if it is not a BERT weight.

    Example:
        >>> google_name_to_torch("bert/encoder/layer_3/output/dense/kernel")
        ('bert.encoder.layer.3.output.dense.weight', True)
    """
    if name in _SPECIAL:
        return _SPECIAL[name], False
    parts = name.split("/")
    if parts[0] != "bert" and parts[:3] != ["cls", "predictions", "transform"]:
        return None
    if not all(re.fullmatch(r"[A-Za-z0-9_]+", p) for p in parts):
        return None
    parts = [f"layer.{p[6:]}" if re.fullmatch(r"layer_\d+", p) else p for p in parts]
    last = parts[-1]
    if last in _EMBEDDING_TABLES and len(parts) == 3:
        return ".".join(parts) + ".weight", False
    suffix = {"kernel": "weight", "gamma": "weight", "beta": "bias", "bias": "bias"}.get(last)
    if suffix is None or len(parts) < 3:
        return None
    return ".".join(parts[:-1] + [suffix]), last == "kernel"


def torch_name_to_google(name: str):
    """Map one torch weight name (with or without `bert.`) to `(Google name, transpose?)`, or None if it has none.

    Example:
        >>> torch_name_to_google("encoder.layer.0.attention.self.query.weight")
        ('bert/encoder/layer_0/attention/self/query/kernel', True)
    """
    if name in _SPECIAL_REVERSE:
        return _SPECIAL_REVERSE[name], False
    if name.startswith(("embeddings.", "encoder.", "pooler.")):
        name = "bert." + name
    if not name.startswith(("bert.", "cls.predictions.transform.")):
        return None
    parts = re.sub(r"\blayer\.(\d+)\b", r"layer_\1", name).split(".")
    if len(parts) < 3:
        return None
    owner, last = parts[-2], parts[-1]
    if owner in _EMBEDDING_TABLES and last == "weight":
        return "/".join(parts[:-1]), False
    if owner == "LayerNorm":
        last = {"weight": "gamma", "bias": "beta"}.get(last, last)
        if last not in ("gamma", "beta"):
            return None
        return "/".join(parts[:-1] + [last]), False
    if last == "weight":
        return "/".join(parts[:-1] + ["kernel"]), True
    if last == "bias":
        return "/".join(parts), False
    return None


def resolve_prefix(path) -> str:
    """The checkpoint prefix for a release folder, a `.index`/`.data-*` file, or the prefix itself.

    In a folder: bert_model.ckpt, else the first other *.ckpt, else the *.ckpt-STEP with the largest step.

    Example:
        >>> resolve_prefix("uncased_L-12_H-768_A-12")  # doctest: +SKIP
        'uncased_L-12_H-768_A-12/bert_model.ckpt'
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "bert_model.ckpt.index")):
            return os.path.join(path, "bert_model.ckpt")
        found = sorted(glob.glob(os.path.join(glob.escape(path), "*.ckpt.index")))
        if not found:
            stepped = glob.glob(os.path.join(glob.escape(path), "*.ckpt-*.index"))
            steps = [(int(m.group(1)), p) for p in stepped if (m := re.search(r"\.ckpt-(\d+)\.index$", p))]
            found = [max(steps)[1]] if steps else []
        if not found:
            raise CheckpointError("no bert_model.ckpt.index or other *.ckpt.index in this folder", path=path)
        return found[0][: -len(".index")]
    if path.endswith(".index"):
        prefix = path[: -len(".index")]
    else:
        prefix = re.sub(r"\.data-\d+-of-\d+$", "", path)
    if not os.path.exists(prefix + ".index"):
        raise FileNotFoundError(f"No TF checkpoint at {path} (looked for {prefix}.index)")
    return prefix


def _as_numpy(value, prefix, name):
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":  # bfloat16 and other ml_dtypes types
        try:
            arr = arr.astype(np.float32)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"unsupported dtype {arr.dtype}", path=prefix, weight=name) from exc
    return arr


def _check_data_size(prefix, shapes, dtypes):
    """A truncated `.data-*` file is noticed even where only skipped (optimizer) variables lie past the cut.

    The data files hold every variable's bytes back to back, so together they are at least as large as the sum.
    """
    expected = 0
    for name, shape in shapes.items():
        dtype = dtypes.get(name)
        if dtype is None or not (dtype.is_floating or dtype.is_integer or dtype.is_bool):
            continue
        expected += math.prod(int(d) for d in shape) * dtype.size
    actual = sum(os.path.getsize(p) for p in glob.glob(glob.escape(prefix) + ".data-*-of-*"))
    if actual < expected:
        raise CheckpointError(f"data files hold {actual} bytes but the index needs {expected}; truncated",
                              path=prefix)


def read_google_checkpoint(path) -> dict:
    """Read a Google BERT TF1 checkpoint into `{torch weight name: numpy array}` ([out, in] kernels).

    `path` is the release folder, the prefix (`.../bert_model.ckpt`), or its `.index` file. Names are always
    `bert.`-prefixed. Variables that are neither BERT weights nor optimizer state are skipped with a warning.

    Example:
        >>> import keras_bert_suite as kbs
        >>> from keras_bert_suite.checkpoints.mapping import model_state_dict
        >>> model = kbs.BertForPreTraining(kbs.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
        ...                                               num_attention_heads=4))
        >>> write_google_checkpoint(model_state_dict(model), "uncased_L-2_H-32_A-4/bert_model.ckpt")
        >>> sd = read_google_checkpoint("uncased_L-2_H-32_A-4/bert_model.ckpt")
        >>> sd["cls.seq_relationship.weight"].shape
        (2, 32)
    """
    prefix = resolve_prefix(path)
    try:
        import tensorflow as tf
    except ImportError as exc:  # pragma: no cover - tensorflow is a dependency
        raise CheckpointError("reading TF checkpoints needs tensorflow", path=prefix) from exc
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
        names = sorted(shapes)
    except Exception as exc:
        raise CheckpointError(f"cannot read TF checkpoint ({describe(exc)})", path=prefix) from exc
    _check_data_size(prefix, shapes, dtypes)
    state, unknown = {}, []
    for name in names:
        if _is_training_state(name):
            continue
        mapped = google_name_to_torch(name)
        if mapped is None:
            unknown.append(name)
            continue
        torch_name, transpose = mapped
        try:
            value = _as_numpy(reader.get_tensor(name), prefix, name)
        except CheckpointError:
            raise
        except Exception as exc:
            raise CheckpointError(f"cannot read variable ({describe(exc)})", path=prefix, weight=name) from exc
        if transpose:
            if value.ndim != 2:
                raise CheckpointError(f"kernel has shape {value.shape}, expected 2-D", path=prefix, weight=name)
            value = np.ascontiguousarray(value.T)
        state[torch_name] = value
    if not state:
        raise CheckpointError(
            f"no Google BERT variables (bert/...) found among {len(names)} variables", path=prefix)
    if unknown:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        warnings.warn(f"{prefix}: skipped {len(unknown)} variables that are not BERT weights: {shown}", stacklevel=2)
    return state


def read_google_config(path) -> dict:
    """Read `bert_config.json` and return it in transformers' config.json form (same keys plus model_type "bert").

    `path` is the json file, the release folder, or a checkpoint prefix/file inside that folder.

    Example:
        >>> import json
        >>> os.makedirs("uncased_L-12_H-768_A-12")
        >>> with open("uncased_L-12_H-768_A-12/bert_config.json", "w") as f:
        ...     json.dump({"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
        ...                "num_attention_heads": 12, "intermediate_size": 3072}, f)
        >>> read_google_config("uncased_L-12_H-768_A-12")["hidden_size"]
        768
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        config_path = os.path.join(path, "bert_config.json")
    elif path.endswith(".json"):
        config_path = path
    else:
        config_path = os.path.join(os.path.dirname(os.path.abspath(path)), "bert_config.json")
    if not os.path.exists(config_path):
        raise FileNotFoundError(f"No bert_config.json at {config_path}")
    config = load_json(config_path)
    if not isinstance(config, dict):
        raise CheckpointError("not a JSON object", path=config_path)
    missing = [k for k in _REQUIRED_CONFIG_KEYS if not isinstance(config.get(k), int)]
    if missing:
        raise CheckpointError(f"missing or non-integer keys: {', '.join(missing)}", path=config_path)
    result = dict(config)
    result["model_type"] = "bert"
    return result


def _google_tensors(state_dict, prefix):
    """Google name -> array, checking that the tied decoder entries really are tied."""
    names = {k[len("bert."):] if k.startswith("bert.") else k: k for k in state_dict}
    tensors = {}
    for name, value in state_dict.items():
        if name in _TIED or name.endswith((".position_ids", ".token_type_ids")) or name in ("position_ids",):
            continue
        mapped = torch_name_to_google(name)
        if mapped is None:
            raise CheckpointError("has no name in Google's BERT checkpoint format", path=prefix, weight=name)
        gname, transpose = mapped
        arr = np.asarray(value)
        if transpose:
            if arr.ndim != 2:
                raise CheckpointError(f"shape {arr.shape}, expected 2-D", path=prefix, weight=name)
            arr = arr.T
        if gname in tensors:
            raise CheckpointError(f"two weights map to {gname}", path=prefix, weight=name)
        tensors[gname] = np.ascontiguousarray(arr)
    word = names.get("embeddings.word_embeddings.weight")
    if "cls.predictions.decoder.weight" in state_dict and (
        word is None or not np.array_equal(state_dict["cls.predictions.decoder.weight"], state_dict[word])
    ):
        raise CheckpointError("differs from the word embeddings; Google's format can only store it tied",
                              path=prefix, weight="cls.predictions.decoder.weight")
    if "cls.predictions.decoder.bias" in state_dict:
        bias = np.asarray(state_dict["cls.predictions.decoder.bias"])
        if "cls/predictions/output_bias" not in tensors:
            tensors["cls/predictions/output_bias"] = np.ascontiguousarray(bias)
        elif not np.array_equal(bias, tensors["cls/predictions/output_bias"]):
            raise CheckpointError("differs from cls.predictions.bias; Google's format stores one output bias",
                                  path=prefix, weight="cls.predictions.decoder.bias")
    return tensors


def write_google_checkpoint(state_dict, prefix):
    """Write a torch-named state dict as a Google BERT TF1 checkpoint at `prefix` (`prefix.index`, `.data-*`).

    Kernels are transposed back to [in, out]; names are exactly Google's, written with `tf.compat.v1.train.Saver`
    in a private graph. The files are first written under a temporary prefix and then renamed, index last.

    Example:
        >>> from keras_bert_suite.checkpoints.safetensors_io import read_safetensors
        >>> write_google_checkpoint(read_safetensors("model.safetensors"), "release/bert_model.ckpt")  # doctest: +SKIP
    """
    prefix = os.path.abspath(os.fspath(prefix))
    tensors = _google_tensors(state_dict, prefix)
    if not tensors:
        raise CheckpointError("nothing to write: the state dict is empty", path=prefix)
    import tensorflow as tf

    folder = os.path.dirname(prefix)
    os.makedirs(folder, exist_ok=True)
    tmp_prefix = os.path.join(folder, f".{os.path.basename(prefix)}.{os.getpid()}.tmp")
    try:
        graph = tf.Graph()
        with graph.as_default():
            variables, feeds, inits = {}, {}, []
            for gname, arr in tensors.items():
                ph = tf.compat.v1.placeholder(tf.as_dtype(arr.dtype), shape=arr.shape)
                var = tf.compat.v1.Variable(ph, name=gname, trainable=False, use_resource=False)
                variables[gname], feeds[ph] = var, arr
                inits.append(var.initializer)
            saver = tf.compat.v1.train.Saver(var_list=variables, write_version=tf.compat.v1.train.SaverDef.V2)
            with tf.compat.v1.Session(graph=graph) as sess:
                sess.run(inits, feed_dict=feeds)
                saver.save(sess, tmp_prefix, write_meta_graph=False, write_state=False)
        written = sorted(glob.glob(glob.escape(tmp_prefix) + ".data-*"))
        for data in written:
            os.replace(data, prefix + data[len(tmp_prefix):])
        os.replace(tmp_prefix + ".index", prefix + ".index")
    except Exception as exc:
        for leftover in glob.glob(glob.escape(tmp_prefix) + ".*"):
            os.remove(leftover)
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"cannot write TF checkpoint ({describe(exc)})", path=prefix) from exc
