"""`BertEncoder`: a stack of `num_hidden_layers` `BertLayer`s.

Takes [batch, length, hidden] embeddings and returns a dict with `last_hidden_state`, and when asked
`hidden_states` (embeddings + each layer's output), `attentions`, `cross_attentions`, `past_key_values`.
With `output_positions` (int [batch, n]) the last layer computes its output at those rows only, so
`last_hidden_state` is [batch, n, hidden]: the rows of the full result, for less work when only a few
positions are read (the masked tokens in pretraining).

Example:
    >>> import numpy as np
    >>> from keras_bert_suite import BertConfig
    >>> encoder = BertEncoder(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4))
    >>> tuple(encoder(np.zeros([2, 7, 32], "float32"))["last_hidden_state"].shape)
    (2, 7, 32)
"""

import keras

from keras_bert_suite.config import BertConfig
from keras_bert_suite.layers.hf_names import collect
from keras_bert_suite.layers.transformer import BertLayer


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertEncoder(keras.layers.Layer):
    """transformers' `bert.encoder`: `config.num_hidden_layers` `BertLayer`s.

    Args:
        config: a `BertConfig` (or its dict); the layer reads the sizes, activation, dropout rates and position
            embedding type it needs.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", ...).

    Call: embeddings [batch, length, hidden], additive `attention_mask`, per-layer `head_mask` list,
    `encoder_hidden_states`, `encoder_attention_mask`, `past_key_values`, `use_cache`, `output_attentions`,
    `output_hidden_states`, `output_positions`, `training`. Returns a dict (see the module docstring).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> encoder = BertEncoder(config)
        >>> out = encoder(np.zeros([2, 7, 32], "float32"), output_hidden_states=True)
        >>> len(out["hidden_states"])
        3
    """

    def __init__(self, config, **kwargs):
        kwargs.setdefault("autocast", False)  # the additive mask stays float32 under mixed precision
        super().__init__(**kwargs)
        self.config = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
        self.layers = [
            BertLayer(self.config, name=f"layer_{i}", dtype=self.dtype_policy)
            for i in range(self.config.num_hidden_layers)
        ]

    def build(self, input_shape=None):
        for layer in self.layers:
            layer.build()
        self.built = True

    def call(self, hidden_states, attention_mask=None, head_mask=None, encoder_hidden_states=None,
             encoder_attention_mask=None, past_key_values=None, use_cache=False, output_attentions=False,
             output_hidden_states=False, output_positions=None, training=None):
        all_hidden = [hidden_states] if output_hidden_states else None
        all_attn = [] if output_attentions else None
        all_cross = [] if output_attentions and encoder_hidden_states is not None else None
        presents = [] if use_cache else None
        for i, layer in enumerate(self.layers):
            out = layer(
                hidden_states,
                attention_mask=attention_mask,
                head_mask=None if head_mask is None else head_mask[i],
                encoder_hidden_states=encoder_hidden_states,
                encoder_attention_mask=encoder_attention_mask,
                past_key_value=None if past_key_values is None else past_key_values[i],
                query_positions=output_positions if i == len(self.layers) - 1 else None,
                training=training,
            )
            hidden_states = out["hidden_states"]
            if all_hidden is not None:
                all_hidden.append(hidden_states)
            if all_attn is not None:
                all_attn.append(out["attentions"])
            if all_cross is not None:
                all_cross.append(out["cross_attentions"])
            if presents is not None:
                presents.append(out["present"])
        return {
            "last_hidden_state": hidden_states,
            "hidden_states": tuple(all_hidden) if all_hidden is not None else None,
            "attentions": tuple(all_attn) if all_attn is not None else None,
            "cross_attentions": tuple(all_cross) if all_cross is not None else None,
            "past_key_values": tuple(presents) if presents is not None else None,
        }

    def hf_weights(self):
        return collect({f"layer.{i}": layer for i, layer in enumerate(self.layers)})

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}
