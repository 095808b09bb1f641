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
    "train_step": ["--shapes", "tiny", "--batch", "2", "--length", "16", "--impls", "ours,kerashub-xla",
                   "--rounds", "1", "--steps", "1", "--chart", ""],
    "pretrain_step": ["--shapes", "tiny", "--batch", "2", "--length", "16", "--max-predictions", "3",
                      "--peers", "ours-xla", "--rounds", "1", "--steps", "1", "--chart", ""],
    "bulk": ["--rows", "40", "--shape", "tiny", "--configs", "loop,in_memory:1"],
    "latency": ["--quick"],  # ours and PyTorch, 20 requests, threads 1 and 2, one cold start each
    "litert": ["--quick"],  # a tiny classifier: int8 LiteRT and PyTorch, a few calls per cell
    "serving": ["--sentences", "8", "--batch", "4", "--impls", "ours-savedmodel-no-xla,torch+rust-tokenizer",
                "--rounds", "1", "--repeats", "1", "--chart", ""],
    # the profiles: one tool, a subcommand each
    "profile encoder": ["--shape", "tiny", "--batch", "2", "--length", "16", "--rounds", "1", "--repeats", "1"],
    "profile train-step": ["--shape", "tiny", "--batch", "2", "--length", "16", "--rounds", "1", "--steps", "1"],
    "profile serving": ["--batch", "8", "--length", "16", "--rounds", "1", "--repeats", "1"],
    "profile tokenizer": ["--rows", "40", "--udhr-rows", "20", "--batch", "16", "--rounds", "1", "--repeats", "1"],
    "profile tokenizer-parts": ["--batches", "16", "--rows", "32", "--rounds", "1", "--passes", "1"],
    "profile matmul-floor": ["--rows", "1", "--rounds", "1", "--repeats", "2"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_benchmark_smoke(name):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.path.abspath(ROOT))
    module, *subcommand = name.split()
    proc = subprocess.run([sys.executable, "-m", f"tools.bench.{module}", *subcommand, *RUNS[name]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = "ratio to Rust" if name == "tokenizers" else "|"  # tokenizers prints lines, the others tables
    assert printed in proc.stdout and "failed" not in proc.stdout, proc.stdout[-3000:]


@pytest.mark.slow
def test_sweep_quick_writes_resumes_and_draws(tmp_path):
    """The cost-growth sweep: one tiny cell per implementation goes to the CSV, a second run skips it, charts
    are drawn from the CSV."""
    import csv

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.path.abspath(ROOT))
    cmd = [sys.executable, "-m", "tools.bench.sweep", "--quick", "--out", str(tmp_path)]
    first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    with open(tmp_path / "encoder.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["impl"] for r in rows) == ["ours-xla", "torch"]
    assert all((r["length"], r["batch"]) == ("16", "2") and float(r["ms_per_call_p50"]) > 0 for r in rows)
    assert all(r["load_avg_1m"] and r["peak_rss_mb"] and r["machine"] for r in rows)
    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count("already in") == 2, second.stdout[-3000:]
    with open(tmp_path / "encoder.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2
    assert (tmp_path / "encoder_time.png").stat().st_size > 0
    assert (tmp_path / "encoder_ratio.png").stat().st_size > 0
    assert "ours vs best peer" in second.stdout


@pytest.mark.slow
def test_sweep_texts_have_exactly_the_target_length():
    """Serving rows of real text tokenize to exactly the target length, in ours and in transformers' tokenizer."""
    import transformers

    from keras_bert_suite.tokenizers import BertTokenizer
    from tools.bench.common import minilm_folder
    from tools.bench.sweep import exact_length_texts

    folder = minilm_folder()
    reference = transformers.BertTokenizerFast.from_pretrained(folder)
    for length in (8, 32):
        texts = exact_length_texts(BertTokenizer.from_pretrained(folder), length, 5)
        assert len(set(texts)) == 5
        assert [len(ids) for ids in reference(texts)["input_ids"]] == [length] * 5
    with pytest.raises(ValueError, match="at least 3"):
        exact_length_texts(BertTokenizer.from_pretrained(folder), 2, 1)
