"""Vocabulary files and tokenizer settings on disk (the Hugging Face layout).

A folder holds `vocab.txt` (one token per line, the line number is the id), `tokenizer_config.json`
(do_lower_case, strip_accents, tokenize_chinese_chars, never_split, special tokens, model_max_length, ...),
`special_tokens_map.json`, and maybe `tokenizer.json` (the Rust tokenizer's file: its normalizer settings
lowercase / strip_accents / handle_chinese_chars are read when present; tokenizer_config.json wins over it,
keyword arguments win over both). A KerasHub preset folder holds `assets/tokenizer/vocabulary.txt` instead of
vocab.txt, and its `tokenizer.json` is the serialized KerasHub tokenizer (both read by
`tokenizers.keras_hub_assets`).

Example:
    >>> from keras_bert_suite.tokenizers import BertTokenizer
    >>> _ = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello"]).save_pretrained("model")
    >>> vocab = load_vocab("model/vocab.txt")
    >>> vocab["[PAD]"], vocab["hello"]
    (0, 5)
    >>> settings = read_settings("model")
    >>> settings["do_lower_case"], settings["cls_token"]
    (True, '[CLS]')
"""

import collections
import json
import os

from keras_bert_suite.io import atomic_write_text
from keras_bert_suite.tokenizers.keras_hub_assets import is_keras_hub_tokenizer, tokenizer_settings, vocabulary_file

VOCAB_FILE = "vocab.txt"
CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
TOKENIZER_JSON = "tokenizer.json"

SPECIAL_TOKEN_NAMES = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
DEFAULT_SPECIAL_TOKENS = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}
VERY_LARGE_INTEGER = int(1e30)

_SETTING_KEYS = (
    "do_lower_case",
    "strip_accents",
    "tokenize_chinese_chars",
    "never_split",
    "model_max_length",
    "padding_side",
    "truncation_side",
    "clean_up_tokenization_spaces",
    "additional_special_tokens",
) + SPECIAL_TOKEN_NAMES


def read_tokens(path: str) -> list:
    """The lines of vocab.txt, in order (line i is the token of id i): the one vocabulary file reader.

    Lines end at "\n", "\r\n" or "\r" (Python's universal newlines), so a CRLF file gives the same tokens as an
    LF one, as transformers' `BertTokenizer` and `BertTokenizerFast` read it.

    Example:
        >>> _ = save_vocab(["[PAD]", "[unused0]", "[unused1]", "[UNK]"], "vocab.txt")
        >>> read_tokens("vocab.txt")[:3]
        ['[PAD]', '[unused0]', '[unused1]']
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Vocabulary file not found: {path!r}")
    with open(path, "r", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def load_vocab(path: str) -> "collections.OrderedDict[str, int]":
    """Read vocab.txt as {token: id} (a repeated token keeps its last line, as the reference)."""
    return collections.OrderedDict((token, index) for index, token in enumerate(read_tokens(path)))


def find_vocab_file(folder: str):
    """The vocabulary file of a tokenizer folder: vocab.txt, else a KerasHub preset's
    assets/tokenizer/vocabulary.txt; None when there is neither.

    Example:
        >>> os.makedirs("bert_preset/assets/tokenizer")       # a KerasHub preset's layout
        >>> _ = save_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello"],
        ...                "bert_preset/assets/tokenizer/vocabulary.txt")
        >>> find_vocab_file("bert_preset")
        'bert_preset/assets/tokenizer/vocabulary.txt'
    """
    path = os.path.join(folder, VOCAB_FILE)
    return path if os.path.isfile(path) else vocabulary_file(folder)


def vocab_to_list(vocab: dict) -> list:
    """Tokens ordered by id (the inverse of `load_vocab`), ids assumed 0..n-1."""
    tokens = [None] * (max(vocab.values()) + 1 if vocab else 0)
    for token, index in vocab.items():
        tokens[index] = token
    missing = [i for i, t in enumerate(tokens) if t is None]
    if missing:
        raise ValueError(f"Vocabulary ids are not consecutive: id {missing[0]} has no token")
    return tokens


def save_vocab(tokens, path: str) -> str:
    """Write tokens (ordered by id) to `path`, one per line, atomically."""
    atomic_write_text(path, "".join(t + "\n" for t in tokens))
    return path


def all_special_tokens(tokenizer) -> list:
    """The special tokens of a tokenizer (its `unk_token` ... `mask_token`, then `additional_special_tokens`),
    each once, in transformers' order; unset named tokens are left out.

    Example:
        >>> from keras_bert_suite.tokenizers import BertTokenizer
        >>> all_special_tokens(BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello"]))
        ['[UNK]', '[SEP]', '[PAD]', '[CLS]', '[MASK]']
    """
    out = []
    for token in [getattr(tokenizer, name) for name in SPECIAL_TOKEN_NAMES if getattr(tokenizer, name)]:
        if token not in out:
            out.append(token)
    for token in tokenizer.additional_special_tokens or []:
        if token not in out:
            out.append(token)
    return out


def _token_content(value):
    """A special token may be stored as a string or as an AddedToken dict {"content": ...}."""
    if isinstance(value, dict):
        return value.get("content")
    return value


def read_settings(folder: str) -> dict:
    """Tokenizer settings from a folder: tokenizer.json's normalizer, then tokenizer_config.json, then
    special_tokens_map.json. Only keys found are returned."""
    settings = {}
    tok_json = os.path.join(folder, TOKENIZER_JSON)
    if os.path.isfile(tok_json):
        with open(tok_json, "r", encoding="utf-8") as f:
            data = json.load(f)
        if is_keras_hub_tokenizer(data):
            settings.update(tokenizer_settings(data, tok_json))
        normalizer = data.get("normalizer") or {}
        if normalizer.get("type") == "BertNormalizer":
            if "lowercase" in normalizer:
                settings["do_lower_case"] = bool(normalizer["lowercase"])
            if "strip_accents" in normalizer:
                settings["strip_accents"] = normalizer["strip_accents"]
            if "handle_chinese_chars" in normalizer:
                settings["tokenize_chinese_chars"] = bool(normalizer["handle_chinese_chars"])
    cfg_path = os.path.join(folder, CONFIG_FILE)
    if os.path.isfile(cfg_path):
        with open(cfg_path, "r", encoding="utf-8") as f:
            config = json.load(f)
        for key in _SETTING_KEYS:
            if key in config:
                settings[key] = config[key]
    special_path = os.path.join(folder, SPECIAL_TOKENS_FILE)
    if os.path.isfile(special_path):
        with open(special_path, "r", encoding="utf-8") as f:
            special = json.load(f)
        for key in SPECIAL_TOKEN_NAMES + ("additional_special_tokens",):
            if key in special:
                settings[key] = special[key]
    for key in SPECIAL_TOKEN_NAMES:
        if key in settings:
            settings[key] = _token_content(settings[key])
    if "additional_special_tokens" in settings:
        settings["additional_special_tokens"] = [_token_content(t) for t in settings["additional_special_tokens"] or []]
    return settings


def write_settings(folder: str, config: dict, special_tokens: dict) -> list:
    """Write tokenizer_config.json and special_tokens_map.json atomically; return their paths."""
    cfg_path = os.path.join(folder, CONFIG_FILE)
    special_path = os.path.join(folder, SPECIAL_TOKENS_FILE)
    atomic_write_text(cfg_path, json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(special_path, json.dumps(special_tokens, indent=2, ensure_ascii=False) + "\n")
    return [cfg_path, special_path]
