"""`BertEmbeddings`: word + position + token-type embeddings, then layer norm and dropout.

Inputs `input_ids` [batch, length] (or `inputs_embeds` [batch, length, hidden]) -> [batch, length, hidden].

Example:
    >>> import numpy as np
    >>> emb = BertEmbeddings(BertConfig(hidden_size=32, num_attention_heads=4))
    >>> tuple(emb(input_ids=np.array([[101, 2023, 102]])).shape)
    (1, 3, 32)
"""

import keras
from keras import ops

from keras_bert_suite.config import BertConfig
from keras_bert_suite.layers.dropout import BertDropout
from keras_bert_suite.layers.hf_names import collect


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertEmbeddings(keras.layers.Layer):
    """transformers' `bert.embeddings`: word + position + token-type embeddings, LayerNorm, dropout.

    Args:
        config: a `BertConfig` (or its dict); the layer reads the sizes, activation, dropout rates and position
            embedding type it needs.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", ...).

    Call arguments: `input_ids` int [batch, length] or `inputs_embeds` [batch, length, hidden];
    `token_type_ids` int [batch, length] (default zeros); `position_ids` int [batch or 1, length] (default
    `past_length + arange(length)`); `past_length` (cached positions before these); `training`.
    Returns [batch, length, hidden].

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> emb = BertEmbeddings(config)
        >>> tuple(emb(input_ids=np.array([[2, 5, 3]]), token_type_ids=np.array([[0, 0, 1]])).shape)
        (1, 3, 32)
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
        c = self.config
        init = keras.initializers.TruncatedNormal(stddev=c.initializer_range)
        self.word_embeddings = keras.layers.Embedding(
            c.vocab_size, c.hidden_size, embeddings_initializer=init, name="word_embeddings", dtype=self.dtype_policy
        )
        self.position_embeddings = keras.layers.Embedding(
            c.max_position_embeddings, c.hidden_size, embeddings_initializer=init, name="position_embeddings",
            dtype=self.dtype_policy,
        )
        self.token_type_embeddings = (
            keras.layers.Embedding(
                c.type_vocab_size, c.hidden_size, embeddings_initializer=init, name="token_type_embeddings",
                dtype=self.dtype_policy,
            )
            if c.type_vocab_size > 0
            else None
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=c.layer_norm_eps, name="LayerNorm", dtype=self.dtype_policy
        )
        self.dropout = BertDropout(c.hidden_dropout_prob, dtype=self.dtype_policy)

    def build(self, input_shape=None):
        for layer in (self.word_embeddings, self.position_embeddings, self.token_type_embeddings):
            if layer is not None:
                layer.build((None, None))
        self.layer_norm.build((None, None, self.config.hidden_size))
        self.built = True

    def call(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None, past_length=0,
             training=None):
        if inputs_embeds is None:
            if input_ids is None:
                raise ValueError("You have to specify either input_ids or inputs_embeds")
            inputs_embeds = self.word_embeddings(input_ids)
        shape = ops.shape(inputs_embeds)
        length = shape[1]
        embeddings = inputs_embeds
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = ops.zeros(shape[:2], dtype="int32")
            embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        if self.config.position_embedding_type == "absolute":
            if position_ids is None:
                position_ids = ops.expand_dims(ops.arange(length, dtype="int32") + past_length, 0)
            embeddings = embeddings + self.position_embeddings(position_ids)
        embeddings = self.layer_norm(embeddings)
        return self.dropout(embeddings, training=training)

    def hf_weights(self):
        return collect({
            "word_embeddings": self.word_embeddings,
            "position_embeddings": self.position_embeddings,
            "token_type_embeddings": self.token_type_embeddings,
            "LayerNorm": self.layer_norm,
        })

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}
