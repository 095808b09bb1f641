"""BERT tokenizers: `BertTokenizer` (pure Python), `BertTokenizerFast` (batched, tensorflow-text) and
`TFBertTokenizer` (a Keras layer, in-graph). All three give the ids of transformers' Python `BertTokenizer`.

Example:
    >>> from keras_bert_suite.tokenizers import BertTokenizer
    >>> BertTokenizer.from_pretrained("path/to/model")("Hello!").input_ids
    [101, 7592, 999, 102]
"""

from keras_bert_suite.tokenizers.fast import BertTokenizerFast
from keras_bert_suite.tokenizers.layer import TFBertTokenizer
from keras_bert_suite.tokenizers.python import BertTokenizer

__all__ = ["BertTokenizer", "BertTokenizerFast", "TFBertTokenizer"]
