"""The README's demo runs end to end (on a few SST-2 rows): fine-tune, evaluate, export, answer."""

import os
import subprocess
import sys

import pytest

from helpers import SHARED_DATA

DEMO = os.path.join(os.path.dirname(__file__), "..", "examples", "demo.py")


@pytest.mark.slow
def test_demo_runs_and_answers_from_the_savedmodel(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, DEMO, "--data-dir", os.path.join(SHARED_DATA, "sst2"), "--train-size", "64",
         "--eval-size", "32", "--batch-size", "16", "--export-dir", str(tmp_path / "minilm-sst2")],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "accuracy" in out and "4/4" in out  # Keras' progress bar with the known step count
    assert os.path.exists(tmp_path / "minilm-sst2" / "1" / "saved_model.pb")
    answers = [line for line in out.splitlines() if line.strip().startswith(("positive", "negative"))]
    assert len(answers) == 4
    assert "docker run" in out and "kbs predict" in out
