"""Keras layers that make up BERT; each has `get_config` and names its weights as transformers does."""

from keras_bert_suite.layers.attention import BertAttention, BertSelfAttention
from keras_bert_suite.layers.backbone import BertBackbone
from keras_bert_suite.layers.embeddings import BertEmbeddings
from keras_bert_suite.layers.encoder import BertEncoder
from keras_bert_suite.layers.pooler import BertPooler
from keras_bert_suite.layers.transformer import BertLayer
