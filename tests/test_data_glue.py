"""GLUE loaders on real SST-2 / QNLI lines: ids equal the Python tokenizer's, labels, pairs, length buckets."""

import numpy as np
import pytest
import tensorflow as tf

from data_helpers import head_lines, numpy_batches, shared, tokenizers
from keras_bert_suite.data import bucketing, classification_examples, load_glue_file, read_table


@pytest.fixture(scope="module")
def toks():
    return tokenizers()


@pytest.mark.jax  # the data pipelines run unchanged under JAX
def test_sst2_ids_and_labels_match_python_tokenizer(toks, tmp_path):
    python, graph = toks
    path = tmp_path / "dev.tsv"
    path.write_text("".join(head_lines(shared("sst2", "dev.tsv"), 13)), encoding="utf-8")
    cols = read_table(path)
    ds = load_glue_file(path, graph, task="sst2", batch_size=5, max_length=24)
    batches = numpy_batches(ds)
    assert [len(b["labels"]) for b in batches] == [5, 5, 2]
    ids = np.concatenate([np.pad(b["input_ids"], [(0, 0), (0, 24 - b["input_ids"].shape[1])]) for b in batches])
    labels = np.concatenate([b["labels"] for b in batches])
    assert labels.tolist() == [int(v) for v in cols["label"]]
    for row, text in zip(ids, cols["sentence"]):
        expected = python(text, truncation=True, max_length=24)["input_ids"]
        assert row[:len(expected)].tolist() == expected and not row[len(expected):].any()
    for b in batches:
        assert (b["attention_mask"] == (b["input_ids"] != 0)).all() and b["labels"].dtype == np.int32


def test_train_header_text_column_and_pairs(toks, tmp_path):
    python, graph = toks
    train = tmp_path / "train.tsv"
    train.write_text("".join(head_lines(shared("sst2", "train.tsv"), 5)), encoding="utf-8")
    assert classification_examples(read_table(train), "sst2")["text"][0].startswith("hide new secretions")
    qnli = tmp_path / "qnli.tsv"
    qnli.write_text("".join(head_lines(shared("qnli", "dev.tsv"), 5)), encoding="utf-8")
    cols = read_table(qnli)
    batch = next(iter(load_glue_file(qnli, graph, task="qnli", batch_size=4, max_length=64)))
    assert batch["labels"].numpy().tolist() == [["entailment", "not_entailment"].index(v) for v in cols["label"]]
    expected = python(cols["question"][0], cols["sentence"][0], truncation=True, max_length=64)
    n = len(expected["input_ids"])
    assert batch["input_ids"][0, :n].numpy().tolist() == expected["input_ids"]
    assert batch["token_type_ids"][0, :n].numpy().tolist() == expected["token_type_ids"]


def test_buckets_have_static_shapes(toks, tmp_path):
    _, graph = toks
    path = tmp_path / "dev.tsv"
    path.write_text("".join(head_lines(shared("sst2", "dev.tsv"), 41)), encoding="utf-8")
    ds = load_glue_file(path, graph, task="sst2", batch_size=4, max_length=48, bucket_boundaries=[16, 32],
                        drop_remainder=True)
    seen = set()
    for b in ds:
        length = b["input_ids"].shape[1]
        assert length in (16, 32, 48) and b["input_ids"].shape[0] == 4
        n = b["attention_mask"].numpy().sum(1)
        assert (n <= length).all()
        lower = {16: 0, 32: 16, 48: 32}[length]
        assert (n > lower).all(), (length, n)
        seen.add(length)
    assert len(seen) >= 2
    fixed = load_glue_file(path, graph, task="sst2", batch_size=8, max_length=48, pad_to_max_length=True)
    assert {b["input_ids"].shape[1] for b in fixed} == {48}


def test_bucket_lengths_and_padding_values():
    assert bucketing.bucket_lengths(128, [64, 32, 500]) == [32, 64, 128]
    rows = tf.data.Dataset.from_generator(
        lambda: iter([{"input_ids": np.arange(1, n + 1, dtype="int32"), "labels": np.full(n, 3, "int32")}
                      for n in (3, 9, 2)]),
        output_signature={"input_ids": tf.TensorSpec([None], tf.int32), "labels": tf.TensorSpec([None], tf.int32)})
    out = numpy_batches(bucketing.batch_examples(rows, 2, max_length=12, bucket_boundaries=[4]))
    shapes = sorted(b["input_ids"].shape for b in out)
    assert shapes == [(1, 12), (2, 4)]
    small = [b for b in out if b["input_ids"].shape == (2, 4)][0]
    assert small["labels"].tolist() == [[3, 3, 3, -100], [3, 3, -100, -100]]
