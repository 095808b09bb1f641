"""transformers 4.x's TensorFlow BERT docstring examples (examples/transformers_tf_docs.py), run by their Hub ids
from a pre-seeded cache that holds the MiniLM checkpoint under each id, offline.

MiniLM has an encoder only: the heads start untrained, so the values transformers' doctests print ('paris',
'LABEL_1', a loss of 0.88) are checked loosely: shapes, label names, finite losses."""

import math
import os

import numpy as np
import pytest
from fake_hub import offline_examples
from helpers import minilm_folder

EXAMPLES_FILE = os.path.join(os.path.dirname(__file__), "..", "examples", "transformers_tf_docs.py")
HIDDEN, VOCAB = 384, 30522  # MiniLM


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    yield from offline_examples(EXAMPLES_FILE, str(tmp_path_factory.mktemp("hub")), minilm_folder())


def _finite(loss):
    return isinstance(loss, float) and math.isfinite(loss)


CHECKS = {
    "base_model": lambda out: out.shape == (1, 8, HIDDEN),
    "pretraining": lambda out: out[0].shape == (1, 8, VOCAB) and out[1].shape == (1, 2),
    "masked_lm": lambda out: isinstance(out[0], str) and out[0] and _finite(out[1]),
    "causal_lm": lambda out: out.shape == (1, 8, VOCAB),
    "next_sentence_prediction": lambda out: out.shape == (1, 2),
    "sequence_classification": lambda out: out[0] in ("LABEL_0", "LABEL_1") and _finite(out[1]),
    "multiple_choice": lambda out: out.shape == (1, 2),
    "token_classification": lambda out: len(out[0]) == 11 and set(out[0]) <= {"LABEL_0", "LABEL_1"}
    and _finite(out[1]),
    "question_answering": lambda out: isinstance(out[0], str) and _finite(out[1]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CHECKS))
def test_example_runs_by_hub_id(docs, name):
    out = getattr(docs, name)()
    assert CHECKS[name](out), (name, out)
    if hasattr(out, "shape"):
        assert np.all(np.isfinite(out))


def test_every_example_is_checked(docs):
    assert [example.__name__ for example in docs.EXAMPLES] == list(CHECKS)
