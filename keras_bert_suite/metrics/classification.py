"""GLUE metrics in NumPy: accuracy, F1 (binary or macro), Matthews correlation, Pearson and Spearman.

Inputs are 1-D sequences of predicted and gold labels (ints; floats for the correlations). Values are in
[0, 1] (correlations in [-1, 1]); an undefined value (no positive prediction, constant input) is 0.

Example:
    >>> glue_metrics("mrpc", predictions=[1, 0, 1], labels=[1, 1, 1])
    {'accuracy': 0.666..., 'f1': 0.8}
"""

import numpy as np


def _pair(predictions, labels):
    p, y = np.asarray(predictions).reshape(-1), np.asarray(labels).reshape(-1)
    if p.shape != y.shape:
        raise ValueError(f"{p.size} predictions for {y.size} labels")
    return p, y


def accuracy(predictions, labels):
    p, y = _pair(predictions, labels)
    return float(np.mean(p == y)) if y.size else 0.0


def _f1(tp, fp, fn):
    return 0.0 if tp == 0 else 2.0 * tp / (2.0 * tp + fp + fn)


def f1(predictions, labels, average="binary", positive=1):
    """F1 of class `positive` (`average="binary"`) or the mean over the classes in either input ("macro")."""
    p, y = _pair(predictions, labels)
    if average == "binary":
        classes = [positive]
    elif average == "macro":
        classes = np.union1d(p, y)
    else:
        raise ValueError(f"average must be 'binary' or 'macro', got {average!r}")
    scores = [_f1(np.sum((p == c) & (y == c)), np.sum((p == c) & (y != c)), np.sum((p != c) & (y == c)))
              for c in classes]
    return float(np.mean(scores)) if scores else 0.0


def matthews_corrcoef(predictions, labels):
    """Matthews correlation (the multi-class form of Gorodkin, 2004; the usual one for two classes)."""
    p, y = _pair(predictions, labels)
    classes, idx = np.unique(np.concatenate([p, y]), return_inverse=True)
    k = len(classes)
    confusion = np.zeros((k, k), np.float64)
    np.add.at(confusion, (idx[p.size:], idx[:p.size]), 1)  # rows: gold, columns: predicted
    t, q = confusion.sum(axis=1), confusion.sum(axis=0)
    c, s = np.trace(confusion), confusion.sum()
    denom = np.sqrt((s * s - q @ q) * (s * s - t @ t))
    return float((c * s - t @ q) / denom) if denom else 0.0


def pearson(x, y):
    x, y = (np.asarray(v, np.float64).reshape(-1) for v in (x, y))
    if np.ptp(x) == 0 or np.ptp(y) == 0:  # undefined for a constant series (even when its mean rounds off)
        return 0.0
    # Centre, then scale each series by its largest magnitude: the correlation does not change,
    # and squares of very small (or very large) values no longer underflow (or overflow).
    x, y = x - x.mean(), y - y.mean()
    x, y = x / np.abs(x).max(), y / np.abs(y).max()
    denom = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / denom) if denom else 0.0


def rankdata(x):
    """Ranks from 1, ties sharing their mean rank."""
    x = np.asarray(x, np.float64).reshape(-1)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(x.size, np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], x.size]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b + 1) / 2.0
    return ranks


def spearman(x, y):
    return pearson(rankdata(x), rankdata(y))


def glue_metrics(task, predictions, labels):
    """The metrics GLUE reports for `task` ("sst2", "mrpc", "cola", "stsb", ...), as a dict."""
    name = task.split("/")[-1].lower().replace("-", "")
    if name == "stsb":
        r, rho = pearson(predictions, labels), spearman(predictions, labels)
        return {"pearson": r, "spearmanr": rho, "combined": (r + rho) / 2}
    if name == "cola":
        return {"matthews_correlation": matthews_corrcoef(predictions, labels)}
    out = {"accuracy": accuracy(predictions, labels)}
    if name in ("mrpc", "qqp"):
        out["f1"] = f1(predictions, labels)
    return out
