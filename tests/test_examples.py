"""Each fine-tuning example runs end to end for two steps on a tiny model: train, evaluate, export, query.

The scripts run as subprocesses, two at a time, on small files cut from the real data."""

import json
import os
import subprocess
import sys

import pytest

from data_helpers import head_lines, shared

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")
FAST = ["--tiny", "--max-steps", "2", "--max-eval", "6", "--batch-size", "4"]


def _write(path, lines):
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def _commands(tmp):
    sst = _write(tmp / "sst.tsv", head_lines(shared("sst2", "dev.tsv"), 17))
    conll = _write(tmp / "conll.txt", head_lines(shared("conll2003", "valid.txt"), 80))
    with open(shared("squad", "dev-v1.1.json"), encoding="utf-8") as f:
        article = json.load(f)["data"][0]
    article["paragraphs"] = article["paragraphs"][:2]
    squad = tmp / "squad.json"
    squad.write_text(json.dumps({"data": [article], "version": "1.1"}), encoding="utf-8")
    swag = shared("multiple_choice", "swag_sample", "sample.json")
    text = _write(tmp / "text.txt", [line for line in head_lines(shared("text", "bert_sample_text.txt"), 20)
                                     if line.strip()])
    return {
        "text_classification": ["--train", sst, "--eval", sst, "--max-length", "32"],
        "token_classification": ["--train", conll, "--eval", conll, "--max-length", "32"],
        "question_answering": ["--train", str(squad), "--eval", str(squad), "--max-length", "96",
                               "--doc-stride", "32"],
        "multiple_choice": ["--train", swag, "--eval", swag, "--max-length", "48"],
        "masked_lm": ["--train", text, "--eval", text, "--max-length", "32"],
    }


EXPECT = {
    "text_classification": "eval: {'accuracy'",
    "token_classification": "eval: {'precision'",
    "question_answering": "eval: {'exact_match'",
    "multiple_choice": "eval: accuracy",
    "masked_lm": "eval: masked-token accuracy",
}


@pytest.mark.slow
def test_examples_run(tmp_path):
    commands = _commands(tmp_path)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    names = list(commands)
    outputs = {}
    for pair in (names[i:i + 2] for i in range(0, len(names), 2)):
        procs = {}
        for name in pair:
            args = [sys.executable, os.path.join(EXAMPLES, f"{name}.py"), *FAST, *commands[name],
                    "--export-dir", str(tmp_path / "export" / name)]
            procs[name] = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for name, proc in procs.items():
            out, _ = proc.communicate(timeout=400)
            outputs[name] = out
            assert proc.returncode == 0, f"{name} failed:\n{out[-4000:]}"
    for name, out in outputs.items():
        assert "trained 2 steps" in out and EXPECT[name] in out, out[-3000:]
        assert "exported" in out and " -> " in out, out[-3000:]
        assert os.path.exists(tmp_path / "export" / name / "1" / "saved_model.pb")
