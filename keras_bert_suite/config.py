"""`BertConfig`: every setting of a BERT model, read from and written to Hugging Face `config.json`.

The field names and defaults are those of transformers' `BertConfig` (and the `PretrainedConfig` fields that
BERT uses), so a `config.json` written by either library loads in the other. Keys this class does not know are
kept and written back unchanged.

Example:
    >>> config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
    >>> config.head_dim
    8
"""

from __future__ import annotations

import copy
import json
import os

from keras_bert_suite.activations import ACTIVATIONS
from keras_bert_suite.hub import pop_hub_kwargs, resolve_pretrained
from keras_bert_suite.io import atomic_write_text

CONFIG_NAME = "config.json"

POSITION_EMBEDDING_TYPES = ("absolute", "relative_key", "relative_key_query")
PROBLEM_TYPES = (None, "regression", "single_label_classification", "multi_label_classification")

# Field name -> default, in the order transformers writes them.
_DEFAULTS = {
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "bos_token_id": None,
    "eos_token_id": None,
    "sep_token_id": None,
    "position_embedding_type": "absolute",
    "use_cache": True,
    "classifier_dropout": None,
    "is_decoder": False,
    "add_cross_attention": False,
    "tie_word_embeddings": True,
    "problem_type": None,
    "architectures": None,
    "output_hidden_states": False,
    "output_attentions": False,
    "return_dict": True,
    "chunk_size_feed_forward": 0,
}


class ConfigError(ValueError):
    """A configuration value that cannot describe a BERT model."""


class BertConfig:
    """Configuration of a BERT model and its heads.

    Args:
        vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, hidden_act,
        hidden_dropout_prob, attention_probs_dropout_prob, max_position_embeddings, type_vocab_size,
        initializer_range, layer_norm_eps, pad_token_id, position_embedding_type, use_cache,
        classifier_dropout, is_decoder, add_cross_attention: as in transformers' `BertConfig`.
        num_labels: number of labels of classification heads (default 2, or the size of `id2label`).
        id2label / label2id: label names; keys of `id2label` may be ints or digit strings.
        problem_type: None, "regression", "single_label_classification" or "multi_label_classification".
        **kwargs: any other key; kept and written back by `to_dict`.
    """

    model_type = "bert"

    def __init__(self, num_labels=None, id2label=None, label2id=None, **kwargs):
        for name, default in _DEFAULTS.items():
            setattr(self, name, copy.deepcopy(kwargs.pop(name, default)))
        kwargs.pop("model_type", None)
        kwargs.pop("transformers_version", None)
        self.extra = kwargs
        self._set_labels(num_labels, id2label, label2id)
        self.validate()

    def _set_labels(self, num_labels, id2label, label2id):
        if id2label is not None:
            id2label = {int(k): str(v) for k, v in dict(id2label).items()}
            if num_labels is not None and num_labels != len(id2label):
                raise ConfigError(f"num_labels={num_labels} disagrees with id2label, which has {len(id2label)} labels")
        else:
            n = 2 if num_labels is None else int(num_labels)
            if n < 1:
                raise ConfigError(f"num_labels must be at least 1, got {num_labels}")
            id2label = {i: f"LABEL_{i}" for i in range(n)}
        self.id2label = id2label
        if label2id is None:
            label2id = {v: k for k, v in id2label.items()}
        self.label2id = {str(k): int(v) for k, v in dict(label2id).items()}

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, n):
        self._set_labels(n, None, None)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def validate(self):
        """Raise `ConfigError` naming the first invalid value."""
        positive = ("vocab_size", "hidden_size", "num_attention_heads", "intermediate_size", "max_position_embeddings")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("num_hidden_layers", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) is not a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not 0.0 <= float(value) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {value!r}")
        if self.classifier_dropout is not None and not 0.0 <= float(self.classifier_dropout) < 1.0:
            raise ConfigError(f"classifier_dropout must be None or in [0, 1), got {self.classifier_dropout!r}")
        if self.position_embedding_type not in POSITION_EMBEDDING_TYPES:
            raise ConfigError(
                f"position_embedding_type must be one of {POSITION_EMBEDDING_TYPES}, "
                f"got {self.position_embedding_type!r}"
            )
        if isinstance(self.hidden_act, str) and self.hidden_act not in ACTIVATIONS:
            raise ConfigError(f"unknown hidden_act {self.hidden_act!r}; known: {sorted(ACTIVATIONS)}")
        if self.problem_type not in PROBLEM_TYPES:
            raise ConfigError(f"problem_type must be one of {PROBLEM_TYPES}, got {self.problem_type!r}")
        if float(self.layer_norm_eps) <= 0:
            raise ConfigError(f"layer_norm_eps must be positive, got {self.layer_norm_eps!r}")

    # ----- dict and JSON -----
    def to_dict(self) -> dict:
        out = {name: copy.deepcopy(getattr(self, name)) for name in _DEFAULTS}
        out["id2label"] = {str(k): v for k, v in self.id2label.items()}
        out["label2id"] = dict(self.label2id)
        out["model_type"] = self.model_type
        out.update(copy.deepcopy(self.extra))
        return out

    @classmethod
    def from_dict(cls, data: dict, **overrides) -> "BertConfig":
        data = dict(data)
        data.update(overrides)
        if "num_labels" in overrides and "id2label" not in overrides:
            data.pop("id2label", None)
            data.pop("label2id", None)
        return cls(**data)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, path: str):
        """Write `config.json` into the folder `path` (created if needed), atomically."""
        os.makedirs(path, exist_ok=True)
        atomic_write_text(os.path.join(path, CONFIG_NAME), self.to_json_string())

    @classmethod
    def from_json_file(cls, file: str, **overrides) -> "BertConfig":
        try:
            with open(file, encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{file} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{file} must hold a JSON object, got {type(data).__name__}")
        try:
            return cls.from_dict(data, **overrides)
        except ConfigError as e:
            raise ConfigError(f"{file}: {e}") from None

    @classmethod
    def from_pretrained(cls, path: str, **overrides) -> "BertConfig":
        """Read a folder holding `config.json`, a JSON file itself, or a Hugging Face Hub id's config.json.

        Args:
            path: a folder, a JSON file, or a Hub repo id (`"google-bert/bert-base-uncased"`).
            **overrides: config values to replace, and the Hub arguments of `hub.resolve_pretrained`
                (revision, cache_dir, token, local_files_only, force_download, subfolder).

        Example:
            >>> BertConfig.from_pretrained("google-bert/bert-base-uncased", num_labels=3).num_labels  # doctest: +SKIP
            3
        """
        path = resolve_pretrained(path, kind="config", **pop_hub_kwargs(overrides))
        file = os.path.join(path, CONFIG_NAME) if os.path.isdir(path) else path
        if not os.path.exists(file):
            raise FileNotFoundError(f"no {CONFIG_NAME} found at {path!r}")
        return cls.from_json_file(file, **overrides)

    def copy(self, **overrides) -> "BertConfig":
        return BertConfig.from_dict(self.to_dict(), **overrides)

    def __eq__(self, other):
        return isinstance(other, BertConfig) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f"BertConfig({self.to_json_string()})"
