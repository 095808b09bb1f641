"""Every benchmark runs at tiny sizes and prints its table (a smoke run: nothing here asserts a time)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")

RUNS = {
    "tokenizers": ["--lines", "200", "--udhr-lines", "40", "--python-lines", "50", "--batch", "100",
                   "--repeats", "1", "--chart", ""],
    "encoder": ["--shapes", "tiny", "--cases", "2x16", "--impls", "ours-function,ours-xla,kerashub-xla",
                "--rounds", "1", "--repeats", "1", "--chart", ""],
    "encoder_profile": ["--shape", "tiny", "--batch", "2", "--length", "16", "--rounds", "1", "--repeats", "1"],
    "tokenizer_profile": ["--rows", "40", "--udhr-rows", "20", "--batch", "16", "--rounds", "1", "--repeats", "1"],
    "train_step": ["--shapes", "tiny", "--batch", "2", "--length", "16", "--impls", "ours,kerashub-xla",
                   "--rounds", "1", "--steps", "1", "--chart", ""],
    "pretrain_step": ["--shapes", "tiny", "--batch", "2", "--length", "16", "--max-predictions", "3",
                      "--peers", "ours-xla", "--rounds", "1", "--steps", "1", "--chart", ""],
    "serving": ["--sentences", "8", "--batch", "4", "--impls", "ours-savedmodel-no-xla,torch+rust-tokenizer",
                "--rounds", "1", "--repeats", "1", "--chart", ""],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_benchmark_smoke(name):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.path.abspath(ROOT))
    proc = subprocess.run([sys.executable, "-m", f"tools.bench.{name}", *RUNS[name]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = "ratio to Rust" if name == "tokenizers" else "|"  # tokenizers prints lines, the others tables
    assert printed in proc.stdout and "failed" not in proc.stdout, proc.stdout[-3000:]
