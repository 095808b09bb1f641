"""NER loader on real CoNLL-2003 sentences: each word's tag sits on its first word piece, the other pieces are
-100 (or carry the I- tag with label_all_tokens), word_ids point back to the words."""

import numpy as np
import pytest

from data_helpers import numpy_batches, shared, tokenizers
from keras_bert_suite.data import CONLL2003_LABELS, conll_labels, load_conll_file, ner_dataset, read_conll


@pytest.fixture(scope="module")
def toks():
    return tokenizers()


@pytest.fixture(scope="module")
def sentences():
    return read_conll(shared("conll2003", "valid.txt"), limit=40)


def _rows(ds):
    out = []
    for b in numpy_batches(ds):
        for i in range(len(b["input_ids"])):
            n = b["attention_mask"][i].sum()
            out.append({k: v[i] for k, v in b.items()} | {"n": n})
    return out


def test_read_conll(sentences):
    assert sentences["tokens"][0][:3] == ["CRICKET", "-", "LEICESTERSHIRE"]
    assert sentences["tags"][0][:3] == ["O", "O", "B-ORG"]
    assert len(sentences["tokens"]) == 40
    assert set(conll_labels(sentences["tags"])) <= set(CONLL2003_LABELS) and conll_labels([["I-X", "B-X"]]) == \
        ["O", "B-X", "I-X"]


def test_labels_on_first_piece(toks, sentences):
    python, graph = toks
    ds = load_conll_file(shared("conll2003", "valid.txt"), graph, limit=40, batch_size=8, max_length=64,
                         return_word_ids=True)
    rows = _rows(ds)
    assert len(rows) == 40
    for row, words, tags in zip(rows, sentences["tokens"], sentences["tags"]):
        n = row["n"]
        pieces = [python.tokenize(w) for w in words]
        expected_ids = [python.cls_token_id] + python.convert_tokens_to_ids([p for ps in pieces for p in ps])
        expected_ids = expected_ids[:63] + [python.sep_token_id]
        assert row["input_ids"][:n].tolist() == expected_ids
        word_ids, labels = row["word_ids"][:n], row["labels"][:n]
        assert word_ids[0] == word_ids[-1] == -1 and labels[0] == labels[-1] == -100
        assert (row["labels"][n:] == -100).all() and (row["word_ids"][n:] == -1).all()
        for k in range(1, n - 1):
            w = word_ids[k]
            first = k == 1 or word_ids[k - 1] != w
            assert labels[k] == (CONLL2003_LABELS.index(tags[w]) if first else -100)
        # every word of the (uncut) sentence appears, in order
        assert sorted(set(word_ids[1:n - 1].tolist())) == list(range(max(word_ids) + 1))


def test_label_all_tokens_turns_b_into_i(toks):
    _, graph = toks
    examples = {"tokens": [["Wuppertaler", "beat", "Kaczmarek"]],
                "tags": [[CONLL2003_LABELS.index("B-ORG"), 0, CONLL2003_LABELS.index("B-ORG")]]}
    row = _rows(ner_dataset(examples, graph, label_all_tokens=True, batch_size=1, return_word_ids=True))[0]
    b_org, i_org = CONLL2003_LABELS.index("B-ORG"), CONLL2003_LABELS.index("I-ORG")
    n, words = row["n"], row["word_ids"]
    labels = row["labels"][:n]
    assert labels[0] == labels[-1] == -100
    for k in range(1, n - 1):
        first = words[k] != words[k - 1]
        assert labels[k] == ([b_org, 0, b_org][words[k]] if first else [i_org, 0, i_org][words[k]])
    assert (np.diff(words[1:n - 1]) >= 0).all() and n - 2 > 3  # the names split into several pieces


def test_truncation_and_empty_words(toks):
    _, graph = toks
    examples = {"tokens": [["a"] * 50, ["\u200b", "x"]], "tags": [[1] * 50, [1, 2]]}
    rows = _rows(ner_dataset(examples, graph, max_length=10, batch_size=2, return_word_ids=True))
    assert rows[0]["n"] == 10 and rows[0]["labels"][1:9].tolist() == [1] * 8
    # a word with no pieces (zero-width space) is dropped with its label
    assert rows[1]["labels"][:rows[1]["n"]].tolist() == [-100, 2, -100]
    assert rows[1]["word_ids"][1] == 1
