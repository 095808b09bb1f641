"""The NSP pair pipeline: pair construction, packing, truncation, label balance, determinism, tokenizers."""

import os

import numpy as np
import pytest
import tensorflow as tf

from helpers import SHARED_DATA, minilm_folder
from keras_bert_suite.pretraining import data
from keras_bert_suite.tokenizers import TFBertTokenizer
from keras_bert_suite.tokenizers.encoding import LONGEST_FIRST
from keras_bert_suite.tokenizers.pack import truncation_lengths

SAMPLE = os.path.join(SHARED_DATA, "text", "bert_sample_text.txt")
needs_sample = pytest.mark.skipif(not os.path.exists(SAMPLE), reason="shared sample text absent")


@pytest.fixture(scope="module")
def vocab():
    return data.Vocabulary.from_file(os.path.join(minilm_folder(), "vocab.txt"))


@pytest.fixture(scope="module")
def tokenizer():
    return TFBertTokenizer(os.path.join(minilm_folder(), "vocab.txt"))


def _shard(tokenizer, path=SAMPLE, one_document_per_line=False):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    docs = data.split_documents(tf.constant(text), one_document_per_line)
    sentences, doc = data.tokenize_documents(docs, data.as_tokenize_fn(tokenizer))
    return sentences, doc


def test_split_documents_modes():
    text = tf.constant("One. Two\n  \nThree.\r\n\n\nFour! Five? Six\n")
    assert data.split_documents(text).to_list() == [[b"One. Two"], [b"Three."], [b"Four! Five? Six"]]
    assert data.split_documents(text, one_document_per_line=True).to_list() == [
        [b"One.", b"Two"], [b"Three."], [b"Four!", b"Five?", b"Six"]]


def _reference_truncate(a, b, m):
    a, b = list(range(a)), list(range(b))
    while len(a) + len(b) > m:
        (a if len(a) > len(b) else b).pop()
    return len(a), len(b)


def test_truncation_removes_from_the_longer_side():
    rng = np.random.RandomState(0)
    la, lb = rng.randint(0, 80, 300), rng.randint(0, 80, 300)
    keep_a, keep_b = truncation_lengths(tf.constant(la), tf.constant(lb), 0, LONGEST_FIRST, 61)
    for i in range(300):
        assert (keep_a[i], keep_b[i]) == _reference_truncate(la[i], lb[i], 61)


@needs_sample
def test_pairs_are_packed_consecutive_or_from_another_document(tokenizer, vocab):
    sentences, doc = _shard(tokenizer)
    pairs = data.sentence_pairs(sentences, doc, tf.constant([1, 2]), max_length=512, cls_id=vocab.cls_id,
                                sep_id=vocab.sep_id)
    sent = sentences.to_list()
    doc = doc.numpy()
    doc_tokens = {d: sum((sent[i] for i in np.flatnonzero(doc == d)), []) for d in set(doc.tolist())}
    ids, types, att = (pairs[k].numpy() for k in ("input_ids", "token_type_ids", "attention_mask"))
    labels = pairs["next_sentence_label"].numpy()
    assert len(labels) > 3 and set(labels.tolist()) == {0, 1}

    def where(seq):
        """{document: [start positions of seq in it]}"""
        found = {}
        for d, toks in doc_tokens.items():
            hits = [i for i in range(len(toks) - len(seq) + 1) if toks[i:i + len(seq)] == seq]
            if hits:
                found[d] = hits
        return found

    for row, label in enumerate(labels):
        n = att[row].sum()
        seq = ids[row, :n].tolist()
        assert seq[0] == vocab.cls_id and seq[-1] == vocab.sep_id and (ids[row, n:] == 0).all()
        first_sep = seq.index(vocab.sep_id)
        a, b = seq[1:first_sep], seq[first_sep + 1:-1]
        assert (types[row, :first_sep + 1] == 0).all() and (types[row, first_sep + 1:n] == 1).all()
        assert a and b and vocab.sep_id not in b
        in_a, in_b = where(a), where(b)
        assert in_a and in_b
        if label == 0:    # same document, B after A (both may have lost tokens to truncation)
            assert any(q >= p + len(a) for d in set(in_a) & set(in_b) for p in in_a[d] for q in in_b[d])
        else:
            assert not set(in_a) & set(in_b), "a random B from A's own document"


@needs_sample
def test_truncated_pairs_fit_and_keep_both_sides(tokenizer, vocab):
    sentences, doc = _shard(tokenizer)
    pairs = data.sentence_pairs(sentences, doc, tf.constant([3, 4]), max_length=24, cls_id=vocab.cls_id,
                                sep_id=vocab.sep_id)
    att = pairs["attention_mask"].numpy()
    assert pairs["input_ids"].shape[1] == 24
    assert (att.sum(1) <= 24).all() and (att.sum(1) == 24).mean() > 0.8
    assert ((pairs["token_type_ids"].numpy() == 1).sum(1) >= 2).all()


def _synthetic_corpus(path, docs=60, sentences=60, seed=0):
    rng = np.random.RandomState(seed)
    words = ["the", "rain", "gold", "ring", "cabin", "morning", "river", "wisdom", "lecture", "road", "fire"]
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(docs):
            for _ in range(sentences):
                f.write(" ".join(rng.choice(words, rng.randint(4, 9))) + ".\n")
            f.write("\n")


@pytest.mark.slow
def test_next_sentence_label_balance(tokenizer, vocab, tmp_path):
    path = str(tmp_path / "corpus.txt")
    _synthetic_corpus(path)
    ds = data.pretraining_dataset(path, tokenizer, vocab, batch_size=16, max_length=64, seed=5, num_epochs=2)
    labels = np.concatenate([b["next_sentence_label"].numpy() for b in ds])
    assert len(labels) > 1000
    assert abs(labels.mean() - 0.5) < 0.04, labels.mean()


@needs_sample
def test_one_sentence_chunks_always_take_a_random_b(tokenizer, vocab):
    # Sentences longer than the target make one-sentence chunks, whose B is always random (as in the
    # reference), so the share of random B can only grow past one half.
    ds = data.pretraining_dataset(SAMPLE, tokenizer, vocab, batch_size=8, max_length=32, seed=5, num_epochs=10)
    labels = np.concatenate([b["next_sentence_label"].numpy() for b in ds])
    assert 0.5 < labels.mean() < 0.9, labels.mean()


@needs_sample
@pytest.mark.slow
def test_dataset_static_shapes_determinism_and_skip(tokenizer, vocab):
    def build(seed, skip=0):
        return data.pretraining_dataset(SAMPLE, tokenizer, vocab, batch_size=4, max_length=48, seed=seed,
                                        whole_word_masking=True, max_predictions_per_seq=7, skip_batches=skip)

    ds = build(0)
    for key, spec in ds.element_spec.items():
        assert spec.shape == ((4,) if key == "next_sentence_label" else (4, 48)), (key, spec)
        assert spec.dtype == tf.int32
    first = [b for b in ds.take(12)]            # crosses from the first pass over the file into the second
    again = [b for b in build(0).take(12)]
    other = next(iter(build(1)))
    for x, y in zip(first, again):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
    assert not np.array_equal(first[0]["input_ids"], other["input_ids"])
    skipped = next(iter(build(0, skip=5)))
    for k in skipped:
        np.testing.assert_array_equal(skipped[k], first[5][k])
    for b in first:
        assert ((b["labels"].numpy() != -100).sum(1) <= 7).all()
    # the same stream with the predicted positions gathered
    compact = [b for b in data.pretraining_dataset(
        SAMPLE, tokenizer, vocab, batch_size=4, max_length=48, seed=0, whole_word_masking=True,
        max_predictions_per_seq=7, masked_lm_positions=True).take(3)]
    for full, small in zip(first, compact):
        assert small["masked_lm_positions"].shape == small["labels"].shape == (4, 7)
        np.testing.assert_array_equal(full["input_ids"], small["input_ids"])
        labels = full["labels"].numpy()
        gathered = np.take_along_axis(labels, small["masked_lm_positions"].numpy(), axis=1)
        used = small["labels"].numpy() != -100
        np.testing.assert_array_equal(gathered[used], small["labels"].numpy()[used])
        assert used.sum() == (labels != -100).sum()


@needs_sample
def test_our_graph_tokenizer_plugs_in(vocab):
    try:
        from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer
    except ImportError:
        pytest.skip("TFBertTokenizer not available")
    ours = TFBertTokenizer.from_pretrained(minilm_folder())
    reference = BertTokenizer.from_pretrained(minilm_folder())
    with open(SAMPLE, encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()][:6]
    got = data.as_tokenize_fn(ours)(tf.constant(lines)).to_list()
    assert got == [reference(line, add_special_tokens=False)["input_ids"] for line in lines]
    batch = next(iter(data.pretraining_dataset(SAMPLE, ours, vocab, batch_size=4, max_length=32, seed=2)))
    assert batch["input_ids"].shape == (4, 32) and batch["labels"].shape == (4, 32)


def test_loss_plot_draws_every_key(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.colors import TABLEAU_COLORS, to_rgb
    from matplotlib.image import imread

    from keras_bert_suite.pretraining.plot import plot_losses

    keys = [f"head{i}_loss" for i in range(7)]  # more keys than the five colours the plot once had
    history = [{"step": s, **{k: 6 - s / 50 + i for i, k in enumerate(keys)}} for s in range(10, 110, 10)]
    path = tmp_path / "loss.png"
    legend = plot_losses(history, str(path))
    assert legend == dict(zip(keys, list(TABLEAU_COLORS)[:7]))
    pixels = (imread(str(path))[..., :3] * 255).round().astype(int).reshape(-1, 3)
    for key, colour in legend.items():
        rgb = (np.array(to_rgb(colour)) * 255).round().astype(int)
        assert (np.abs(pixels - rgb).max(axis=1) <= 2).sum() > 50, key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png"]  # written atomically, nothing left over


def test_loss_plot_without_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    import sys

    from keras_bert_suite.pretraining.plot import plot_losses

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib.*TensorBoard"):
        plot_losses([{"step": 1, "mlm_loss": 1.0}], str(tmp_path / "loss.png"))
    assert not (tmp_path / "loss.png").exists()


def test_warmup_linear_decay():
    from keras_bert_suite.pretraining.optimization import WarmupLinearDecay

    # the schedule: linear warm-up, linear decay, serializable
    schedule = WarmupLinearDecay(1e-3, warmup_steps=10, total_steps=110)
    values = [float(schedule(s)) for s in (0, 5, 10, 60, 110, 200)]
    np.testing.assert_allclose(values, [0, 5e-4, 1e-3, 5e-4, 0, 0], atol=1e-9)
    assert WarmupLinearDecay.from_config(schedule.get_config()).get_config() == schedule.get_config()
