"""Every layer of keras_bert_suite.layers, the tokenizer layer and the MLM masker through the shared harness
(tests/helpers.py): build, weight counts, symbolic and eager calls, config and `.keras` round trips, mixed
precision."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import TINY, batch, run_layer_test, run_model_saving_test, run_serialization_test

from keras_bert_suite.config import BertConfig
from keras_bert_suite.layers.attention import BertAttention, BertSelfAttention
from keras_bert_suite.layers.backbone import BertBackbone
from keras_bert_suite.layers.dropout import BertDropout
from keras_bert_suite.layers.embeddings import BertEmbeddings
from keras_bert_suite.layers.encoder import BertEncoder
from keras_bert_suite.layers.heads import BertDenseHead, BertLMPredictionHead
from keras_bert_suite.layers.pooler import BertPooler
from keras_bert_suite.layers.transformer import BertLayer
from keras_bert_suite.pretraining.masking import MaskedLMMasker
from keras_bert_suite.tokenizers import TFBertTokenizer

CONFIG = BertConfig(**TINY)
B, T, H, N = 3, 9, TINY["hidden_size"], TINY["num_attention_heads"]
HIDDEN = np.random.RandomState(0).normal(size=(B, T, H)).astype("float32")
IDS = batch(length=T)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!"]

# per attention layer: query, key, value (kernel + bias); attention output dense + LayerNorm (2 + 2)
SELF_WEIGHTS, ATTENTION_WEIGHTS = 6, 10
LAYER_WEIGHTS = ATTENTION_WEIGHTS + 6  # + intermediate dense, output dense, output LayerNorm
HEADS_KV = ((B, N, T, H // N), (B, N, T, H // N))

LAYERS = {
    "embeddings": (BertEmbeddings, {"config": CONFIG}, {"input_ids": IDS["input_ids"], "token_type_ids":
                   IDS["token_type_ids"]}, (B, T, H), 5),
    "self_attention": (BertSelfAttention, {"config": CONFIG}, HIDDEN, ((B, T, H), (B, N, T, T), HEADS_KV),
                       SELF_WEIGHTS),
    "attention": (BertAttention, {"config": CONFIG}, HIDDEN, ((B, T, H), (B, N, T, T), HEADS_KV),
                  ATTENTION_WEIGHTS),
    "transformer_layer": (BertLayer, {"config": CONFIG}, HIDDEN,
                          {"hidden_states": (B, T, H), "attentions": (B, N, T, T), "cross_attentions": None,
                           "present": HEADS_KV}, LAYER_WEIGHTS),
    "encoder": (BertEncoder, {"config": CONFIG}, HIDDEN, None, 2 * LAYER_WEIGHTS),
    "pooler": (BertPooler, {"config": CONFIG}, HIDDEN, (B, H), 2),
    "lm_head": (BertLMPredictionHead, {"config": CONFIG}, HIDDEN, (B, T, TINY["vocab_size"]), 6),
    "dense_head": (BertDenseHead, {"config": CONFIG, "units": 3, "dropout": 0.1}, HIDDEN[:, 0], (B, 3), 2),
    "dropout": (BertDropout, {"rate": 0.1}, HIDDEN, (B, T, H), 0),
    "backbone": (BertBackbone, {"config": CONFIG}, dict(IDS), None, 5 + 2 * LAYER_WEIGHTS + 2),
}


# These return None for the outputs not asked for, which Keras's symbolic call refuses.
NOT_SYMBOLIC = {"transformer_layer", "encoder"}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer(name):
    cls, kwargs, inputs, shape, weights = LAYERS[name]
    if shape is None:  # a dict of optional outputs: take the shapes from a first call, check the rest
        out = cls(**kwargs)(**inputs) if isinstance(inputs, dict) else cls(**kwargs)(inputs)
        shape = keras.tree.map_structure(lambda x: None if x is None else tuple(x.shape), out)
    run_layer_test(cls, kwargs, inputs, shape, expected_num_trainable_weights=weights,
                   run_symbolic=name not in NOT_SYMBOLIC)


@pytest.mark.parametrize("name", ["embeddings", "backbone", "lm_head"])
def test_layer_keras_file(name, tmp_path):
    cls, kwargs, inputs, _, _ = LAYERS[name]
    layer = cls(**kwargs)
    specs = {k: keras.Input((T,), dtype="int32", name=k) for k in inputs} if isinstance(inputs, dict) else \
        keras.Input(inputs.shape[1:], dtype="float32")
    run_model_saving_test(layer, inputs, tmp_path, input_specs=specs)


def test_tokenizer_layer(tmp_path):
    texts = tf.constant(["hello worlds!", "", "hello"])
    tok = TFBertTokenizer(vocab=VOCAB, padding="max_length", max_length=6)
    out = run_layer_test(
        TFBertTokenizer, {"vocab": VOCAB, "padding": "max_length", "max_length": 6}, texts,
        {"input_ids": (3, 6), "token_type_ids": (3, 6), "attention_mask": (3, 6)}, run_precision=False,
    )
    assert out["input_ids"].numpy()[0].tolist() == [2, 5, 6, 7, 8, 3]
    revived = run_serialization_test(tok)
    assert revived.vocab is None and revived.get_config()["vocab"] is None  # the vocabulary is an asset
    loaded = run_model_saving_test(tok, texts, tmp_path, input_specs=keras.Input((), dtype="string"))
    assert loaded.layers[-1].vocab == VOCAB


def test_masked_lm_masker(tmp_path):
    kwargs = {"vocab_size": 99, "special_ids": [0, 1, 2, 3, 4], "mask_token_id": 4, "max_predictions_per_seq": 4}
    ids = IDS["input_ids"].astype("int32")
    seed = tf.constant([1, 2])
    masked, labels = run_layer_test(MaskedLMMasker, kwargs, ids, ((B, T), (B, T)),
                                    call_kwargs={"seed": seed}, run_symbolic=False, run_precision=False)
    assert ((labels.numpy() != -100).sum(axis=1) <= 4).all()
    masker = MaskedLMMasker(**kwargs)
    run_model_saving_test(masker, ids, tmp_path, call_kwargs={"seed": seed},
                          input_specs=keras.Input((T,), dtype="int32"))
