"""keras-bert-suite: BERT in TensorFlow and Keras 3, faithful to the published checkpoints.

    >>> from keras_bert_suite import BertModel
    >>> model = BertModel.from_pretrained("path/to/hf_folder")  # doctest: +SKIP

A model from a config alone (random weights), the transformers way:

    >>> import numpy as np
    >>> from keras_bert_suite import BertConfig, BertForSequenceClassification
    >>> config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
    >>> model = BertForSequenceClassification(config)
    >>> tuple(model({"input_ids": np.array([[2, 5, 6, 3]])}).logits.shape)
    (1, 2)
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_bert_suite.tf_logging import quiet_if_asked  # noqa: E402

quiet_if_asked()  # the `kbs` command and the examples hide TensorFlow's C++ start-up lines

from keras_bert_suite.backend import check_backend  # noqa: E402

check_backend()  # TensorFlow or JAX; any other Keras backend fails here, naming these two

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
