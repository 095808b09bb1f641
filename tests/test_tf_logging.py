"""`kbs` and the examples hide TensorFlow's C++ start-up lines unless asked for them with --verbose."""

import os
import subprocess
import sys

KBS = os.path.join(os.path.dirname(sys.executable), "kbs")
NOISE = ("I0000", "W0000", "E0000", "absl::InitializeLog", "oneDNN", "cuda")


def _stderr(args, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KBS_QUIET_TF")}
    run = subprocess.run(args, capture_output=True, text=True, timeout=300, env={**environ, **env})
    return run.returncode, run.stderr


def test_kbs_is_quiet_and_verbose_brings_the_lines_back(tmp_path):
    _, plain = _stderr([sys.executable, "-c", "import tensorflow as tf; tf.config.list_physical_devices()"])
    code, quiet = _stderr([KBS, "serve-check", str(tmp_path / "missing")])
    assert code != 0 and "missing" in quiet  # the command's own error still shows
    assert not [line for line in quiet.splitlines() if any(n in line for n in NOISE)], quiet
    if any(n in plain for n in NOISE):  # this machine's TensorFlow prints start-up lines at all
        _, verbose = _stderr([KBS, "serve-check", str(tmp_path / "missing"), "--verbose"])
        assert any(n in verbose for n in NOISE), verbose


def test_the_environment_switch_quiets_any_program():
    script = "import keras_bert_suite, tensorflow as tf; tf.config.list_physical_devices(); print('ran')"
    _, quiet = _stderr([sys.executable, "-c", script], KBS_QUIET_TF="1")
    assert not [line for line in quiet.splitlines() if any(n in line for n in NOISE)], quiet
