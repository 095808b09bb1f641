"""GLUE-style sequence classification: single sentences (SST-2, CoLA) and pairs (MRPC, QNLI, ...), from local
TSV / CSV / JSON lines files or from any dataset of {"text", "text_pair"?, "label"?} dicts.

Elements are dicts ready for `BertForSequenceClassification` compiled without a loss: input_ids,
attention_mask, token_type_ids [batch, length] int32 and labels [batch] (int32; float32 for regression tasks
such as STS-B). Rows without a label column give no `labels`.

Example:
    >>> from keras_bert_suite.tokenizers import BertTokenizer
    >>> tokenizer = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "great", "dull", "film",
    ...                                  "."])
    >>> with open("train.tsv", "w") as f:        # GLUE's SST-2 columns
    ...     _ = f.write("sentence\\tlabel\\na great film .\\t1\\na dull film .\\t0\\n")
    >>> ds = load_glue_file("train.tsv", tokenizer, task="sst2", batch_size=32, shuffle_buffer=10000)
    >>> batch = next(iter(ds))
    >>> batch["input_ids"].shape, sorted(batch["labels"].numpy().tolist())
    (TensorShape([2, 6]), [0, 1])
    >>> model = BertForSequenceClassification.from_pretrained(folder, num_labels=2)  # doctest: +SKIP
    >>> model.compile(optimizer="adam"); model.fit(ds)  # doctest: +SKIP
"""

import dataclasses

import tensorflow as tf

from keras_bert_suite.data import bucketing
from keras_bert_suite.data.files import read_table
from keras_bert_suite.data.pipeline import as_dataset, encode_in_chunks, encoder, graph_tokenizer, label_ids, trim


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """Columns and labels of a task. `text_columns` / `pair_columns`: accepted names of the first / second text
    column (the first one present is used); `labels`: names in id order (empty for regression)."""

    text_columns: tuple
    pair_columns: tuple = ()
    labels: tuple = ("0", "1")
    label_column: str = "label"
    metric: str = "accuracy"
    tfds_keys: tuple = ("sentence",)

    @property
    def is_regression(self):
        return not self.labels

    @property
    def num_labels(self):
        return len(self.labels) or 1


GLUE_TASKS = {
    "sst2": GlueTask(("sentence", "text"), labels=("negative", "positive")),
    "cola": GlueTask(("sentence", "text"), labels=("unacceptable", "acceptable"), metric="matthews"),
    "mrpc": GlueTask(("sentence1", "#1 String"), ("sentence2", "#2 String"), labels=("not_equivalent", "equivalent"),
                     label_column="label", metric="f1", tfds_keys=("sentence1", "sentence2")),
    "qqp": GlueTask(("question1",), ("question2",), labels=("not_duplicate", "duplicate"), label_column="is_duplicate",
                    metric="f1", tfds_keys=("question1", "question2")),
    "qnli": GlueTask(("question",), ("sentence",), labels=("entailment", "not_entailment"),
                     tfds_keys=("question", "sentence")),
    "rte": GlueTask(("sentence1",), ("sentence2",), labels=("entailment", "not_entailment"),
                    tfds_keys=("sentence1", "sentence2")),
    "wnli": GlueTask(("sentence1",), ("sentence2",), labels=("not_entailment", "entailment"),
                     tfds_keys=("sentence1", "sentence2")),
    "mnli": GlueTask(("sentence1", "premise"), ("sentence2", "hypothesis"),
                     labels=("entailment", "neutral", "contradiction"), label_column="gold_label",
                     tfds_keys=("premise", "hypothesis")),
    "stsb": GlueTask(("sentence1",), ("sentence2",), labels=(), label_column="score", metric="pearson_spearman",
                     tfds_keys=("sentence1", "sentence2")),
}


def glue_task(task):
    """A `GlueTask` by name ("sst2", "glue/mrpc", "SST-2") or the task itself."""
    if isinstance(task, GlueTask):
        return task
    name = task.split("/")[-1].lower().replace("-", "")
    if name not in GLUE_TASKS:
        raise ValueError(f"unknown GLUE task {task!r}; known: {sorted(GLUE_TASKS)} (or pass a GlueTask)")
    return GLUE_TASKS[name]


def _pick(columns, names, what, required=True):
    for name in names:
        if name in columns:
            return columns[name]
    if required:
        raise ValueError(f"no {what} column among {list(names)}; the file has {list(columns)}")
    return None


def classification_examples(columns, task="sst2", text_column=None, text_pair_column=None, label_column=None):
    """Columns of a file -> {"text", "text_pair"?, "labels"?} lists with label ids (floats for regression)."""
    task = glue_task(task)
    out = {"text": list(_pick(columns, (text_column,) if text_column else task.text_columns, "text"))}
    pair_names = (text_pair_column,) if text_pair_column else task.pair_columns
    if pair_names:
        out["text_pair"] = list(_pick(columns, pair_names, "text pair"))
    label_names = (label_column,) if label_column else (task.label_column, "label")
    labels = _pick(columns, label_names, "label", required=False)
    if labels is not None and all(v not in (None, "") for v in labels):
        out["labels"] = [float(v) for v in labels] if task.is_regression else label_ids(labels, task.labels)
    return out


def classification_dataset(examples, tokenizer, *, max_length=128, batch_size=32, regression=False,
                           chunk_size=256, **batching):
    """Tokenize {"text", "text_pair"?, "labels"?} examples in the graph and batch them.

    Args:
        examples: a `tf.data.Dataset` of such dicts, or a dict of lists.
        tokenizer: `TFBertTokenizer`, `BertTokenizer` or a model folder.
        max_length: longest sequence (pairs truncated longest-first).
        **batching: `bucketing.finish` options (shuffle_buffer, seed, repeat, bucket_boundaries,
            pad_to_max_length, drop_remainder).
    """
    tok = graph_tokenizer(tokenizer, max_length=max_length, truncation=True, padding="longest",
                          pad_to_multiple_of=None)
    ds = as_dataset(examples)
    pair = "text_pair" in ds.element_spec
    tokenize = encoder(tok, pair)

    def encode(batch):
        enc = tokenize(batch["text"], batch["text_pair"]) if pair else tokenize(batch["text"])
        lengths = tf.reduce_sum(enc["attention_mask"], axis=1)
        out = {k: trim(enc[k], lengths) for k in ("input_ids", "attention_mask", "token_type_ids")}
        if "labels" in batch:
            out["labels"] = tf.cast(batch["labels"], tf.float32 if regression else tf.int32)
        return out

    ds = encode_in_chunks(ds, encode, chunk_size)
    return bucketing.finish(ds, batch_size=batch_size, max_length=max_length, **batching)


def load_glue_file(path, tokenizer, task="sst2", *, text_column=None, text_pair_column=None, label_column=None,
                   limit=None, **options):
    """A GLUE TSV (or CSV / JSON lines with named columns) -> batched dataset (see `classification_dataset`)."""
    task = glue_task(task)
    columns = read_table(path, limit=limit)
    examples = classification_examples(columns, task, text_column, text_pair_column, label_column)
    return classification_dataset(examples, tokenizer, regression=task.is_regression, **options)
