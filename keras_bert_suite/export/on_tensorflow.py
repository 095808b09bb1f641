"""Exports called under the JAX backend: the model is rebuilt on TensorFlow in a child process and exported there.

Keras picks its backend once per process, and a SavedModel (and the ONNX and LiteRT files made from one) is a
TensorFlow graph. So `export_saved_model`, `export_onnx` and `export_litert`, called where Keras runs on JAX,
write the model's config and weights (`save_pretrained`: transformers' names, float32) and its tokenizer into a
temporary folder, start `python -m keras_bert_suite.export.on_tensorflow` with `KERAS_BACKEND=tensorflow`, which
loads them with `from_pretrained` and calls the same export function with the same arguments, and return what it
returned. The result is the file a TensorFlow process writes for the same weights.

Example (under KERAS_BACKEND=jax):
    >>> path = export_saved_model(model, tokenizer, "savedmodels/classifier")  # doctest: +SKIP
"""

import builtins
import os
import pickle
import subprocess
import sys
import tempfile

SPEC_FILE, RESULT_FILE = "spec.pkl", "result.pkl"


def _pack_tokenizer(tokenizer, folder):
    """What the child needs to rebuild `tokenizer`: a saved Python tokenizer's class and folder, or a
    `TFBertTokenizer`'s config and vocabulary, or a path (a tokenizer folder) as given."""
    if tokenizer is None or isinstance(tokenizer, (str, os.PathLike)):
        return ("as_given", tokenizer)
    if hasattr(tokenizer, "save_pretrained"):
        tokenizer.save_pretrained(folder)
        return ("folder", type(tokenizer), folder)
    return ("layer", type(tokenizer), tokenizer.get_config(), list(tokenizer.vocab))


def _unpack_tokenizer(packed):
    kind, *rest = packed
    if kind == "as_given":
        return rest[0]
    if kind == "folder":
        cls, folder = rest
        return cls.from_pretrained(folder)
    cls, config, vocab = rest
    return cls.from_config({**config, "vocab": vocab})


def export_on_tensorflow(function, model, tokenizer=None, *args, **kwargs):
    """Call `function(model, [tokenizer,] *args, **kwargs)` in a TensorFlow-backend child process on `model`
    rebuilt from its weights; return its result.

    Args:
        function: a module-level export function ("module:name" is how the child finds it).
        model: a model of this package (any backend).
        tokenizer: the function's tokenizer argument, or None for functions without one (`export_onnx`).
        *args, **kwargs: the function's other arguments (picklable).

    Raises:
        the child's exception when it raised a built-in one (`ValueError`, `TypeError`, ...: the same checks as
        on TensorFlow); RuntimeError when it failed otherwise, with the end of its error output.
    """
    with tempfile.TemporaryDirectory(prefix="kbs-export-") as tmp:
        model_folder = os.path.join(tmp, "model")
        model.save_pretrained(model_folder)
        spec = {
            "function": f"{function.__module__}:{function.__name__}",
            "model_class": type(model),
            "model_folder": model_folder,
            "tokenizer": None if tokenizer is None else _pack_tokenizer(tokenizer, os.path.join(tmp, "tokenizer")),
            "args": [os.fspath(a) if isinstance(a, os.PathLike) else a for a in args],
            "kwargs": {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in kwargs.items()},
            "result": os.path.join(tmp, RESULT_FILE),
        }
        spec_path = os.path.join(tmp, SPEC_FILE)
        with open(spec_path, "wb") as f:
            pickle.dump(spec, f)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
        done = subprocess.run([sys.executable, "-m", "keras_bert_suite.export.on_tensorflow", spec_path], env=env,
                              capture_output=True, text=True)
        if not os.path.exists(spec["result"]):
            raise RuntimeError(f"{function.__name__} on the TensorFlow backend (a child process, as Keras runs on "
                               f"{_backend()} here) failed:\n{done.stderr[-4000:]}")
        with open(spec["result"], "rb") as f:
            status, value = pickle.load(f)
        if status == "error":
            kind, message = value
            error = getattr(builtins, kind, None)
            if not (isinstance(error, type) and issubclass(error, Exception)):
                error = RuntimeError
                message = f"{function.__name__} on the TensorFlow backend failed: {kind}: {message}"
            raise error(message)
        return value


def _backend():
    import keras

    return keras.backend.backend()


def _main(spec_path):
    import importlib

    import keras

    if keras.backend.backend() != "tensorflow":
        raise SystemExit("keras_bert_suite.export.on_tensorflow runs with KERAS_BACKEND=tensorflow")
    with open(spec_path, "rb") as f:
        spec = pickle.load(f)
    module, name = spec["function"].split(":")
    function = getattr(importlib.import_module(module), name)
    model = spec["model_class"].from_pretrained(spec["model_folder"])
    args = list(spec["args"])
    if spec["tokenizer"] is not None:
        args.insert(0, _unpack_tokenizer(spec["tokenizer"]))
    try:
        result = ("ok", function(model, *args, **spec["kwargs"]))
    except Exception as exc:  # handed to the parent, which raises it there
        result = ("error", (type(exc).__name__, str(exc)))
    with open(spec["result"], "wb") as f:
        pickle.dump(result, f)


if __name__ == "__main__":
    _main(sys.argv[1])
