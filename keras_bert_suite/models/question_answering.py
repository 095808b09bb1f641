"""`BertForQuestionAnswering`: extractive QA, one start and one end score per token.

Outputs `start_logits`, `end_logits` [batch, length]; labels `start_positions`, `end_positions` [batch]
(positions outside the sequence are ignored, as in transformers).

Example:
    >>> out = model({"input_ids": ids, "token_type_ids": segments})  # doctest: +SKIP
    >>> start, end = out.start_logits.argmax(-1), out.end_logits.argmax(-1)  # doctest: +SKIP
"""

import keras

from keras_bert_suite import losses
from keras_bert_suite.layers.backbone import BertBackbone
from keras_bert_suite.layers.heads import BertDenseHead
from keras_bert_suite.layers.hf_names import collect
from keras_bert_suite.models.base import BertPreTrainedModel
from keras_bert_suite.models.call_docs import document_model
from keras_bert_suite.outputs import QuestionAnsweringModelOutput


@keras.saving.register_keras_serializable(package="keras_bert_suite")
@document_model("`start_positions` and `end_positions` int [batch]: the answer's first and last token.")
class BertForQuestionAnswering(BertPreTrainedModel):
    """Extractive QA: a start and an end score for every token (`config.num_labels` must be 2).

    Args:
        config: a `BertConfig` (or its dict).
        **kwargs: `keras.Model` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", which the
            config of a saved model keeps).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig, BertForQuestionAnswering
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> model = BertForQuestionAnswering(config)
        >>> ids = np.array([[2, 5, 7, 3], [2, 6, 3, 0]])
        >>> out = model({"input_ids": ids, "start_positions": np.array([1, 1]), "end_positions": np.array([2, 1])})
        >>> tuple(out.start_logits.shape), tuple(out.end_logits.shape), out.loss.shape
        ((2, 4), (2, 4), TensorShape([]))
    """

    serving_task = "question_answering"
    label_names = ("start_positions", "end_positions")
    prediction_keys = ("start_logits", "end_logits")

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.bert = BertBackbone(self.config, add_pooling_layer=False, name="bert", dtype=self.dtype_policy)
        self.bert.build()
        self.qa_outputs = BertDenseHead(self.config, self.config.num_labels, name="qa_outputs", dtype=self.dtype_policy)
        self.qa_outputs.build()
        self.built = True

    def forward(self, training=None, start_positions=None, end_positions=None, **inputs):
        body = self.bert(training=training, **inputs)
        logits = self.qa_outputs(body.last_hidden_state)
        out = QuestionAnsweringModelOutput(
            start_logits=logits[..., 0],
            end_logits=logits[..., 1],
            hidden_states=body.hidden_states,
            attentions=body.attentions,
        )
        if start_positions is not None and end_positions is not None:
            out.loss = self.head_loss(out, {"start_positions": start_positions, "end_positions": end_positions})
        return out

    def head_loss(self, outputs, labels):
        return losses.span_loss(
            outputs["start_logits"], outputs["end_logits"], labels["start_positions"], labels["end_positions"]
        )

    def hf_weights(self):
        return collect({"bert": self.bert, "qa_outputs": self.qa_outputs})
