"""`kbs export`, `kbs predict`, `kbs serve-check`, and TF Serving PredictRequests built against the signatures."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import keras_bert_suite as kbs
from helpers import minilm_folder
from keras_bert_suite.cli import main
from keras_bert_suite.tokenizers import BertTokenizer


@pytest.fixture(scope="module")
def exported(tiny_export):
    """The base folder (versions inside) of a tiny sentiment classifier's export."""
    _, path = tiny_export("sequence_classification", max_length=32)
    return os.path.dirname(path)


def test_predict_prints_answers(exported, capsys):
    capsys.readouterr()
    assert main(["predict", str(exported), "a gorgeous , witty , seductive movie .", "dull"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and {r["label"] for r in rows} <= {"negative", "positive"}
    assert abs(sum(rows[0]["probabilities"]) - 1) < 1e-5
    assert main(["predict", str(exported), "--signature", "pair", "--input", "text=a", "--input",
                 "text_pair=b"]) == 0
    assert main(["predict", str(exported), "x", "--signature", "nope"]) == 2


def test_serve_check_lists_signatures(exported, capsys):
    capsys.readouterr()
    assert main(["serve-check", str(exported)]) == 0
    out = capsys.readouterr().out
    assert "signature 'serving_default'" in out and "signature 'pair'" in out
    assert "input  text: string [None]" in out and "label" in out


def test_predict_requests_built_with_tensorflow_serving_api(exported):
    predict_pb2 = pytest.importorskip("tensorflow_serving.apis.predict_pb2")
    from keras_bert_suite.export import inspect

    loaded, path = inspect.load(exported)
    for name, texts in (("serving_default", {"text": ["a fine film"]}),
                        ("pair", {"text": ["a"], "text_pair": ["b"]})):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "sentiment"
        request.model_spec.signature_name = name
        for key, value in texts.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value, dtype=tf.string))
        fn = loaded.signatures[request.model_spec.signature_name]
        assert set(request.inputs) == set(fn.structured_input_signature[1])
        decoded = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        result = fn(**decoded)
        assert result["label"].numpy()[0].decode() in ("negative", "positive")
        assert np.isfinite(result["logits"].numpy()).all()


def test_saved_model_cli_lists_string_inputs(exported):
    import os
    import subprocess
    import sys

    from keras_bert_suite.export import inspect

    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    proc = subprocess.run([cli, "show", "--dir", inspect.resolve_version(exported), "--all"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "signature_def['serving_default']" in proc.stdout and "signature_def['pair']" in proc.stdout
    assert "inputs['text'] tensor_info:\n        dtype: DT_STRING" in proc.stdout


def test_export_flags_reach_every_export_option(tmp_path, monkeypatch):
    """Each flag of `kbs export` sets the export option of the same name; a flag left out leaves the default."""
    import keras_bert_suite.export as export
    from keras_bert_suite.cli import EXPORT_OPTIONS, build_parser
    from keras_bert_suite.export.signatures import ExportOptions

    folder = tmp_path / "tiny-qa"
    kbs.BertForQuestionAnswering(kbs.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                                num_attention_heads=4, intermediate_size=37)).save_pretrained(folder)
    BertTokenizer.from_pretrained(minilm_folder()).save_pretrained(folder)
    seen = []
    monkeypatch.setattr(export, "export_saved_model", lambda *a, **kw: seen.append(kw) or "out/1")
    flags = ["--top-k", "3", "--function-to-apply", "sigmoid", "--aggregation-strategy", "first",
             "--no-align-to-words", "--handle-impossible-answer", "--max-seq-len", "64", "--doc-stride", "16",
             "--max-question-len", "20", "--max-answer-len", "5", "--max-context-tokens", "none", "--pooling", "cls",
             "max", "--no-normalize-embeddings", "--max-new-tokens", "4", "--do-sample", "--pad-to-multiple-of", "16"]
    assert main(["export", str(folder), "--out", str(tmp_path / "out"), *flags]) == 0
    assert main(["export", str(folder), "--out", str(tmp_path / "out")]) == 0
    given, default = seen
    assert {k: given[k] for k in EXPORT_OPTIONS} == dict(
        top_k=3, function_to_apply="sigmoid", aggregation_strategy="first", align_to_words=False,
        handle_impossible_answer=True, max_seq_len=64, doc_stride=16, max_question_len=20, max_answer_len=5,
        max_context_tokens=None, pooling=["cls", "max"], normalize_embeddings=False, max_new_tokens=4,
        do_sample=True, pad_to_multiple_of=16)
    assert not set(EXPORT_OPTIONS) & set(default)  # the defaults are ExportOptions' (the pipelines')
    assert set(EXPORT_OPTIONS) <= {f.name for f in __import__("dataclasses").fields(ExportOptions)}
    helps = {a.dest: a.help for a in build_parser()._subparsers._group_actions[0].choices["export"]._actions}
    for name in EXPORT_OPTIONS:
        assert "default" in helps[name], name  # every flag's help names its default
    assert "default: none" in helps["aggregation_strategy"] and "default: --align-to-words" in helps["align_to_words"]


def test_export_qa_top_k_from_the_command_line(tmp_path, capsys):
    folder = tmp_path / "tiny-qa"
    kbs.BertForQuestionAnswering(kbs.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                                num_attention_heads=4, intermediate_size=37)).save_pretrained(folder)
    BertTokenizer.from_pretrained(minilm_folder()).save_pretrained(folder)
    base = tmp_path / "qa"
    assert main(["export", str(folder), "--out", str(base), "--max-seq-len", "32", "--doc-stride", "8", "--top-k",
                 "2", "--no-xla"]) == 0
    capsys.readouterr()
    context = "Ada Lovelace wrote the first program for the Analytical Engine in 1843 ."
    assert main(["predict", str(base), "--input", "question=Who wrote it ?", "--input", f"context={context}"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert len(row["top_answers"]) == 2 and row["num_answers"] == 2 and row["top_answers"][0] == row["answer"]
    for answer, start, end in zip(row["top_answers"], row["top_starts"], row["top_ends"]):
        assert answer == context[start:end]
    assert row["top_scores"][0] >= row["top_scores"][1] > 0
    assert main(["export", str(folder), "--out", str(base), "--max-seq-len", "32", "--doc-stride", "64"]) == 2
