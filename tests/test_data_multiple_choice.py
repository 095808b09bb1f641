"""Multiple-choice loaders on the real SWAG sample and PIQA lines: [batch, choices, length] pairs."""

import json

import pytest

from data_helpers import head_lines, numpy_batches, shared, tokenizers
from keras_bert_suite.data import load_multiple_choice_file, multiple_choice_dataset, multiple_choice_examples


@pytest.fixture(scope="module")
def toks():
    return tokenizers()


def test_swag_pairs(toks):
    python, graph = toks
    path = shared("multiple_choice", "swag_sample", "sample.json")
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    batches = numpy_batches(load_multiple_choice_file(path, graph, batch_size=4, max_length=64))
    assert [b["input_ids"].shape[:2] for b in batches] == [(4, 4), (4, 4), (2, 4)]
    first = batches[0]
    assert first["labels"].tolist() == [r["label"] for r in rows[:4]]
    r = rows[0]
    for c in range(4):
        expected = python(r["sent1"], f"{r['sent2']} {r[f'ending{c}']}", truncation=True, max_length=64)
        n = len(expected["input_ids"])
        assert first["input_ids"][0, c, :n].tolist() == expected["input_ids"]
        assert first["token_type_ids"][0, c, :n].tolist() == expected["token_type_ids"]
        assert not first["attention_mask"][0, c, n:].any()


def test_piqa_with_labels_file_and_buckets(toks, tmp_path):
    _, graph = toks
    jsonl, labels = tmp_path / "valid.jsonl", tmp_path / "valid-labels.lst"
    jsonl.write_text("".join(head_lines(shared("multiple_choice", "piqa", "valid.jsonl"), 12)), encoding="utf-8")
    labels.write_text("".join(head_lines(shared("multiple_choice", "piqa", "valid-labels.lst"), 12)))
    ds = load_multiple_choice_file(jsonl, graph, preset="piqa", labels_path=labels, batch_size=4, max_length=64,
                                   bucket_boundaries=[32])
    batches = numpy_batches(ds)
    assert sum(len(b["labels"]) for b in batches) == 12
    assert {b["input_ids"].shape[1:] for b in batches} <= {(2, 32), (2, 64)}
    assert sorted(l for b in batches for l in b["labels"].tolist()) == \
        sorted(int(x) for x in labels.read_text().split())


def test_columns_by_name():
    cols = {"q": ["Where?"], "a": ["here"], "b": ["there"], "y": ["1"]}
    ex = multiple_choice_examples(cols, preset=None, first_column="q", choice_columns=["a", "b"], label_column="y")
    assert ex == {"first": ["Where?"], "second": [["here", "there"]], "labels": [1]}
    with pytest.raises(ValueError, match="missing"):
        multiple_choice_examples(cols, preset="swag")


def test_dataset_from_lists(toks):
    _, graph = toks
    ds = multiple_choice_dataset({"first": ["a b", "c"], "second": [["x", "y z w"], ["u", "v"]], "labels": [1, 0]},
                                 graph, batch_size=2)
    b = numpy_batches(ds)[0]
    assert b["input_ids"].shape == (2, 2, 8) and b["labels"].tolist() == [1, 0]
