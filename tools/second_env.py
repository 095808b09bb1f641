"""A second Python environment with other TensorFlow releases, for checking that exports load there.

TF Serving links an older TensorFlow and tensorflow-text than the ones this package exports with (see
`keras_bert_suite.export.tf_serving_releases`). `ensure_venv` makes a virtual environment with such pins under a
cache folder outside the repository and reuses it while it is complete.

The environment is built under a temporary name beside its final place and renamed when `pip install` has
finished and a marker file naming its requirements is written, so an interrupted creation is never taken for a
complete one: the next call builds it again. A lock file beside it makes a second caller wait for a build under
way (`build_in_background` starts one early; `ensure_venv` then waits for it instead of building twice).

Example:
    >>> python = ensure_venv("tf2.20-venv", TF_SERVING_2_20)   # ~/.cache/keras-bert-suite/tf2.20-venv/bin/python
    >>> subprocess.run([python, "-c", "import tensorflow_text"], check=True)
"""

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from keras_bert_suite.io import atomic_directory

# The pins of TF Serving 2.20.0 (keras_bert_suite.export.tf_serving_releases), and its request/response protos.
TF_SERVING_2_20 = ("tensorflow==2.20.0", "tensorflow-text==2.20.0", "tensorflow-serving-api==2.20.0")
# TF Serving 2.19.1 links TensorFlow 2.19.1 and tensorflow-text 2.12.1, which installs only over TensorFlow 2.12:
# two environments, for their op lists (tools/tf_serving_ops.py).
TF_2_19_1 = ("tensorflow==2.19.1",)
TEXT_2_12_1 = ("tensorflow==2.12.1", "tensorflow-text==2.12.1")

_MARKER = "kbs-requirements.json"


def cache_dir():
    """`$KBS_CACHE_DIR`, else `~/.cache/keras-bert-suite`."""
    return os.environ.get("KBS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "keras-bert-suite")


# Variables this process may hold that would change how the other environment imports: transformers sets
# TF_USE_LEGACY_KERAS=1 when imported (the other environment has no tf_keras), PYTHONPATH points at this one's
# packages.
_NOT_INHERITED = ("PYTHONPATH", "TF_USE_LEGACY_KERAS", "PYTHONHOME")


def subprocess_env(**extra):
    """This process's environment variables minus those that would leak into a second environment, plus `extra`.

    Example:
        >>> env = subprocess_env(TF_CPP_MIN_LOG_LEVEL="2")
        >>> "TF_USE_LEGACY_KERAS" in env
        False
    """
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env.update(extra)
    return env


def venv_python(folder):
    return os.path.join(folder, "bin", "python")


def is_complete(folder, requirements):
    """True when `folder` is a finished environment made for exactly `requirements`."""
    try:
        with open(os.path.join(folder, _MARKER), encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return False
    return marker.get("requirements") == list(requirements) and os.path.exists(venv_python(folder))


def ensure_venv(name, requirements, *, base=None, python=None, timeout=1800):
    """The Python executable of the environment `base/name` with `requirements` installed, made when needed.

    Args:
        name: the environment's folder name, e.g. "tf2.20-venv".
        requirements: pip requirement strings, e.g. `TF_SERVING_2_20`.
        base: the parent folder (default: `cache_dir()`).
        python: the interpreter that creates it (default: this one; Python 3.11 for TF 2.20's wheels).
        timeout: seconds `pip install` may take.

    Returns:
        the path of the environment's `bin/python`.

    Raises:
        RuntimeError: pip refused or failed; the message holds the end of its output.
    """
    folder = os.path.join(base or cache_dir(), name)
    if is_complete(folder, requirements):
        return venv_python(folder)
    with _locked(folder):  # a build under way elsewhere finishes first
        if is_complete(folder, requirements):
            return venv_python(folder)
        return _build(folder, requirements, python, timeout)


@contextlib.contextmanager
def _locked(folder):
    """An exclusive lock on `folder`.lock, held while the environment is checked and built."""
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    with open(folder + ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(folder, requirements, python, timeout):
    start = time.perf_counter()
    with atomic_directory(folder) as tmp:
        subprocess.run([python or sys.executable, "-m", "venv", tmp], check=True, capture_output=True)
        proc = subprocess.run([venv_python(tmp), "-m", "pip", "install", "-q", *requirements],
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(requirements)} into {folder} failed "
                               f"(exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
        with open(os.path.join(tmp, _MARKER), "w", encoding="utf-8") as f:
            json.dump({"requirements": list(requirements), "seconds": round(time.perf_counter() - start, 1)}, f)
    return venv_python(folder)


def build_in_background(name, requirements, base=None):
    """Start `ensure_venv(name, requirements)` in a child process and return it (a `subprocess.Popen`, the leader
    of its own process group: `stop_background` ends pip with it), or None when the environment is already
    complete. A later `ensure_venv` of the same environment waits for it."""
    if is_complete(os.path.join(base or cache_dir(), name), requirements):
        return None
    code = ("import sys; from tools.second_env import ensure_venv; "
            "ensure_venv(sys.argv[1], sys.argv[2].split(','), base=sys.argv[3] or None)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.Popen([sys.executable, "-c", code, name, ",".join(requirements), base or ""], cwd=root,
                            env=subprocess_env(PYTHONPATH=root), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def stop_background(build):
    """End a `build_in_background` child and its pip, if still running; the environment stays unbuilt (its
    temporary folder is not taken for a complete one)."""
    if build is not None and build.poll() is None:
        os.killpg(build.pid, signal.SIGTERM)
        build.wait()


def remove(name, base=None):
    """Delete the environment `base/name` (the next `ensure_venv` builds it again)."""
    shutil.rmtree(os.path.join(base or cache_dir(), name), ignore_errors=True)
