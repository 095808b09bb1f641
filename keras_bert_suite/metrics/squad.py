"""SQuAD exact match and F1 with the official rules: answers are normalized (lower case, punctuation removed,
the articles a / an / the removed, whitespace collapsed), F1 is over the bag of normalized tokens, and each
prediction takes the best score over its gold answers. An example without gold answers (SQuAD v2.0
unanswerable) has the gold answer "", which only the empty prediction matches.

Example:
    >>> squad_metrics(["Denver Broncos"], [["Denver Broncos", "The Denver Broncos"]])
    {'exact_match': 100.0, 'f1': 100.0, 'total': 1}
"""

import collections
import re
import string

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text):
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction, gold):
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction, gold):
    pred, true = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not true:
        return float(pred == true)
    same = sum((collections.Counter(pred) & collections.Counter(true)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(true)
    return 2 * precision * recall / (precision + recall)


def best_over_golds(metric, prediction, golds):
    return max(metric(prediction, g) for g in (list(golds) or [""]))


def squad_metrics(predictions, references):
    """Mean exact match and F1 (in percent) of predicted texts against lists of gold texts."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    em = [best_over_golds(exact_match, p, g) for p, g in zip(predictions, references)]
    f = [best_over_golds(f1, p, g) for p, g in zip(predictions, references)]
    n = len(em)
    return {"exact_match": 100.0 * sum(em) / n if n else 0.0, "f1": 100.0 * sum(f) / n if n else 0.0, "total": n}
