"""Which Keras backends the package runs on (TensorFlow and JAX; torch and numpy are refused at import, naming
the supported ones), and the TensorFlow-only pieces under JAX: `SentenceTransformer` runs its model eagerly and
refuses `jit_compile` (a tf.function option) with a clear error."""

import os
import subprocess
import sys

import numpy as np
import pytest
import keras

from helpers import max_diff, minilm_folder, sst2_sentences

ROOT = os.path.join(os.path.dirname(__file__), "..")


@pytest.mark.jax
@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_unsupported_backend_fails_at_import_naming_the_supported_ones(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-c", "import keras_bert_suite"], env=env, capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode != 0
    assert (f"ImportError: keras_bert_suite runs on the Keras backends 'tensorflow' and 'jax', not '{backend}'"
            in done.stderr), done.stderr[-2000:]


@pytest.mark.jax
@pytest.mark.jax_only
def test_sentence_transformer_on_jax_matches_sentence_transformers(tmp_path):
    from sentence_transformers import SentenceTransformer as Reference
    from test_sentence_encoder import build_folder

    from keras_bert_suite import SentenceTransformer

    folder = build_folder(tmp_path, minilm_folder(), ("mean",), normalize=True)
    texts = sst2_sentences(6) + [""]
    got = SentenceTransformer(folder).encode(texts, batch_size=4)
    want = Reference(folder, device="cpu").encode(texts, batch_size=4)
    assert got.shape == want.shape and max_diff(got, want) < 1e-5
    with pytest.raises(ValueError, match="jit_compile=True.*TensorFlow backend only.*'jax'"):
        SentenceTransformer(folder, jit_compile=True)
    assert keras.backend.backend() == "jax" and np.all(np.isfinite(got))
