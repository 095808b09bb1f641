"""A KerasHub BERT preset's tokenizer, read as our tokenizers read a Hugging Face folder.

A preset folder keeps its tokenizer in two files:

    tokenizer.json                    the serialized tokenizer layer: {"registered_name": "keras_hub>BertTokenizer",
                                      "config": {"lowercase", "strip_accents", "oov_token", "split_on_cjk", ...}}
                                      (not the Rust tokenizer's file of a Hugging Face folder)
    assets/tokenizer/vocabulary.txt   one token per line

`tokenizers.vocab` reads these through this module (`find_vocab_file`, `read_settings`); the preset's weights and
config are read by `checkpoints.keras_hub_preset`, whose KerasHub class names and `NotBertPresetError` this
module shares (the checkpoint readers sit below the tokenizers and never import them).

Example:
    >>> tokenizer_settings({"registered_name": "keras_hub>BertTokenizer", "config": {"lowercase": False}})
    {'do_lower_case': False}
"""

import os

from keras_bert_suite.checkpoints.errors import load_json
from keras_bert_suite.checkpoints.keras_hub_preset import NotBertPresetError, is_class, registered_name

TOKENIZER_FILE = "tokenizer.json"
VOCABULARY_ASSET = os.path.join("assets", "tokenizer", "vocabulary.txt")
TOKENIZER_CLASS = "BertTokenizer"


def vocabulary_file(folder):
    """The preset's `assets/tokenizer/vocabulary.txt`, or None when `folder` has none.

    Args:
        folder: a KerasHub preset folder (or any folder: None when it holds no such file).

    Raises `NotBertPresetError` naming the class when the folder's tokenizer.json is a KerasHub tokenizer
    other than BERT's (its vocabulary is of another kind).

    Example:
        >>> vocabulary_file(".") is None                 # a folder without a preset vocabulary
        True
    """
    folder = os.fspath(folder)
    config = os.path.join(folder, TOKENIZER_FILE)
    if os.path.isfile(config):
        data = load_json(config)
        if is_keras_hub_tokenizer(data):
            tokenizer_settings(data, config)
    path = os.path.join(folder, VOCABULARY_ASSET)
    return path if os.path.isfile(path) else None


def is_keras_hub_tokenizer(data) -> bool:
    """Whether the parsed contents of a `tokenizer.json` are a serialized KerasHub tokenizer layer (rather than
    the Rust tokenizer's file, which has a "model").

    Example:
        >>> is_keras_hub_tokenizer({"registered_name": "keras_hub>BertTokenizer", "config": {}})
        True
        >>> is_keras_hub_tokenizer({"version": "1.0", "model": {"type": "WordPiece"}})
        False
    """
    return registered_name(data) is not None and "model" not in data


def tokenizer_settings(data, path=TOKENIZER_FILE) -> dict:
    """Our tokenizer settings from a KerasHub tokenizer's serialized config (the parsed `tokenizer.json`).

    `lowercase` -> `do_lower_case`, `oov_token` -> `unk_token`. KerasHub strips accents only when told
    (`strip_accents: true`); BERT strips them whenever it lowercases, and its weights were trained so: a preset
    saying `strip_accents: false` keeps BERT's rule (`strip_accents=None`), which is what the Hugging Face
    folder the weights came from does. Special tokens written in a text (`"[MASK]"`) are always the special token
    here, as in BERT's tokenizers, whatever the preset's `special_tokens_in_strings`. Raises `NotBertPresetError`
    naming the class when the tokenizer is not `keras_hub>BertTokenizer`.

    Args:
        data: the parsed tokenizer.json.
        path: the file it came from, named in errors.

    Example:
        >>> tokenizer_settings({"registered_name": "keras_hub>BertTokenizer", "config": {"lowercase": True}})
        {'do_lower_case': True}
    """
    name = registered_name(data)
    if name is None or not is_class(name, TOKENIZER_CLASS):
        raise NotBertPresetError(f"the preset's tokenizer is {name}, not a BERT tokenizer "
                                 f"(keras_hub>{TOKENIZER_CLASS})", path=path)
    config = data.get("config") or {}
    settings = {}
    if "lowercase" in config:
        settings["do_lower_case"] = bool(config["lowercase"])
    if config.get("strip_accents"):
        settings["strip_accents"] = True
    if "split_on_cjk" in config:
        settings["tokenize_chinese_chars"] = bool(config["split_on_cjk"])
    if config.get("oov_token"):
        settings["unk_token"] = config["oov_token"]
    return settings
