"""An exported raw-text SavedModel under bad input, concurrency and a long run of requests."""

import concurrent.futures
import resource

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings, strategies as st

import keras_bert_suite as kbs
from helpers import minilm_folder
from keras_bert_suite.tokenizers import BertTokenizer

MAX_LENGTH = 32
COUNTS = {}


@pytest.fixture(scope="module")
def served(tiny_export):
    _, path = tiny_export("sequence_classification", max_length=MAX_LENGTH)
    return tf.saved_model.load(path).signatures["serving_default"]


def _check(result, n):
    assert result["logits"].shape == (n, 2)
    probs = result["probabilities"].numpy()
    assert np.isfinite(probs).all() and np.allclose(probs.sum(-1), 1, atol=1e-5)
    assert set(result["label"].numpy().tolist()) <= {b"negative", b"positive"}


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=200), min_size=0, max_size=6))
def test_random_unicode_never_crashes(served, texts):  # empty requests and empty rows included
    COUNTS["unicode"] = COUNTS.get("unicode", 0) + 1
    _check(served(text=tf.constant([t.encode("utf-8") for t in texts], tf.string)), len(texts))


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=4))
def test_random_bytes_answer_or_name_the_bad_rows(served, blobs):
    COUNTS["bytes"] = COUNTS.get("bytes", 0) + 1
    bad = _bad_rows(blobs)
    if not bad:
        _check(served(text=tf.constant(blobs)), len(blobs))
        return
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        served(text=tf.constant(blobs))
    assert "invalid UTF-8 in input rows" in err.value.message
    assert ", ".join(map(str, bad)) in err.value.message


def test_edge_strings(served):
    texts = ["", "   \t\n ", "\x00\x01\x02 nul and controls \x7f", "[SEP] [MASK] [CLS] literal specials",
             "\u200b\u200d zero width", "\U0001F600 emoji", "a" * 5000,
             "c\ud800 lone".encode("utf-8", "surrogatepass").decode("utf-8", "replace")]
    _check(served(text=tf.constant(texts)), len(texts))
    lone = "x\ud800".encode("utf-8", "surrogatepass")
    with pytest.raises(tf.errors.InvalidArgumentError, match="invalid UTF-8 in input rows"):
        served(text=tf.constant([b"fine", lone]))


QA_CONTEXT_LIMIT = 48
_WORDS = st.sampled_from(["", " ", "the", "Paris", "tower", "1889", "\u00e9t\u00e9", "\U0001F600", ",", "x" * 30])


@pytest.fixture(scope="module")
def served_qa(tiny_export):
    _, path = tiny_export("question_answering", max_length=MAX_LENGTH, doc_stride=8,
                          max_context_tokens=QA_CONTEXT_LIMIT, warmup=False)
    return tf.saved_model.load(path).signatures["serving_default"], tiny_export.tokenizer


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(_WORDS, max_size=6).map(" ".join), st.lists(_WORDS, max_size=70).map(" ".join)),
                min_size=0, max_size=5))
def test_qa_empty_rows_and_the_context_limit(served_qa, rows):
    COUNTS["qa"] = COUNTS.get("qa", 0) + 1
    fn, tokenizer = served_qa
    questions = tf.constant([q for q, _ in rows], tf.string)
    contexts = tf.constant([c for _, c in rows], tf.string)
    pieces = [len(tokenizer.tokenize(c)) for _, c in rows]
    over = [i for i, n in enumerate(pieces) if n > QA_CONTEXT_LIMIT]
    if over:
        with pytest.raises(tf.errors.InvalidArgumentError) as err:
            fn(question=questions, context=contexts)
        assert f"rows {', '.join(map(str, over))} with {', '.join(str(pieces[i]) for i in over)} word pieces" \
            in err.value.message
        return
    out = {k: v.numpy() for k, v in fn(question=questions, context=contexts).items()}
    assert all(out[k].shape == (len(rows),) for k in ("answer", "start", "end", "score", "num_answers"))
    assert all(out[k].shape == (len(rows), 1) for k in ("top_answers", "top_starts", "top_ends", "top_scores"))
    for i, (question, context) in enumerate(rows):
        start, end = int(out["start"][i]), int(out["end"][i])
        if not tokenizer.tokenize(question) or not pieces[i]:
            assert (out["answer"][i], start, end, out["score"][i]) == (b"", -1, -1, 0.0)
        else:
            assert 0 <= start < end <= len(context) and out["answer"][i].decode() == context[start:end]
            assert out["score"][i] > 0.0  # the pipeline's rules: equal texts in several windows add their scores


@pytest.mark.slow
def test_ten_megabyte_string_and_a_hundred_thousand_rows(served):
    words = "the quick brown fox jumps over the lazy dog . "
    huge = words * (10 * 1024 * 1024 // len(words))
    _check(served(text=tf.constant([huge, "short"])), 2)
    many = [f"sentence number {i} ." for i in range(100_000)]
    _check(served(text=tf.constant(many)), 100_000)


def test_concurrent_calls_match_serial(served):
    batches = [[f"request {i} from a thread , with {'more ' * (i % 7)}words ."] * (1 + i % 3) for i in range(32)]
    serial = [served(text=tf.constant(b))["logits"].numpy() for b in batches]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda b: served(text=tf.constant(b))["logits"].numpy(), batches))
    for a, b in zip(serial, parallel):
        np.testing.assert_allclose(a, b, atol=1e-6)


GROWTH_BOUND_MB = 64


@pytest.mark.slow
def test_memory_stays_flat_over_many_requests(served):
    texts = [f"a request of some length number {i} ." * (1 + i % 4) for i in range(50)]

    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    for i in range(500):  # warm-up: every padded length is traced and cached
        served(text=tf.constant([texts[i % 50]]))
    start = rss()
    for i in range(10_000):
        served(text=tf.constant([texts[i % 50]]))
    growth = rss() - start
    assert growth < GROWTH_BOUND_MB, f"peak RSS grew {growth:.1f} MB over 10,000 requests"


# ----------------------------------------------------------- the pipeline options (signature functions run eagerly)
_TEXT = st.lists(st.sampled_from(["", " ", "the", "Paris", "tower", "unaffable", "\u00e9t\u00e9", "\U0001F600", ",",
                                  "x" * 30, "New", "York", "'s"]), max_size=25).map(" ".join)
_SIGNATURES = {}


def _signature(task, make_model, **options):
    """The serving_default function of `task` with `options`, built once, called eagerly (no tracing)."""
    from keras_bert_suite.export.signatures import ExportOptions, build_signatures
    from keras_bert_suite.tokenizers import TFBertTokenizer

    key = (task, tuple(sorted(options.items())))
    if key not in _SIGNATURES:
        import keras

        keras.utils.set_random_seed(0)
        tokenizer = TFBertTokenizer.coerce(BertTokenizer.from_pretrained(minilm_folder()))
        signatures, _ = build_signatures(make_model(), tokenizer, task,
                                         ExportOptions(max_length=MAX_LENGTH, jit_compile=False, **options))
        fn = dict(signatures)["serving_default"]

        def eager(**inputs):
            tf.config.run_functions_eagerly(True)
            try:
                return {k: v.numpy() for k, v in fn(**inputs).items()}
            finally:
                tf.config.run_functions_eagerly(False)

        _SIGNATURES[key] = eager
    return _SIGNATURES[key]


def _tiny(cls, **config):
    return lambda: cls(kbs.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                      intermediate_size=37, **config))


NER = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC", 5: "MISC"}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["none", "simple", "first", "average", "max"]), st.lists(_TEXT, max_size=4))
def test_entities_of_every_aggregation_strategy_are_ordered_spans_of_the_text(strategy, texts):
    out = _signature("token_classification", _tiny(kbs.BertForTokenClassification, id2label=NER),
                     aggregation_strategy=strategy)(text=tf.constant(texts, tf.string))
    labels = set(NER.values()) - {"O"} if strategy == "none" else {"PER", "LOC", "MISC"}
    for row, text in enumerate(texts):
        n = int(out["num_entities"][row])
        spans = list(zip(out["entity_start"][row][:n].tolist(), out["entity_end"][row][:n].tolist()))
        assert [t.decode() for t in out["entity_text"][row][:n]] == [text[s:e] for s, e in spans]
        assert all(0 <= s < e <= len(text) for s, e in spans)
        assert all(e <= s2 for (_, e), (s2, _) in zip(spans, spans[1:]))  # ordered, not overlapping
        assert {label.decode() for label in out["entity_label"][row][:n]} <= labels
        assert all(0.0 < score <= 1.0 for score in out["entity_score"][row][:n])
        if strategy == "none":  # one entity per token not labelled O
            assert n == sum(label not in (b"", b"O") for label in out["token_labels"][row])


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([None, "softmax", "sigmoid", "none"]), st.sampled_from([None, 1, 2, 5]),
       st.lists(_TEXT, max_size=4))
def test_classification_top_k_is_sorted_and_agrees_with_label(function_to_apply, top_k, texts):
    names = {0: "a", 1: "b", 2: "c"}
    out = _signature("sequence_classification", _tiny(kbs.BertForSequenceClassification, id2label=names),
                     function_to_apply=function_to_apply, top_k=top_k)(text=tf.constant(texts, tf.string))
    k = min(top_k or 1, 3)
    assert out["top_scores"].shape == out["top_labels"].shape == (len(texts), k)
    for row in range(len(texts)):
        scores = out["top_scores"][row]
        assert (np.diff(scores) <= 0).all() and scores[0] == out["probabilities"][row].max() == out["score"][row]
        assert out["top_labels"][row][0] == out["label"][row]
        if function_to_apply in (None, "softmax"):
            assert abs(out["probabilities"][row].sum() - 1) < 1e-5


@settings(max_examples=30, deadline=None)
@given(st.booleans(), st.booleans(), st.sampled_from([None, 1, 3]),
       st.lists(st.tuples(st.lists(_WORDS, max_size=6).map(" ".join), st.lists(_WORDS, max_size=40).map(" ".join)),
                max_size=4))
def test_qa_pipeline_rules_answer_spans_of_the_context(align_to_words, handle_impossible_answer, top_k, rows):
    fn = _signature("question_answering", _tiny(kbs.BertForQuestionAnswering), doc_stride=8,
                    align_to_words=align_to_words, handle_impossible_answer=handle_impossible_answer, top_k=top_k)
    out = fn(question=tf.constant([q for q, _ in rows], tf.string), context=tf.constant([c for _, c in rows],
                                                                                       tf.string))
    k = top_k or 1
    assert out["top_answers"].shape == out["top_starts"].shape == out["top_scores"].shape == (len(rows), k)
    tokenize = BertTokenizer.from_pretrained(minilm_folder()).tokenize
    for i, (question, context) in enumerate(rows):
        n = int(out["num_answers"][i])
        found = list(zip((a.decode() for a in out["top_answers"][i]), out["top_starts"][i].tolist(),
                         out["top_ends"][i].tolist(), out["top_scores"][i].tolist()))
        assert found[0] == (out["answer"][i].decode(), int(out["start"][i]), int(out["end"][i]), out["score"][i])
        assert found[n:] == [("", -1, -1, 0.0)] * (k - n)  # padding past the answers
        if not tokenize(question) or not tokenize(context):
            assert n == 0
            continue
        assert 1 <= n <= k
        scores = [score for *_, score in found[:n]]
        assert all(a >= b for a, b in zip(scores, scores[1:])) and all(score > 0.0 for score in scores)
        texts = [answer.lower() for answer, *_ in found[:n]]
        assert len(set(texts)) == n  # equal texts are one answer (their scores added)
        for answer, start, end, score in found[:n]:
            if handle_impossible_answer and (start, end) == (0, 0):
                assert answer == "" and score <= 1.0
            else:
                assert 0 <= start < end <= len(context) and answer == context[start:end]


_BLOBS = st.lists(st.one_of(st.binary(max_size=24), st.sampled_from([b"", b"Paris", b"\xff\xfe", b"caf\xc3"])),
                  min_size=0, max_size=4)


def _bad_rows(blobs):
    bad = []
    for i, b in enumerate(blobs):
        try:
            b.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(i)
    return bad


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, 3]), st.booleans(), _BLOBS, st.data())
def test_qa_top_k_bytes_answer_or_name_the_bad_rows(top_k, handle_impossible_answer, contexts, data):
    """Empty batches, empty strings and invalid UTF-8 (in the question or the context) under top_k: answers of
    the right shape, or InvalidArgumentError naming the bad rows; never a crash."""
    questions = data.draw(st.lists(st.sampled_from([b"", b"where ?", b"\xc3(", b"who \xe2\x82"]),
                                   min_size=len(contexts), max_size=len(contexts)))
    fn = _signature("question_answering", _tiny(kbs.BertForQuestionAnswering), doc_stride=8, top_k=top_k,
                    handle_impossible_answer=handle_impossible_answer)
    bad = sorted(set(_bad_rows(questions)) | set(_bad_rows(contexts)))
    request = dict(question=tf.constant(questions, tf.string), context=tf.constant(contexts, tf.string))
    if not bad:
        out = fn(**request)
        assert out["top_answers"].shape == (len(contexts), top_k) and out["num_answers"].shape == (len(contexts),)
        return
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        fn(**request)
    assert "invalid UTF-8 in input rows" in err.value.message
    rows = set(_bad_rows(questions)) if _bad_rows(questions) else set(_bad_rows(contexts))
    assert ", ".join(map(str, sorted(rows))) in err.value.message


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["none", "simple", "first", "average", "max"]), _BLOBS)
def test_every_aggregation_strategy_answers_or_names_the_bad_rows(strategy, blobs):
    fn = _signature("token_classification", _tiny(kbs.BertForTokenClassification, id2label=NER),
                    aggregation_strategy=strategy)
    bad = _bad_rows(blobs)
    if not bad:
        out = fn(text=tf.constant(blobs, tf.string))
        assert out["num_entities"].shape == (len(blobs),)
        assert out["entity_text"].shape[0] == len(blobs)
        return
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        fn(text=tf.constant(blobs, tf.string))
    assert "invalid UTF-8 in input rows" in err.value.message and ", ".join(map(str, bad)) in err.value.message
