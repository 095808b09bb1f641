"""BertTokenizer / BertTokenizerFast API details against transformers' BertTokenizer, and files."""

import json
import os

import pytest

from helpers import minilm_folder
from tokenizer_corpus import CASED

from keras_bert_suite.tokenizers import BertTokenizer, BertTokenizerFast

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module", params=["python", "fast"])
def pair(request):
    cls = BertTokenizer if request.param == "python" else BertTokenizerFast
    return transformers.BertTokenizer.from_pretrained(minilm_folder()), cls.from_pretrained(minilm_folder())


def test_properties(pair):
    ref, tok = pair
    assert tok.vocab_size == ref.vocab_size and len(tok) == len(ref)
    for name in ("pad_token_id", "unk_token_id", "cls_token_id", "sep_token_id", "mask_token_id"):
        assert getattr(tok, name) == getattr(ref, name)
    assert tok.all_special_tokens == ref.all_special_tokens
    assert tok.all_special_ids == ref.all_special_ids
    assert tok.model_max_length == ref.model_max_length


def test_methods(pair):
    ref, tok = pair
    a, b = [5, 6, 7], [8, 9]
    assert tok.build_inputs_with_special_tokens(a, b) == ref.build_inputs_with_special_tokens(a, b)
    assert tok.get_special_tokens_mask(a, b) == ref.get_special_tokens_mask(a, b)
    ids = ref.build_inputs_with_special_tokens(a)
    assert tok.get_special_tokens_mask(ids, already_has_special_tokens=True) == ref.get_special_tokens_mask(
        ids, already_has_special_tokens=True
    )
    assert tok.create_token_type_ids_from_sequences(a, b) == ref.create_token_type_ids_from_sequences(a, b)
    toks = ["hello", "##x", "[MASK]", "nope-not-there"]
    assert tok.convert_tokens_to_ids(toks) == ref.convert_tokens_to_ids(toks)
    assert tok.convert_ids_to_tokens([101, 7592, 999999 % 30522]) == ref.convert_ids_to_tokens([101, 7592, 999999 % 30522])


def test_encode_decode(pair):
    ref, tok = pair
    for text in ["Hello, world! It's [MASK] time.", "unaffable naïve ﬁne", ""]:
        assert tok.encode(text) == ref.encode(text)
        assert tok.encode(text, "pair text", max_length=6, truncation=True) == ref.encode(
            text, "pair text", max_length=6, truncation=True
        )
        ids = ref.encode(text)
        for skip in (False, True):
            for clean in (None, False, True):
                assert tok.decode(ids, skip_special_tokens=skip, clean_up_tokenization_spaces=clean) == ref.decode(
                    ids, skip_special_tokens=skip, clean_up_tokenization_spaces=clean
                )


def test_single_outputs_and_length(pair):
    ref, tok = pair
    kw = dict(padding="max_length", max_length=12, return_length=True, return_special_tokens_mask=True)
    assert dict(tok("Short text", **kw)) == dict(ref("Short text", **kw))
    enc = tok("Short text", return_tensors="np")
    assert enc.input_ids.shape == (1, 4)


def test_never_split_and_settings(tmp_path):
    kw = dict(never_split=["hello.world", "[FOO]"], do_lower_case=False, tokenize_chinese_chars=False)
    ref = transformers.BertTokenizer.from_pretrained(CASED, **kw)
    text = "say hello.world and [FOO] or Hello.World 中文字 ok"
    for cls in (BertTokenizer, BertTokenizerFast):
        tok = cls.from_pretrained(CASED, **kw)
        assert tok.encode(text) == ref.encode(text)


def test_save_and_load(pair, tmp_path):
    ref, tok = pair
    paths = tok.save_pretrained(str(tmp_path))
    names = sorted(os.path.basename(p) for p in paths)
    assert names == ["special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]
    again = type(tok).from_pretrained(str(tmp_path))
    text = "Round trip: Ünïcödé [MASK]"
    assert again.encode(text) == tok.encode(text)
    hf = transformers.BertTokenizer.from_pretrained(str(tmp_path))
    assert hf.encode(text) == tok.encode(text)
    with open(tmp_path / "vocab.txt", encoding="utf-8") as f:
        assert f.read().splitlines()[:3] == ["[PAD]", "[unused0]", "[unused1]"]


def test_tokenizer_json_settings(tmp_path):
    """Settings come from tokenizer.json's normalizer when tokenizer_config.json lacks them."""
    with open(os.path.join(CASED, "vocab.txt"), encoding="utf-8") as f:
        (tmp_path / "vocab.txt").write_text(f.read(), encoding="utf-8")
    normalizer = {"type": "BertNormalizer", "lowercase": True, "strip_accents": False, "handle_chinese_chars": False,
                  "clean_text": True}
    (tmp_path / "tokenizer.json").write_text(json.dumps({"normalizer": normalizer}), encoding="utf-8")
    tok = BertTokenizer.from_pretrained(str(tmp_path))
    assert tok.do_lower_case is True and tok.strip_accents is False and tok.tokenize_chinese_chars is False
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}), encoding="utf-8")
    assert BertTokenizer.from_pretrained(str(tmp_path)).do_lower_case is False


def test_errors():
    tok = BertTokenizer.from_pretrained(minilm_folder())
    with pytest.raises(ValueError, match="UTF-8"):
        tok(b"\xff\xfe")
    with pytest.raises(ValueError, match="different lengths"):
        tok(["a", "b c d"], return_tensors="np")
    with pytest.raises(FileNotFoundError):
        BertTokenizer.from_pretrained("/nonexistent/folder")
    fast = BertTokenizerFast.from_pretrained(minilm_folder())
    assert fast.encode("a\ud800b") == tok.encode("a\ud800b") == transformers.BertTokenizer.from_pretrained(
        minilm_folder()).encode("a\ud800b")


def test_fast_new_lengths_reuse_the_traced_graph():
    """max_length and pad_to_multiple_of are fed to the packing graph: new values trace nothing new."""
    import transformers

    fast = BertTokenizerFast.from_pretrained(minilm_folder())
    reference = transformers.BertTokenizer.from_pretrained(minilm_folder())
    texts = ["hello world, this is a longer sentence", "hi"]
    for max_length in (4, 6, 8, 12):
        for multiple in (None, 2):
            settings = dict(truncation=True, max_length=max_length, padding="max_length",
                            pad_to_multiple_of=multiple)
            assert fast(texts, **settings)["input_ids"] == reference(texts, **settings)["input_ids"]
    fns = fast.__dict__["_packed_fns"]
    assert len(fns) == 2
    assert all(fn.experimental_get_tracing_count() == 1 for fn in fns.values())
