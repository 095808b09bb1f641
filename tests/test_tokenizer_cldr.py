"""The in-graph tokenizer on a second multilingual set (localized CLDR names from babel, hundreds of locales and
scripts; tools/bench/cldr_text.py) against transformers' Python BertTokenizer (ids) and our Python BertTokenizer
(offsets), uncased and cased vocabularies; and the per-character table path each setting takes (both stages in one
look-up only where nothing runs between them), with whole-word entries that can and cannot match."""

import numpy as np
import pytest
import tensorflow as tf

from tokenizer_corpus import CASED, MULTILINGUAL, folder

from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer, tables
from tools.bench.cldr_text import cldr_rows

transformers = pytest.importorskip("transformers")
pytest.importorskip("babel")

SETTINGS = [("uncased", "minilm", {}), ("cased", CASED, {}), ("multilingual_cased", MULTILINGUAL, {})]


@pytest.fixture(scope="module")
def rows():
    return cldr_rows(max_rows=300)


@pytest.mark.parametrize("name,path,extra", SETTINGS, ids=[s[0] for s in SETTINGS])
def test_cldr_ids_and_offsets_match_reference(rows, name, path, extra):
    path = folder(path)
    ref = transformers.BertTokenizer.from_pretrained(path, **extra)
    python = BertTokenizer.from_pretrained(path, **extra)
    layer = TFBertTokenizer.from_tokenizer(python, return_offsets_mapping=True)
    out = layer(tf.constant([t.encode("utf-8") for t in rows]))
    ids, mask, offsets = (out[k].numpy() for k in ("input_ids", "attention_mask", "offset_mapping"))
    assert {len(set(t) - set(map(chr, range(128)))) > 0 for t in rows} == {True, False}  # ASCII rows and others
    for i, text in enumerate(rows):
        expected = ref(text)["input_ids"]
        assert ids[i][mask[i] == 1].tolist() == expected, text
        py = python(text, return_offsets_mapping=True)
        assert py["input_ids"] == expected
        assert [tuple(x) for x in offsets[i][: len(expected)].tolist()] == py["offset_mapping"], text


def test_table_path_by_setting():
    """Uncased (accents stripped, no NFC): the special tokens hold upper-case letters, which never survive
    lower-casing, so no whole-word entry can match and both per-character stages are one table; cased or
    accent-keeping settings keep the separate stages."""
    uncased = TFBertTokenizer.from_pretrained(folder("minilm")).graph_tokenizer
    assert uncased.fused and uncased.word_entries == []
    keep = TFBertTokenizer.from_pretrained(folder("minilm"), strip_accents=False).graph_tokenizer
    assert not keep.fused
    cased = TFBertTokenizer.from_pretrained(CASED).graph_tokenizer
    assert not cased.fused and "[CLS]" in cased.word_entries
    assert tables.stage_b_keeps_cjk(True, True)


def test_fused_table_equals_both_stages():
    """Stage A then stage B, per code point, equals the fused table (every assigned code point, expansions too)."""
    a, b, ab = tables.stage_a_table(True), tables.stage_b_table(True, True), tables.stage_ab_table(True, True)

    def apply(table, cps):
        out = []
        for cp in cps:
            code = int(table.code[cp])
            if code >= 0:
                out.append(code)
            elif code <= -2:
                k = -code - 2
                out.extend(int(v) for v in table.multi_values[table.multi_splits[k] : table.multi_splits[k + 1]])
        return out

    rng = np.random.default_rng(0)
    identity = np.arange(tables.MAX_CODE_POINT)
    interesting = np.nonzero((a.code != identity) | (b.code != identity))[0]
    sample = np.concatenate([rng.choice(interesting, 3000, replace=False),
                             rng.integers(0, tables.MAX_CODE_POINT, 2000)])
    for cp in sample.tolist():
        assert apply(ab, [cp]) == apply(b, apply(a, [cp])), hex(cp)


def test_uncased_whole_word_entries_that_can_match(rows):
    """Lower-case `never_split` words and added special tokens can match after lower-casing: the stages stay
    separate and the words are kept whole exactly as the reference keeps them."""
    path = folder("minilm")
    kw = dict(never_split=["hello", "[foo]", "zzzq", "[BAR]"], additional_special_tokens=["[unused1]"])
    ref = transformers.BertTokenizer.from_pretrained(path, **kw)
    python = BertTokenizer.from_pretrained(path, **kw)
    layer = TFBertTokenizer.from_tokenizer(python)
    assert not layer.graph_tokenizer.fused
    entries = layer.graph_tokenizer.word_entries
    assert "[unused1]" in entries and "[BAR]" not in entries  # upper-case: can never match, not searched
    texts = ["Hello [foo] zzzq [BAR] [bar] [unused1] [UNUSED1] Ünïcödé hello.", "x[unused1]y [FOO] HELLO"]
    texts += rows[:20]
    out = layer(tf.constant([t.encode("utf-8") for t in texts]))
    ids, mask = out["input_ids"].numpy(), out["attention_mask"].numpy()
    assert [r[m == 1].tolist() for r, m in zip(ids, mask)] == [ref(t)["input_ids"] for t in texts]
