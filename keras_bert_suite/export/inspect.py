"""Reading an exported SavedModel back: find the version, describe its signatures, run requests.

Used by `kbs predict` and `kbs serve-check`; needs only TensorFlow and tensorflow-text.

Example:
    >>> loaded, path = load("savedmodels/sst2")            # the latest version  # doctest: +SKIP
    >>> run(loaded.signatures["serving_default"], {"text": ["a fine film"]})["label"]  # doctest: +SKIP
"""

import os
import re

import numpy as np
import tensorflow as tf

SAMPLE_TEXT = "The Eiffel Tower is in [MASK] , the capital of France ."
SAMPLES = {
    "text": [SAMPLE_TEXT],
    "text_pair": ["It was built in 1889 ."],
    "question": ["Where is the Eiffel Tower?"],
    "context": ["The Eiffel Tower is a wrought-iron lattice tower in Paris, France."],
    "choices": [["in Paris .", "in Rome .", "on the Moon ."]],
    "prompt": ["The Eiffel Tower is"],
}


def resolve_version(path):
    """`path` itself when it holds saved_model.pb, else its highest integer-named sub-folder."""
    path = os.fspath(path)
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no SavedModel at {path!r}")
    versions = sorted((int(n) for n in os.listdir(path) if re.fullmatch(r"\d+", n)), reverse=True)
    for v in versions:
        candidate = os.path.join(path, str(v))
        if os.path.exists(os.path.join(candidate, "saved_model.pb")):
            return candidate
    raise FileNotFoundError(f"no SavedModel version under {path!r}")


def load(path):
    import tensorflow_text  # noqa: F401  (registers the ops the tokenizer uses)

    path = resolve_version(path)
    return tf.saved_model.load(path), path


def describe(loaded):
    """{signature: {"inputs": {name: (dtype, shape)}, "outputs": {name: (dtype, shape)}}}."""
    out = {}
    for name, fn in loaded.signatures.items():
        inputs = {k: (v.dtype.name, v.shape.as_list() if v.shape.rank is not None else None)
                  for k, v in fn.structured_input_signature[1].items()}
        outputs = {k: (v.dtype.name, v.shape.as_list() if v.shape.rank is not None else None)
                   for k, v in fn.structured_outputs.items()}
        out[name] = {"inputs": inputs, "outputs": outputs}
    return out


def run(fn, inputs):
    """Call signature `fn` with lists of Python strings; return numpy / Python values (strings decoded)."""
    names = set(fn.structured_input_signature[1])
    missing = sorted(names - set(inputs))
    if missing:
        raise ValueError(f"this signature needs inputs {sorted(names)}; missing {missing}")
    result = fn(**{k: tf.constant(v, tf.string) for k, v in inputs.items() if k in names})
    return {k: plain(v.numpy()) for k, v in result.items()}


def plain(value):
    """A numpy answer as Python values for JSON: lists, with byte strings decoded (invalid UTF-8 replaced)."""
    if value.dtype == object:
        return np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(value).tolist() \
            if value.size else value.tolist()
    return value.tolist()


def sample_inputs(fn):
    return {k: SAMPLES.get(k, [SAMPLE_TEXT]) for k in fn.structured_input_signature[1]}
