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
from keras_bert_suite.sentence_encoder import SentenceTransformer  # noqa: E402
from keras_bert_suite.tf_names import LAZY_NAMES, lazy_attribute  # noqa: E402

__version__ = "0.1.0"


def __getattr__(name):
    """The tokenizers (`BertTokenizer`, `BertTokenizerFast`, `TFBertTokenizer`) and transformers' TF names
    (`TFBertModel`, ...; see `tf_names.py`), imported on first use."""
    return lazy_attribute(__name__, name)


def __dir__():
    return sorted(set(globals()) | set(LAZY_NAMES))
