"""`AutoTokenizer`: transformers' entry point for tokenizers, for BERT checkpoints only.

transformers' examples load their tokenizer with `AutoTokenizer.from_pretrained(id)`; with this alias they
change only their import line. It reads which tokenizer the checkpoint names (`tokenizer_class` in
tokenizer_config.json, else `model_type` in config.json) and loads ours when that is BERT's; any other
tokenizer is refused by name, as a BERT vocabulary read with another tokenizer's rules would give wrong ids.

Example:
    >>> AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")  # doctest: +SKIP
    BertTokenizerFast(name_or_path='google-bert/bert-base-uncased', vocab_size=30522, ...)
    >>> import json, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "config.json"), "w") as f:
    ...     json.dump({"model_type": "roberta"}, f)
    >>> named_tokenizer(folder)
    ('model_type', 'roberta')
"""

import json
import os

from keras_bert_suite.hub import HUB_KWARGS, resolve_pretrained
from keras_bert_suite.tokenizers import BertTokenizer, BertTokenizerFast

#: tokenizer classes (tokenizer_config.json) and model types (config.json) this alias loads.
BERT_TOKENIZER_CLASSES = ("BertTokenizer", "BertTokenizerFast")
BERT_MODEL_TYPES = ("bert",)


def _read_json(folder, name):
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def named_tokenizer(folder):
    """What the checkpoint in `folder` says its tokenizer is: `(kind, name)` with kind "tokenizer_class" or
    "model_type", or `(None, None)` when neither file says."""
    tokenizer_class = _read_json(folder, "tokenizer_config.json").get("tokenizer_class")
    if tokenizer_class:
        return "tokenizer_class", tokenizer_class
    model_type = _read_json(folder, "config.json").get("model_type")
    return ("model_type", model_type) if model_type else (None, None)


class AutoTokenizer:
    """Loads BERT tokenizers the way transformers' `AutoTokenizer` does; refuses other tokenizers by name.

    Not instantiated: call `AutoTokenizer.from_pretrained(...)`.
    """

    def __init__(self):
        raise EnvironmentError("AutoTokenizer is built with AutoTokenizer.from_pretrained(path_or_hub_id)")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *, use_fast=True, **kwargs):
        """Our `BertTokenizerFast` (or `BertTokenizer` with `use_fast=False`) for a BERT checkpoint.

        Args:
            pretrained_model_name_or_path: a local folder or a Hugging Face Hub id.
            use_fast: True for `BertTokenizerFast`, False for `BertTokenizer` (the same ids either way).
            **kwargs: the Hub arguments (revision, cache_dir, token, local_files_only, force_download,
                subfolder) and tokenizer settings, as the tokenizers' `from_pretrained` takes them.

        Returns:
            the tokenizer.

        Raises:
            ValueError: the checkpoint names a tokenizer other than BERT's (the message names it).
        """
        name = os.fspath(pretrained_model_name_or_path)
        hub = {k: kwargs[k] for k in HUB_KWARGS if k in kwargs}
        folder = resolve_pretrained(name, kind="tokenizer", extra_files=("config.json",), **hub)
        kind, found = named_tokenizer(folder if os.path.isdir(folder) else os.path.dirname(folder))
        if kind == "tokenizer_class" and found not in BERT_TOKENIZER_CLASSES or (
                kind == "model_type" and found not in BERT_MODEL_TYPES):
            raise ValueError(
                f"{name!r} names {kind} {found!r}: keras_bert_suite's AutoTokenizer loads BERT tokenizers only "
                f"({', '.join(BERT_TOKENIZER_CLASSES)}; model_type {', '.join(BERT_MODEL_TYPES)})"
            )
        return (BertTokenizerFast if use_fast else BertTokenizer).from_pretrained(name, **kwargs)
