"""A batch with enough text outside plain ASCII is tokenized in parts side by side (`GraphTokenizer.tokenize`:
`graph.PART_BYTES` of such text per part, at most `graph.MAX_PARTS`): the parts give exactly what one part
gives, in the batch's order, whatever the mix of ASCII, other and empty rows; plain ASCII text alone is not cut;
and invalid UTF-8 anywhere still names every invalid row by its number in the whole batch."""

import random
import re

import pytest
import tensorflow as tf

from helpers import TINY
from tokenizer_corpus import corpus, folder

from keras_bert_suite.tokenizers import TFBertTokenizer, graph


@pytest.fixture(scope="module")
def tokenizer():
    return TFBertTokenizer.from_pretrained(folder("minilm")).graph_tokenizer


def _rows(tokenizer, n_bytes, seed=0):
    """Rows of the test corpus (ASCII, multilingual, odd strings) and empty ones, shuffled, until the rows that
    are not plain ASCII (the ones that count towards parts) hold `n_bytes`."""
    rng = random.Random(seed)
    pool = list(corpus()) + ["", "plain ascii words, and punctuation."]
    plain = re.compile(tokenizer.ascii_pattern.encode())
    out, size = [], 0
    while size < n_bytes:
        row = rng.choice(pool).encode("utf-8")
        out.append(row)
        size += 0 if plain.fullmatch(row) else len(row)
    return out


@pytest.mark.parametrize("parts,n_bytes", [(1, graph.PART_BYTES + 2000), (2, 2 * graph.PART_BYTES + 2000),
                                           (3, 3 * graph.PART_BYTES + 2000),
                                           (graph.MAX_PARTS, (graph.MAX_PARTS + 2) * graph.PART_BYTES)])
def test_parts_equal_one_part(tokenizer, parts, n_bytes, monkeypatch):
    rows = _rows(tokenizer, n_bytes, seed=parts)
    texts = tf.constant(rows)
    one_part = tokenizer.tokenize_rows
    calls = []
    monkeypatch.setattr(tokenizer, "tokenize_rows", lambda *a, **k: calls.append(1) or one_part(*a, **k))
    for with_offsets in (True, False):
        whole = one_part(texts, with_offsets)
        calls.clear()
        cut = tokenizer.tokenize(texts, with_offsets)  # eager: one call per part (a traced graph makes one)
        assert len(calls) == parts
        for a, b in zip(whole, cut):
            if a is None:
                assert b is None
            else:
                assert a.to_list() == b.to_list()
    traced = tf.function(lambda t: tokenizer.tokenize(t)[0])  # and the graph the layers run
    assert traced(texts).to_list() == whole[0].to_list()


def test_plain_ascii_rows_are_not_cut(tokenizer, monkeypatch):
    rows = [b"plain ascii words, and punctuation."] * (4 * graph.PART_BYTES // 35)
    one_part = tokenizer.tokenize_rows
    calls = []
    monkeypatch.setattr(tokenizer, "tokenize_rows", lambda *a, **k: calls.append(1) or one_part(*a, **k))
    tokenizer.tokenize(tf.constant(rows))
    assert len(calls) == 1


def test_invalid_rows_of_the_whole_batch_named(tokenizer):
    rows = _rows(tokenizer, graph.MAX_PARTS * graph.PART_BYTES + 5000, seed=7)
    bad = [3, len(rows) // 2, len(rows) - 2]  # in the first, a middle and the last part
    for i, junk in zip(bad, (b"\xff", b"\xc3(", b"\xed\xa0\x80")):
        rows[i] = b"text " + junk + b" more"
    rows[5] = "a real \ufffd is valid".encode("utf-8")
    named = ", ".join(map(str, bad))
    pattern = r"invalid UTF-8 in input rows:\W[^0-9]*\b" + re.escape(named) + r"\b"
    with pytest.raises(tf.errors.InvalidArgumentError, match=pattern):
        tokenizer.tokenize(tf.constant(rows))


@pytest.mark.slow
def test_layer_setting_and_exports_without_parts(tokenizer, monkeypatch, tmp_path):
    """`split_large_batches=False` gives the same inputs from one part; it survives the config; a SavedModel
    export never builds the parts (its tokenizer graph calls `tokenize_rows` only)."""
    import keras_bert_suite as kbs
    from keras_bert_suite.export import export_saved_model
    from keras_bert_suite.tokenizers import BertTokenizer

    layer = TFBertTokenizer.from_pretrained(folder("minilm"), return_offsets_mapping=True)
    whole = layer.with_settings(split_large_batches=False)
    assert whole.get_config()["split_large_batches"] is False and layer.get_config()["split_large_batches"]
    texts = tf.constant(_rows(tokenizer, 3 * graph.PART_BYTES, seed=3))
    a, b = layer(texts), whole(texts)
    assert all((a[k].numpy() == b[k].numpy()).all() for k in a)

    def refused(*args, **kwargs):
        raise AssertionError("an export built the tokenizer's parts")

    monkeypatch.setattr(graph.GraphTokenizer, "tokenize", refused)
    python = BertTokenizer.from_pretrained(folder("minilm"))
    config = kbs.BertConfig(**{**TINY, "vocab_size": python.vocab_size})
    path = export_saved_model(kbs.BertForSequenceClassification(config), python, str(tmp_path), max_length=16,
                              warmup=False)
    out = tf.saved_model.load(path).signatures["serving_default"](text=texts[:3])
    assert out["label"].shape == (3,)
