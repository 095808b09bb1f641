"""Evaluation metrics for fine-tuning, in NumPy / plain Python.

- `classification`: accuracy, F1, Matthews correlation, Pearson / Spearman; `glue_metrics(task, ...)`.
- `ner`: entity-level precision / recall / F1 with conlleval's (seqeval's default) chunking rules.
- `squad`: exact match and F1 with the official SQuAD normalization.

Example:
    >>> from keras_bert_suite.metrics import squad_metrics
    >>> squad_metrics(["the Broncos"], [["Denver Broncos"]])["f1"]
    66.66...
"""

from keras_bert_suite.metrics.classification import accuracy, f1, glue_metrics, matthews_corrcoef, pearson, spearman
from keras_bert_suite.metrics.ner import align_predictions, entity_scores, get_entities
from keras_bert_suite.metrics.squad import normalize_answer, squad_metrics

__all__ = [
    "accuracy", "align_predictions", "entity_scores", "f1", "get_entities", "glue_metrics", "matthews_corrcoef",
    "normalize_answer", "pearson", "spearman", "squad_metrics",
]
