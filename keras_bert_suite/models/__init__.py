"""BERT models: the bare `BertModel` and one module per head family."""

from keras_bert_suite.models.base import BertPreTrainedModel
from keras_bert_suite.models.bert_model import BertModel
from keras_bert_suite.models.causal_lm import BertLMHeadModel
from keras_bert_suite.models.classification import (
    BertForMultipleChoice,
    BertForSequenceClassification,
    BertForTokenClassification,
)
from keras_bert_suite.models.pretraining import BertForMaskedLM, BertForNextSentencePrediction, BertForPreTraining
from keras_bert_suite.models.question_answering import BertForQuestionAnswering
