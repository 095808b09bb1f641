"""One vocabulary reader: a CRLF vocab.txt reads as transformers' tokenizers read it, everywhere in the package."""

import pytest

from keras_bert_suite.pretraining.data import Vocabulary
from keras_bert_suite.tokenizers import BertTokenizer
from keras_bert_suite.tokenizers.vocab import load_vocab, read_tokens

TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!", "a\rb", "tail "]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_vocab_reads_as_transformers(tmp_path, newline):
    transformers = pytest.importorskip("transformers")
    path = tmp_path / "vocab.txt"
    path.write_bytes("".join(t + newline for t in TOKENS).encode("utf-8"))
    reference = transformers.BertTokenizer(str(path))
    want = dict(reference.vocab)
    # A lone "\r" ends a line too (Python's universal newlines), so "a\rb" gives "a" and "b"; no token keeps a "\r".
    assert list(want) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!", "a", "b",
                          "tail "]
    assert dict(transformers.BertTokenizerFast(str(path)).get_vocab()) == want
    assert dict(load_vocab(str(path))) == want
    assert read_tokens(str(path)) == list(want)
    assert Vocabulary.from_file(path).tokens == list(want)
    ours = BertTokenizer(str(path))
    assert dict(ours.vocab) == want
    assert ours("hello worlds!")["input_ids"] == reference("hello worlds!")["input_ids"]
