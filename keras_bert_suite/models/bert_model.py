"""`BertModel`: the bare encoder, outputting hidden states and the pooled [CLS] vector.

Returns `BaseModelOutputWithPoolingAndCrossAttentions` (`last_hidden_state` [batch, length, hidden],
`pooler_output` [batch, hidden], ...). With `is_decoder=True` it masks causally and, with `use_cache`, returns
`past_key_values` for incremental decoding; with `add_cross_attention=True` it attends to
`encoder_hidden_states`.

Example:
    >>> model = BertModel.from_pretrained(minilm_folder)  # doctest: +SKIP
    >>> model({"input_ids": ids, "attention_mask": mask}).last_hidden_state.shape  # doctest: +SKIP
    (2, 9, 384)
"""

import keras

from keras_bert_suite.layers.backbone import BertBackbone
from keras_bert_suite.layers.hf_names import collect
from keras_bert_suite.models.base import BertPreTrainedModel
from keras_bert_suite.models.call_docs import document_model


@keras.saving.register_keras_serializable(package="keras_bert_suite")
@document_model("none (no loss of its own).")
class BertModel(BertPreTrainedModel):
    """The bare encoder: `last_hidden_state` [batch, length, hidden] and `pooler_output` [batch, hidden].

    Args:
        config: a `BertConfig` (or its dict).
        add_pooling_layer: build the pooler (`pooler_output`).
        **kwargs: `keras.Model` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", which the
            config of a saved model keeps).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig, BertModel
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> model = BertModel(config)
        >>> out = model(np.array([[2, 5, 7, 3], [2, 6, 3, 0]]))
        >>> tuple(out.last_hidden_state.shape), tuple(out.pooler_output.shape)
        ((2, 4, 32), (2, 32))
    """

    serving_task = "feature_extraction"

    def __init__(self, config, add_pooling_layer=True, **kwargs):
        super().__init__(config, **kwargs)
        self.add_pooling_layer = add_pooling_layer
        self.bert = BertBackbone(self.config, add_pooling_layer=add_pooling_layer, name="bert",
                                 dtype=self.dtype_policy)
        self.bert.build()
        self.built = True

    def forward(self, training=None, **inputs):
        return self.bert(training=training, **inputs)

    def hf_weights(self):
        # transformers' bare BertModel has no "bert." prefix.
        return collect({"": self.bert})

    def get_config(self):
        return {**super().get_config(), "add_pooling_layer": self.add_pooling_layer}
