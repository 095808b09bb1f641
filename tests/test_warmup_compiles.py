"""After its warmup records are replayed, an XLA export compiles nothing more, whatever the requests.

A fresh process (as a server at load time) loads a tiny classifier export (two signatures sharing one compiled
function), a QA export (rows are windows) and a multiple-choice export (rows are (question, choice) pairs), with a
token budget that makes short rows run in chunks of 8, replays their warmup records, then sends requests of every
batch size over every length up to max_length and beyond (truncated), and mixed lengths (multiple choice: 1 to 5
choices per question). TensorFlow logs each XLA
compilation with its input shapes (`warmup.XLA_LOG_ENV`): the replay must compile exactly the shapes the chunking
can produce, and the requests after it nothing.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import keras_bert_suite as kbs
from helpers import TINY
from keras_bert_suite.export import export_saved_model, warmup
from keras_bert_suite.export.length_sorted import chunk_rows
from keras_bert_suite.tokenizers import BertTokenizer

pytestmark = pytest.mark.slow  # replays warmup records in a server process and reads its XLA log

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "film", "is", "good", "where", "?"]
MAX_LENGTH, CHUNK, TOKENS = 12, 4, 64  # chunk shapes: rows 8 (8 x 8 tokens fit 64), 4, 2, 1 x 8; 4, 2, 1 x 16

# Runs in a fresh process: only TensorFlow, tensorflow-text and the serving protos, as a server.
SERVER = textwrap.dedent("""
    import json, random, sys
    import tensorflow as tf
    import tensorflow_text  # noqa: F401
    from tensorflow_serving.apis import prediction_log_pb2

    def say(*words):
        print(*words, file=sys.stderr, flush=True)

    def text(tokens):  # a text of `tokens` word pieces ("" has none)
        return " ".join(["the"] * tokens)

    paths, max_length = json.loads(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(0)
    for task, path in paths.items():
        loaded = tf.saved_model.load(path)
        say("BEGIN", task)
        for raw in tf.data.TFRecordDataset(path + "/assets.extra/tf_serving_warmup_requests"):
            request = prediction_log_pb2.PredictionLog.FromString(raw.numpy()).predict_log.request
            fn = loaded.signatures[request.model_spec.signature_name]
            fn(**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
        say("REPLAYED", task)
        grid = [[tokens] * rows for rows in range(10) for tokens in range(max_length + 3)]  # past max_length: cut
        mixed = [[rng.randrange(max_length + 3) for _ in range(rows)] for rows in range(10) for _ in range(2)]
        if task == "classifier":  # every batch size (chunks of 4 rows: each remainder, with full chunks or not)
            for lengths in grid + mixed:
                loaded.signatures["serving_default"](text=tf.constant([text(t) for t in lengths], tf.string))
            for lengths in mixed:
                loaded.signatures["pair"](text=tf.constant([text(t // 2) for t in lengths], tf.string),
                                          text_pair=tf.constant([text(t - t // 2) for t in lengths], tf.string))
        elif task == "choice":  # 0 to 5 questions, each with 1 to 5 choices of mixed lengths
            for questions in range(6):
                for choices in range(1, 6):
                    lengths = [rng.randrange(max_length) for _ in range(questions * choices)]
                    loaded.signatures["serving_default"](
                        question=tf.constant([text(1)] * questions, tf.string),
                        choices=tf.constant([text(t) for t in lengths], tf.string, shape=[questions, choices]))
        else:  # contexts up to 4 windows long, 1- or 2-word questions
            for lengths in mixed + [[t] * rows for rows in range(10) for t in (2, 5, 14)]:
                loaded.signatures["serving_default"](
                    question=tf.constant([text(1 + t % 2) for t in lengths], tf.string),
                    context=tf.constant([text(t * 3) for t in lengths], tf.string))
        say("END", task)
""")


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("warmup_compiles")
    tokenizer = BertTokenizer(vocab=VOCAB)
    config = dict(TINY, vocab_size=len(VOCAB), max_position_embeddings=32)
    models = {"classifier": kbs.BertForSequenceClassification(kbs.BertConfig(**config)),
              "qa": kbs.BertForQuestionAnswering(kbs.BertConfig(**config)),
              "choice": kbs.BertForMultipleChoice(kbs.BertConfig(**config))}
    return {task: export_saved_model(model, tokenizer, root / task, max_length=MAX_LENGTH, chunk_size=CHUNK,
                                     chunk_tokens=TOKENS, **({"doc_stride": 4} if task == "qa" else {}))
            for task, model in models.items()}


def _sections(log):
    """{task: (compilations during replay, compilations after it)} from the server's standard error."""
    out, task, part = {}, None, None
    for line in log.splitlines():
        words = line.split()
        if words[:1] in (["BEGIN"], ["REPLAYED"], ["END"]) and len(words) == 2:
            task, part = words[1], {"BEGIN": 0, "REPLAYED": 1, "END": None}[words[0]]
            out.setdefault(task, ([], []))
        elif part is not None:
            out[task][part].extend(warmup.xla_compilations(line))
    return out


def test_replay_compiles_every_shape_and_later_requests_nothing(exports):
    env = dict(os.environ, **warmup.XLA_LOG_ENV)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-I", "-c", SERVER, json.dumps({k: str(v) for k, v in exports.items()}),
                           str(MAX_LENGTH)], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    sections = _sections(proc.stderr)
    assert sorted(sections) == ["choice", "classifier", "qa"]
    # chunks pad to a multiple of 8, max_length's too (12 -> 16); an empty request compiles nothing
    want = {(rows, length) for length in (8, 16) for rows in chunk_rows(length, CHUNK, TOKENS)}
    assert (8, 8) in want and (8, 16) not in want
    for task, (replay, after) in sections.items():
        # multiple choice: [rows, 1 choice, length], whatever the number of choices
        shapes = {(rows, 1, length) for rows, length in want} if task == "choice" else want
        # one compiled model function per export, each shape compiled once: the pair signature shares it
        assert len({name for name, _ in replay}) == 1, (task, replay)
        assert sorted(shape for _, shape in replay) == sorted(shapes), (task, replay)
        assert after == [], task


def test_records_per_signature():
    signatures = {"serving_default": ["text"], "pair": ["text", "text_pair"]}
    requests = warmup.warmup_requests(signatures, 64, 8, 8, "the")
    rows = [(name, len(inputs["text"])) for name, inputs in requests]
    # the first signature: empty, then 8 + 4 + 2 + 1 rows at each of the 8 lengths; the second shares its function
    assert rows == [("serving_default", 0)] + [("serving_default", 15)] * 8 + [("pair", 0), ("pair", 1)]
    assert warmup.signature_kind(["question", "choices"], 8) == "chunked"
    assert warmup.signature_kind(["question", "choices"], 0) == "whole"
    assert warmup.signature_kind(["text"], 0) == "whole"
    assert warmup.signature_kind(["prompt"], 8) == "generation"
    assert warmup.signature_kind(["question", "context"], 8) == "chunked"
    # with a token budget: one row per row count a chunk of that length can have (64 + 32 + 16 + 15 rows at 8
    # and 16 tokens, 32 + 16 + 15 at 24 and 32, 16 + 15 from 40 on); still one record per length
    budget = warmup.warmup_requests(signatures, 64, 8, 8, "the", chunk_tokens=1024)
    assert [len(inputs["text"]) for _, inputs in budget] == [0, 127, 127, 63, 63, 31, 31, 31, 31, 0, 1]
    choice = warmup.warmup_requests({"serving_default": ["question", "choices"]}, 16, 8, 8, "the")
    assert [inputs["choices"].shape for _, inputs in choice] == [(0, 1), (15, 1), (15, 1)]


def test_xla_compilations_reads_the_log():
    log = ("I0000 device_compiler.h:551] Instantly compiling for signature: __inference_run_12[],int32 [4,8],"
           "int32 [4,8],float [11,32]\nunrelated line\n"
           "I0000 device_compiler.h:551] Instantly compiling for signature: __inference_run_12[],int32 [0,1]\n")
    assert warmup.xla_compilations(log) == [("__inference_run_12", (4, 8)), ("__inference_run_12", (0, 1))]
