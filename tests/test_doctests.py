"""Every docstring example of the package runs as a doctest (offline, tiny configs): each module of
`keras_bert_suite` that holds a `>>>` line is found by `pkgutil.walk_packages` and run whole. Examples that need
a real checkpoint folder are marked `# doctest: +SKIP`; a module whose optional dependency is not installed is
skipped with its name.

Example:
    python -m pytest -q tests/test_doctests.py -k config
"""

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import keras_bert_suite
from keras_bert_suite.tokenizers import BertTokenizer, BertTokenizerFast

#: public classes whose examples also run alone: BertTokenizerFast's module runs in the slow tier (its other examples
#: trace slowly), BertTokenizer's module runs whole as well.
CLASSES = (BertTokenizer, BertTokenizerFast)

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

#: top-level packages that only extras install; a module that fails to import for want of one is skipped.
OPTIONAL = {"apache_beam", "keras_hub", "torch", "transformers", "jax", "tensorflow_datasets", "onnx", "tf2onnx",
            "onnxruntime", "ai_edge_litert", "matplotlib", "sentence_transformers"}

#: modules whose examples do not run here yet, with what stops them: each needs a real file, an exported SavedModel
#: or the JAX backend. Rewriting an example so that it runs takes its module off this list.
PENDING = {
    "keras_bert_suite.bulk.signature": "every example reads an exported SavedModel (a tiny export takes about 10 s)",
    "keras_bert_suite.checkpoints.pytorch_bin": "needs a pytorch_model.bin",
    "keras_bert_suite.data": "needs GLUE files and a model folder",
    "keras_bert_suite.data.squad": "needs SQuAD files",
    "keras_bert_suite.data.tfds": "uses `tokenizer` without defining it; needs tensorflow-datasets and its data",
    "keras_bert_suite.export.compat": "every example reads an exported SavedModel (a tiny export takes about 10 s)",
    "keras_bert_suite.export.inspect": "every example reads an exported SavedModel (a tiny export takes about 10 s)",
    "keras_bert_suite.export.litert": "uses `classifier` and `tokenizer` without defining them",
    "keras_bert_suite.export.on_tensorflow": "its one example runs under the JAX backend only, and is skipped",
    "keras_bert_suite.export.onnx": "uses `model` and `ids` without defining them",
    "keras_bert_suite.sentence_encoder": "needs the Hub or a sentence-transformers folder",
}

#: modules whose examples run but take 5 to 10 s each (the in-graph tokenizer traces its graph on a first call):
#: in the slow tier, so that the fast tier stays fast.
SLOW = ("keras_bert_suite.data.glue", "keras_bert_suite.data.multiple_choice", "keras_bert_suite.data.ner",
        "keras_bert_suite.tokenizers.fast", "keras_bert_suite.export.windows")


def _modules_with_examples():
    """The package and every module under it whose source holds a `>>>` line, found without importing them."""
    names = [keras_bert_suite.__name__] + [
        info.name for info in pkgutil.walk_packages(keras_bert_suite.__path__, keras_bert_suite.__name__ + ".")]
    found = []
    for name in sorted(names):
        origin = importlib.util.find_spec(name).origin
        with open(origin, encoding="utf-8") as f:
            if ">>>" in f.read():
                found.append(name)
    return found


MODULES = _modules_with_examples()


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW else []) for n in MODULES])
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files an example writes (a chart, a SavedModel) land in a fresh folder
    if name in PENDING:
        pytest.skip(f"pending: {PENDING[name]}")
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] in OPTIONAL:
            pytest.skip(f"{name} needs {e.name}, not installed")
        raise
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (output above)"


def test_discovery_finds_the_package_and_its_subpackages():
    assert {"keras_bert_suite", "keras_bert_suite.config", "keras_bert_suite.layers.attention"} <= set(MODULES)
    assert len(MODULES) > 80
    assert set(PENDING) | set(SLOW) <= set(MODULES), "a PENDING or SLOW entry names no module with examples"
    assert not set(PENDING) & set(SLOW)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_class_docstring_examples(cls):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder(recurse=False).find(cls):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"{cls.__name__} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {cls.__name__} failed"
