"""BERT tokenizers: `BertTokenizer` (pure Python), `BertTokenizerFast` (batched, tensorflow-text) and
`TFBertTokenizer` (a Keras layer, in-graph). All three give the ids of transformers' Python `BertTokenizer`.

Example:
    >>> from keras_bert_suite.tokenizers import BertTokenizer
    >>> _ = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "!"]).save_pretrained("model")
    >>> BertTokenizer.from_pretrained("model")("Hello!").input_ids      # a folder or a Hub id
    [2, 5, 6, 3]
"""

from keras_bert_suite.tokenizers.fast import BertTokenizerFast
from keras_bert_suite.tokenizers.layer import TFBertTokenizer
from keras_bert_suite.tokenizers.python import BertTokenizer

__all__ = ["BertTokenizer", "BertTokenizerFast", "TFBertTokenizer"]
