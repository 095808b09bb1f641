"""The docstring examples of the public classes and the package run as doctests (offline, tiny configs);
examples that need a checkpoint folder are marked `# doctest: +SKIP`."""

import doctest
import importlib

import pytest

from keras_bert_suite.tokenizers import BertTokenizer, BertTokenizerFast

#: public classes of modules that are not run whole (their other examples need a checkpoint folder).
CLASSES = (BertTokenizer, BertTokenizerFast)

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

MODULES = (
    "keras_bert_suite",
    "keras_bert_suite.backend",
    "keras_bert_suite.config",
    "keras_bert_suite.hub",
    "keras_bert_suite.tf_names",
    "keras_bert_suite.auto",
    "keras_bert_suite.layout",
    "keras_bert_suite.outputs",
    "keras_bert_suite.tokenizers.layer",
    "keras_bert_suite.pretraining.masking",
    "keras_bert_suite.models.call_docs",
    "keras_bert_suite.models.base",
    "keras_bert_suite.models.bert_model",
    "keras_bert_suite.models.pretraining",
    "keras_bert_suite.models.causal_lm",
    "keras_bert_suite.models.classification",
    "keras_bert_suite.models.question_answering",
    "keras_bert_suite.layers.backbone",
    "keras_bert_suite.layers.embeddings",
    "keras_bert_suite.layers.encoder",
    "keras_bert_suite.layers.transformer",
    "keras_bert_suite.layers.attention",
    "keras_bert_suite.layers.pooler",
    "keras_bert_suite.layers.heads",
    "keras_bert_suite.layers.dropout",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (output above)"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_class_docstring_examples(cls):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder(recurse=False).find(cls):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"{cls.__name__} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {cls.__name__} failed"
