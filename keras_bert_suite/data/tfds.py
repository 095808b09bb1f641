"""Loaders over tensorflow-datasets (`pip install tensorflow-datasets`): `glue/<task>`, `conll2003` and
`squad` / `squad/v2.0`, read with `tfds.load(name, split=..., data_dir=...)` and encoded by the same code as the
local-file loaders (`glue`, `ner`, `squad`). Nothing is downloaded unless `download=True`: prepare the data once
with `tfds build` (or `download=True`) and point `data_dir` at it.

Example:
    >>> ds = load_tfds("glue/sst2", "train", tokenizer, data_dir="~/tensorflow_datasets", batch_size=32)
    >>> ds = load_tfds("conll2003", "train", tokenizer, data_dir=..., bucket_boundaries=[32, 64])
"""

import tensorflow as tf

from keras_bert_suite.data.glue import classification_dataset, glue_task
from keras_bert_suite.data.ner import CONLL2003_LABELS, ner_dataset
from keras_bert_suite.data.squad import squad_dataset


def _tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError("these loaders need tensorflow-datasets: pip install 'keras-bert-suite[data]'") from None
    return tfds


def raw(name, split, data_dir=None, download=False, shuffle_files=False):
    """The examples of a tensorflow-datasets dataset (dicts of tensors), as `tfds.load` gives them."""
    return _tfds().load(name, split=split, data_dir=data_dir, download=download, shuffle_files=shuffle_files)


def glue_examples(ds, task):
    """tfds GLUE examples -> {"text", "text_pair"?, "labels"} (test splits, label -1, keep -1)."""
    task = glue_task(task)
    keys = task.tfds_keys

    def convert(ex):
        out = {"text": ex[keys[0]]}
        if len(keys) > 1:
            out["text_pair"] = ex[keys[1]]
        out["labels"] = tf.cast(ex["label"], tf.float32 if task.is_regression else tf.int32)
        return out

    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)


def conll2003_examples(ds):
    """tfds conll2003 examples -> {"tokens", "tags"} (tags are already ids in `CONLL2003_LABELS` order)."""
    return ds.map(lambda ex: {"tokens": ex["tokens"], "tags": tf.cast(ex["ner"], tf.int32)},
                  num_parallel_calls=tf.data.AUTOTUNE)


def squad_examples(ds):
    """tfds squad examples -> {"id", "question", "context", "answer_text", "answer_start"} (first gold answer;
    "" and -1 when there is none or, for v2.0, the question is impossible)."""

    def convert(ex):
        texts, starts = ex["answers"]["text"], tf.cast(ex["answers"]["answer_start"], tf.int32)
        n = tf.minimum(tf.size(texts), tf.size(starts))
        has = n > 0
        if "is_impossible" in ex:
            has = tf.logical_and(has, tf.logical_not(ex["is_impossible"]))
        return {
            "id": ex["id"], "question": ex["question"], "context": ex["context"],
            "answer_text": tf.where(has, tf.concat([texts, [""]], 0)[0], ""),
            "answer_start": tf.where(has, tf.concat([starts, [-1]], 0)[0], -1),
        }

    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)


def load_tfds(name, split, tokenizer, *, data_dir=None, download=False, **options):
    """A batched dataset for `glue/<task>`, `conll2003` or `squad[/v1.1|/v2.0]` (options: those of
    `classification_dataset`, `ner_dataset` or `squad_dataset`)."""
    ds = raw(name, split, data_dir=data_dir, download=download)
    family = name.split("/")[0].split(":")[0]
    if family == "glue":
        task = glue_task(name.split(":")[0])
        return classification_dataset(glue_examples(ds, task), tokenizer, regression=task.is_regression, **options)
    if family == "conll2003":
        return ner_dataset(conll2003_examples(ds), tokenizer, label_names=CONLL2003_LABELS, **options)
    if family == "squad":
        return squad_dataset(squad_examples(ds), tokenizer, **options)
    raise ValueError(f"no loader for {name!r}; known: glue/<task>, conll2003, squad")
