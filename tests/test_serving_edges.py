"""Serving at the edges: any batch size (0 included), empty strings, the QA context limit, the banded span search,
TF Serving warmup records (written, covering every chunk shape, replayed) and the batching parameters file."""

import os

import numpy as np
import pytest
import tensorflow as tf

import keras_bert_suite as kbs
from helpers import minilm_folder, task_models
from keras_bert_suite.export import export_saved_model, postprocess, warmup
from keras_bert_suite.export.length_sorted import chunk_sizes
from keras_bert_suite.export.signatures import ExportOptions
from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer

pytestmark = pytest.mark.slow  # exports every task, then many small requests each

MAX_LENGTH, CHUNK = 16, 2  # warmup: chunk shapes rows 2 and 1 x lengths 8 and 16
CONTEXT_LIMIT = 40
ROOT = os.path.join(os.path.dirname(__file__), "..")


def _config(**kw):
    return kbs.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                          intermediate_size=37, max_position_embeddings=64, **kw)


MODELS = task_models(_config, {0: "O", 1: "B-PER", 2: "I-PER"})

REAL = {"text": "Ada Lovelace wrote the first program .", "text_pair": "It ran on an engine .",
        "question": "Who wrote it ?", "context": "Ada Lovelace wrote the first program .",
        "choices": ["in London .", "on the Moon ."], "prompt": "the engine"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("edges")
    tokenizer = BertTokenizer.from_pretrained(minilm_folder())
    # graph kernels (jit_compile=False) keep the many small calls cheap; `xla_classifier` runs the XLA path
    return {task: export_saved_model(make(), tokenizer, root / task, max_length=MAX_LENGTH, chunk_size=CHUNK,
                                     doc_stride=4, max_context_tokens=CONTEXT_LIMIT, max_new_tokens=3,
                                     jit_compile=False)
            for task, make in MODELS.items()}


def test_xla_classifier_answers_an_empty_batch(tmp_path):
    model = MODELS["sequence_classification"]()
    path = export_saved_model(model, BertTokenizer.from_pretrained(minilm_folder()), tmp_path / "clf",
                              max_length=MAX_LENGTH, chunk_size=CHUNK, warmup=False)
    fn = tf.saved_model.load(path).signatures["serving_default"]
    for texts in ([], ["", "a fine film"], []):
        result = fn(text=tf.constant(texts, tf.string))
        _well_formed(result, len(texts))
        assert result["logits"].shape == (len(texts), 2)


@pytest.fixture(scope="module")
def loaded(exports):
    return {task: tf.saved_model.load(path) for task, path in exports.items()}



def _request(fn, rows):
    """rows: list of {input name: value}; an empty list gives each input with 0 rows of the right rank."""
    out = {}
    for name, spec in fn.structured_input_signature[1].items():
        if rows:
            out[name] = tf.constant([r[name] for r in rows], tf.string)
        else:
            out[name] = tf.zeros([0] + [2] * (spec.shape.rank - 1), tf.string)  # choices: [0, 2]
    return out


def _well_formed(result, n):
    for key, value in result.items():
        value = value.numpy()
        assert value.shape[:1] == (n,), (key, value.shape)
        if value.dtype.kind == "f":
            assert np.isfinite(value).all(), key


def _signatures(loaded):
    return [(task, name, fn) for task, model in loaded.items() for name, fn in model.signatures.items()]


def test_every_signature_answers_an_empty_batch(loaded):
    for task, name, fn in _signatures(loaded):
        result = fn(**_request(fn, []))
        _well_formed(result, 0)
        outputs = fn.structured_outputs
        for key, value in result.items():
            assert value.dtype == outputs[key].dtype, (task, name, key)
            assert value.shape.rank == outputs[key].shape.rank, (task, name, key)


def test_empty_strings_answer_and_leave_other_rows_alone(loaded):
    for task, name, fn in _signatures(loaded):
        names = list(fn.structured_input_signature[1])
        real = {k: REAL[k] for k in names}
        empty = {k: ([""] * len(REAL[k]) if k == "choices" else "") for k in names}
        alone = {k: v.numpy() for k, v in fn(**_request(fn, [real])).items()}
        mixed = {k: v.numpy() for k, v in fn(**_request(fn, [empty, real, empty])).items()}
        for key, value in alone.items():
            got = mixed[key][1]
            if value.dtype == object:
                assert np.asarray(got).tolist() == np.asarray(value[0]).tolist(), (task, name, key)
            else:
                want = value[0]
                cut = tuple(slice(0, s) for s in want.shape)  # per-token outputs: the mixed batch may pad longer
                np.testing.assert_allclose(got[cut], want, atol=1e-5, err_msg=f"{task}/{name}/{key}")


def test_qa_empty_question_or_context_gets_the_empty_answer(loaded):
    fn = loaded["question_answering"].signatures["serving_default"]
    question = tf.constant(["Who wrote it ?", "", "Who wrote it ?", "   "])
    context = tf.constant([REAL["context"], REAL["context"], "", REAL["context"]])
    out = fn(question=question, context=context)
    alone = fn(question=question[:1], context=context[:1])
    assert out["answer"].numpy().tolist()[1:] == [b"", b"", b""]
    assert out["start"].numpy().tolist()[1:] == [-1, -1, -1] and out["end"].numpy().tolist()[1:] == [-1, -1, -1]
    assert out["score"].numpy().tolist()[1:] == [0.0, 0.0, 0.0]
    assert out["answer"].numpy()[0] == alone["answer"].numpy()[0] != b""
    np.testing.assert_allclose(out["score"].numpy()[0], alone["score"].numpy()[0], atol=1e-6)


def test_qa_context_over_the_limit_is_refused_by_row(loaded):
    fn = loaded["question_answering"].signatures["serving_default"]
    short, long = "a b c .", " ".join(["word"] * (CONTEXT_LIMIT + 5))
    fn(question=tf.constant(["q"]), context=tf.constant([" ".join(["word"] * CONTEXT_LIMIT)]))  # at the limit
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        fn(question=tf.constant(["q", "q", "q"]), context=tf.constant([short, long, long + " more"]))
    message = err.value.message
    assert f"QA contexts over max_context_tokens ({CONTEXT_LIMIT} word pieces): rows 1, 2 with 45, 46 word pieces" \
        in message
    with pytest.raises(ValueError, match="max_context_tokens must be a non-negative integer"):
        ExportOptions(max_context_tokens=-1)
    assert ExportOptions().max_context_tokens == 16384 and ExportOptions(max_context_tokens=None)


def _full_matrix_spans(start, end, ctx, example_ids, num_examples, max_answer):
    """The search as a full start x end matrix per window (the reference the banded search must equal)."""
    best = [(-2.0, 0, 0, 0)] * num_examples
    for f in range(start.shape[0]):
        ps = np.where(ctx[f], np.exp(start[f] - start[f][ctx[f]].max()) if ctx[f].any() else 0, 0)
        pe = np.where(ctx[f], np.exp(end[f] - end[f][ctx[f]].max()) if ctx[f].any() else 0, 0)
        ps, pe = ps / max(ps.sum(), 1e-30), pe / max(pe.sum(), 1e-30)
        pair = np.where(np.triu(np.ones((len(ps),) * 2, bool)) & ~np.triu(np.ones((len(ps),) * 2, bool), max_answer)
                        & ctx[f][:, None] & ctx[f][None, :], ps[:, None] * pe[None, :], -1.0).astype(np.float32)
        i = int(np.argmax(pair))
        score = float(pair.flat[i])
        e = example_ids[f]
        if score > best[e][0]:
            best[e] = (score, f, i // len(ps), i % len(ps))
    return best


def test_banded_span_search_equals_the_full_matrix():
    rng = np.random.RandomState(0)
    features, length, max_answer = 12, 24, 5
    start = rng.randn(features, length).astype(np.float32)
    end = rng.randn(features, length).astype(np.float32)
    start[3], end[3] = 0.0, 0.0  # ties everywhere: the first start, then the shortest span
    ctx = rng.rand(features, length) > 0.3
    ctx[:, :3] = False
    ctx[5] = False  # a window without context
    example_ids = np.array([0, 0, 1, 1, 1, 2, 3, 3, 4, 4, 4, 4], np.int32)
    ctx[np.isin(example_ids, [2])] = False  # an example whose windows hold no context
    got = postprocess.best_spans(tf.constant(start), tf.constant(end), tf.constant(ctx), tf.constant(example_ids),
                                 5, max_answer)
    got = [t.numpy() for t in got]
    want = _full_matrix_spans(start, end, ctx, example_ids, 5, max_answer)
    for e, (score, f, s, t) in enumerate(want):
        if score < 0:
            assert got[3][e] == -1.0 and (got[1][e], got[2][e]) == (0, 0)
            continue
        assert (got[0][e], got[1][e], got[2][e]) == (f, s, t), e
        np.testing.assert_allclose(got[3][e], score, rtol=1e-5)


def _chunk_shapes(lengths, chunk, multiple, max_length):
    """The (rows, padded length) chunks length_sorted.run_by_length runs for rows of these token counts."""
    lengths = sorted(lengths)
    full, rest = divmod(len(lengths), chunk)
    sizes = [chunk] * full + [p for p in chunk_sizes(chunk)[1:] if rest & p]
    shapes, start = set(), 0
    for size in sizes:
        part = lengths[start:start + size]
        shapes.add((len(part), -(-max(part) // multiple) * multiple))
        start += size
    return shapes


def test_warmup_requests_cover_every_chunk_shape():
    python_tok = BertTokenizer.from_pretrained(minilm_folder())
    word = warmup.filler_word(TFBertTokenizer.coerce(python_tok))
    signatures = {"serving_default": ["text"], "pair": ["text", "text_pair"], "qa": ["question", "context"],
                  "mc": ["question", "choices"], "gen": ["prompt"]}
    requests = warmup.warmup_requests(signatures, 60, 8, 8, word)
    # chunked (multiple choice too): the first signature 8 lengths of 15 rows, the others 1 row; generation 1 row
    assert len(requests) == (1 + 8) + (1 + 1) + (1 + 1) + (1 + 1) + (1 + 1)
    covered = {name: set() for name in signatures}
    for name, inputs in requests:
        rows = len(next(iter(inputs.values())))
        if rows == 0:
            continue
        if name == "mc":
            q, c = inputs["question"][0].decode(), inputs["choices"][0][0].decode()
            assert inputs["choices"].shape == (rows, 1)  # one choice per question: rows are (question, choice)
            covered[name] |= _chunk_shapes([len(python_tok(q, c)["input_ids"])] * rows, 8, 8, 60)
            continue
        if name == "gen":
            lengths = [1 + len(python_tok(inputs["prompt"][0].decode(), add_special_tokens=False)["input_ids"])] * rows
        else:
            texts = [[v.decode() for v in inputs[k]] for k in signatures[name]]
            lengths = [len(ids) for ids in python_tok(*texts)["input_ids"]]
        assert max(lengths) <= 60
        covered[name] |= _chunk_shapes(lengths, 8, 8, 60)
    chunk_shapes = {(rows, length) for rows in (8, 4, 2, 1) for length in range(8, 65, 8)}
    assert covered["serving_default"] == chunk_shapes  # max_length 60 pads to 64
    # the first signature warmed their shared function
    assert covered["pair"] == covered["qa"] == covered["mc"] == {(1, 8)}
    assert covered["gen"] == {(1, 8)}
    assert warmup.padded_lengths(20, 8) == [8, 16, 20]
    assert warmup.row_counts(8, 64, 2) == [1, 2, 4, 8]  # 2 x (1 + 64 x 8) would pass TF Serving's 1000 records


def test_warmup_records_replay_as_tf_serving_does(exports, loaded):
    total = 0
    for task, path in exports.items():
        assert os.path.exists(os.path.join(path, "assets.extra", "tf_serving_warmup_requests"))
        replayed = warmup.replay_warmup(path, loaded[task])
        names = loaded[task].signatures.keys()
        assert {name for name, _, _ in replayed} == set(names)
        # per signature an empty request; the first chunked one (multiple choice too) 2 lengths of 2 + 1 rows;
        # the classifier's pair signature and generation one row
        assert len(replayed) == {"sequence_classification": 1 + 2 + 1 + 1, "causal_lm": 1 + 1}.get(task, 1 + 2), task
        for name, inputs, outputs in replayed:
            rows = len(next(iter(inputs.values())))
            for key, value in outputs.items():
                assert value.shape[:1] == (rows,), (task, name, key)
                if value.dtype.kind == "f":
                    assert np.isfinite(value).all(), (task, name, key)
        total += len(replayed)
    assert total == 5 + 2 + 6 * 3


def test_warmup_off_and_a_missing_file_is_named(tmp_path):
    model = kbs.BertForNextSentencePrediction(_config())
    path = export_saved_model(model, BertTokenizer.from_pretrained(minilm_folder()), tmp_path / "nsp",
                              max_length=MAX_LENGTH, warmup=False)
    assert not os.path.exists(os.path.join(path, "assets.extra"))
    with pytest.raises(FileNotFoundError, match="no warmup records at .*warmup=False"):
        warmup.read_warmup(path)


def _batching_parameters_class():
    """TF Serving's BatchingParameters message (session_bundle_config.proto, fields 1-7 with their numbers and
    types). The tensorflow-serving-api wheel ships the request protos but not this one, so it is declared here."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="tensorflow_serving/session_bundle_config_subset.proto",
                                               package="tensorflow.serving", syntax="proto3",
                                               dependency=["google/protobuf/wrappers.proto"])
    message = proto.message_type.add(name="BatchingParameters")
    for name, number, kind in [("max_batch_size", 1, "Int64Value"), ("batch_timeout_micros", 2, "Int64Value"),
                               ("max_enqueued_batches", 3, "Int64Value"), ("num_batch_threads", 4, "Int64Value"),
                               ("thread_pool_name", 5, "StringValue"), ("allowed_batch_sizes", 6, None),
                               ("pad_variable_length_inputs", 7, None)]:
        spec = message.field.add(name=name, number=number, label=field.LABEL_OPTIONAL)
        if kind:
            spec.type, spec.type_name = field.TYPE_MESSAGE, f".google.protobuf.{kind}"
        elif name == "allowed_batch_sizes":
            spec.type, spec.label = field.TYPE_INT64, field.LABEL_REPEATED
        else:
            spec.type = field.TYPE_BOOL
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


def test_batching_parameters_file_parses_and_fits_the_chunks():
    from google.protobuf import text_format

    with open(os.path.join(ROOT, "savedmodels", "batching_parameters.txt"), encoding="utf-8") as f:
        params = text_format.Parse(f.read(), _batching_parameters_class()())
    sizes = list(params.allowed_batch_sizes)
    chunk = ExportOptions().chunk_size
    assert sizes == sorted(set(sizes)) and sizes[-1] == params.max_batch_size.value  # TF Serving's two rules
    assert all(size % chunk == 0 for size in sizes), sizes  # a padded batch is whole chunks of rows
    assert params.batch_timeout_micros.value > 0 and params.num_batch_threads.value >= 1
    assert params.max_enqueued_batches.value >= 1
    assert not params.pad_variable_length_inputs
