"""Exports load and answer alike in TF Serving 2.20's environment: TensorFlow 2.20.0 + tensorflow-text 2.20.0.

A TF Serving binary cannot be installed here, so the server's side is the closest stand-in: a second virtual
environment with the pins of TF Serving 2.20.0 (`tools/second_env.py`, cached under ~/.cache/keras-bert-suite)
loads every task's export in one subprocess, receives each request as a serialized `PredictRequest` and answers
with a serialized `PredictResponse` (tensorflow-serving-api 2.20.0's protos), which this process parses and
compares with the answers of the same SavedModel here.
"""

import json
import subprocess
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import keras_bert_suite as kbs
from helpers import TINY
from keras_bert_suite.export import export_saved_model
from keras_bert_suite.export.compat import check_tf_serving
from keras_bert_suite.layers.sentence_pooling import POOLING_MODES
from keras_bert_suite.tokenizers import BertTokenizer
from tools.second_env import TF_SERVING_2_20, ensure_venv, subprocess_env

pytestmark = pytest.mark.slow

WORDS = ("the a film is good bad paris france capital of tower in where does john live lives london story about "
         "it was built . , ?").split()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *"bcdefghijklmnopqrstuvwxyz",
         *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz")]
NER = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}

REQUESTS = {
    "sequence_classification": {"serving_default": {"text": ["the film is good .", "bad", "a story about paris"]},
                                "pair": {"text": ["the film is good .", "bad"], "text_pair": ["it was bad", "?"]}},
    "token_classification": {"serving_default": {"text": ["john lives in london .", "the tower of paris"]}},
    "question_answering": {"serving_default": {"question": ["where does john live ?", "what was built ?"],
                                               "context": ["john lives in london , the capital .",
                                                           "the tower in paris was built in france ."]}},
    "masked_lm": {"serving_default": {"text": ["the capital of france is [MASK] .", "[MASK] lives in [MASK] ."]}},
    "next_sentence_prediction": {"serving_default": {"text": ["john lives in london .", "a film"],
                                                     "text_pair": ["it is the capital .", "paris"]}},
    "multiple_choice": {"serving_default": {"question": ["john lives in", "the film was"],
                                            "choices": [["london .", "a tower .", "the film ."],
                                                        ["good .", "bad .", "paris ."]]}},
    "feature_extraction": {"serving_default": {"text": ["the film is good .", "john", "paris , france"]}},
    "causal_lm": {"serving_default": {"prompt": ["the film is", "john lives"]}},
    "sentence_pooling": {"serving_default": {"text": ["the film is good .", "john", "paris , france"]}},
    "sequence_classification_int8": {"serving_default": {"text": ["the film is good .", "bad", "a story about paris"]}},
}

MODELS = {
    "sequence_classification": lambda c: kbs.BertForSequenceClassification(c(id2label={0: "neg", 1: "pos"})),
    "token_classification": lambda c: kbs.BertForTokenClassification(c(id2label=NER)),
    "question_answering": lambda c: kbs.BertForQuestionAnswering(c()),
    "masked_lm": lambda c: kbs.BertForMaskedLM(c()),
    "next_sentence_prediction": lambda c: kbs.BertForNextSentencePrediction(c()),
    "multiple_choice": lambda c: kbs.BertForMultipleChoice(c()),
    "feature_extraction": lambda c: kbs.BertModel(c()),
    "causal_lm": lambda c: kbs.BertLMHeadModel(c(is_decoder=True)),
    "sentence_pooling": lambda c: kbs.BertModel(c()),  # the embeddings of a SentenceTransformer export
    "sequence_classification_int8": lambda c: kbs.BertForSequenceClassification(c()),  # quantize="int8", no XLA
}
# One export XLA-compiles its model (the default): compiled functions load and answer alike there. The others run
# graph kernels, cheaper to build and load on both sides; no export writes warmup records (not needed here).
XLA_TASKS = {"sequence_classification"}
OPTIONS = {"sentence_pooling": {"pooling": POOLING_MODES, "normalize_embeddings": False},
           "sequence_classification_int8": {"quantize": "int8"}}

# Runs in the TF 2.20 environment: every request goes through the serving protos both ways, as in a server.
SERVER = textwrap.dedent("""
    import json, os, sys
    sys.modules["keras_bert_suite"] = None        # only TensorFlow, tensorflow-text and the serving protos here
    import tensorflow as tf
    import tensorflow_text
    from tensorflow_serving.apis import predict_pb2
    root, out = sys.argv[1], sys.argv[2]
    requests = json.load(open(os.path.join(root, "requests.json")))
    for task, signatures in requests.items():
        loaded = tf.saved_model.load(os.path.join(root, task, "1"))
        for name, inputs in signatures.items():
            print("request", task, name, file=sys.stderr, flush=True)  # names the failing one in the error
            request = predict_pb2.PredictRequest()
            request.model_spec.name, request.model_spec.signature_name = task, name
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value, dtype=tf.string))
            request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
            fn = loaded.signatures[request.model_spec.signature_name]
            result = fn(**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
            response = predict_pb2.PredictResponse()
            response.model_spec.CopyFrom(request.model_spec)
            for key, value in result.items():
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
            with open(os.path.join(out, f"{task}.{name}.pb"), "wb") as f:
                f.write(response.SerializeToString())
    json.dump({"tensorflow": tf.__version__, "tensorflow_text": tensorflow_text.__version__},
              open(os.path.join(out, "versions.json"), "w"))
""")


@pytest.fixture(scope="module")
def tf220_python():
    return ensure_venv("tf2.20-venv", TF_SERVING_2_20)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    import keras

    root = tmp_path_factory.mktemp("tf220")
    tokenizer = BertTokenizer(vocab=VOCAB)
    keras.utils.set_random_seed(0)

    def config(**kw):
        return kbs.BertConfig(**{**TINY, "vocab_size": len(VOCAB), "max_position_embeddings": 64, **kw})

    paths = {task: export_saved_model(make(config), tokenizer, root / task, max_length=32, doc_stride=8,
                                      max_new_tokens=4, jit_compile=task in XLA_TASKS, warmup=False,
                                      **OPTIONS.get(task, {}))
             for task, make in MODELS.items()}
    (root / "requests.json").write_text(json.dumps(REQUESTS))
    return root, paths


def _here(loaded, signature, inputs):
    fn = loaded.signatures[signature]
    return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def test_every_export_answers_alike_in_tf_serving_2_20_environment(exports, tf220_python, tmp_path, monkeypatch):
    from tensorflow_serving.apis import predict_pb2

    # As after any test that imported transformers' TF models in this worker: it must not reach the other environment.
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")

    root, paths = exports
    env = subprocess_env(TF_CPP_MIN_LOG_LEVEL="2")
    server = subprocess.Popen([tf220_python, "-I", "-c", SERVER, str(root), str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    try:  # this process's answers while the other environment computes its own
        here = {(task, name): _here(loaded, name, inputs) for task, signatures in REQUESTS.items()
                for loaded in [tf.saved_model.load(paths[task])] for name, inputs in signatures.items()}
        _, stderr = server.communicate(timeout=900)
    finally:
        server.kill()
    assert server.returncode == 0, stderr[-4000:]
    versions = json.loads((tmp_path / "versions.json").read_text())
    assert versions == {"tensorflow": "2.20.0", "tensorflow_text": "2.20.0"}
    for (task, name), ours in here.items():
        response = predict_pb2.PredictResponse.FromString((tmp_path / f"{task}.{name}.pb").read_bytes())
        assert (response.model_spec.name, response.model_spec.signature_name) == (task, name)
        there = {k: tf.make_ndarray(v) for k, v in response.outputs.items()}
        assert sorted(there) == sorted(ours), (task, name)
        for key, value in ours.items():
            if value.dtype.kind in "fc":
                np.testing.assert_allclose(there[key], value, atol=1e-5, err_msg=f"{task}/{name}/{key}")
            else:
                np.testing.assert_array_equal(there[key], value, err_msg=f"{task}/{name}/{key}")


def test_static_check_agrees(exports):
    _, paths = exports
    xla = set()
    for task, path in paths.items():
        report = check_tf_serving(path, "2.20.0")
        assert report.ok, report.format()
        assert "FastWordpieceTokenizeWithOffsets" in report.ops, task
        xla |= {task} if report.xla else set()
    # XLA exports need --xla_cpu_compilation_enabled in the server, and the check says which they are
    assert xla == XLA_TASKS
