"""The README's demo as a new user meets it: a copy of the repository's examples with no ../shared beside them,
so SST-2 comes through tensorflow-datasets' real download manager (from a loopback server standing in for GLUE's
host); then it fine-tunes, evaluates, exports and answers. Offline with no copy, one clear message."""

import os
import shutil
import subprocess
import sys

import pytest

from fake_downloads import FileServer, closed_url, sst2_zip

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def _clone_examples(tmp_path):
    """examples/demo.py and its helpers in a folder with no ../shared beside it."""
    folder = tmp_path / "clone" / "examples"
    folder.mkdir(parents=True)
    for name in ("demo.py", "common.py"):
        shutil.copy(os.path.join(EXAMPLES, name), folder / name)
    return str(folder / "demo.py")


def _run(demo, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, demo, *args], capture_output=True, text=True, timeout=900, env=env)


@pytest.mark.slow
def test_demo_downloads_sst2_then_trains_evaluates_exports_and_answers(tmp_path):
    demo = _clone_examples(tmp_path)
    sst2_zip(tmp_path / "site" / "SST-2.zip", train_rows=64, dev_rows=32)
    with FileServer(tmp_path / "site") as site:
        proc = _run(demo, "--sst2-url", site.url + "/SST-2.zip", "--tfds-dir", str(tmp_path / "tfds"),
                    "--train-size", "64", "--eval-size", "32", "--batch-size", "16",
                    "--export-dir", str(tmp_path / "minilm-sst2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert site.requests == [("GET", "/SST-2.zip")]
    out = proc.stdout
    assert "tensorflow-datasets' glue/sst2" in out
    assert "accuracy" in out and "4/4" in out  # Keras' progress bar with the known step count
    assert os.path.exists(tmp_path / "minilm-sst2" / "1" / "saved_model.pb")
    answers = [line for line in out.splitlines() if line.strip().startswith(("positive", "negative"))]
    assert len(answers) == 4
    assert "docker run" in out and "kbs predict" in out


def test_demo_offline_without_a_copy_says_what_to_do(tmp_path):
    demo = _clone_examples(tmp_path)
    proc = _run(demo, "--sst2-url", closed_url(), "--tfds-dir", str(tmp_path / "tfds"))
    assert proc.returncode != 0
    message = proc.stderr.strip().splitlines()
    assert "glue/sst2" in proc.stderr and "--data-dir" in proc.stderr and str(tmp_path / "tfds") in proc.stderr
    assert "Traceback" not in proc.stderr, message[-5:]
