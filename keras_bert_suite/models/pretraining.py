"""Pretraining heads: `BertForPreTraining` (MLM + NSP), `BertForMaskedLM`, `BertForNextSentencePrediction`.

Labels: `labels` [batch, length] (token ids to predict, -100 elsewhere), `next_sentence_label` [batch]
(0 = sentence B follows A, 1 = B is random). The MLM decoder shares the word-embedding matrix.

`masked_lm_positions` (optional, int [batch, predictions], as in Google's original BERT): the last encoder
layer and the MLM head run only at those positions (and at [CLS] for NSP), so `prediction_logits` / `logits`
are [batch, predictions, vocab] and `labels` are [batch, predictions] (-100 for unused slots). With 20
predictions in 128 tokens the vocabulary projection shrinks 6.4x, and the last layer's queries, attention
output and feed-forward about as much. `pretraining.masking.masked_positions` makes this layout from the
[batch, length] one; the pretraining data pipeline gives it with `masked_lm_positions=True`.

Example:
    >>> model = BertForMaskedLM.from_pretrained(folder)  # doctest: +SKIP
    >>> model({"input_ids": ids, "labels": labels}).loss  # doctest: +SKIP
"""

import keras
from keras import ops

from keras_bert_suite import losses
from keras_bert_suite.layers.backbone import BertBackbone
from keras_bert_suite.layers.heads import BertDenseHead, BertLMPredictionHead
from keras_bert_suite.layers.hf_names import collect
from keras_bert_suite.models.base import BertPreTrainedModel
from keras_bert_suite.models.call_docs import document_model
from keras_bert_suite.outputs import BertForPreTrainingOutput, MaskedLMOutput, NextSentencePredictorOutput

_TIED = {
    "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
    "cls.predictions.decoder.bias": "cls.predictions.bias",
}


class _WithLMHead(BertPreTrainedModel):
    """Builds `bert` and, when `lm_head`, the MLM prediction head tied to the word embeddings."""

    add_pooling_layer = True
    lm_head = True
    nsp_head = False

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        c = self.config
        self.bert = BertBackbone(c, add_pooling_layer=self.add_pooling_layer, name="bert", dtype=self.dtype_policy)
        self.bert.build()
        self.predictions = (
            BertLMPredictionHead(c, word_embeddings=self.bert.embeddings.word_embeddings, name="predictions",
                                 dtype=self.dtype_policy)
            if self.lm_head else None
        )
        self.seq_relationship = (
            BertDenseHead(c, 2, name="seq_relationship", dtype=self.dtype_policy) if self.nsp_head else None
        )
        for head in (self.predictions, self.seq_relationship):
            if head is not None:
                head.build()
        self.built = True

    @property
    def tied_weights(self):
        tied = dict(_TIED)
        if not (self.predictions is not None and self.predictions.tied):
            tied.pop("cls.predictions.decoder.weight")
        return tied

    def hf_weights(self):
        return collect({
            "bert": self.bert,
            "cls.predictions": self.predictions,
            "cls.seq_relationship": self.seq_relationship,
        })

    def get_output_embeddings(self):
        return self.predictions

    def run_body(self, inputs, masked_lm_positions=None, training=None):
        """(backbone outputs, the hidden states the MLM head reads). With `masked_lm_positions` the backbone's
        last layer computes [CLS] (for the pooler) and those positions only."""
        if masked_lm_positions is None:
            body = self.bert(training=training, **inputs)
            return body, body.last_hidden_state
        positions = ops.cast(masked_lm_positions, "int32")
        if self.add_pooling_layer:
            positions = ops.concatenate([ops.zeros_like(positions[:, :1]), positions], axis=1)
        body = self.bert(training=training, output_positions=positions, **inputs)
        return body, body.last_hidden_state[:, 1:] if self.add_pooling_layer else body.last_hidden_state


def _body_outputs(outputs):
    return {"hidden_states": outputs.hidden_states, "attentions": outputs.attentions}


@keras.saving.register_keras_serializable(package="keras_bert_suite")
@document_model("`labels` int [batch, length] (MLM targets, -100 elsewhere; [batch, predictions] with "
                "`masked_lm_positions`) and `next_sentence_label` int [batch]: the loss is their sum.")
class BertForPreTraining(_WithLMHead):
    """BERT's pretraining heads: masked-LM logits (decoder tied to the word embeddings) and NSP logits.

    Args:
        config: a `BertConfig` (or its dict).
        **kwargs: `keras.Model` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", which the
            config of a saved model keeps).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig, BertForPreTraining
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> model = BertForPreTraining(config)
        >>> ids = np.array([[2, 5, 7, 3], [2, 6, 3, 0]])
        >>> out = model({"input_ids": ids, "labels": np.full([2, 4], -100), "next_sentence_label": np.array([0, 1])})
        >>> tuple(out.prediction_logits.shape), tuple(out.seq_relationship_logits.shape), out.loss.shape
        ((2, 4, 99), (2, 2), TensorShape([]))
    """

    serving_task = "masked_lm"
    nsp_head = True
    label_names = ("labels", "next_sentence_label")
    extra_inputs = ("masked_lm_positions",)
    prediction_keys = ("prediction_logits", "seq_relationship_logits")

    def forward(self, training=None, labels=None, next_sentence_label=None, masked_lm_positions=None, **inputs):
        body, masked = self.run_body(inputs, masked_lm_positions, training)
        out = BertForPreTrainingOutput(
            prediction_logits=self.predictions(masked),
            seq_relationship_logits=self.seq_relationship(body.pooler_output),
            **_body_outputs(body),
        )
        if labels is not None and next_sentence_label is not None:
            out.loss = self.head_loss(out, {"labels": labels, "next_sentence_label": next_sentence_label})
        return out

    def head_loss(self, outputs, labels):
        mlm = losses.sparse_cross_entropy(outputs["prediction_logits"], labels["labels"])
        return mlm + losses.sparse_cross_entropy(outputs["seq_relationship_logits"], labels["next_sentence_label"])


@keras.saving.register_keras_serializable(package="keras_bert_suite")
@document_model("`labels` int [batch, length]: the token ids to predict, -100 where nothing is predicted "
                "([batch, predictions] with `masked_lm_positions`).")
class BertForMaskedLM(_WithLMHead):
    """Masked-LM logits over the vocabulary (decoder tied to the word embeddings), no pooler.

    Args:
        config: a `BertConfig` (or its dict).
        **kwargs: `keras.Model` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", which the
            config of a saved model keeps).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig, BertForMaskedLM
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> model = BertForMaskedLM(config)
        >>> tuple(model(np.array([[2, 5, 7, 3], [2, 6, 3, 0]])).logits.shape)
        (2, 4, 99)
        >>> ids = np.array([[2, 5, 7, 3], [2, 6, 3, 0]])
        >>> tuple(model({"input_ids": ids, "masked_lm_positions": np.array([[1], [1]])}).logits.shape)
        (2, 1, 99)
    """

    serving_task = "masked_lm"
    add_pooling_layer = False
    label_names = ("labels",)
    extra_inputs = ("masked_lm_positions",)

    def forward(self, training=None, labels=None, masked_lm_positions=None, **inputs):
        body, masked = self.run_body(inputs, masked_lm_positions, training)
        out = MaskedLMOutput(logits=self.predictions(masked), **_body_outputs(body))
        if labels is not None:
            out.loss = self.head_loss(out, {"labels": labels})
        return out

    def head_loss(self, outputs, labels):
        return losses.sparse_cross_entropy(outputs["logits"], labels["labels"])


@keras.saving.register_keras_serializable(package="keras_bert_suite")
@document_model("`labels` (or `next_sentence_label`) int [batch]: 0 = sentence B follows A, 1 = B is random.")
class BertForNextSentencePrediction(_WithLMHead):
    """Next-sentence prediction: two logits per pair from the pooled [CLS] vector.

    Args:
        config: a `BertConfig` (or its dict).
        **kwargs: `keras.Model` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", which the
            config of a saved model keeps).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig, BertForNextSentencePrediction
        >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        >>> model = BertForNextSentencePrediction(config)
        >>> tuple(model(np.array([[2, 5, 7, 3], [2, 6, 3, 0]])).logits.shape)
        (2, 2)
    """

    serving_task = "next_sentence_prediction"
    lm_head = False
    nsp_head = True
    # transformers names this label `labels`; `next_sentence_label` is accepted as well.
    label_names = ("labels", "next_sentence_label")

    def forward(self, training=None, labels=None, next_sentence_label=None, **inputs):
        body = self.bert(training=training, **inputs)
        out = NextSentencePredictorOutput(logits=self.seq_relationship(body.pooler_output), **_body_outputs(body))
        labels = labels if labels is not None else next_sentence_label
        if labels is not None:
            out.loss = self.head_loss(out, {"labels": labels})
        return out

    def head_loss(self, outputs, labels):
        label = labels.get("labels", labels.get("next_sentence_label"))
        return losses.sparse_cross_entropy(outputs["logits"], label)
