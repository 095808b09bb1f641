"""Test environment and fixtures: offline Hugging Face, the Keras backend (TensorFlow unless KERAS_BACKEND says
jax), hypothesis profiles, the real MiniLM folder. Helpers (tiny configs, batches, the PyTorch reference, the
harness) live in helpers.py.

Two runs cover both backends: `python -m pytest` (TensorFlow: every test but those marked `jax_only`) and
`KERAS_BACKEND=jax python -m pytest -m jax` (the tests marked `jax`; under JAX any other test is skipped)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from helpers import TinyExports, minilm_folder  # noqa: E402
from tools import second_env  # noqa: E402

# CI replays the same examples on every run (a red build always reproduces); set
# HYPOTHESIS_PROFILE=explore to search new examples locally.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _runs_tf_serving_env_test(config):
    """True when this run will reach tests/test_tf_serving_env.py: the TensorFlow run, slow tests included, over
    the whole tests folder or that file."""
    if os.environ["KERAS_BACKEND"] != "tensorflow" or "not slow" in (config.option.markexpr or ""):
        return False
    if config.option.collectonly or getattr(config.option, "keyword", ""):
        return False
    paths = [os.path.basename(os.path.normpath(str(a).split("::")[0])) for a in config.args]
    return not paths or any(p in ("tests", "test_tf_serving_env.py") for p in paths)


def pytest_configure(config):
    """Start building TF Serving's second environment (pip downloads TensorFlow 2.20 for minutes) when the run
    will need it, so that it is ready by the time its test starts; once per run (not in xdist's workers)."""
    if not hasattr(config, "workerinput") and _runs_tf_serving_env_test(config):
        config._tf220_build = second_env.build_in_background("tf2.20-venv", second_env.TF_SERVING_2_20)


def pytest_unconfigure(config):
    second_env.stop_background(getattr(config, "_tf220_build", None))  # a run that ended before its test


def pytest_collection_modifyitems(config, items):
    import keras

    jax = keras.backend.backend() == "jax"
    skip_tf = pytest.mark.skip(reason="a TensorFlow-backend test (the JAX run takes the tests marked jax)")
    skip_jax = pytest.mark.skip(reason="a JAX-backend test (run it with KERAS_BACKEND=jax python -m pytest -m jax)")
    for item in items:
        if jax and item.get_closest_marker("jax") is None:
            item.add_marker(skip_tf)
        elif not jax and item.get_closest_marker("jax_only") is not None:
            item.add_marker(skip_jax)


@pytest.fixture(scope="session")
def minilm():
    return minilm_folder()


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    """`tiny_export(task, **export_options)` -> (model, SavedModel version path), exported once per process and
    options (helpers.TinyExports)."""
    return TinyExports(str(tmp_path_factory.mktemp("tiny_exports")))
