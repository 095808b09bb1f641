"""Metrics: hand-checked values, the official SQuAD rules, and seqeval / scikit-learn / SciPy as references."""

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from keras_bert_suite.metrics import (
    accuracy, align_predictions, entity_scores, f1, get_entities, glue_metrics, matthews_corrcoef,
    normalize_answer, pearson, spearman, squad_metrics,
)
from keras_bert_suite.metrics import squad as squad_mod


# ----- GLUE -----
def test_classification_by_hand():
    p, y = [1, 0, 1, 1], [1, 1, 0, 1]
    assert accuracy(p, y) == 0.5
    assert f1(p, y) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # tp 2, fp 1, fn 1
    assert matthews_corrcoef([1, 1, 0, 0], [1, 1, 0, 0]) == 1.0
    assert matthews_corrcoef([1, 1, 0, 0], [0, 0, 1, 1]) == -1.0
    assert matthews_corrcoef([1, 1, 1, 1], [1, 0, 1, 0]) == 0.0  # undefined -> 0
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [1, 8, 27, 64]) == pytest.approx(1.0)
    assert glue_metrics("glue/stsb", [1, 2, 3], [3, 2, 1])["combined"] == pytest.approx(-1.0)
    assert set(glue_metrics("mrpc", p, y)) == {"accuracy", "f1"}
    assert set(glue_metrics("cola", p, y)) == {"matthews_correlation"}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=40))
def test_classification_against_sklearn(pairs):
    from sklearn import metrics as skm

    p, y = map(np.array, zip(*pairs))
    assert accuracy(p, y) == pytest.approx(skm.accuracy_score(y, p))
    assert matthews_corrcoef(p, y) == pytest.approx(skm.matthews_corrcoef(y, p), abs=1e-9)
    assert f1(p, y, average="macro") == pytest.approx(skm.f1_score(y, p, average="macro", zero_division=0))
    assert f1(p, y) == pytest.approx(skm.f1_score(y, p, labels=[1], average="macro", zero_division=0))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(-3, 3, allow_nan=False)), min_size=3, max_size=30))
@example([(0, 0.0), (0, 0.0), (1, 2.855400327098678e-286)])  # squares of the deviations underflow
@example([(1, 1e300), (2, -1e300), (3, 3e299)])  # squares of the deviations overflow
def test_correlations_against_scipy(pairs):
    from scipy import stats

    x, y = map(np.array, zip(*pairs))
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert pearson(x, y) == 0.0
        return
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-9)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-9)


# ----- NER -----
def test_entities_by_hand():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG", "O"]
    assert get_entities(tags) == [("PER", 0, 1), ("LOC", 3, 4), ("LOC", 5, 5), ("ORG", 6, 6)]
    # sentences are joined with "O": an entity never runs across sentences
    assert get_entities([["B-PER"], ["I-PER"]]) == [("PER", 0, 0), ("PER", 2, 2)]
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]
    s = entity_scores(gold, pred)
    assert (s["precision"], s["recall"], s["number"]) == (2 / 3, 2 / 3, 3)
    assert s["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "number": 1}
    assert s["per_type"]["PER"]["f1"] == 1.0
    assert entity_scores([["O"]], [["O"]])["f1"] == 0.0


def test_align_predictions_keeps_first_pieces():
    id2label = {0: "O", 1: "B-PER", 2: "I-PER"}
    labels = np.array([[-100, 1, -100, 2, 0, -100]])
    logits = np.eye(3)[[[0, 1, 1, 2, 1, 0]]]
    true, pred = align_predictions(logits, labels, id2label)
    assert true == [["B-PER", "I-PER", "O"]] and pred == [["B-PER", "I-PER", "B-PER"]]


_TAG = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-LOC", "S-PER", "I-MISC"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(_TAG, _TAG), min_size=1, max_size=12), min_size=1, max_size=4))
def test_ner_against_seqeval(sentences):
    seqeval = pytest.importorskip("seqeval.metrics")
    from seqeval.metrics.sequence_labeling import get_entities as ref_entities

    gold = [[a for a, _ in s] for s in sentences]
    pred = [[b for _, b in s] for s in sentences]
    assert sorted(get_entities(gold)) == sorted(ref_entities(gold))
    ours = entity_scores(gold, pred)
    assert ours["precision"] == pytest.approx(seqeval.precision_score(gold, pred, zero_division=0))
    assert ours["recall"] == pytest.approx(seqeval.recall_score(gold, pred, zero_division=0))
    assert ours["f1"] == pytest.approx(seqeval.f1_score(gold, pred, zero_division=0))


# ----- SQuAD -----
def _official_normalize(s):
    """The normalization of the official SQuAD v1.1 / v2.0 evaluation scripts, step by step."""
    import re
    import string

    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


@pytest.mark.parametrize("text,expected", [
    ("The Denver Broncos!", "denver broncos"),
    ("  an  Apple, a pear ", "apple pear"),
    ("Theatre", "theatre"),        # only whole words are articles
    ("A.B.C.", "abc"),
    ("$1,000", "1000"),
    ("", ""),
])
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected == _official_normalize(text)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abt hen.,!'A-", max_size=20))
def test_normalize_matches_official(text):
    assert normalize_answer(text) == _official_normalize(text)


def test_squad_scores_by_hand():
    assert squad_mod.f1("the cat sat", "a cat sat down") == pytest.approx(2 * (2 / 2) * (2 / 3) / (1 + 2 / 3))
    assert squad_mod.exact_match("The Broncos.", "broncos") == 1.0
    out = squad_metrics(["Denver Broncos", "Carolina", "nothing"], [["Broncos", "Denver Broncos"],
                                                                   ["Carolina Panthers"], ["x"]])
    assert out["exact_match"] == pytest.approx(100 / 3)
    assert out["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0) / 3)
    assert out["total"] == 3
    # SQuAD v2.0: no gold answer -> only "" is right (and what normalizes to "": "a" or "the")
    assert squad_metrics(["the"], [[]])["exact_match"] == 100.0
    assert squad_metrics(["", "b"], [[], []]) == {"exact_match": 50.0, "f1": 50.0, "total": 2}


def test_pearson_of_a_constant_series_is_zero():
    # found by hypothesis: the mean of three equal tiny floats rounds off, leaving a -7.9e-17 "correlation"
    assert pearson([0, 0, 1], [5.1416861e-111] * 3) == 0.0
