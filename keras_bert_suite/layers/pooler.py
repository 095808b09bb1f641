"""`BertPooler`: tanh(dense(first token)), the `pooler_output` used by NSP and classification heads.

[batch, length, hidden] -> [batch, hidden].
"""

import keras

from keras_bert_suite.config import BertConfig
from keras_bert_suite.layers.dense import bert_dense
from keras_bert_suite.layers.hf_names import collect


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertPooler(keras.layers.Layer):
    """transformers' `bert.pooler`: tanh(dense(hidden state of the first token)).

    Args:
        config: a `BertConfig` (or its dict); the layer reads the sizes, activation, dropout rates and position
            embedding type it needs.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", ...).

    Call: hidden_states [batch, length, hidden] -> [batch, hidden].

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> pooler = BertPooler(config)
        >>> tuple(pooler(np.zeros([2, 7, 32], "float32")).shape)
        (2, 32)
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
        self.dense = bert_dense(self.config, self.config.hidden_size, "dense", self.dtype_policy)

    def build(self, input_shape=None):
        self.dense.build((None, self.config.hidden_size))
        self.built = True

    def call(self, hidden_states):
        return keras.ops.tanh(self.dense(hidden_states[:, 0]))

    def hf_weights(self):
        return collect({"dense": self.dense})

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}
