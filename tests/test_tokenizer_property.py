"""Property-based: random Unicode strings give the reference's ids in all three tokenizers."""

import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenizer_corpus import MULTILINGUAL, folder

from keras_bert_suite.tokenizers import BertTokenizer, BertTokenizerFast, TFBertTokenizer

transformers = pytest.importorskip("transformers")

# Any code point (surrogates excluded by hypothesis' text strategy), mixed with special tokens and marks.
_pieces = st.one_of(
    st.text(min_size=0, max_size=12),
    st.text(alphabet=st.characters(max_codepoint=0x3000), max_size=12),
    st.sampled_from(["[MASK]", "[SEP]", " ", "\u0301", "\u0344", "Σ", "İ", "ﬁ", "\x00", "中", "\uf900", "가"]),
)
_texts = st.lists(_pieces, max_size=6).map("".join)

_CASES = {}


def _tokenizers(name, path, extra):
    if name not in _CASES:
        path = folder(path)
        py = BertTokenizer.from_pretrained(path, **extra)
        _CASES[name] = (
            transformers.BertTokenizer.from_pretrained(path, **extra),
            py,
            BertTokenizerFast.from_pretrained(path, **extra),
            tf.function(TFBertTokenizer.from_tokenizer(py), input_signature=[tf.TensorSpec([None], tf.string)]),
        )
    return _CASES[name]


@pytest.mark.parametrize(
    "name,path,extra",
    [("uncased", "minilm", {}), ("multilingual", MULTILINGUAL, {}), ("keep_accents", "minilm", {"strip_accents": False})],
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(_texts, min_size=1, max_size=4))
def test_random_unicode_matches_reference(name, path, extra, batch):
    ref, py, fast, layer = _tokenizers(name, path, extra)
    expected = [ref(t)["input_ids"] for t in batch]
    assert [py(t)["input_ids"] for t in batch] == expected
    assert fast(batch)["input_ids"] == expected
    out = layer(tf.constant([t.encode("utf-8") for t in batch]))
    got = [row[m == 1].tolist() for row, m in zip(out["input_ids"].numpy(), out["attention_mask"].numpy())]
    assert got == expected
