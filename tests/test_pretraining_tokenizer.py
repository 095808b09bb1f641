"""Pretraining examples carry the reference's word pieces, on real multilingual text.

The corpus is the Universal Declaration of Human Rights in 72 languages (../shared/data/multilingual), the first
paragraphs of each language one document; the vocabulary is bert-base-multilingual-cased's. tensorflow-text's
FastBertTokenizer alone gives other pieces on some of these lines (Thai, Vietnamese, Indic scripts), so the test
also checks that the corpus exposes that difference.
"""

import collections
import csv
import os

import numpy as np
import pytest
import tensorflow as tf

from helpers import SHARED_DATA
from keras_bert_suite.pretraining import data
from keras_bert_suite.tokenizers import TFBertTokenizer

UDHR = os.path.join(SHARED_DATA, "multilingual", "udhr_paragraphs.tsv")
MBERT = os.path.join(SHARED_DATA, "vocab", "bert-base-multilingual-cased")
PARAGRAPHS_PER_LANGUAGE = 5
pytestmark = pytest.mark.skipif(not (os.path.exists(UDHR) and os.path.isdir(MBERT)), reason="shared data absent")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(path of a pipeline-format corpus, its documents as lists of lines)."""
    by_language = collections.defaultdict(list)
    with open(UDHR, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(by_language[row["lang"]]) < PARAGRAPHS_PER_LANGUAGE and row["text"].strip():
                by_language[row["lang"]].append(row["text"].strip())
    documents = list(by_language.values())
    path = tmp_path_factory.mktemp("udhr") / "corpus.txt"
    path.write_text("\n\n".join("\n".join(doc) for doc in documents) + "\n", encoding="utf-8")
    return str(path), documents


@pytest.fixture(scope="module")
def reference():
    import transformers

    return transformers.BertTokenizer.from_pretrained(MBERT)


def _reference_ids(reference, lines):
    return [reference(line, add_special_tokens=False)["input_ids"] for line in lines]


def test_sentences_have_the_reference_pieces(corpus, reference):
    path, documents = corpus
    lines = [line for doc in documents for line in doc]
    want = _reference_ids(reference, lines)
    docs = data.split_documents(tf.io.read_file(path))
    assert docs.flat_values.numpy().tolist() == [line.encode("utf-8") for line in lines]
    sentences, _ = data.tokenize_documents(docs, data.as_tokenize_fn(TFBertTokenizer.from_pretrained(MBERT)))
    assert sentences.to_list() == want

    import tensorflow_text as tf_text

    raw = tf_text.FastBertTokenizer(reference.convert_ids_to_tokens(list(range(reference.vocab_size))),
                                    token_out_type=tf.int64, lower_case_nfd_strip_accents=False)
    raw_ids = raw.tokenize(tf.constant(lines))
    raw_ids = (raw_ids.merge_dims(1, 2) if raw_ids.ragged_rank > 1 else raw_ids).to_list()
    assert sum(r != w for r, w in zip(raw_ids, want)) > 0  # the corpus tells the two tokenizers apart


def test_pretraining_examples_hold_the_reference_pieces(corpus, reference):
    """Unmasked, every A and B segment is a run of consecutive reference pieces of one document."""
    path, documents = corpus
    streams = [" " + " ".join(str(i) for ids in _reference_ids(reference, doc) for i in ids) + " "
               for doc in documents]
    vocab = data.Vocabulary.from_file(os.path.join(MBERT, "vocab.txt"))
    ds = data.pretraining_dataset(path, TFBertTokenizer.from_pretrained(MBERT), vocab, batch_size=16,
                                  max_length=96, random_truncation=False, num_epochs=1, seed=4)
    rows = 0
    for batch in ds:
        labels, ids = batch["labels"].numpy(), batch["input_ids"].numpy()
        original = np.where(labels != -100, labels, ids)
        for row, mask, types in zip(original, batch["attention_mask"].numpy(), batch["token_type_ids"].numpy()):
            row, types = row[mask == 1], types[mask == 1]
            assert row[0] == vocab.cls_id and row[-1] == vocab.sep_id
            segment_a, segment_b = row[1:][types[1:] == 0][:-1], row[types == 1][:-1]
            for segment in (segment_a, segment_b):
                assert len(segment) > 0
                needle = " " + " ".join(str(i) for i in segment) + " "
                assert any(needle in stream for stream in streams), needle
            rows += 1
    assert rows >= 64
