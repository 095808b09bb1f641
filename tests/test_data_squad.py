"""SQuAD features on real dev examples: answer positions map back to the gold text (directly and through the
shared logits -> answer code of the SavedModel), unanswerable examples and windows without the answer point at
[CLS], and `predict_answers` runs a model end to end."""

import numpy as np
import pytest
import tensorflow as tf

import keras_bert_suite as kbs
from data_helpers import numpy_batches, shared, tokenizers
from keras_bert_suite.data import predict_answers, read_squad, squad_dataset, squad_examples
from keras_bert_suite.export import postprocess
from keras_bert_suite.export.windows import answer_positions, qa_features


@pytest.fixture(scope="module")
def toks():
    return tokenizers()


@pytest.fixture(scope="module")
def dev():
    return read_squad(shared("squad", "dev-v1.1.json"), limit=1500)


def _features(ds):
    out = []
    for b in numpy_batches(ds):
        for i in range(len(b["start_positions"])):
            out.append({k: v[i] for k, v in b.items()})
    return out


def test_read_squad(dev):
    assert len(dev["id"]) == 1500 and dev["answers"][0][0] == "Denver Broncos"
    ex = squad_examples(dev)
    assert ex["answer_start"][0] == dev["context"][0].index("Denver Broncos")


@pytest.mark.parametrize("max_length,doc_stride", [(384, 128), (96, 40)])
def test_positions_round_trip_on_real_dev(toks, dev, max_length, doc_stride):
    """Every feature's positions give back the gold text, or, when the gold span starts or ends inside a word
    piece (a few SQuAD answers do), the smallest token span that covers it; every example whose answer fits a
    window gets a feature with the answer."""
    _, graph = toks
    ex = squad_examples(dev)
    feats = _features(squad_dataset(ex, graph, max_length=max_length, doc_stride=doc_stride, batch_size=128,
                                    return_meta=True))
    found, exact, windows = set(), 0, {}
    for f in feats:
        j, s, e = f["example_index"], f["start_positions"], f["end_positions"]
        ctx = f["char_start"] >= 0
        context, a_s = ex["context"][j], ex["answer_start"][j]
        a_e = a_s + len(ex["answer_text"][j])
        fits = f["char_start"][ctx].min() <= a_s and a_e <= f["char_end"][ctx].max()
        windows[j] = windows.get(j, False) or fits
        if s == 0:
            assert e == 0 and not fits, (j, context[a_s:a_e])
            continue
        assert fits and s <= e
        found.add(j)
        text = context[f["char_start"][s]:f["char_end"][e]]
        if text == ex["answer_text"][j]:
            exact += 1
            continue
        # gold boundary inside a piece: the span covers it and is the smallest that does
        assert f["char_start"][s] <= a_s < f["char_end"][s] or context[f["char_start"][s - 1]:a_s].isspace()
        assert f["char_start"][e] < a_e <= f["char_end"][e]
    assert found == {j for j, fits in windows.items() if fits}
    assert exact >= 0.97 * sum(1 for f in feats if f["start_positions"] > 0)
    if max_length == 384:
        assert len(found) == len(ex["context"])  # SQuAD dev answers all fit a 384-token window
    else:
        assert len(feats) > 2 * len(ex["context"])  # many windows per example


def test_one_hot_logits_give_gold_text_through_postprocess(toks, dev):
    """positions -> one-hot logits -> `postprocess.answers` (the SavedModel's code) -> the gold text."""
    _, graph = toks
    ex = {k: v[:200] for k, v in squad_examples(dev).items()}
    q, c = tf.constant(ex["question"]), tf.constant(ex["context"])
    feats = qa_features(graph, q, c, max_length=128, doc_stride=48)
    starts = tf.constant(ex["answer_start"])
    ends = starts + tf.strings.length(tf.constant(ex["answer_text"]), unit="UTF8_CHAR")
    s, e = answer_positions(feats, starts, ends)
    length = feats["input_ids"].shape[1]
    logits = lambda p: tf.where(tf.logical_and(p[:, None] == tf.range(length)[None], p[:, None] > 0), 10.0, 0.0)
    out = postprocess.answers(logits(s), logits(e), feats, c, max_answer_tokens=64)
    has = tf.math.unsorted_segment_max(tf.cast(s > 0, tf.int32), feats["example_ids"], 200).numpy()
    texts = [t.decode() for t in out["answer"].numpy()]
    checked = 0
    for j in np.flatnonzero(has):
        gold = ex["answer_text"][j]
        a_s = ex["answer_start"][j]
        assert out["start"].numpy()[j] <= a_s and gold in texts[j] or texts[j] == gold
        checked += texts[j] == gold
    assert checked >= 0.95 * has.sum()  # the rest: gold boundaries inside a word piece and has.sum() > 150


def test_unanswerable_points_at_cls(toks):
    _, graph = toks
    ex = {"question": ["Who?", "Who?"], "context": ["Nobody came here.", "Ann came here."],
          "answer_text": ["", "Ann"], "answer_start": [-1, 0]}
    f = _features(squad_dataset(ex, graph, batch_size=4))
    assert [(x["start_positions"], x["end_positions"]) for x in f] == [(0, 0), (4, 4)]


@pytest.mark.jax  # a JAX model answers through the same pipeline
def test_predict_answers_runs_a_model(toks, dev):
    python, graph = toks
    model = kbs.BertForQuestionAnswering(kbs.BertConfig(
        vocab_size=len(python.vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, num_labels=2))
    examples = {"question": dev["question"][:5], "context": dev["context"][:5]}
    answers = predict_answers(model, graph, examples, max_length=64, doc_stride=16, batch_size=2)
    assert len(answers) == 5
    for a, context in zip(answers, examples["context"]):
        assert a and a in context
    v2 = predict_answers(model, graph, examples, max_length=64, doc_stride=16, batch_size=5, version_2=True,
                         null_threshold=-1e9)
    assert v2 == [""] * 5
