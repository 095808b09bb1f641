"""Naming our variables with transformers' PyTorch weight names.

Every layer of this package that owns weights lists them with `hf_weights()`: pairs of a transformers name
relative to the layer (e.g. "attention.self.query.weight") and a `HFWeight` telling which Keras variable holds it
and whether it is stored transposed (torch's `nn.Linear` keeps [out, in]; Keras' `Dense` keeps [in, out]).
The checkpoint code joins these names with a prefix ("bert.", "cls.predictions.") to map whole models.
"""

import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class HFWeight:
    """One Keras variable under its transformers name; `transpose` for [in, out] Dense kernels."""

    variable: object
    transpose: bool = False

    def to_hf(self, value):
        return value.T if self.transpose else value

    def from_hf(self, value):
        return value.T if self.transpose else value

    @property
    def hf_shape(self):
        shape = tuple(self.variable.shape)
        return shape[::-1] if self.transpose else shape


def sublayer_weights(layer: keras.layers.Layer) -> dict:
    """transformers names -> `HFWeight` for one Keras built-in layer (Dense, LayerNormalization, Embedding)."""
    if isinstance(layer, keras.layers.Dense):
        out = {"weight": HFWeight(layer.kernel, transpose=True)}
        if layer.use_bias:
            out["bias"] = HFWeight(layer.bias)
        return out
    if isinstance(layer, keras.layers.LayerNormalization):
        return {"weight": HFWeight(layer.gamma), "bias": HFWeight(layer.beta)}
    if isinstance(layer, keras.layers.Embedding):
        return {"weight": HFWeight(layer.embeddings)}
    if hasattr(layer, "hf_weights"):
        return layer.hf_weights()
    raise TypeError(f"no transformers names for layer {layer.name!r} of type {type(layer).__name__}")


def collect(children: dict) -> dict:
    """Join the names of several named sub-layers: {"query": dense, ...} -> {"query.weight": ..., ...}."""
    out = {}
    for prefix, layer in children.items():
        if layer is None:
            continue
        for name, weight in sublayer_weights(layer).items():
            out[f"{prefix}.{name}" if prefix else name] = weight
    return out
