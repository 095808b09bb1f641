"""Our three tokenizers against transformers' Python BertTokenizer (ids) and Rust BertTokenizerFast (offsets)."""

import numpy as np
import pytest
import tensorflow as tf

from tokenizer_corpus import SETTINGS, corpus, folder

from keras_bert_suite.tokenizers import BertTokenizer, BertTokenizerFast, TFBertTokenizer

transformers = pytest.importorskip("transformers")


# The MiniLM (uncased) vocabulary in the fast tier; the other vocabularies and settings with the slow tests.
@pytest.fixture(scope="module", params=[pytest.param(s, id=s[0], marks=() if s[0] == "uncased" else pytest.mark.slow)
                                        for s in SETTINGS])
def setting(request):
    name, path, extra = request.param
    path = folder(path)
    return {
        "ref": transformers.BertTokenizer.from_pretrained(path, **extra),
        "rust": transformers.BertTokenizerFast.from_pretrained(path, **extra),
        "python": BertTokenizer.from_pretrained(path, **extra),
        "fast": BertTokenizerFast.from_pretrained(path, **extra),
        "layer": TFBertTokenizer.from_pretrained(path, return_offsets_mapping=True, **extra),
    }


def _texts():
    return list(corpus())


def test_ids_single(setting):
    texts = _texts()
    expected = [setting["ref"](t)["input_ids"] for t in texts]
    assert [setting["python"](t)["input_ids"] for t in texts] == expected
    assert setting["fast"](texts)["input_ids"] == expected
    out = setting["layer"](tf.constant([t.encode("utf-8") for t in texts]))
    ids, mask = out["input_ids"].numpy(), out["attention_mask"].numpy()
    got = [row[m == 1].tolist() for row, m in zip(ids, mask)]
    assert got == expected


def test_tokens_match(setting):
    texts = _texts()[:200]
    for t in texts:
        assert setting["python"].tokenize(t) == setting["ref"].tokenize(t)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(padding=True),
        dict(padding="max_length", max_length=24, truncation=True),
        dict(padding=True, truncation="only_first", max_length=20, pad_to_multiple_of=4),
        dict(padding=True, truncation="only_second", max_length=20, padding_side="left"),
        dict(padding="longest", truncation="longest_first", max_length=17, return_special_tokens_mask=True),
    ],
)
def test_pairs_padding_truncation(setting, kwargs):
    texts = _texts()
    a, b = texts[0::2][:50], texts[1::2][:50]
    expected = dict(setting["ref"](a, b, **kwargs))
    assert dict(setting["python"](a, b, **kwargs)) == expected
    assert dict(setting["fast"](a, b, **kwargs)) == expected
    side = kwargs.get("padding_side", "right")
    layer_kwargs = dict(
        padding=kwargs["padding"] if kwargs["padding"] != True else "longest",  # noqa: E712
        max_length=kwargs.get("max_length"),
        truncation=kwargs.get("truncation", False),
        pad_to_multiple_of=kwargs.get("pad_to_multiple_of"),
        padding_side=side,
        return_special_tokens_mask=kwargs.get("return_special_tokens_mask", False),
    )
    layer = TFBertTokenizer.from_tokenizer(setting["python"], **layer_kwargs)
    out = layer(tf.constant([t.encode() for t in a]), tf.constant([t.encode() for t in b]))
    for key, value in expected.items():
        assert out[key].numpy().tolist() == value, key


def test_overflow_stride(setting):
    texts = _texts()[:40]
    for kwargs in (
        dict(truncation="only_first", max_length=8, stride=2, return_overflowing_tokens=True),
        dict(truncation="only_second", max_length=9, stride=3, return_overflowing_tokens=True),
    ):
        for i in range(0, len(texts) - 1, 2):
            expected = dict(setting["ref"](texts[i], texts[i + 1], **kwargs))
            assert dict(setting["python"](texts[i], texts[i + 1], **kwargs)) == expected
            assert dict(setting["fast"](texts[i], texts[i + 1], **kwargs)) == expected


def test_offsets_against_rust(setting):
    """Offsets equal the Rust tokenizer's wherever its ids equal the reference's (the Rust one skips NFC and
    uses other Unicode tables, where it is not the reference). [UNK] tokens are left out: an unknown word can
    cover a mark the Rust tables do not strip (e.g. Adlam U+1E945), with the same ids but a longer span."""
    texts = _texts()
    ours = setting["fast"](texts, return_offsets_mapping=True)
    layer = setting["layer"](tf.constant([t.encode() for t in texts]))
    layer_offsets = layer["offset_mapping"].numpy()
    compared = 0
    for i, t in enumerate(texts):
        rust = setting["rust"](t, return_offsets_mapping=True)
        py = setting["python"](t, return_offsets_mapping=True)
        assert py["offset_mapping"] == ours["offset_mapping"][i]
        n = len(py["input_ids"])
        assert [tuple(x) for x in layer_offsets[i][:n].tolist()] == py["offset_mapping"]
        if rust["input_ids"] == py["input_ids"]:
            unk = setting["python"].unk_token_id
            keep = [j for j, i in enumerate(py["input_ids"]) if i != unk]
            assert [tuple(rust["offset_mapping"][j]) for j in keep] == [py["offset_mapping"][j] for j in keep], t
            compared += 1
    assert compared >= 0.9 * len(texts)


def test_plain_ascii_rows_take_their_own_path_with_the_same_ids_and_offsets(setting):
    """Rows of plain ASCII skip the per-character tables (`GraphTokenizer.tokenize_ascii`): a batch of only such
    rows (SST-2 dev lines, random printable ASCII with runs of punctuation, words of 100 and 101 characters)
    gives the reference's ids and the Python tokenizer's offsets, as the table path does for the same rows."""
    import random
    import string

    from helpers import sst2_sentences

    rng = random.Random(0)
    alphabet = string.ascii_letters + string.digits + string.punctuation.replace("[", "") + " \t\n\r"
    texts = [t for t in sst2_sentences(300) if t.isascii()]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(120))) for _ in range(300)]
    texts += ["x" * 100 + " y", "x" * 101 + " y", "", " \t ", "a-b_c~d`e^f{g}h|i\\j", "DON'T Stop"]
    graph = setting["layer"].graph_tokenizer
    batch = tf.constant(texts)
    assert tf.reduce_all(tf.strings.regex_full_match(batch, graph.ascii_pattern))
    plain, tables = graph.tokenize_ascii(batch), graph.tokenize_unicode(batch)
    for got, want in zip(plain, tables):
        assert got.to_list() == want.to_list()
    ids, starts, ends = graph.tokenize(batch)
    for mixed in (batch, tf.concat([batch, tf.constant(["Ünïcode [MASK] row"])], 0)):
        only_ids, no_starts, no_ends = graph.tokenize(mixed, with_offsets=False)
        assert no_starts is None and no_ends is None
        assert only_ids.to_list()[:len(texts)] == ids.to_list()
    # invalid UTF-8 in a mixed batch is named by the row's place in the whole batch
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"invalid UTF-8 in input rows:\W[^0-9]*\b2, 4\b"):
        graph.tokenize(tf.constant([b"ok", b"fine", b"\x80", b"x", b"\xff"]))
    for i, t in enumerate(texts):
        py = setting["python"](t, add_special_tokens=False, return_offsets_mapping=True)
        assert ids[i].numpy().tolist() == setting["ref"](t, add_special_tokens=False)["input_ids"], t
        assert list(zip(starts[i].numpy().tolist(), ends[i].numpy().tolist())) == py["offset_mapping"], t


def test_return_tensors(setting):
    texts = _texts()[:10]
    ref = setting["ref"](texts, padding=True, return_tensors="np")
    for tok in (setting["python"], setting["fast"]):
        got = tok(texts, padding=True, return_tensors="np")
        for key in ref:
            np.testing.assert_array_equal(got[key], ref[key])
        got_tf = tok(texts, padding=True, return_tensors="tf")
        assert isinstance(got_tf["input_ids"], tf.Tensor)
