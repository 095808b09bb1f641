"""`TFBertTokenizer`: the reference BERT tokenizer as a Keras 3 layer, in-graph (tensorflow-text).

Strings in, model inputs out, with the ids of transformers' Python `BertTokenizer` for every setting. It runs
in tf.data, in a `tf.function`, in a functional model and in a SavedModel; it is host-only (string ops):
never call it inside an XLA-compiled function (`jit_compile=True`).

Call: `layer(texts)` or `layer(texts, texts_b)`, texts: tf.string [batch] (or [batch, 1]). Returns a dict of
int32 tensors [batch, length]: input_ids, attention_mask, token_type_ids (padding 0), plus special_tokens_mask
and offset_mapping [batch, length, 2] (character offsets into each text) when asked.
Settings: padding "longest" or "max_length" (static length), max_length, pad_to_multiple_of, padding_side,
truncation (True/"longest_first", "only_first", "only_second", False), truncation_side, add_special_tokens.
A row that the truncation strategy cannot shorten (as in the reference, e.g. "only_second" with a too short
second text) is cut at the padded length.

Under the JAX backend (where Keras layers take only backend tensors) the layer runs its TensorFlow graph itself:
called eagerly on Python strings, lists, numpy or tf.string tensors it returns JAX arrays (int32), as KerasHub's
preprocessing layers do; inside `tf.data.Dataset.map` or a `tf.function` it returns tf.Tensors, so the pipelines
that feed `fit` are the same on both backends. A functional model that starts from a string `keras.Input` exists
only on TensorFlow (JAX has no string arrays): under JAX such a call raises a TypeError that says what to do.

Errors: invalid UTF-8 raises tf.errors.InvalidArgumentError; empty strings give [CLS] [SEP]; NUL and control
characters are deleted as in the reference; strings of megabytes work.

Serialization: `get_config` holds every setting but not the vocabulary; the vocabulary is a Keras asset
(`save_assets` / `load_assets`), so a `.keras` file holds it as `assets/<layer path>/vocabulary.txt`, one token
per line. Configs of the earlier format (the token list under "vocab") still load. A vocabulary given as a file
path is refused while Keras deserializes in safe mode (`keras.saving.load_model(..., safe_mode=True)`): a model
file must not make the loader read arbitrary files. The Unicode tables are rebuilt from Python's `unicodedata`
when the layer is built.

Example:
    >>> tok = TFBertTokenizer.from_pretrained("path/to/model", padding="max_length", max_length=128)  # doctest: +SKIP
    >>> tok(tf.constant(["Hello world!"]))["input_ids"].shape  # doctest: +SKIP
    TensorShape([1, 128])
"""

import os

import keras
import tensorflow as tf
from keras.src.saving import serialization_lib

from keras_bert_suite.hub import pop_hub_kwargs
from keras_bert_suite.tokenizers import encoding as enc
from keras_bert_suite.tokenizers import normalize, vocab as vocab_io
from keras_bert_suite.tokenizers.graph import GraphTokenizer, shared_graph_tokenizer
from keras_bert_suite.tokenizers.pack import pack
from keras_bert_suite.tokenizers.python import BertTokenizer

_TRUNCATIONS = {True: enc.LONGEST_FIRST, False: enc.DO_NOT_TRUNCATE, None: enc.DO_NOT_TRUNCATE}

#: file name of the vocabulary asset inside a `.keras` file (one token per line, line number = id).
VOCAB_ASSET = "vocabulary.txt"


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class TFBertTokenizer(keras.layers.Layer):
    """In-graph BERT tokenizer layer (see the module docstring).

    Args:
        vocab: the tokens ordered by id (a list), a {token: id} dict, a vocab.txt path (refused while Keras
            deserializes in safe mode), or None (a layer made by `from_config`; `load_assets` sets it).
        do_lower_case, strip_accents, tokenize_chinese_chars, never_split: the normalization, as transformers'
            `BertTokenizer`.
        unk_token, sep_token, pad_token, cls_token, mask_token, additional_special_tokens: special tokens, kept
            whole in the input text.
        padding: "longest" (pad to the batch's longest row) or "max_length" (a static length: XLA, TPU).
        max_length: the longest output row. pad_to_multiple_of: round padded lengths up to a multiple of it.
        padding_side, truncation_side: "right" or "left".
        truncation: True / "longest_first", "only_first", "only_second", or False.
        add_special_tokens: add [CLS] and [SEP]. return_offsets_mapping, return_special_tokens_mask: extra
            outputs `offset_mapping` [batch, length, 2] (character offsets) and `special_tokens_mask`.
        split_large_batches: tokenize a batch holding enough text outside plain ASCII in parts side by side
            (`graph.PART_BYTES`; faster on large batches, same output). SavedModel exports turn it off: serving
            cuts batches itself, and the parts' graph would add about a second to export and cold start.
        **kwargs: `keras.layers.Layer` arguments (`name`, ...); the layer is not trainable and outputs int32.

    Call: `texts` tf.string [batch] (and `texts_b` for pairs) -> dict of int32 [batch, length]: `input_ids`,
    `token_type_ids`, `attention_mask` (+ the extra outputs asked for).

    Example:
        >>> import tensorflow as tf
        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "##s"]
        >>> tok = TFBertTokenizer(vocab, padding="max_length", max_length=8)
        >>> out = tok(tf.constant(["Hello worlds!", "hello"]))
        >>> out["input_ids"].numpy().tolist()
        [[2, 5, 6, 8, 7, 3, 0, 0], [2, 5, 3, 0, 0, 0, 0, 0]]
        >>> out["attention_mask"].numpy().tolist()[1]
        [1, 1, 1, 0, 0, 0, 0, 0]
    """

    def __init__(
        self,
        vocab=None,
        do_lower_case=True,
        strip_accents=None,
        tokenize_chinese_chars=True,
        never_split=None,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        additional_special_tokens=None,
        padding="longest",
        max_length=None,
        pad_to_multiple_of=None,
        padding_side="right",
        truncation=True,
        truncation_side="right",
        add_special_tokens=True,
        return_offsets_mapping=False,
        return_special_tokens_mask=False,
        split_large_batches=True,
        **kwargs,
    ):
        kwargs.setdefault("trainable", False)
        kwargs.pop("dtype", None)
        super().__init__(dtype="int32", **kwargs)
        self.do_lower_case = bool(do_lower_case)
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.never_split = list(never_split or [])
        self.unk_token, self.sep_token, self.pad_token = unk_token, sep_token, pad_token
        self.cls_token, self.mask_token = cls_token, mask_token
        self.additional_special_tokens = list(additional_special_tokens or [])
        if padding is True:
            padding = enc.LONGEST
        if padding not in (enc.LONGEST, enc.MAX_LENGTH):
            raise ValueError(f"padding must be 'longest' or 'max_length', got {padding!r}")
        if padding == enc.MAX_LENGTH and not max_length:
            raise ValueError("padding='max_length' needs max_length")
        self.padding = padding
        self.max_length = max_length
        self.pad_to_multiple_of = pad_to_multiple_of
        if padding_side not in ("right", "left") or truncation_side not in ("right", "left"):
            raise ValueError("padding_side and truncation_side must be 'right' or 'left'")
        self.padding_side = padding_side
        truncation = _TRUNCATIONS.get(truncation, truncation) if not isinstance(truncation, str) else truncation
        if truncation not in (enc.LONGEST_FIRST, enc.ONLY_FIRST, enc.ONLY_SECOND, enc.DO_NOT_TRUNCATE):
            raise ValueError(f"unknown truncation strategy {truncation!r}")
        self.truncation = truncation
        self.truncation_side = truncation_side
        self.add_special_tokens = bool(add_special_tokens)
        self.return_offsets_mapping = bool(return_offsets_mapping)
        self.return_special_tokens_mask = bool(return_special_tokens_mask)
        self.split_large_batches = bool(split_large_batches)
        self.set_vocabulary(vocab)

    def set_vocabulary(self, vocab):
        """Set the vocabulary: a list of tokens (ordered by id), a {token: id} dict, a vocab.txt path, or None
        (a layer made by `from_config` gets its vocabulary from `load_assets`).

        Raises:
            ValueError: a file path while Keras deserializes in safe mode, or a special token (unk, sep, pad,
                cls) missing from the vocabulary.
        """
        self._graph_tokenizer = None
        if vocab is None:
            self.vocab = None
            self.cls_token_id = self.sep_token_id = self.pad_token_id = None
            return
        if isinstance(vocab, (str, os.PathLike)):
            if serialization_lib.in_safe_mode():
                raise ValueError(
                    f"TFBertTokenizer: refusing to read the vocabulary file {os.fspath(vocab)!r} while "
                    "deserializing in safe mode (a model file may not name files to read). Load with "
                    "safe_mode=False if you trust the file, or save the layer again: its vocabulary is then "
                    f"stored inside the .keras file as {VOCAB_ASSET}"
                )
            vocab = vocab_io.load_vocab(os.fspath(vocab))
        if isinstance(vocab, dict):
            vocab = vocab_io.vocab_to_list(vocab)
        vocab = list(vocab)
        index = {t: i for i, t in enumerate(vocab)}
        for name in ("unk_token", "sep_token", "pad_token", "cls_token"):
            if getattr(self, name) not in index:
                raise ValueError(f"{name} {getattr(self, name)!r} is not in the vocabulary ({len(vocab)} tokens)")
        self.vocab = vocab
        self.cls_token_id, self.sep_token_id = index[self.cls_token], index[self.sep_token]
        self.pad_token_id = index[self.pad_token]

    def save_assets(self, dir_path):
        """Keras saving: write the vocabulary to `dir_path/vocabulary.txt`, one token per line."""
        vocab_io.save_vocab(self._checked_vocab(), os.path.join(dir_path, VOCAB_ASSET))

    def load_assets(self, dir_path):
        """Keras loading: read `dir_path/vocabulary.txt` (written by `save_assets`). A `.keras` file of the
        earlier format has no such file and its config already held the vocabulary."""
        path = os.path.join(dir_path, VOCAB_ASSET)
        if os.path.isfile(path):
            self.set_vocabulary(vocab_io.read_tokens(path))  # the saved list as it was, line i = id i
        elif self.vocab is None:
            raise FileNotFoundError(f"TFBertTokenizer {self.name!r}: the saved file has no vocabulary asset {path}")

    def _checked_vocab(self):
        if self.vocab is None:
            raise ValueError(
                f"TFBertTokenizer {self.name!r} has no vocabulary: it was made from a config alone; call "
                "set_vocabulary(tokens) or load it with keras.saving.load_model"
            )
        return self.vocab

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(cls, path, **kwargs):
        """From a folder with vocab.txt (+ tokenizer_config.json, ...); keyword arguments override settings."""
        # `path` may be a Hugging Face Hub id; the Hub arguments (revision, cache_dir, ...) fetch it.
        return cls.from_tokenizer(BertTokenizer.from_pretrained(path, **pop_hub_kwargs(kwargs)), **kwargs)

    @classmethod
    def from_tokenizer(cls, tokenizer, **kwargs):
        """From a `BertTokenizer`/`BertTokenizerFast` (ours or transformers'): same vocabulary and settings."""
        basic = getattr(tokenizer, "basic_tokenizer", None)
        settings = {
            "vocab": vocab_io.vocab_to_list(tokenizer.get_vocab() if not hasattr(tokenizer, "vocab") else tokenizer.vocab),
            "do_lower_case": getattr(tokenizer, "do_lower_case", True),
            "strip_accents": getattr(tokenizer, "strip_accents", getattr(basic, "strip_accents", None)),
            "tokenize_chinese_chars": getattr(
                tokenizer, "tokenize_chinese_chars", getattr(basic, "tokenize_chinese_chars", True)
            ),
            "never_split": list(getattr(tokenizer, "never_split", None) or getattr(basic, "never_split", None) or []),
        }
        for name in vocab_io.SPECIAL_TOKEN_NAMES:
            settings[name] = str(getattr(tokenizer, name))
        extra = [str(t) for t in getattr(tokenizer, "additional_special_tokens", []) or []]
        settings["additional_special_tokens"] = extra
        settings.update(kwargs)
        return cls(**settings)

    @classmethod
    def coerce(cls, tokenizer):
        """`tokenizer` as a `TFBertTokenizer`: itself, one with the settings of a `BertTokenizer`(Fast) (ours or
        transformers'), or one loaded from a folder."""
        if isinstance(tokenizer, cls):
            return tokenizer
        if isinstance(tokenizer, (str, os.PathLike)):
            return cls.from_pretrained(os.fspath(tokenizer))
        return cls.from_tokenizer(tokenizer)

    def with_settings(self, **settings):
        """A new layer with this vocabulary and normalization and other call settings (padding, max_length,
        truncation, ...); it shares the traced tokenizer graph with this one."""
        return type(self).from_config({**self.get_config(), "vocab": self.vocab, **settings})

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        config.update(
            {
                "vocab": None,  # a Keras asset: see save_assets
                "do_lower_case": self.do_lower_case,
                "strip_accents": self.strip_accents,
                "tokenize_chinese_chars": self.tokenize_chinese_chars,
                "never_split": list(self.never_split),
                "unk_token": self.unk_token,
                "sep_token": self.sep_token,
                "pad_token": self.pad_token,
                "cls_token": self.cls_token,
                "mask_token": self.mask_token,
                "additional_special_tokens": list(self.additional_special_tokens),
                "padding": self.padding,
                "max_length": self.max_length,
                "pad_to_multiple_of": self.pad_to_multiple_of,
                "padding_side": self.padding_side,
                "truncation": self.truncation,
                "truncation_side": self.truncation_side,
                "add_special_tokens": self.add_special_tokens,
                "return_offsets_mapping": self.return_offsets_mapping,
                "return_special_tokens_mask": self.return_special_tokens_mask,
                "split_large_batches": self.split_large_batches,
            }
        )
        return config

    @property
    def all_special_tokens(self):
        return vocab_io.all_special_tokens(self)

    @property
    def normalizer_config(self):
        return normalize.NormalizerConfig(
            do_lower_case=self.do_lower_case,
            strip_accents=self.strip_accents,
            tokenize_chinese_chars=self.tokenize_chinese_chars,
            specials=tuple(self.all_special_tokens),
            never_split=frozenset(self.never_split),
        )

    @property
    def graph_tokenizer(self) -> GraphTokenizer:
        if self._graph_tokenizer is None:
            self._graph_tokenizer = shared_graph_tokenizer(
                self._checked_vocab(), self.normalizer_config, self.unk_token
            )
        return self._graph_tokenizer

    # ------------------------------------------------------------------ call
    def __call__(self, *args, **kwargs):
        if keras.backend.backend() == "tensorflow":
            return super().__call__(*args, **kwargs)
        # Other backends: Keras would refuse strings; the string ops are TensorFlow's whatever the backend.
        kwargs.pop("training", None)
        if any(isinstance(a, keras.KerasTensor) for a in (*args, *kwargs.values())):
            raise TypeError(
                f"TFBertTokenizer cannot take a symbolic keras.Input under the {keras.backend.backend()} backend: "
                "JAX has no string arrays, so a functional model that starts from strings exists only on "
                "TensorFlow. Tokenize outside the model (call the layer on strings, or in tf.data's map) and give "
                "the model the ids; export_saved_model puts the tokenizer and the model in one raw-text SavedModel.")
        out = self.call(*args, **kwargs)
        if not tf.executing_eagerly():  # tf.data or a tf.function: the tensors stay in the graph
            return out
        return {name: keras.ops.convert_to_tensor(tensor.numpy()) for name, tensor in out.items()}

    @staticmethod
    def _flatten(texts):
        texts = tf.convert_to_tensor(texts)
        if texts.dtype != tf.string:
            raise TypeError(f"TFBertTokenizer expects tf.string inputs, got {texts.dtype}")
        if texts.shape.rank == 0:
            texts = tf.reshape(texts, [1])
        elif texts.shape.rank == 2:
            texts = tf.reshape(texts, [-1])
        elif texts.shape.rank != 1:
            raise ValueError(f"TFBertTokenizer expects texts of shape [batch] or [batch, 1], got {texts.shape}")
        return texts

    def tokenize(self, texts):
        """texts [batch] -> (ids, starts, ends) RaggedTensors of word pieces (no special tokens)."""
        return self.word_pieces(texts, with_offsets=self.return_offsets_mapping)

    def word_pieces(self, texts, with_offsets=True):
        """texts [batch] -> (ids, starts, ends) RaggedTensors of word pieces (starts/ends None without offsets).

        The tokenizer graph is one `tf.function` shared by every layer with this vocabulary and normalization,
        traced once per `with_offsets` (so each signature of a SavedModel calls the same function).
        """
        return self.graph_tokenizer.word_pieces(self._flatten(texts), with_offsets=with_offsets,
                                                in_parts=self.split_large_batches)

    def call(self, texts, texts_b=None):
        ids_a, st_a, en_a = self.tokenize(texts)
        ids_b = st_b = en_b = None
        if texts_b is not None:
            ids_b, st_b, en_b = self.tokenize(texts_b)
        out = pack(
            ids_a,
            ids_b,
            starts=st_a,
            ends=en_a,
            starts_b=st_b,
            ends_b=en_b,
            cls_id=self.cls_token_id,
            sep_id=self.sep_token_id,
            pad_id=self.pad_token_id,
            add_special_tokens=self.add_special_tokens,
            truncation=self.truncation,
            truncation_side=self.truncation_side,
            max_length=self.max_length,
            padding=self.padding,
            pad_to_multiple_of=self.pad_to_multiple_of,
            padding_side=self.padding_side,
        )
        if not self.return_special_tokens_mask:
            out.pop("special_tokens_mask")
        return out

    def compute_output_spec(self, texts, texts_b=None):
        length = None
        if self.padding == enc.MAX_LENGTH and self.truncation != enc.DO_NOT_TRUNCATE:
            length = self.max_length
            if self.pad_to_multiple_of:
                m = self.pad_to_multiple_of
                length = (length + m - 1) // m * m
        batch = texts.shape[0] if len(texts.shape) else 1
        spec = {
            "input_ids": keras.KerasTensor((batch, length), dtype="int32"),
            "token_type_ids": keras.KerasTensor((batch, length), dtype="int32"),
            "attention_mask": keras.KerasTensor((batch, length), dtype="int32"),
        }
        if self.return_special_tokens_mask:
            spec["special_tokens_mask"] = keras.KerasTensor((batch, length), dtype="int32")
        if self.return_offsets_mapping:
            spec["offset_mapping"] = keras.KerasTensor((batch, length, 2), dtype="int32")
        return spec
