"""What a SavedModel signature takes and gives, read from `saved_model.pb` alone (no function is loaded, no
tensorflow-text op is needed): the pipeline checks its fields and builds output schemas before any worker starts.
A raw-text LiteRT file (`export_litert`, a path ending in .tflite) is read through its interpreter instead.

Example:
    >>> spec = read_signature("savedmodels/sst2", "serving_default")
    >>> spec.inputs, spec.outputs["logits"]
    (('text',), ('float32', 1))
"""

import dataclasses
import os

import numpy as np

from keras_bert_suite.export.inspect import resolve_version
from keras_bert_suite.export.litert import litert_interpreter

#: the key of a failed row's `PredictionResult.inference`: {"error": "why"} (no signature output has this name)
ERROR_KEY = "error"


@dataclasses.dataclass(frozen=True)
class SignatureSpec:
    """One signature of a raw-text SavedModel.

    Attributes:
        path: the SavedModel folder (a version folder, see `export.inspect.resolve_version`).
        name: the signature's name, e.g. "serving_default".
        inputs: its input names, sorted, e.g. ("context", "question"); each takes one string per row.
        outputs: {name: (dtype name, rank of one row)}, e.g. {"logits": ("float32", 1), "label": ("string", 0)}.
    """

    path: str
    name: str
    inputs: tuple
    outputs: dict


def read_signature(model_dir, signature="serving_default"):
    """The `SignatureSpec` of `signature` in the SavedModel at `model_dir` (a version folder or a model base path:
    its latest version). Raises ValueError naming the signatures there when it has no such signature, and when
    an input is not one string per row (multiple choice's `choices` [batch, n] is not served in bulk)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.fspath(model_dir)
    if path.endswith(".tflite"):
        return read_litert_signature(path, signature)
    if "://" not in path:  # versions are found by listing a local folder; a remote path names its version
        path = resolve_version(path)
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    defs = proto.meta_graphs[0].signature_def
    available = sorted(k for k in defs if not k.startswith("__"))
    if signature not in available:
        raise ValueError(f"no signature {signature!r} in {path}; it has {available}")
    sig = defs[signature]
    ranked = {name: len(t.tensor_shape.dim) for name, t in sig.inputs.items()}
    wide = sorted(name for name, rank in ranked.items() if rank != 1)
    if wide:
        raise ValueError(f"signature {signature!r} takes inputs {wide} that are not one string per row; bulk "
                         f"inference serves signatures of string inputs [batch]")
    outputs = {name: (tf.dtypes.as_dtype(t.dtype).name, max(len(t.tensor_shape.dim) - 1, 0))
               for name, t in sorted(sig.outputs.items())}
    if ERROR_KEY in outputs:
        raise ValueError(f"signature {signature!r} has an output named {ERROR_KEY!r}, the name bulk inference "
                         "gives failed rows")
    return SignatureSpec(path, signature, tuple(sorted(ranked)), outputs)


def read_litert_signature(path, signature="serving_default"):
    """The `SignatureSpec` of a raw-text LiteRT file (`export_litert`): one signature, "serving_default", whose
    input `text` takes one string per row."""
    interpreter = litert_interpreter(path)  # FileNotFoundError when there is no such file
    available = sorted(interpreter.get_signature_list())
    if signature not in available:
        raise ValueError(f"no signature {signature!r} in {path}; it has {available}")
    runner = interpreter.get_signature_runner(signature)

    def described(details):  # {name: (dtype name, rank of one row)}, as for a SavedModel
        kinds = {name: np.dtype(d["dtype"]) for name, d in details.items()}
        return {name: ("string" if kinds[name].kind == "S" else kinds[name].name,
                       max(len(d["shape_signature"]) - 1, 0)) for name, d in sorted(details.items())}

    inputs, outputs = described(runner.get_input_details()), described(runner.get_output_details())
    if any(rank != 0 or dtype != "string" for dtype, rank in inputs.values()):
        raise ValueError(f"{path} takes inputs {inputs}, not one string per row")
    if ERROR_KEY in outputs:
        raise ValueError(f"{path} has an output named {ERROR_KEY!r}, the name bulk inference gives failed rows")
    return SignatureSpec(path, signature, tuple(sorted(inputs)), outputs)
