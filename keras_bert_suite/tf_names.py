"""transformers 4.x TensorFlow names (`modeling_tf_bert.py`, `modeling_tf_outputs.py`) and Flax model names
(`modeling_flax_bert.py`, `FLAX_NAMES`) for our classes, and `AutoTokenizer` (BERT tokenizers only, `auto.py`).

Code written for transformers' TensorFlow BERT changes its import line and little else:

    from transformers import BertTokenizer, TFBertForSequenceClassification        # before
    from keras_bert_suite import BertTokenizer, TFBertForSequenceClassification    # after

Each TF name is the same class as ours (`TFBertModel is BertModel`), not a subclass: `isinstance`, saving and
`keras.saving.load_model` see one class. `keras_bert_suite` resolves these names, and its tokenizers, on first
use (`lazy_attribute`), so `import keras_bert_suite` does not import tensorflow-text.

transformers names with no counterpart here: the sublayers of one block (TFBertSelfAttention, TFBertIntermediate,
TFBertOutput, ...), whose weights live in our own layers under transformers' names (`layers/hf_names.py`), and
TFBaseModelOutputWithPastAndCrossAttentions (the bare encoder's output; our encoder returns tensors).

Example:
    >>> from keras_bert_suite import TFBertModel, BertModel
    >>> TFBertModel is BertModel
    True
"""

import importlib

# public name -> "module:attribute"
TF_NAMES = {
    # models (modeling_tf_bert.__all__)
    "TFBertPreTrainedModel": "keras_bert_suite.models:BertPreTrainedModel",
    "TFBertModel": "keras_bert_suite.models:BertModel",
    "TFBertForPreTraining": "keras_bert_suite.models:BertForPreTraining",
    "TFBertLMHeadModel": "keras_bert_suite.models:BertLMHeadModel",
    "TFBertForMaskedLM": "keras_bert_suite.models:BertForMaskedLM",
    "TFBertForNextSentencePrediction": "keras_bert_suite.models:BertForNextSentencePrediction",
    "TFBertForSequenceClassification": "keras_bert_suite.models:BertForSequenceClassification",
    "TFBertForMultipleChoice": "keras_bert_suite.models:BertForMultipleChoice",
    "TFBertForTokenClassification": "keras_bert_suite.models:BertForTokenClassification",
    "TFBertForQuestionAnswering": "keras_bert_suite.models:BertForQuestionAnswering",
    # layers: the embeddings, and the main layer (embeddings -> encoder -> pooler)
    "TFBertEmbeddings": "keras_bert_suite.layers.embeddings:BertEmbeddings",
    "TFBertMainLayer": "keras_bert_suite.layers.backbone:BertBackbone",
    # outputs
    "TFBertForPreTrainingOutput": "keras_bert_suite.outputs:BertForPreTrainingOutput",
    "TFBaseModelOutputWithPoolingAndCrossAttentions":
        "keras_bert_suite.outputs:BaseModelOutputWithPoolingAndCrossAttentions",
    "TFCausalLMOutputWithCrossAttentions": "keras_bert_suite.outputs:CausalLMOutputWithCrossAttentions",
    "TFMaskedLMOutput": "keras_bert_suite.outputs:MaskedLMOutput",
    "TFNextSentencePredictorOutput": "keras_bert_suite.outputs:NextSentencePredictorOutput",
    "TFSequenceClassifierOutput": "keras_bert_suite.outputs:SequenceClassifierOutput",
    "TFMultipleChoiceModelOutput": "keras_bert_suite.outputs:MultipleChoiceModelOutput",
    "TFTokenClassifierOutput": "keras_bert_suite.outputs:TokenClassifierOutput",
    "TFQuestionAnsweringModelOutput": "keras_bert_suite.outputs:QuestionAnsweringModelOutput",
}

# transformers 4.x Flax names (`modeling_flax_bert.__all__`): the same classes, run on Keras's JAX backend
FLAX_NAMES = {
    "FlaxBertPreTrainedModel": "keras_bert_suite.models:BertPreTrainedModel",
    "FlaxBertModel": "keras_bert_suite.models:BertModel",
    "FlaxBertForPreTraining": "keras_bert_suite.models:BertForPreTraining",
    "FlaxBertForCausalLM": "keras_bert_suite.models:BertLMHeadModel",
    "FlaxBertForMaskedLM": "keras_bert_suite.models:BertForMaskedLM",
    "FlaxBertForNextSentencePrediction": "keras_bert_suite.models:BertForNextSentencePrediction",
    "FlaxBertForSequenceClassification": "keras_bert_suite.models:BertForSequenceClassification",
    "FlaxBertForMultipleChoice": "keras_bert_suite.models:BertForMultipleChoice",
    "FlaxBertForTokenClassification": "keras_bert_suite.models:BertForTokenClassification",
    "FlaxBertForQuestionAnswering": "keras_bert_suite.models:BertForQuestionAnswering",
}

# names importable from `keras_bert_suite` that load their module on first use
LAZY_NAMES = {
    "BertTokenizer": "keras_bert_suite.tokenizers.python:BertTokenizer",
    "BertTokenizerFast": "keras_bert_suite.tokenizers.fast:BertTokenizerFast",
    "TFBertTokenizer": "keras_bert_suite.tokenizers.layer:TFBertTokenizer",
    "AutoTokenizer": "keras_bert_suite.auto:AutoTokenizer",
    **TF_NAMES,
    **FLAX_NAMES,
}


def lazy_attribute(package, name):
    """The object `LAZY_NAMES[name]` names, for a package's module-level `__getattr__`.

    Args:
        package: the package's `__name__` (for the error message).
        name: the attribute asked for.

    Raises:
        AttributeError: `name` is not in `LAZY_NAMES`.

    Example:
        >>> lazy_attribute("keras_bert_suite", "TFMaskedLMOutput").__name__
        'MaskedLMOutput'
    """
    target = LAZY_NAMES.get(name)
    if target is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)
