"""Classification heads: `BertForSequenceClassification` (pooled [CLS] -> num_labels; single-label,
multi-label or regression by `problem_type`), `BertForTokenClassification` (every token -> num_labels) and
`BertForMultipleChoice` (inputs [batch, choices, length] -> one score per choice).

Example:
    >>> model = BertForSequenceClassification.from_pretrained(minilm_folder, num_labels=2)  # doctest: +SKIP
    >>> model.compile(optimizer="adam")                  # the model's own loss, from x["labels"]  # doctest: +SKIP
    >>> model.fit(dataset_of_dicts_with_labels)  # doctest: +SKIP
"""

import keras
from keras import ops

from keras_bert_suite import losses
from keras_bert_suite.layers.backbone import BertBackbone
from keras_bert_suite.layers.heads import BertDenseHead
from keras_bert_suite.layers.hf_names import collect
from keras_bert_suite.models.base import BertPreTrainedModel
from keras_bert_suite.models.call_docs import document_model
from keras_bert_suite.outputs import MultipleChoiceModelOutput, SequenceClassifierOutput, TokenClassifierOutput


class _Classifier(BertPreTrainedModel):
    """`bert` + `classifier` (dropout `classifier_dropout`, or `hidden_dropout_prob` when unset)."""

    add_pooling_layer = True
    label_names = ("labels",)

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        c = self.config
        self.bert = BertBackbone(c, add_pooling_layer=self.add_pooling_layer, name="bert", dtype=self.dtype_policy)
        self.bert.build()
        dropout = c.classifier_dropout if c.classifier_dropout is not None else c.hidden_dropout_prob
        self.classifier = BertDenseHead(c, self.num_outputs(), dropout=dropout, name="classifier",
                                        dtype=self.dtype_policy)
        self.classifier.build()
        self.built = True

    def num_outputs(self):
        return self.config.num_labels

    def _classify(self, output_class, features, training, labels, inputs):
        """`classifier` on the backbone output named `features`; the loss when labels are given."""
        body = self.bert(training=training, **inputs)
        out = output_class(
            logits=self.classifier(body[features], training=training),
            hidden_states=body.hidden_states,
            attentions=body.attentions,
        )
        if labels is not None:
            out.loss = self.head_loss(out, {"labels": labels})
        return out

    def hf_weights(self):
        return collect({"bert": self.bert, "classifier": self.classifier})


@keras.saving.register_keras_serializable(package="keras_bert_suite")
@document_model("`labels` [batch]: class ids (single-label), floats (regression, `num_labels=1`), or "
                "[batch, num_labels] 0/1 (multi-label); `config.problem_type` picks the loss, else the labels do.")
class BertForSequenceClassification(_Classifier):
    """One score per label from the pooled [CLS] vector (dropout, then a dense layer).

    Args:
        config: a `BertConfig` (or its dict).
        **kwargs: `keras.Model` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", which the
            config of a saved model keeps).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig, BertForSequenceClassification
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_labels=3)
        >>> model = BertForSequenceClassification(config)
        >>> out = model({"input_ids": np.array([[2, 5, 7, 3], [2, 6, 3, 0]]), "labels": np.array([0, 2])})
        >>> tuple(out.logits.shape), bool(out.loss > 0)
        ((2, 3), True)
    """

    serving_task = "sequence_classification"

    def forward(self, training=None, labels=None, **inputs):
        return self._classify(SequenceClassifierOutput, "pooler_output", training, labels, inputs)

    def head_loss(self, outputs, labels):
        labels = ops.convert_to_tensor(labels["labels"])
        problem = self.config.problem_type or losses.infer_problem_type(self.config.num_labels, labels)
        return losses.sequence_classification_loss(outputs["logits"], labels, problem)


@keras.saving.register_keras_serializable(package="keras_bert_suite")
@document_model("`labels` int [batch, length]: a label id per token, -100 where none (padding, sub-words).")
class BertForTokenClassification(_Classifier):
    """One score per label for every token (NER, tagging); no pooler.

    Args:
        config: a `BertConfig` (or its dict).
        **kwargs: `keras.Model` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", which the
            config of a saved model keeps).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig, BertForTokenClassification
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> model = BertForTokenClassification(config)
        >>> tuple(model(np.array([[2, 5, 7, 3], [2, 6, 3, 0]])).logits.shape)
        (2, 4, 2)
    """

    serving_task = "token_classification"
    add_pooling_layer = False

    def forward(self, training=None, labels=None, **inputs):
        return self._classify(TokenClassifierOutput, "last_hidden_state", training, labels, inputs)

    def head_loss(self, outputs, labels):
        return losses.sparse_cross_entropy(outputs["logits"], labels["labels"])


_PER_CHOICE = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds")


@keras.saving.register_keras_serializable(package="keras_bert_suite")
@document_model("`labels` int [batch]: the index of the right choice.")
class BertForMultipleChoice(_Classifier):
    """Inputs shaped [batch, num_choices, length] (`inputs_embeds`: [..., hidden]); logits [batch, num_choices].

    Args:
        config: a `BertConfig` (or its dict).
        **kwargs: `keras.Model` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", which the
            config of a saved model keeps).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig, BertForMultipleChoice
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> model = BertForMultipleChoice(config)
        >>> tuple(model(np.ones([2, 4, 6], "int32")).logits.shape)
        (2, 4)
    """

    serving_task = "multiple_choice"

    def num_outputs(self):
        return 1

    def forward(self, training=None, labels=None, **inputs):
        lead = "input_ids" if inputs.get("input_ids") is not None else "inputs_embeds"
        shape = ops.shape(inputs[lead])
        if len(inputs[lead].shape) != (3 if lead == "input_ids" else 4):
            raise ValueError(f"{lead} must be shaped [batch, num_choices, length], got {tuple(inputs[lead].shape)}")
        batch, choices = shape[0], shape[1]
        for key in _PER_CHOICE:
            if inputs.get(key) is not None:
                value = ops.convert_to_tensor(inputs[key])
                inputs[key] = ops.reshape(value, (-1,) + tuple(ops.shape(value)[2:]))
        body = self.bert(training=training, **inputs)
        scores = self.classifier(body.pooler_output, training=training)
        out = MultipleChoiceModelOutput(
            logits=ops.reshape(scores, (batch, choices)), hidden_states=body.hidden_states, attentions=body.attentions
        )
        if labels is not None:
            out.loss = self.head_loss(out, {"labels": labels})
        return out

    def head_loss(self, outputs, labels):
        return losses.sparse_cross_entropy(outputs["logits"], labels["labels"])
