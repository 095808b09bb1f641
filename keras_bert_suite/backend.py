"""Which Keras backends this package runs on, checked when it is imported.

TensorFlow and JAX run every model, loss and output class; TensorFlow stays installed under JAX as well, for the
in-graph tokenizer, `tf.data` pipelines and SavedModel exports. The torch and numpy backends are refused at
import: the models' call signature (named tensor inputs) and the TensorFlow tokenizer do not run there.

Example:
    >>> check_backend("jax")
    'jax'
    >>> check_backend("torch")
    Traceback (most recent call last):
    ...
    ImportError: keras_bert_suite runs on the Keras backends 'tensorflow' and 'jax', not 'torch': ...
"""

SUPPORTED_BACKENDS = ("tensorflow", "jax")


def check_backend(backend=None):
    """The Keras backend, checked against `SUPPORTED_BACKENDS`.

    Args:
        backend: a backend name; None reads Keras's (`keras.backend.backend()`, set by KERAS_BACKEND).

    Returns:
        the backend's name.

    Raises:
        ImportError: the backend is not supported (the message names the supported ones).
    """
    if backend is None:
        import keras

        backend = keras.backend.backend()
    if backend not in SUPPORTED_BACKENDS:
        supported = " and ".join(repr(name) for name in SUPPORTED_BACKENDS)
        settings = " or ".join(f"KERAS_BACKEND={name}" for name in SUPPORTED_BACKENDS)
        raise ImportError(f"keras_bert_suite runs on the Keras backends {supported}, not {backend!r}: set "
                          f"{settings} before importing keras")
    return backend


def is_jax():
    """True when Keras runs on JAX (`KERAS_BACKEND=jax`)."""
    import keras

    return keras.backend.backend() == "jax"
