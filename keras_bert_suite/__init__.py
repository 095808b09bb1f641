"""keras-bert-suite: BERT in TensorFlow and Keras 3, faithful to the published checkpoints.

    >>> from keras_bert_suite import BertModel
    >>> model = BertModel.from_pretrained("path/to/hf_folder")
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_bert_suite.config import BertConfig  # noqa: E402
from keras_bert_suite.models import (  # noqa: E402
    BertForMaskedLM,
    BertForMultipleChoice,
    BertForNextSentencePrediction,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertLMHeadModel,
    BertModel,
    BertPreTrainedModel,
)
from keras_bert_suite.outputs import (  # noqa: E402
    BaseModelOutputWithPoolingAndCrossAttentions,
    BertForPreTrainingOutput,
    CausalLMOutputWithCrossAttentions,
    MaskedLMOutput,
    ModelOutput,
    MultipleChoiceModelOutput,
    NextSentencePredictorOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

__version__ = "0.1.0"
