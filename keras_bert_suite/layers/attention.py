"""Multi-head attention as BERT does it: `BertSelfAttention` (scores, relative positions, cache) and
`BertAttention` (self-attention + output projection, dropout, residual and layer norm).

Shapes: `hidden_states` [batch, q_len, hidden]; `attention_mask` is additive, float32, broadcastable to
[batch, heads, q_len, k_len] (0 where attended, a large negative number where masked; see `masks.py`);
`past_key_value` is a pair of [batch, heads, past_len, head_dim] tensors. Scores and softmax run in float32 under
mixed precision.

Example:
    >>> import numpy as np
    >>> from keras_bert_suite import BertConfig
    >>> attn = BertAttention(BertConfig(hidden_size=32, num_attention_heads=4))
    >>> context, probs, present = attn(np.zeros([2, 7, 32], "float32"))
    >>> tuple(context.shape), tuple(probs.shape)
    ((2, 7, 32), (2, 4, 7, 7))
"""

import math

import keras
from keras import ops

from keras_bert_suite.config import BertConfig
from keras_bert_suite.layers.dense import bert_dense
from keras_bert_suite.layers.dropout import BertDropout
from keras_bert_suite.layers.hf_names import collect


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertSelfAttention(keras.layers.Layer):
    """Scaled dot-product attention over `num_attention_heads` heads, with BERT's position variants.

    Args:
        config: a `BertConfig` (or its dict); the layer reads the sizes, activation, dropout rates and position
            embedding type it needs.
        is_cross_attention: keys and values come from `encoder_hidden_states` (a decoder's cross-attention).
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", ...).

    Call: `hidden_states` [batch, q_len, hidden]; `attention_mask` additive, broadcastable to [batch, heads,
    q_len, k_len]; `head_mask` [1, heads, 1, 1]; `encoder_hidden_states`; `past_key_value` (key, value) cache;
    `key_value_states`; `training`. Returns (context [batch, q_len, hidden], probabilities [batch, heads,
    q_len, k_len], (key, value) [batch, heads, k_len, head_dim]).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> attn = BertSelfAttention(config)
        >>> context, probs, (key, value) = attn(np.zeros([2, 7, 32], "float32"))
        >>> tuple(key.shape)
        (2, 4, 7, 8)
    """

    def __init__(self, config, is_cross_attention=False, **kwargs):
        kwargs.setdefault("autocast", False)  # the additive mask stays float32 under mixed precision
        super().__init__(**kwargs)
        self.config = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
        self.is_cross_attention = is_cross_attention
        c = self.config
        self.num_heads = c.num_attention_heads
        self.head_dim = c.head_dim
        self.query = bert_dense(c, c.hidden_size, "query", self.dtype_policy)
        self.key = bert_dense(c, c.hidden_size, "key", self.dtype_policy)
        self.value = bert_dense(c, c.hidden_size, "value", self.dtype_policy)
        self.dropout = BertDropout(c.attention_probs_dropout_prob, dtype=self.dtype_policy)
        self.position_embedding_type = c.position_embedding_type
        self.distance_embedding = None
        if self.position_embedding_type in ("relative_key", "relative_key_query"):
            self.distance_embedding = keras.layers.Embedding(
                2 * c.max_position_embeddings - 1,
                self.head_dim,
                embeddings_initializer=keras.initializers.TruncatedNormal(stddev=c.initializer_range),
                name="distance_embedding",
                dtype=self.dtype_policy,
            )

    def build(self, input_shape=None):
        hidden = self.config.hidden_size
        for layer in (self.query, self.key, self.value):
            layer.build((None, None, hidden))
        if self.distance_embedding is not None:
            self.distance_embedding.build((None, None))
        self.built = True

    def _split_heads(self, x, batch):
        # [batch, length, hidden] -> [batch, heads, length, head_dim]
        x = ops.reshape(x, (batch, -1, self.num_heads, self.head_dim))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, hidden_states, attention_mask=None, head_mask=None, encoder_hidden_states=None,
             past_key_value=None, key_value_states=None, training=None):
        """`key_value_states`: self-attention over these [batch, k_len, hidden] states for queries from
        `hidden_states` (a subset of their rows; absolute positions only)."""
        if key_value_states is not None and self.distance_embedding is not None:
            raise ValueError("key_value_states needs absolute position embeddings: relative ones depend on "
                             "where each query sits")
        batch = ops.shape(hidden_states)[0]
        query = self._split_heads(self.query(hidden_states), batch)
        if self.is_cross_attention and past_key_value is not None:
            key, value = past_key_value
        else:
            if self.is_cross_attention:
                source = encoder_hidden_states
            else:
                source = hidden_states if key_value_states is None else key_value_states
            key = self._split_heads(self.key(source), batch)
            value = self._split_heads(self.value(source), batch)
            if past_key_value is not None:
                key = ops.concatenate([ops.cast(past_key_value[0], key.dtype), key], axis=2)
                value = ops.concatenate([ops.cast(past_key_value[1], value.dtype), value], axis=2)
        present = (key, value)

        scores = ops.einsum("bnqd,bnkd->bnqk", query, key)
        if self.distance_embedding is not None:
            scores = scores + self._relative_scores(query, key, cached=past_key_value is not None)
        scores = ops.cast(scores, "float32") / math.sqrt(self.head_dim)
        if attention_mask is not None:
            scores = scores + ops.cast(attention_mask, "float32")
        probs = ops.softmax(scores, axis=-1)
        probs = ops.cast(probs, self.compute_dtype)
        probs = self.dropout(probs, training=training)
        if head_mask is not None:
            probs = probs * ops.cast(head_mask, probs.dtype)
        context = ops.einsum("bnqk,bnkd->bqnd", probs, value)
        context = ops.reshape(context, (batch, -1, self.num_heads * self.head_dim))
        return context, probs, present

    def _relative_scores(self, query, key, cached):
        q_len = ops.shape(query)[2]
        k_len = ops.shape(key)[2]
        if cached:
            # As the reference: with a cache, every query row sits at the last key position.
            left = ops.reshape(k_len - 1, (1, 1))
        else:
            left = ops.expand_dims(ops.arange(q_len, dtype="int32"), 1)
        right = ops.expand_dims(ops.arange(k_len, dtype="int32"), 0)
        distance = left - right + self.config.max_position_embeddings - 1
        positional = ops.cast(self.distance_embedding(distance), query.dtype)  # [q or 1, k, d]
        positional = ops.broadcast_to(positional, (q_len, k_len, self.head_dim))
        scores = ops.einsum("bnqd,qkd->bnqk", query, positional)
        if self.position_embedding_type == "relative_key_query":
            scores = scores + ops.einsum("bnkd,qkd->bnqk", key, positional)
        return scores

    def hf_weights(self):
        return collect({
            "query": self.query,
            "key": self.key,
            "value": self.value,
            "distance_embedding": self.distance_embedding,
        })

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict(), "is_cross_attention": self.is_cross_attention}


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertAttention(keras.layers.Layer):
    """Self- or cross-attention followed by `dense`, dropout, residual add and `LayerNorm`.

    Args:
        config: a `BertConfig` (or its dict); the layer reads the sizes, activation, dropout rates and position
            embedding type it needs.
        is_cross_attention: attend to `encoder_hidden_states` (a decoder's cross-attention).
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", ...).

    Call: as `BertSelfAttention`, with `query_positions` (int [batch, n]: outputs at those rows only) in place of
    `key_value_states`. Returns (hidden_states [batch, q_len, hidden], probabilities, (key, value)).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> attn = BertAttention(config)
        >>> tuple(attn(np.zeros([2, 7, 32], "float32"))[0].shape)
        (2, 7, 32)
    """

    def __init__(self, config, is_cross_attention=False, **kwargs):
        kwargs.setdefault("autocast", False)  # the additive mask stays float32 under mixed precision
        super().__init__(**kwargs)
        self.config = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
        self.is_cross_attention = is_cross_attention
        c = self.config
        self.self_attention = BertSelfAttention(c, is_cross_attention, name="self", dtype=self.dtype_policy)
        self.output_dense = bert_dense(c, c.hidden_size, "dense", self.dtype_policy)
        self.output_dropout = BertDropout(c.hidden_dropout_prob, dtype=self.dtype_policy)
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=c.layer_norm_eps, name="LayerNorm", dtype=self.dtype_policy
        )

    def build(self, input_shape=None):
        hidden = self.config.hidden_size
        self.self_attention.build()
        self.output_dense.build((None, None, hidden))
        self.output_layer_norm.build((None, None, hidden))
        self.built = True

    def call(self, hidden_states, attention_mask=None, head_mask=None, encoder_hidden_states=None,
             past_key_value=None, query_positions=None, training=None):
        """`query_positions` (int [batch, n], self-attention only): compute the output at those rows only
        ([batch, n, hidden]); keys and values still cover every row."""
        # autocast is off (for the mask): cast the states here, so float32 states work under a mixed policy
        hidden_states = ops.cast(hidden_states, self.compute_dtype)
        key_value_states = None
        if query_positions is not None:
            key_value_states = hidden_states
            hidden_states = ops.take_along_axis(hidden_states, ops.cast(query_positions, "int32")[..., None], axis=1)
        context, probs, present = self.self_attention(
            hidden_states,
            attention_mask=attention_mask,
            head_mask=head_mask,
            encoder_hidden_states=encoder_hidden_states,
            past_key_value=past_key_value,
            key_value_states=key_value_states,
            training=training,
        )
        out = self.output_dropout(self.output_dense(context), training=training)
        return self.output_layer_norm(out + hidden_states), probs, present

    def hf_weights(self):
        return collect({
            "self": self.self_attention,
            "output.dense": self.output_dense,
            "output.LayerNorm": self.output_layer_norm,
        })

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict(), "is_cross_attention": self.is_cross_attention}
