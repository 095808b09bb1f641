"""Quiet TensorFlow's start-up lines for the `kbs` command and the examples.

While it loads, TensorFlow prints notices from C++ (oneDNN, missing CUDA drivers, CPU features, `cuInit`
errors on machines without a GPU) before `TF_CPP_MIN_LOG_LEVEL` applies to all of them. On a CPU machine they
bury a command's own output. The only reliable way to hide them is to point the process's standard error at
/dev/null while `tensorflow` is imported, and to set `TF_CPP_MIN_LOG_LEVEL=3` for what comes later.

The package calls `quiet_if_asked()` before it imports TensorFlow. It quiets when:

- the program is the `kbs` command and `--verbose` is not among its arguments, or
- the environment sets `KBS_QUIET_TF=1` (the examples do, unless run with `--verbose`).

Library users see TensorFlow's lines as usual. This module imports nothing heavy.

Example:
    >>> import os
    >>> _asked(["/usr/bin/kbs", "predict", "x"], {}), _asked(["/usr/bin/kbs", "--verbose"], {})
    (True, False)
    >>> _asked(["train.py"], {"KBS_QUIET_TF": "1"}), _asked(["train.py"], {})
    (True, False)
"""

import os
import sys

QUIET_ENV = "KBS_QUIET_TF"


def _asked(argv, environ):
    if environ.get(QUIET_ENV) == "1":
        return True
    program = os.path.basename(argv[0]) if argv else ""
    return program == "kbs" and "--verbose" not in argv[1:]


def quiet_tensorflow():
    """Import tensorflow (and tensorflow-text) with standard error pointed at /dev/null, and set
    `TF_CPP_MIN_LOG_LEVEL=3` unless the environment sets it. Does nothing when tensorflow is already imported.
    A failing import still raises its Python exception, after standard error is restored."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no file descriptor 2 (some embedded interpreters)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (loads its own kernels, which print too)

        tf.config.list_physical_devices()  # the device probe prints the CUDA lines
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_if_asked(argv=None, environ=None):
    """`quiet_tensorflow()` when this program asked for quiet (see the module docstring)."""
    if _asked(sys.argv if argv is None else argv, os.environ if environ is None else environ):
        quiet_tensorflow()
