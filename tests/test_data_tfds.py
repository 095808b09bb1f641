"""tensorflow-datasets loaders on `tfds.testing.mock_data`: random examples (shapes, robustness) and, through
`as_dataset_fn`, real examples (values)."""

import numpy as np
import pytest
import tensorflow as tf

from data_helpers import numpy_batches, shared, tokenizers
from keras_bert_suite.data import CONLL2003_LABELS, load_tfds, read_squad

tfds = pytest.importorskip("tensorflow_datasets")


@pytest.fixture(scope="module")
def toks():
    return tokenizers()


def _fixed(examples):
    return lambda *args, **kwargs: tf.data.Dataset.from_tensor_slices(examples)


@pytest.mark.slow
def test_glue_sst2_and_mrpc(toks, tmp_path):
    python, graph = toks
    with tfds.testing.mock_data(num_examples=6):
        batches = numpy_batches(load_tfds("glue/sst2", "train", graph, data_dir=str(tmp_path), batch_size=4))
        assert [len(b["labels"]) for b in batches] == [4, 2]
        assert set(np.concatenate([b["labels"] for b in batches])) <= {0, 1}
        pair = next(iter(load_tfds("glue/mrpc", "validation", graph, data_dir=str(tmp_path), batch_size=6,
                                   max_length=32, pad_to_max_length=True)))
        assert pair["input_ids"].shape == (6, 32) and pair["token_type_ids"].numpy().max() == 1
    real = {"sentence": ["a charming and often affecting journey .", "unflinchingly bleak"], "label": [1, 0],
            "idx": [0, 1]}
    with tfds.testing.mock_data(as_dataset_fn=_fixed(real)):
        b = next(iter(load_tfds("glue/sst2", "validation", graph, data_dir=str(tmp_path), batch_size=2)))
    expected = python(real["sentence"][0])["input_ids"]
    assert b["input_ids"][0, :len(expected)].numpy().tolist() == expected and b["labels"].numpy().tolist() == [1, 0]


@pytest.mark.slow
def test_conll2003(toks, tmp_path):
    _, graph = toks
    with tfds.testing.mock_data(num_examples=5):  # random tokens and tags of unrelated lengths
        batches = numpy_batches(load_tfds("conll2003", "train", graph, data_dir=str(tmp_path), batch_size=5,
                                          bucket_boundaries=[16], max_length=64))
    assert sum(len(b["input_ids"]) for b in batches) == 5
    for b in batches:
        assert b["labels"].shape == b["input_ids"].shape
        assert ((b["labels"] == -100) | ((b["labels"] >= 0) & (b["labels"] < len(CONLL2003_LABELS)))).all()
    real = tf.data.Dataset.from_tensor_slices({
        "tokens": tf.ragged.constant([["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]),
        "ner": tf.ragged.constant([[3, 0, 7, 0], [1, 2]], dtype=tf.int64),
        "pos": tf.ragged.constant([[0, 0, 0, 0], [0, 0]], dtype=tf.int64),
        "chunks": tf.ragged.constant([[0, 0, 0, 0], [0, 0]], dtype=tf.int64)})
    with tfds.testing.mock_data(as_dataset_fn=lambda *a, **k: real):
        b = next(iter(load_tfds("conll2003", "validation", graph, data_dir=str(tmp_path), batch_size=2)))
    labels = b["labels"].numpy()
    assert labels[0][labels[0] != -100].tolist() == [3, 0, 7, 0]
    assert labels[1][labels[1] != -100].tolist() == [1, 2]


def test_squad_v1_and_v2(toks, tmp_path):
    _, graph = toks
    for name in ("squad", "squad/v2.0"):
        with tfds.testing.mock_data(num_examples=3):
            batches = numpy_batches(load_tfds(name, "train", graph, data_dir=str(tmp_path), batch_size=8,
                                              max_length=64, doc_stride=16))
        assert sum(len(b["start_positions"]) for b in batches) >= 3
    dev = read_squad(shared("squad", "dev-v1.1.json"), limit=3)
    real = {"id": dev["id"], "title": dev["title"], "question": dev["question"], "context": dev["context"],
            "answers": {"text": tf.ragged.constant(dev["answers"]),
                        "answer_start": tf.ragged.constant(dev["answer_starts"], dtype=tf.int32)},
            "is_impossible": [False, True, False],
            "plausible_answers": {"text": tf.ragged.constant([[], [], []], dtype=tf.string),
                                  "answer_start": tf.ragged.constant([[], [], []], dtype=tf.int32)}}
    with tfds.testing.mock_data(as_dataset_fn=_fixed(real)):
        b = next(iter(load_tfds("squad/v2.0", "validation", graph, data_dir=str(tmp_path), batch_size=8)))
    starts, ends = b["start_positions"].numpy(), b["end_positions"].numpy()
    assert starts[1] == ends[1] == 0 and starts[0] > 0 and starts[2] > 0  # the impossible one points at [CLS]
    ids = b["input_ids"].numpy()[0, starts[0]:ends[0] + 1]
    assert graph.vocab[ids[0]] == "denver" and graph.vocab[ids[-1]] == "broncos"


def test_download_through_tfds_download_manager_from_loopback(toks, tmp_path):
    """tensorflow-datasets' own download manager (not mock_data) fetches, extracts and prepares glue/sst2 from a
    loopback server; later loads read the prepared copy without asking the server again."""
    from fake_downloads import FileServer, sst2_zip
    from keras_bert_suite.data.tfds import columns

    python, graph = toks
    sst2_zip(tmp_path / "site" / "SST-2.zip", train_rows=12, dev_rows=6)
    data_dir = str(tmp_path / "tfds")
    with FileServer(tmp_path / "site") as site:
        url = site.url + "/SST-2.zip"
        b = next(iter(load_tfds("glue/sst2", "validation", graph, data_dir=data_dir, download=True, url=url,
                                batch_size=6)))
        assert site.requests == [("GET", "/SST-2.zip")]
    dev = columns("glue/sst2", "validation", data_dir=data_dir, download=True, url=url)  # server gone: cached
    gold = dict(line.rstrip("\n").split("\t") for line in open(shared("sst2", "dev.tsv"), encoding="utf-8")
                if not line.startswith("sentence\t"))
    assert len(dev["sentence"]) == 6 and all(int(gold[s]) == label for s, label in zip(dev["sentence"], dev["label"]))
    assert sorted(b["labels"].numpy().tolist()) == sorted(dev["label"])
    assert len(columns("glue/sst2", "train", data_dir=data_dir)["sentence"]) == 12
    first = python(dev["sentence"][0])["input_ids"]
    row = [r for r in b["input_ids"].numpy().tolist() if r[:len(first)] == first]
    assert row, "the prepared sentences tokenize to the reference ids"


def test_download_errors_name_dataset_address_and_folder(tmp_path):
    import time

    from fake_downloads import FileServer, closed_url
    from keras_bert_suite.data.tfds import DatasetDownloadError, prepare

    url = closed_url()
    start = time.perf_counter()
    with pytest.raises(DatasetDownloadError, match="glue/sst2.*cannot be reached.*tfds1"):
        prepare("glue/sst2", data_dir=str(tmp_path / "tfds1"), url=url)
    assert time.perf_counter() - start < 30  # no minutes of retries
    (tmp_path / "site").mkdir()
    with FileServer(tmp_path / "site") as site:
        with pytest.raises(DatasetDownloadError, match="glue/sst2.*missing.zip.*tfds2.*404"):
            prepare("glue/sst2", data_dir=str(tmp_path / "tfds2"), url=site.url + "/missing.zip")
    with pytest.raises(ValueError, match="no single download address"):
        prepare("conll2003", data_dir=str(tmp_path / "tfds3"), url=url)
