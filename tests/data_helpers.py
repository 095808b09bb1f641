"""Helpers of the data tests: the MiniLM vocabulary's tokenizers, the shared data folder, numpy batches."""

import os

import pytest

from helpers import SHARED_DATA, minilm_folder


def shared(*parts):
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"shared data file {path} is not here")
    return path


def tokenizers():
    from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer

    python = BertTokenizer.from_pretrained(minilm_folder())
    return python, TFBertTokenizer.from_tokenizer(python)


def numpy_batches(ds):
    return [{k: v.numpy() for k, v in b.items()} for b in ds]


def head_lines(path, n):
    """The first n lines of a file (to build small files from real ones)."""
    with open(path, encoding="utf-8") as f:
        return [next(f) for _ in range(n)]
