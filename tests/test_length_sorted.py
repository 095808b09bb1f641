"""Length-sorted chunked serving runs give what one call on the whole padded batch gives."""

import numpy as np
import pytest
import tensorflow as tf

import keras_bert_suite as kbs
from helpers import TINY
from keras_bert_suite.export.length_sorted import chunk_rows, chunk_sizes, large_sizes, run_by_length


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
    # full chunks of chunk_size rows, then the rest as powers of two, largest first (11 rows by 4: 4, 4, 2, 1);
    # each chunk cut to its longest row rounded up to 16
    full, rest = divmod(len(lengths), chunk_size)
    want_rows = [chunk_size] * full + [p for p in (4, 2, 1) if p < chunk_size and rest & p]
    assert [b for b, _ in shapes] == want_rows
    assert all(t % 16 == 0 or t == 48 for _, t in shapes)
    assert set(want_rows) <= set(chunk_sizes(chunk_size))


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


def test_chunks_are_full_then_powers_of_two():
    """Without a token budget, n sorted rows run as full chunks of `chunk_size`, then the remainder as the powers
    of two in it, largest first (the rows each call of `run` gets, for every n up to 39)."""
    assert chunk_sizes(8) == [8, 4, 2, 1] and chunk_sizes(6) == [6, 4, 2, 1] and chunk_sizes(1) == [1]
    for n in range(0, 40):
        for chunk_size in (1, 3, 6, 8):
            calls = []

            def run(ids, mask, types):
                calls.append(int(ids.shape[0]))
                return {"first": ids[:, 0]}

            ids, mask, types = _batch([1 + i % 5 for i in range(n)], full=8)
            run_by_length(run, ids, mask, types, chunk_size=chunk_size, multiple=1)
            real = [rows for rows in calls if rows]
            assert sum(real) == n, (n, chunk_size)
            assert real == sorted(real, reverse=True) and set(real) <= set(chunk_sizes(chunk_size))
            assert len(real) == n // chunk_size + bin(n % chunk_size).count("1")


@pytest.mark.parametrize("lengths", [[3, 40, 7, 17, 48, 1, 33, 9, 12, 2, 30] * 4, [5] * 32, [5] * 33,
                                     [3] * 70 + [48] * 9, [48] * 20, [7], []])
def test_token_budget_same_answers_larger_chunks_for_short_rows(model, lengths):
    shapes = []

    def run(ids, mask, types):
        shapes.append(tuple(ids.shape))
        return {"logits": model({"input_ids": ids, "attention_mask": mask, "token_type_ids": types}).logits}

    ids, mask, types = _batch(lengths)
    want = run(ids, mask, types)["logits"].numpy()
    shapes.clear()
    got = run_by_length(run, ids, mask, types, chunk_size=8, multiple=16, token_keys=("logits",), chunk_tokens=256)
    got = got["logits"].numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got[mask.astype(bool)], want[mask.astype(bool)], atol=1e-5)
    # each chunk's rows are a row count its padded length allows: 16 rows of 16 tokens fit 256, 16 x 32 do not
    assert all(rows in chunk_rows(length, 8, 256) for rows, length in shapes if rows), shapes
    assert sum(rows for rows, _ in shapes) == len(lengths)
    if lengths == [5] * 33:  # sorted short rows: 16, 16, then the one left
        assert shapes == [(16, 16), (16, 16), (1, 16)]
    if lengths == [3] * 70 + [48] * 9:  # short rows in chunks of 16; the rest (6 short, 9 long) in 8, 4, 2, 1
        assert shapes == [(16, 16)] * 4 + [(8, 48), (4, 48), (2, 48), (1, 48)]


def test_chunk_rows_and_large_sizes():
    assert large_sizes(8, 1024) == [64, 32, 16] and large_sizes(8, 0) == [] and large_sizes(24, 1024) == [48]
    assert chunk_rows(16, 8, 1024) == [64, 32, 16, 8, 4, 2, 1]
    assert chunk_rows(64, 8, 1024) == [16, 8, 4, 2, 1] and chunk_rows(128, 8, 1024) == chunk_sizes(8)
    assert chunk_rows(16, 8, 0) == chunk_sizes(8)
