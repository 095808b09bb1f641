"""transformers' TensorFlow names importable from keras_bert_suite (the same classes), and the tokenizers'
`return_tensors` and `pad` as transformers' tokenizers have them."""

import ast
import os

import numpy as np
import pytest
import tensorflow as tf
import transformers
from helpers import TINY, minilm_folder

import keras_bert_suite as kbs
from keras_bert_suite.tf_names import TF_NAMES
from keras_bert_suite.tokenizers.encoding import BatchEncoding

TF_BERT_FILE = os.path.join(os.path.dirname(transformers.__file__), "models", "bert", "modeling_tf_bert.py")
NOT_HERE = {"TFBaseModelOutputWithPastAndCrossAttentions"}  # the bare encoder's output (see tf_names.py)


def _transformers_tf_names():
    """`__all__` of transformers' modeling_tf_bert.py and the output classes it imports (read, not imported)."""
    with open(TF_BERT_FILE, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "__all__":
            names |= {elt.value for elt in node.value.elts}
        if isinstance(node, ast.ImportFrom) and node.module == "modeling_tf_outputs":
            names |= {alias.name for alias in node.names}
        if isinstance(node, ast.ClassDef) and any(getattr(base, "id", "") == "ModelOutput" for base in node.bases):
            names.add(node.name)
    return names


def test_every_transformers_tf_name_is_ours():
    names = _transformers_tf_names()
    assert "TFBertForPreTrainingOutput" in names and "TFBertModel" in names
    assert names - NOT_HERE == set(TF_NAMES)
    for name in TF_NAMES:
        ours = getattr(kbs, name)
        assert ours is getattr(kbs, name[2:], ours), name  # the same class as our own name
    assert kbs.TFBertModel is kbs.BertModel and kbs.TFMaskedLMOutput is kbs.MaskedLMOutput
    from keras_bert_suite.layers.backbone import BertBackbone

    assert kbs.TFBertMainLayer is BertBackbone
    assert {"BertTokenizer", "BertTokenizerFast", "TFBertTokenizer", "TFBertModel"} <= set(dir(kbs))
    from keras_bert_suite import BertTokenizer, BertTokenizerFast, TFBertTokenizer  # noqa: F401

    with pytest.raises(AttributeError, match="TFBertNothing"):
        kbs.TFBertNothing


def test_return_tensors_in_call_encode_plus_batch_encode_plus_and_pad():
    tok = kbs.BertTokenizer.from_pretrained(minilm_folder())
    texts = ["Hello, my dog is cute", "a b"]
    import jax

    for value, kind in (("tf", tf.Tensor), ("np", np.ndarray), ("jax", jax.Array), (None, list)):
        assert isinstance(tok(texts, padding=True, return_tensors=value)["input_ids"], kind)
        assert isinstance(tok.encode_plus(texts[0], return_tensors=value)["input_ids"], kind)
        assert isinstance(tok.batch_encode_plus(texts, padding=True, return_tensors=value)["input_ids"], kind)
        assert isinstance(tok.pad({"input_ids": [[101, 102], [101]]}, return_tensors=value)["input_ids"], kind)
    assert tok("a b", return_tensors="tf")["input_ids"].shape == (1, 4)
    for call in (lambda: tok(texts[0], return_tensors="pt"), lambda: tok.encode_plus("a", return_tensors="pt"),
                 lambda: tok.batch_encode_plus(["a"], return_tensors="mlx"),
                 lambda: tok.pad({"input_ids": [101]}, return_tensors="pt")):
        with pytest.raises(ValueError, match="'(pt|mlx)'"):
            call()


def test_pad_takes_what_collators_give():
    tok = kbs.BertTokenizer.from_pretrained(minilm_folder())
    features = [tok("a b c"), tok("a")]
    out = tok.pad(features, return_tensors="np")
    np.testing.assert_array_equal(out["input_ids"], tok(["a b c", "a"], padding=True, return_tensors="np")["input_ids"])
    np.testing.assert_array_equal(out["attention_mask"], [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    batch = tok.pad({"input_ids": np.array([[101, 102]]), "token_type_ids": [[0, 0]]}, padding="max_length",
                    max_length=4, padding_side="left")
    assert batch == {"input_ids": [[0, 0, 101, 102]], "token_type_ids": [[0, 0, 0, 0]],
                     "attention_mask": [[0, 0, 1, 1]]}
    assert tok.pad({"input_ids": [101, 102]}, pad_to_multiple_of=8)["input_ids"] == [101, 102] + [0] * 6
    with pytest.raises(ValueError, match="input_ids"):
        tok.pad({"ids": [1]})


def test_models_take_a_batch_encoding_positionally():
    model = kbs.TFBertModel(kbs.BertConfig(**TINY))
    inputs = BatchEncoding({"input_ids": [[2, 5, 3]], "attention_mask": [[1, 1, 1]]}, tensor_type="tf")
    np.testing.assert_array_equal(model(inputs).last_hidden_state, model(dict(inputs)).last_hidden_state)


def test_from_pt_and_from_tf_are_accepted_as_in_transformers(tmp_path):
    kbs.BertModel(kbs.BertConfig(**TINY)).save_pretrained(str(tmp_path))
    for flag in ("from_pt", "from_tf"):
        model = kbs.TFBertModel.from_pretrained(str(tmp_path), **{flag: True})
        assert flag not in model.config.to_dict()
