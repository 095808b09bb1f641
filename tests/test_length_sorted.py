"""Length-sorted chunked serving runs give what one call on the whole padded batch gives."""

import numpy as np
import pytest
import tensorflow as tf

import keras_bert_suite as kbs
from helpers import TINY
from keras_bert_suite.export.length_sorted import run_by_length


@pytest.fixture(scope="module")
def model():
    return kbs.BertForTokenClassification(kbs.BertConfig(**TINY, num_labels=3))


def _batch(lengths, full=48, seed=0):
    rng = np.random.RandomState(seed)
    n = len(lengths)
    ids = rng.randint(5, 99, (n, full)).astype("int32")
    mask = (np.arange(full)[None, :] < np.asarray(lengths)[:, None]).astype("int32")
    types = (np.arange(full)[None, :] >= np.asarray(lengths)[:, None] // 2).astype("int32") * mask
    return ids * mask, mask, types


@pytest.mark.parametrize("lengths", [[3, 40, 7, 17, 48, 1, 33, 9, 12, 2, 30], [5], [48, 48, 48]])
@pytest.mark.parametrize("chunk_size", [1, 4, 8])
def test_same_answers_as_one_call(model, lengths, chunk_size):
    shapes = []

    def run(ids, mask, types):
        shapes.append(tuple(ids.shape))
        out = model({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        return {"logits": out.logits, "first": out.logits[:, 0]}

    ids, mask, types = _batch(lengths)
    want = run(ids, mask, types)
    shapes.clear()
    got = run_by_length(run, ids, mask, types, chunk_size=chunk_size, multiple=16, token_keys=("logits",))
    assert got["logits"].shape == want["logits"].shape and got["first"].shape == want["first"].shape
    real = mask.astype(bool)
    np.testing.assert_allclose(got["logits"].numpy()[real], want["logits"].numpy()[real], atol=1e-5)
    np.testing.assert_allclose(got["first"], want["first"], atol=1e-5)
    # every chunk is at most chunk_size rows, cut to its longest row rounded up to 16
    assert len(shapes) == -(-len(lengths) // chunk_size)
    assert all(b <= chunk_size and (t % 16 == 0 or t == 48) for b, t in shapes)


def test_in_a_graph_with_unknown_batch_and_empty_batch(model):
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 3)
    def serve(ids, mask, types):
        def run(i, m, t):
            return {"logits": model({"input_ids": i, "attention_mask": m, "token_type_ids": t}).logits}

        return run_by_length(run, ids, mask, types, chunk_size=4, multiple=16, token_keys=("logits",))

    ids, mask, types = _batch([3, 40, 7, 17, 48, 1])
    want = model({"input_ids": ids, "attention_mask": mask, "token_type_ids": types}).logits.numpy()
    got = serve(ids, mask, types)["logits"].numpy()
    np.testing.assert_allclose(got[mask.astype(bool)], want[mask.astype(bool)], atol=1e-5)
    empty = serve(*(np.zeros((0, 16), "int32"),) * 3)["logits"]
    assert empty.shape == (0, 16, 3)
