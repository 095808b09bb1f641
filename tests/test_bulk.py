"""Bulk inference on Apache Beam (keras_bert_suite.bulk, `kbs bulk-predict`) on the DirectRunner: answers equal a
direct call of the SavedModel, bad rows fail alone, keyed and dict elements, every input and output format, the
multi-process runner, and a 20,000-row run with nothing lost or duplicated."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

beam = pytest.importorskip("apache_beam")

import tensorflow as tf  # noqa: E402
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference  # noqa: E402
from apache_beam.testing.util import assert_that  # noqa: E402

from helpers import SHARED_DATA, sst2_sentences  # noqa: E402
from keras_bert_suite.bulk import RawTextModelHandler, is_failed  # noqa: E402
from keras_bert_suite.bulk.handler import clean_error, trim_row  # noqa: E402
from keras_bert_suite.cli import main  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
IN_MEMORY = ["--direct_num_workers=1", "--direct_running_mode=in_memory"]
QA_LIMIT = 24  # word pieces per QA context
# real sentences when ../shared/data has SST-2, else these
SAMPLE = ["it 's a charming and often affecting journey .", "unflinchingly bleak and desperate",
          "the acting , costumes , music , cinematography and sound are all astounding given the production 's "
          "austere locales .", "a gorgeous , witty , seductive movie .", "so dull that it hurts",
          "Marie Curie won two Nobel prizes , in Paris and in Stockholm .", "a", "", "Ünïcödé text , naïve café",
          "the film is strictly routine .", "one of the year 's best : Sam Raimi and Bruce Campbell in New York ."]


def sentences(n):
    if os.path.exists(os.path.join(SHARED_DATA, "sst2", "dev.tsv")):
        return sst2_sentences(n)
    return (SAMPLE * (n // len(SAMPLE) + 1))[:n]


@pytest.fixture(scope="module")
def exports(tiny_export):
    """One tiny export per task: {task: SavedModel path} (conftest's shared tiny models; no XLA, no warmup: fast
    to build and load)."""
    options = dict(max_length=32, jit_compile=False, warmup=False)
    return {
        "classification": tiny_export("sequence_classification", **options)[1],
        "embeddings": tiny_export("feature_extraction", **options)[1],
        "ner": tiny_export("token_classification", **options)[1],
        "qa": tiny_export("question_answering", doc_stride=8, max_context_tokens=QA_LIMIT, **options)[1],
    }


_LOADED = {}


def direct(path, signature="serving_default", **inputs):
    """The signature called once on the whole batch: {output: np.ndarray [rows, ...]}."""
    if path not in _LOADED:
        _LOADED[path] = tf.saved_model.load(path)
    fn = _LOADED[path].signatures[signature]
    return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def assert_row_equal(answer, expected, atol=1e-5):
    """One row's answer (padding trimmed) against the same row of a direct call (padded to its batch): equal
    where both have values (floats within `atol`), padding (""/-1/0) past the answer's length."""
    assert set(answer) == set(expected)
    for name, value in answer.items():
        want = np.asarray(expected[name])
        value = np.asarray(value)
        if value.ndim:
            assert want.shape[1:] == value.shape[1:] and want.shape[0] >= value.shape[0], name
            rest = want[value.shape[0]:]
            if rest.size:
                assert np.all((rest == b"") | (rest == -1) | (rest == 0)) if rest.dtype != object else \
                    all(v in (b"", "") for v in rest.ravel()), name
            want = want[:value.shape[0]]
        if want.dtype.kind == "f":
            np.testing.assert_allclose(value, want, atol=atol, rtol=0, err_msg=name)
        else:
            assert value.tolist() == want.tolist(), name


def run(pipeline_fn, args=IN_MEMORY):
    """Build a pipeline with `pipeline_fn(p)` and run it to the end on the in-process DirectRunner."""
    with beam.Pipeline(options=beam.options.pipeline_options.PipelineOptions(args)) as p:
        pipeline_fn(p)


@pytest.mark.parametrize("task", ["classification", "embeddings", "ner"])
def test_answers_equal_a_direct_call(exports, task):
    """RunInference over real text in batches of at most 4 rows gives each row what one call of the whole batch
    gives (the rows are batched, sorted and padded differently)."""
    texts = sentences(24)
    expected = direct(exports[task], text=texts)
    if task == "ner":  # the tiny model's random head labels some tokens: entities to compare
        assert expected["num_entities"].sum() > 0

    def check(results):
        assert len(results) == len(texts)
        for key, result in results:
            assert not is_failed(result), result.inference
            assert result.example == texts[key]
            assert_row_equal(result.inference, {k: v[key] for k, v in expected.items()})

    run(lambda p: assert_that(p | beam.Create(list(enumerate(texts)))
                              | RunInference(KeyedModelHandler(RawTextModelHandler(exports[task], max_batch_size=4))),
                              check))


def test_dict_elements_and_bytes_weights(exports):
    """A two-input signature takes dicts; `max_batch_weight` bounds the bytes per call; keys come back."""
    texts = sentences(10)
    texts[3] = texts[3] * 30  # over the 200 bytes of a batch: a batch alone
    rows = [{"text": t, "text_pair": t[::-1]} for t in texts]
    expected = direct(exports["classification"], "pair", text=texts, text_pair=[t[::-1] for t in texts])
    handler = RawTextModelHandler(exports["classification"], "pair", max_batch_size=8, max_batch_weight=200)
    kwargs = handler.batch_elements_kwargs()
    assert kwargs["max_batch_size"] == 200 and kwargs["element_size_fn"](("key", {"text": "ab", "x": "c"})) == 3
    assert kwargs["element_size_fn"]("x" * 1000) == 200 and kwargs["element_size_fn"]("") == 1

    def check(results):
        assert sorted(k for k, _ in results) == [f"id-{i}" for i in range(len(rows))]
        for key, result in results:
            i = int(key[3:])
            assert result.example == rows[i]
            assert_row_equal(result.inference, {k: v[i] for k, v in expected.items()})

    run(lambda p: assert_that(p | beam.Create([(f"id-{i}", r) for i, r in enumerate(rows)])
                              | RunInference(KeyedModelHandler(handler)), check))


def test_bad_rows_fail_alone(exports):
    """Invalid UTF-8 rows and a QA context over the limit fail with their reason; their batch-mates are answered
    as if they were alone."""
    handler = RawTextModelHandler(exports["classification"])
    model = handler.load_model()
    texts = sentences(6)
    batch = [texts[0], b"bad \xff byte", texts[1], "lone \ud800 surrogate", texts[2], 7, {"txt": "x"}]
    results = handler.run_inference(batch, model)
    assert [is_failed(r) for r in results] == [False, True, False, True, False, True, True]
    assert [r.example for r in results] == batch
    assert results[1].inference["error"] == results[3].inference["error"] == "invalid UTF-8 in input"
    assert results[5].inference["error"] == "input 'text' is int, not text"
    assert "no field 'text'" in results[6].inference["error"]
    expected = direct(exports["classification"], text=texts[:3])
    for i, r in zip(range(3), (results[0], results[2], results[4])):
        assert_row_equal(r.inference, {k: v[i] for k, v in expected.items()})

    qa = RawTextModelHandler(exports["qa"])
    long = " ".join(["Paris"] * (QA_LIMIT + 5))
    rows = [{"question": "Who wrote it ?", "context": "Ada Lovelace wrote the first program ."},
            {"question": "Where ?", "context": long},
            {"question": "When ?", "context": "It was built in 1889 ."}]
    results = qa.run_inference(rows, qa.load_model())
    assert [is_failed(r) for r in results] == [False, True, False]
    assert results[1].inference["error"] == (f"QA contexts over max_context_tokens ({QA_LIMIT} word pieces): "
                                             f"{QA_LIMIT + 5} word pieces")
    assert results[0].inference["answer"].item().decode() in rows[0]["context"]


def test_calls_take_at_most_max_batch_size_rows_sorted_by_length():
    from keras_bert_suite.bulk.handler import LoadedSignature

    calls = []

    def fn(text):
        calls.append(text.numpy().tolist())
        return {"length": tf.strings.length(text)}

    texts = ["a" * n for n in (5, 1, 9, 3, 7, 2, 8)]
    results = RawTextModelHandler("unused", max_batch_size=3).run_inference(texts, LoadedSignature(None, fn, ("text",)))
    assert [r.inference["length"].item() for r in results] == [5, 1, 9, 3, 7, 2, 8]
    assert [[len(t) for t in call] for call in calls] == [[1, 2, 3], [5, 7, 8], [9]]


def test_runner_defaults_and_model_updates(exports):
    from keras_bert_suite.bulk.pipeline import default_options

    options = default_options([]).get_all_options()
    assert (options["runner"], options["direct_num_workers"], options["direct_running_mode"]) == (
        "DirectRunner", os.cpu_count(), "multi_threading")
    options = default_options(["--direct_running_mode=multi_processing", "--direct_num_workers", "3"])
    assert options.get_all_options()["direct_running_mode"] == "multi_processing"
    assert options.get_all_options()["direct_num_workers"] == 3
    assert default_options(["--runner=FlinkRunner"]).get_all_options()["direct_running_mode"] == "in_memory"
    handler = RawTextModelHandler("elsewhere")
    handler.update_model_path(exports["embeddings"])
    assert handler.spec().outputs["sentence_embedding"] == ("float32", 1)


def test_trim_row_and_clean_error():
    row = {"num_entities": np.array(1), "entity_text": np.array([b"Ada", b""], object),
           "entity_score": np.array([0.9, 0.0], "float32"), "token_start": np.array([-1, 0, 4, -1, -1]),
           "token_labels": np.array([b"", b"B-PER", b"O", b"", b""], object), "score": np.array(0.5)}
    trimmed = trim_row(row)
    assert trimmed["entity_text"].tolist() == [b"Ada"] and trimmed["entity_score"].shape == (1,)
    assert trimmed["token_start"].tolist() == [-1, 0, 4] and trimmed["token_labels"].shape == (3,)
    assert trimmed["score"] == 0.5
    message = ("Graph execution error:\n\nDetected at node x\nassertion failed: [invalid UTF-8 in input rows:] "
               "[0, 3]\n\t [[{{node invalid_utf8/Assert}}]]")
    assert clean_error(message) == "invalid UTF-8 in input"


def read_jsonl(prefix):
    rows = []
    for path in sorted(glob.glob(f"{prefix}-[0-9]*")):
        with open(path, encoding="utf-8") as f:
            rows += [json.loads(line) for line in f]
    return rows


def write_lines(path, lines):
    with open(path, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    return str(path)


def test_cli_text_rows_and_failures(exports, tmp_path, capsys):
    """Text in: one row per line (0-based line numbers), answered rows to OUTPUT-*, invalid UTF-8 lines to
    OUTPUT-failed-* with their line numbers; the counters printed at the end."""
    texts = [t.encode() for t in sentences(12)]
    lines = texts[:3] + [b"\xff\xfe broken"] + texts[3:9] + [b"ok \xc3("] + texts[9:]
    source = write_lines(tmp_path / "in.txt", lines)
    out = str(tmp_path / "out" / "labels")
    capsys.readouterr()
    assert main(["bulk-predict", exports["classification"], source, out, "--batch-size", "4", *IN_MEMORY]) == 0
    printed = capsys.readouterr().out
    assert "rows answered: 12" in printed and "rows failed: 2" in printed and "rows per second:" in printed
    answered, failed = read_jsonl(out), read_jsonl(out + "-failed")
    assert sorted(r["row"] for r in failed) == [3, 10]
    assert all(r["error"] == "invalid UTF-8 in input" for r in failed)
    assert sorted(r["row"] for r in answered) == [i for i in range(len(lines)) if i not in (3, 10)]
    expected = direct(exports["classification"], text=[lines[r["row"]] for r in answered])
    for i, row in enumerate(answered):
        assert row["label"] == expected["label"][i].decode()
        np.testing.assert_allclose(row["logits"], expected["logits"][i], atol=1e-5, rtol=0)


@pytest.mark.slow  # a LiteRT conversion
def test_cli_serves_a_litert_file(tiny_export, tmp_path, capsys):
    """A .tflite path (`export_litert`) serves as a SavedModel does: answers equal one direct LiteRT call of the
    same rows, invalid UTF-8 rows fail alone with the SavedModel's reason."""
    from keras_bert_suite.bulk import read_signature
    from keras_bert_suite.export.litert import export_litert, litert_interpreter, run_litert

    model = tiny_export.model("sequence_classification")
    path = export_litert(model, tiny_export.tokenizer, tmp_path / "model.tflite", max_length=32)
    spec = read_signature(path)
    assert spec.inputs == ("text",) and spec.outputs["label"] == ("string", 0)
    assert spec.outputs["logits"] == ("float32", 1)
    with pytest.raises(ValueError, match="no signature 'pair'.*serving_default"):
        read_signature(path, "pair")
    texts = [t.encode() for t in sentences(10)]
    lines = texts[:3] + [b"\xff\xfe broken"] + texts[3:]
    out = str(tmp_path / "out" / "labels")
    capsys.readouterr()
    assert main(["bulk-predict", path, write_lines(tmp_path / "in.txt", lines), out, "--batch-size", "4",
                 *IN_MEMORY]) == 0
    assert "rows answered: 10" in capsys.readouterr().out
    failed = read_jsonl(out + "-failed")
    assert [(r["row"], r["error"]) for r in failed] == [(3, "invalid UTF-8 in input")]
    answered = sorted(read_jsonl(out), key=lambda r: r["row"])
    expected = run_litert(litert_interpreter(path), [lines[r["row"]] for r in answered])
    for i, row in enumerate(answered):
        assert row["label"] == expected["label"][i].decode()
        np.testing.assert_allclose(row["logits"], expected["logits"][i], atol=1e-5, rtol=0)


def test_cli_qa_jsonl_fields_and_failures(exports, tmp_path, capsys):
    """JSON lines for a two-input signature, fields named with --field; a context over the limit, a line that is
    not JSON and a row without the field fail with their line numbers."""
    rows = [{"q": "Who wrote it ?", "context": "Ada Lovelace wrote the first program ."},
            {"q": "Where ?", "context": " ".join(["Paris"] * (QA_LIMIT + 5))},
            "not json",
            {"q": "When ?"},
            {"q": "When ?", "context": "It was built in 1889 ."}]
    source = write_lines(tmp_path / "in.jsonl", [(json.dumps(r) if isinstance(r, dict) else r).encode()
                                                for r in rows])
    out = str(tmp_path / "answers")
    assert main(["bulk-predict", exports["qa"], source, out, "--input-format", "jsonl", "--field", "question=q",
                 *IN_MEMORY]) == 0
    failed = {r["row"]: r["error"] for r in read_jsonl(out + "-failed")}
    assert sorted(failed) == [1, 2, 3]
    assert "max_context_tokens" in failed[1] and "not a JSON line" in failed[2]
    assert failed[3] == "row has no field 'context' (it has ['q'])"
    answered = {r["row"]: r for r in read_jsonl(out)}
    assert sorted(answered) == [0, 4]
    assert answered[0]["answer"] in rows[0]["context"] and answered[4]["answer"] in rows[4]["context"]


def test_cli_formats_round_trip(exports, tmp_path):
    """The same rows as text, Parquet and TFRecord in (JSON lines in: the QA test); JSON lines, Parquet and
    TFRecord out: the same labels and logits."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from keras_bert_suite.bulk.formats import from_example

    texts = sentences(10)
    inputs = {
        "text": write_lines(tmp_path / "in.txt", [t.encode() for t in texts]),
        "parquet": str(tmp_path / "in.parquet"),
        "tfrecord": str(tmp_path / "in.tfrecord"),
    }
    pq.write_table(pa.table({"review": texts, "other": list(range(len(texts)))}), inputs["parquet"])
    with tf.io.TFRecordWriter(inputs["tfrecord"]) as writer:
        for t in texts:
            writer.write(tf.train.Example(features=tf.train.Features(feature={"review": tf.train.Feature(
                bytes_list=tf.train.BytesList(value=[t.encode()]))})).SerializeToString())
    expected = direct(exports["classification"], text=texts)

    def read(prefix, output_format):
        paths = sorted(glob.glob(f"{prefix}-[0-9]*"))
        if output_format == "jsonl":
            return read_jsonl(prefix)
        if output_format == "parquet":
            return [r for p in paths for r in pq.read_table(p).to_pylist()]
        return [{k: (v if k in ("logits", "probabilities", "top_scores", "top_labels") else v[0])
                 for k, v in from_example(r.numpy()).items()} for r in tf.data.TFRecordDataset(paths)]

    for input_format, output_format in (("text", "parquet"), ("parquet", "tfrecord"), ("tfrecord", "jsonl")):
        out = str(tmp_path / f"{input_format}-to-{output_format}")
        extra = [] if input_format == "text" else ["--text-field", "review"]
        assert main(["bulk-predict", exports["classification"], inputs[input_format], out, "--input-format",
                     input_format, "--output-format", output_format, *extra, *IN_MEMORY]) == 0
        rows = sorted(read(out, output_format), key=lambda r: r["row"])
        assert [r["row"] for r in rows] == list(range(len(texts))), (input_format, output_format)
        for i, row in enumerate(rows):
            assert row["label"] == expected["label"][i].decode(), (input_format, output_format)
            np.testing.assert_allclose(row["logits"], expected["logits"][i], atol=1e-5, rtol=0)
        assert read_jsonl(out + "-failed") == []


def test_cli_errors_name_the_problem(exports, tmp_path, capsys):
    source = write_lines(tmp_path / "in.txt", [b"a fine film"])
    out = str(tmp_path / "o")
    cases = [
        (["--signature", "nope"], "no signature 'nope'", "['pair', 'serving_default']"),
        (["--signature", "pair"], "takes ['text', 'text_pair']", "--input-format jsonl"),
        (["--input-format", "jsonl", "--field", "nope=x"], "has no input 'nope'", "it takes ['text']"),
        (["--input-format", "jsonl", "--field", "nope"], "--field takes INPUT=FIELD", ""),
    ]
    for flags, *messages in cases:
        capsys.readouterr()
        assert main(["bulk-predict", exports["classification"], source, out, *flags, *IN_MEMORY]) == 2, flags
        err = capsys.readouterr().err
        assert all(m in err for m in messages), err
    assert main(["bulk-predict", exports["classification"], str(tmp_path / "missing-*.txt"), out, *IN_MEMORY]) == 2
    assert "no input file matches" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bulk-predict", exports["classification"], source, out, "--output-format", "csv"])
    with pytest.raises(SystemExit):  # only bulk-predict passes unknown options on
        main(["predict", exports["classification"], "x", "--runner=DirectRunner"])


def test_package_imports_without_beam():
    """`keras_bert_suite` and `kbs --help` need no Apache Beam; bulk-predict says what to install."""
    code = ("import sys; sys.modules['apache_beam'] = None\n"
            "import keras_bert_suite, keras_bert_suite.bulk\n"
            "from keras_bert_suite.cli import build_parser, main\n"
            "build_parser().parse_args(['bulk-predict', 'm', 'i', 'o'])\n"
            "sys.exit(main(['bulk-predict', 'm', 'i', 'o']))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "needs Apache Beam: pip install 'keras-bert-suite[beam]'" in proc.stderr


@pytest.mark.slow
def test_multi_process_direct_runner(exports, tmp_path, capsys):
    """Two worker processes: the handler pickles, each worker loads the SavedModel, the counters come back."""
    texts = [t.encode() for t in sentences(40)]
    source = write_lines(tmp_path / "in.txt", texts[:20] + [b"\xff"] + texts[20:])
    out = str(tmp_path / "mp")
    capsys.readouterr()
    assert main(["bulk-predict", exports["embeddings"], source, out, "--batch-size", "8",
                 "--direct_running_mode=multi_processing", "--direct_num_workers=2"]) == 0
    assert "rows answered: 40\nrows failed: 1" in capsys.readouterr().out
    rows = read_jsonl(out)
    assert sorted(r["row"] for r in rows) == [i for i in range(41) if i != 20]
    assert [r["row"] for r in read_jsonl(out + "-failed")] == [20]
    expected = direct(exports["embeddings"], text=texts[:3])["sentence_embedding"]
    by_row = {r["row"]: r for r in rows}
    np.testing.assert_allclose([by_row[i]["sentence_embedding"] for i in range(3)], expected, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_twenty_thousand_rows_nothing_lost_or_duplicated(exports, tmp_path, capsys):
    train = os.path.join(SHARED_DATA, "sst2", "train.tsv")
    if os.path.exists(train):
        with open(train, encoding="utf-8") as f:
            texts = [line.split("\t")[0] for line in f][1:20001]
    else:
        texts = [f"{s} ({i})" for i, s in enumerate(SAMPLE * (20000 // len(SAMPLE) + 1))][:20000]
    lines = [t.encode() for t in texts]
    bad = [7, 9999, 19998]
    for i in bad:
        lines[i] = b"\xff" + lines[i]
    source = write_lines(tmp_path / "in.txt", lines)
    out = str(tmp_path / "big")
    capsys.readouterr()
    assert main(["bulk-predict", exports["classification"], source, out, "--batch-size", "64", *IN_MEMORY]) == 0
    assert f"rows answered: {20000 - len(bad)}\nrows failed: {len(bad)}" in capsys.readouterr().out
    answered, failed = [r["row"] for r in read_jsonl(out)], [r["row"] for r in read_jsonl(out + "-failed")]
    assert len(answered) == len(set(answered)) == 20000 - len(bad)
    assert sorted(failed) == bad
    assert sorted(answered + failed) == list(range(20000))
