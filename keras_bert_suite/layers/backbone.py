"""`BertBackbone`: embeddings -> encoder -> pooler, the body every BERT model and head shares.

It takes the Hugging Face inputs and returns `BaseModelOutputWithPoolingAndCrossAttentions`:
`last_hidden_state` [batch, length, hidden], `pooler_output` [batch, hidden] (when `add_pooling_layer`), and
`hidden_states`, `attentions`, `cross_attentions`, `past_key_values` when asked. Everything is traced with
static Python control flow, so the whole call compiles under XLA.

Example:
    >>> import numpy as np
    >>> backbone = BertBackbone(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4))
    >>> out = backbone(input_ids=np.ones([2, 7], "int32"), attention_mask=np.ones([2, 7], "int32"))
    >>> tuple(out.last_hidden_state.shape), tuple(out.pooler_output.shape)
    ((2, 7, 32), (2, 32))
"""

import keras
from keras import ops

from keras_bert_suite.config import BertConfig
from keras_bert_suite.layers.embeddings import BertEmbeddings
from keras_bert_suite.layers.encoder import BertEncoder
from keras_bert_suite.layers.hf_names import collect
from keras_bert_suite.layers.masks import expand_mask
from keras_bert_suite.layers.pooler import BertPooler
from keras_bert_suite.outputs import BaseModelOutputWithPoolingAndCrossAttentions


def _as_int32(x):
    if x is None:
        return None
    x = ops.convert_to_tensor(x)
    return x if x.dtype == "int32" else ops.cast(x, "int32")


def _checked_ids(input_ids, inputs_embeds, token_type_ids, position_ids):
    """(input_ids, token_type_ids, position_ids) as int32 (None stays None), once exactly one of input_ids
    [batch, length] and inputs_embeds is given."""
    if input_ids is not None and inputs_embeds is not None:
        raise ValueError("You cannot specify both input_ids and inputs_embeds at the same time")
    if input_ids is None and inputs_embeds is None:
        raise ValueError("You have to specify either input_ids or inputs_embeds")
    input_ids = _as_int32(input_ids)
    if input_ids is not None and len(input_ids.shape) != 2:
        raise ValueError(f"input_ids must have shape [batch, length], got {tuple(input_ids.shape)}")
    return input_ids, _as_int32(token_type_ids), _as_int32(position_ids)


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertBackbone(keras.layers.Layer):
    """BERT's body (transformers' `BertModel` without the loading API): embeddings, encoder, pooler.

    Args:
        config: a `BertConfig` (or its dict); the layer reads the sizes, activation, dropout rates and position
            embedding type it needs.
        add_pooling_layer: build the pooler (`pooler_output`); heads reading every token leave it out.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", ...).

    Call arguments: the model inputs (`input_ids`, `attention_mask`, `token_type_ids`, `position_ids`,
    `head_mask`, `inputs_embeds`, `encoder_hidden_states`, `encoder_attention_mask`, `past_key_values`,
    `use_cache`, `output_attentions`, `output_hidden_states`; see `models/call_docs.py`), `output_positions`
    and `training`.

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> backbone = BertBackbone(config, add_pooling_layer=False)
        >>> tuple(backbone(input_ids=np.array([[2, 5, 3]])).last_hidden_state.shape)
        (1, 3, 32)
    """

    def __init__(self, config, add_pooling_layer=True, **kwargs):
        super().__init__(**kwargs)
        self.config = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
        self.add_pooling_layer = add_pooling_layer
        self.embeddings = BertEmbeddings(self.config, name="embeddings", dtype=self.dtype_policy)
        self.encoder = BertEncoder(self.config, name="encoder", dtype=self.dtype_policy)
        self.pooler = BertPooler(self.config, name="pooler", dtype=self.dtype_policy) if add_pooling_layer else None

    def build(self, input_shape=None):
        self.embeddings.build()
        self.encoder.build()
        if self.pooler is not None:
            self.pooler.build()
        self.built = True

    def _head_masks(self, head_mask):
        """[heads] or [layers, heads] of 1.0 (keep) / 0.0 (drop) -> one [1, heads, 1, 1] mask per layer."""
        if head_mask is None:
            return None
        head_mask = ops.cast(ops.convert_to_tensor(head_mask), "float32")
        layers, heads = self.config.num_hidden_layers, self.config.num_attention_heads
        if tuple(head_mask.shape) == (heads,):
            head_mask = ops.broadcast_to(head_mask[None], (layers, heads))
        elif tuple(head_mask.shape) != (layers, heads):
            raise ValueError(
                f"head_mask must have shape ({heads},) or ({layers}, {heads}), got {tuple(head_mask.shape)}"
            )
        return [ops.reshape(head_mask[i], (1, heads, 1, 1)) for i in range(layers)]

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, encoder_hidden_states=None, encoder_attention_mask=None, past_key_values=None,
             use_cache=None, output_attentions=None, output_hidden_states=None, output_positions=None,
             training=None):
        """`output_positions` (int [batch, n]): `last_hidden_state` holds those rows only ([batch, n, hidden];
        the pooler reads row 0 of it). For a bidirectional encoder with absolute positions, no cache and no
        per-layer outputs asked for, the last layer computes those rows only; otherwise every row is computed
        and the rows are picked."""
        c = self.config
        input_ids, token_type_ids, position_ids = _checked_ids(input_ids, inputs_embeds, token_type_ids,
                                                               position_ids)
        output_attentions = c.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = c.output_hidden_states if output_hidden_states is None else output_hidden_states
        use_cache = (c.use_cache if use_cache is None else use_cache) and c.is_decoder

        shape = ops.shape(input_ids) if input_ids is not None else ops.shape(inputs_embeds)[:2]
        batch, length = shape[0], shape[1]
        past_length = 0 if past_key_values is None else ops.shape(past_key_values[0][0])[2]

        embeddings = self.embeddings(
            input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
            inputs_embeds=inputs_embeds, past_length=past_length, training=training,
        )
        mask, encoder_mask = self._attention_masks(attention_mask, encoder_hidden_states, encoder_attention_mask,
                                                   batch, length, past_length)
        select_in_encoder = output_positions is not None and not (
            output_hidden_states or output_attentions or c.is_decoder or past_key_values is not None
            or encoder_hidden_states is not None or c.position_embedding_type != "absolute"
        )
        out = self.encoder(
            embeddings, output_positions=output_positions if select_in_encoder else None, attention_mask=mask,
            head_mask=self._head_masks(head_mask), encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_mask, past_key_values=past_key_values, use_cache=use_cache,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states, training=training,
        )
        sequence = out["last_hidden_state"]
        if output_positions is not None and not select_in_encoder:
            sequence = ops.take_along_axis(sequence, _as_int32(output_positions)[..., None], axis=1)
        return BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=sequence,
            pooler_output=self.pooler(sequence) if self.pooler is not None else None,
            past_key_values=out["past_key_values"],
            hidden_states=out["hidden_states"],
            attentions=out["attentions"],
            cross_attentions=out["cross_attentions"],
        )

    def _attention_masks(self, attention_mask, encoder_hidden_states, encoder_attention_mask, batch, length,
                         past_length):
        """(self-attention mask, cross-attention mask or None), additive, as `masks.expand_mask` gives them:
        [batch, 1, length or 1, past_length + length] (causal for a decoder), [batch, 1, 1, encoder length]. A
        missing mask is all ones."""
        if attention_mask is None:
            attention_mask = ops.ones((batch, length + past_length), dtype="int32")
        mask = expand_mask(attention_mask, q_len=length, causal=self.config.is_decoder)
        encoder_mask = None
        if encoder_hidden_states is not None:
            if encoder_attention_mask is None:
                encoder_attention_mask = ops.ones(ops.shape(encoder_hidden_states)[:2], dtype="int32")
            encoder_mask = expand_mask(encoder_attention_mask)
        return mask, encoder_mask

    def hf_weights(self):
        return collect({"embeddings": self.embeddings, "encoder": self.encoder, "pooler": self.pooler})

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict(), "add_pooling_layer": self.add_pooling_layer}
