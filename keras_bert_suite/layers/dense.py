"""`bert_dense`: the Dense layer every BERT sublayer uses, initialised as BERT initialises its linear layers.

Weights are drawn from a truncated normal with `config.initializer_range` as standard deviation (biases start at
zero); the layer computes in the dtype policy it is given (its owner's, so mixed precision follows the model).

Shapes: [..., in] -> [..., units]; kernel [in, units] (transformers stores it transposed, [units, in]).

Example:
    >>> import numpy as np
    >>> from keras_bert_suite import BertConfig
    >>> layer = bert_dense(BertConfig(hidden_size=32, num_attention_heads=4), 8, "dense", "float32")
    >>> tuple(layer(np.zeros([2, 32], "float32")).shape)
    (2, 8)
"""

import keras


def bert_dense(config, units, name, policy, use_bias=True):
    """A `keras.layers.Dense(units)` named `name` with BERT's initialisation.

    Args:
        config: a `BertConfig` (its `initializer_range`).
        units: output size.
        name: the layer's name.
        policy: the dtype policy (a name or a `keras.DTypePolicy`).
        use_bias: False for a layer whose bias lives elsewhere (the MLM decoder's).
    """
    return keras.layers.Dense(
        units,
        use_bias=use_bias,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.initializer_range),
        name=name,
        dtype=policy,
    )
