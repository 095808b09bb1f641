"""`BertLayer`: one transformer block: self-attention, optional cross-attention, feed-forward.

[batch, length, hidden] -> [batch, length, hidden], post-layer-norm as in BERT.

Example:
    >>> import numpy as np
    >>> from keras_bert_suite import BertConfig
    >>> block = BertLayer(BertConfig(hidden_size=32, num_attention_heads=4, intermediate_size=37))
    >>> x = np.zeros([2, 7, 32], "float32")
    >>> tuple(block(x)["hidden_states"].shape) == x.shape
    True
"""

import keras

from keras_bert_suite.activations import get_activation
from keras_bert_suite.config import BertConfig
from keras_bert_suite.layers.attention import BertAttention
from keras_bert_suite.layers.dense import bert_dense
from keras_bert_suite.layers.dropout import BertDropout
from keras_bert_suite.layers.hf_names import collect


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertLayer(keras.layers.Layer):
    """transformers' `bert.encoder.layer.N`: attention, optional cross-attention, intermediate and output.

    Args:
        config: a `BertConfig` (or its dict); the layer reads the sizes, activation, dropout rates and position
            embedding type it needs.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", ...).

    Call: `hidden_states` [batch, length, hidden], additive `attention_mask`, `head_mask`,
    `encoder_hidden_states` and `encoder_attention_mask` (decoders with cross-attention), `past_key_value`,
    `query_positions` (int [batch, n]), `training`. Returns a dict: `hidden_states`, `attentions`,
    `cross_attentions` (None without cross-attention), `present` (the key/value cache).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> block = BertLayer(config)
        >>> tuple(block(np.zeros([2, 7, 32], "float32"))["attentions"].shape)
        (2, 4, 7, 7)
    """

    def __init__(self, config, **kwargs):
        kwargs.setdefault("autocast", False)  # the additive mask stays float32 under mixed precision
        super().__init__(**kwargs)
        self.config = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
        c = self.config
        self.attention = BertAttention(c, name="attention", dtype=self.dtype_policy)
        self.crossattention = (
            BertAttention(c, is_cross_attention=True, name="crossattention", dtype=self.dtype_policy)
            if c.add_cross_attention
            else None
        )
        self.intermediate_dense = bert_dense(c, c.intermediate_size, "intermediate_dense", self.dtype_policy)
        self.activation = get_activation(c.hidden_act)
        self.output_dense = bert_dense(c, c.hidden_size, "output_dense", self.dtype_policy)
        self.output_dropout = BertDropout(c.hidden_dropout_prob, dtype=self.dtype_policy)
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=c.layer_norm_eps, name="output_LayerNorm", dtype=self.dtype_policy
        )

    def build(self, input_shape=None):
        c = self.config
        self.attention.build()
        if self.crossattention is not None:
            self.crossattention.build()
        self.intermediate_dense.build((None, None, c.hidden_size))
        self.output_dense.build((None, None, c.intermediate_size))
        self.output_layer_norm.build((None, None, c.hidden_size))
        self.built = True

    def call(self, hidden_states, attention_mask=None, head_mask=None, encoder_hidden_states=None,
             encoder_attention_mask=None, past_key_value=None, query_positions=None, training=None):
        """Returns a dict: `hidden_states`, `attentions`, `cross_attentions` (or None), `present` (a tuple of
        self-attention key/value and, with cross-attention, its key/value). With `query_positions` (int
        [batch, n]) `hidden_states` are computed at those rows only: [batch, n, hidden]."""
        self_past = past_key_value[:2] if past_key_value is not None else None
        hidden, probs, present = self.attention(
            hidden_states, attention_mask=attention_mask, head_mask=head_mask, past_key_value=self_past,
            query_positions=query_positions, training=training,
        )
        cross_probs = None
        if self.crossattention is not None and encoder_hidden_states is not None:
            cross_past = past_key_value[2:4] if past_key_value is not None and len(past_key_value) == 4 else None
            hidden, cross_probs, cross_present = self.crossattention(
                hidden, attention_mask=encoder_attention_mask, head_mask=head_mask,
                encoder_hidden_states=encoder_hidden_states, past_key_value=cross_past, training=training,
            )
            present = present + cross_present
        elif encoder_hidden_states is not None and self.config.is_decoder:
            raise ValueError(
                "encoder_hidden_states were passed, but this model has no cross-attention layers: "
                "set add_cross_attention=True in the config"
            )
        intermediate = self.activation(self.intermediate_dense(hidden))
        out = self.output_dropout(self.output_dense(intermediate), training=training)
        out = self.output_layer_norm(out + hidden)
        return {"hidden_states": out, "attentions": probs, "cross_attentions": cross_probs, "present": present}

    def hf_weights(self):
        return collect({
            "attention": self.attention,
            "crossattention": self.crossattention,
            "intermediate.dense": self.intermediate_dense,
            "output.dense": self.output_dense,
            "output.LayerNorm": self.output_layer_norm,
        })

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}
