"""transformers 4.x's Flax BERT docstring examples (examples/transformers_flax_docs.py), run under the JAX
backend by their Hub id from a pre-seeded cache that holds the MiniLM checkpoint under it, offline.

MiniLM has an encoder only: the heads start untrained, so the examples are checked by shapes, finite values and
JAX arrays; the names (`FlaxBertModel is BertModel`, `AutoTokenizer`) are checked against transformers'."""

import ast
import os

import numpy as np
import pytest
import transformers
from fake_hub import offline_examples
from helpers import minilm_folder

import keras_bert_suite as kbs
from keras_bert_suite.tf_names import FLAX_NAMES

EXAMPLES_FILE = os.path.join(os.path.dirname(__file__), "..", "examples", "transformers_flax_docs.py")
FLAX_BERT_FILE = os.path.join(os.path.dirname(transformers.__file__), "models", "bert", "modeling_flax_bert.py")
HIDDEN, VOCAB = 384, 30522  # MiniLM

SHAPES = {
    "base_model": [(1, 8, HIDDEN)],
    "pretraining": [(1, 8, VOCAB), (1, 2)],
    "masked_lm": [(1, 9, VOCAB)],
    "causal_lm": [(1, VOCAB)],
    "next_sentence_prediction": [(1, 2)],
    "sequence_classification": [(1, 2)],
    "multiple_choice": [(1, 2)],
    "token_classification": [(1, 8, 2)],
    "question_answering": [(1, 14), (1, 14)],
}


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    yield from offline_examples(EXAMPLES_FILE, str(tmp_path_factory.mktemp("hub")), minilm_folder())


@pytest.mark.jax
@pytest.mark.jax_only
@pytest.mark.slow
@pytest.mark.parametrize("name", list(SHAPES))
def test_example_runs_by_hub_id(docs, name):
    import jax

    out = getattr(docs, name)()
    outs = list(out) if isinstance(out, tuple) else [out]
    assert [tuple(x.shape) for x in outs] == SHAPES[name]
    for x in outs:
        assert isinstance(x, jax.Array) and np.all(np.isfinite(np.asarray(x)))


@pytest.mark.jax
def test_every_example_is_checked_and_every_flax_name_is_ours():
    with open(EXAMPLES_FILE, encoding="utf-8") as f:
        names = [node.name for node in ast.parse(f.read()).body if isinstance(node, ast.FunctionDef)]
    assert names == list(SHAPES)
    with open(FLAX_BERT_FILE, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    exported = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                    and getattr(node.targets[0], "id", None) == "__all__")
    assert {elt.value for elt in exported.elts} == set(FLAX_NAMES)
    assert kbs.FlaxBertModel is kbs.BertModel and kbs.FlaxBertForCausalLM is kbs.BertLMHeadModel
    assert {"AutoTokenizer", "FlaxBertForQuestionAnswering"} <= set(dir(kbs))


@pytest.mark.jax
def test_auto_tokenizer_loads_bert_and_refuses_others_by_name(tmp_path):
    import json
    import shutil

    tok = kbs.AutoTokenizer.from_pretrained(minilm_folder())
    assert type(tok).__name__ == "BertTokenizerFast"
    assert type(kbs.AutoTokenizer.from_pretrained(minilm_folder(), use_fast=False)).__name__ == "BertTokenizer"
    assert tok("Hello world")["input_ids"] == kbs.BertTokenizer.from_pretrained(minilm_folder())("Hello world")[
        "input_ids"]
    other = tmp_path / "roberta"
    shutil.copytree(minilm_folder(), other)
    (other / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "RobertaTokenizer"}))
    with pytest.raises(ValueError, match="RobertaTokenizer.*BERT tokenizers only"):
        kbs.AutoTokenizer.from_pretrained(str(other))
    (other / "tokenizer_config.json").unlink()
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(ValueError, match="model_type 'gpt2'"):
        kbs.AutoTokenizer.from_pretrained(str(other))
    with pytest.raises(EnvironmentError, match="from_pretrained"):
        kbs.AutoTokenizer()
