"""The activations transformers accepts as `hidden_act`, by the same names and with the same formulas.

`get_activation("gelu")` is the exact (erf) GELU that BERT checkpoints were trained with; "gelu_new" and
"gelu_pytorch_tanh" are the tanh approximation.
"""

import math

from keras import ops

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x):
    return 0.5 * x * (1.0 + ops.erf(x / math.sqrt(2.0)))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + ops.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * ops.power(x, 3))))


def gelu_fast(x):
    return 0.5 * x * (1.0 + ops.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


def quick_gelu(x):
    return x * ops.sigmoid(1.702 * x)


def gelu_10(x):
    return ops.clip(gelu(x), -10.0, 10.0)


def laplace(x, mu=0.707107, sigma=0.282095):
    return 0.5 * (1.0 + ops.erf((x - mu) / (sigma * math.sqrt(2.0))))


def relu2(x):
    return ops.square(ops.relu(x))


def mish(x):
    return x * ops.tanh(ops.softplus(x))


def silu(x):
    return x * ops.sigmoid(x)


def leaky_relu(x):
    return ops.leaky_relu(x, negative_slope=0.01)


def linear(x):
    return x


ACTIVATIONS = {
    "gelu": gelu,
    "gelu_python": gelu,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "gelu_accurate": gelu_tanh,
    "gelu_fast": gelu_fast,
    "quick_gelu": quick_gelu,
    "gelu_10": gelu_10,
    "laplace": laplace,
    "leaky_relu": leaky_relu,
    "linear": linear,
    "mish": mish,
    "relu": ops.relu,
    "relu2": relu2,
    "relu6": ops.relu6,
    "sigmoid": ops.sigmoid,
    "silu": silu,
    "swish": silu,
    "tanh": ops.tanh,
}


def get_activation(name):
    """The activation function called `name` in transformers (a callable passes through)."""
    if callable(name):
        return name
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}") from None
