"""Putting a state dict (transformers' PyTorch names -> numpy arrays) into a model, and taking one out.

`load_state_dict(model, state_dict, source)` checks every name and shape first and assigns nothing when a shape
disagrees, so a failed load never leaves a half-loaded model. It returns a `LoadingInfo` naming the missing
(newly initialised), unexpected and mis-shaped weights.

Example:
    >>> import keras_bert_suite as kbs
    >>> from keras_bert_suite.checkpoints.safetensors_io import read_safetensors
    >>> config = kbs.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    ...                         intermediate_size=37)
    >>> kbs.BertModel(config).save_pretrained("bert-tiny")           # no classification head
    >>> model = kbs.BertForSequenceClassification(config.copy(num_labels=2))
    >>> info = load_state_dict(model, read_safetensors("bert-tiny/model.safetensors"), "model.safetensors")
    >>> info.missing_keys
    ['classifier.weight', 'classifier.bias']
"""

import dataclasses
import logging
import re

import numpy as np

logger = logging.getLogger("keras_bert_suite")

# Buffers and names older checkpoints carry that are not weights.
_IGNORED = re.compile(r"(^|\.)position_ids$|(^|\.)token_type_ids$")


class WeightShapeError(ValueError):
    """Weights whose shapes disagree with the model's; the message lists each with both shapes."""


class WeightDtypeError(TypeError):
    """A weight stored with a non-floating dtype (ints, bools, strings): named with its file."""


@dataclasses.dataclass
class LoadingInfo:
    source: str
    missing_keys: list
    unexpected_keys: list
    mismatched_keys: list  # (name, checkpoint shape, model shape), only with ignore_mismatched_sizes

    @property
    def newly_initialized(self):
        return self.missing_keys + [name for name, _, _ in self.mismatched_keys]

    def report(self, model_name):
        lines = []
        if self.unexpected_keys:
            lines.append(f"Some weights of {self.source} were not used by {model_name}: {self.unexpected_keys}")
        if self.newly_initialized:
            lines.append(
                f"Some weights of {model_name} were not in {self.source} and are newly initialized: "
                f"{self.newly_initialized}. Train the model before using it for predictions."
            )
        for name, got, want in self.mismatched_keys:
            lines.append(f"{name}: checkpoint shape {got} != model shape {want}; newly initialized")
        return "\n".join(lines)


def _rename_legacy(name):
    name = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", name)
    return re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name)


def align_names(state_dict, expected, prefix="bert."):
    """Rename checkpoint keys to the model's convention: add or strip the `bert.` prefix, old LayerNorm names."""
    state_dict = {_rename_legacy(k): v for k, v in state_dict.items() if not _IGNORED.search(k)}
    model_prefixed = any(n.startswith(prefix) for n in expected)
    ckpt_prefixed = any(k.startswith(prefix) for k in state_dict)
    body = ("embeddings.", "encoder.", "pooler.")
    if model_prefixed and not ckpt_prefixed:
        state_dict = {(prefix + k if k.startswith(body) else k): v for k, v in state_dict.items()}
    elif not model_prefixed and ckpt_prefixed:
        state_dict = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state_dict.items()}
    return state_dict


def load_state_dict(model, state_dict, source, ignore_mismatched_sizes=False):
    """Assign `state_dict` to `model.hf_weights()`; raise `WeightShapeError` on shape disagreement."""
    weights = model.hf_weights()
    tied = getattr(model, "tied_weights", {})
    state_dict = align_names(state_dict, weights)
    for alias, target in tied.items():
        if alias in state_dict:
            value = state_dict.pop(alias)
            state_dict.setdefault(target, value)
    assignments, mismatched = [], []
    for name, weight in weights.items():
        if name not in state_dict:
            continue
        value = np.asarray(state_dict[name])
        if not np.issubdtype(value.dtype, np.floating):
            raise WeightDtypeError(f"{source}: weight {name!r} has dtype {value.dtype}; expected floating point")
        if tuple(value.shape) != weight.hf_shape:
            mismatched.append((name, tuple(value.shape), weight.hf_shape))
            continue
        assignments.append((weight, value))
    if mismatched and not ignore_mismatched_sizes:
        lines = "\n".join(f"  {n}: checkpoint {got}, model {want}" for n, got, want in mismatched)
        raise WeightShapeError(
            f"weights in {source} do not fit {type(model).__name__} (does config.json match the weights?):\n{lines}"
        )
    for weight, value in assignments:
        weight.variable.assign(weight.from_hf(value).astype(weight.variable.dtype, copy=False))
    missing = [n for n in weights if n not in state_dict]
    unexpected = [k for k in state_dict if k not in weights]
    return LoadingInfo(source, missing, unexpected, mismatched)


def model_state_dict(model):
    """transformers-named float arrays of every weight of `model`, as `save_pretrained` writes them."""
    return {
        name: np.ascontiguousarray(weight.to_hf(np.asarray(weight.variable.numpy())))
        for name, weight in model.hf_weights().items()
    }
