"""Entity-level precision, recall and F1 for IOB tag sequences, with the chunking rules of conlleval (those of
seqeval's default mode): an entity starts at a B- (or S-) tag, at an I- (or E-) tag after O or after another
type, and ends where the next tag does not continue it. Sequences of sentences are scored as one stream with an
"O" between sentences. Tags are "O" or PREFIX-TYPE (prefixes B, I, E, S).

Example:
    >>> entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-ORG"]])["f1"]
    0.5
"""

from collections import defaultdict


def _split(tag):
    if tag in ("O", "", None):
        return "O", ""
    return tag[0], tag[1:].split("-", 1)[-1]


# (previous prefix, current prefix) pairs that end / start a chunk whatever the types.
_ENDS = {("E", "*"), ("S", "*"), ("B", "B"), ("B", "S"), ("B", "O"), ("I", "B"), ("I", "S"), ("I", "O")}
_STARTS = {("*", "B"), ("*", "S"), ("E", "E"), ("E", "I"), ("S", "E"), ("S", "I"), ("O", "E"), ("O", "I")}


def _ends(prev, cur, prev_type, cur_type):
    return (prev, "*") in _ENDS or (prev, cur) in _ENDS or (prev != "O" and prev_type != cur_type)


def _starts(prev, cur, prev_type, cur_type):
    return ("*", cur) in _STARTS or (prev, cur) in _STARTS or (cur != "O" and prev_type != cur_type)


def get_entities(tags):
    """Entities of a tag sequence (or a list of sequences, joined with "O"): [(type, first, last)], inclusive
    indices into the joined stream."""
    if tags and isinstance(tags[0], (list, tuple)):
        tags = [t for sentence in tags for t in list(sentence) + ["O"]]
    entities, prev, prev_type, begin = [], "O", "", 0
    for i, tag in enumerate(list(tags) + ["O"]):
        cur, cur_type = _split(tag)
        if _ends(prev, cur, prev_type, cur_type):
            entities.append((prev_type, begin, i - 1))
        if _starts(prev, cur, prev_type, cur_type):
            begin = i
        prev, prev_type = cur, cur_type
    return entities


def _prf(tp, n_pred, n_true):
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_true if n_true else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def entity_scores(true_tags, pred_tags):
    """Micro precision / recall / F1 over entities (type and span must both match) and the same per type.

    Args: true_tags, pred_tags: lists of tag sequences (lists of strings) of equal lengths.
    Returns: {"precision", "recall", "f1", "number", "per_type": {type: {...}}}.
    """
    if len(true_tags) != len(pred_tags) or any(len(a) != len(b) for a, b in zip(true_tags, pred_tags)):
        raise ValueError("true and predicted tag sequences differ in length")
    gold, pred = set(get_entities(true_tags)), set(get_entities(pred_tags))
    out = dict(zip(("precision", "recall", "f1"), _prf(len(gold & pred), len(pred), len(gold))))
    out["number"] = len(gold)
    counts = defaultdict(lambda: [0, 0, 0])
    for e in gold:
        counts[e[0]][2] += 1
    for e in pred:
        counts[e[0]][1] += 1
        counts[e[0]][0] += e in gold
    out["per_type"] = {t: {**dict(zip(("precision", "recall", "f1"), _prf(*c))), "number": c[2]}
                       for t, c in sorted(counts.items())}
    return out


def align_predictions(logits_or_ids, labels, id2label):
    """Token-level model output -> word-level tag sequences, keeping the positions whose label is not -100
    (the first word piece of each word). Returns (true_tags, pred_tags), lists of lists of strings.

    logits_or_ids: [batch, length, labels] scores or [batch, length] ids; labels: [batch, length] with -100."""
    import numpy as np

    pred = np.asarray(logits_or_ids)
    if pred.ndim == 3:
        pred = pred.argmax(-1)
    labels = np.asarray(labels)
    true_tags, pred_tags = [], []
    for p_row, l_row in zip(pred, labels):
        keep = l_row != -100
        true_tags.append([id2label[int(i)] for i in l_row[keep]])
        pred_tags.append([id2label[int(i)] for i in p_row[keep]])
    return true_tags, pred_tags
