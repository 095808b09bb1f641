"""QA cost against context length: one question over one long context (SQuAD dev paragraphs joined).

Two measurements:
- `search`: the best-span search across windows (postprocess.best_spans) on real windows, against the full
  start x end matrix per window it replaced (kept here as the reference), at QA window lengths 64 and 384;
- `export`: one request to an exported QA SavedModel (MiniLM weights, random QA head, max_length 64,
  max_context_tokens=None), seconds per request once its shapes are compiled.

Usage:
    python -m tools.bench.qa_context search [--sizes 1000 10000 100000 1000000]
    python -m tools.bench.qa_context export [--sizes 1000 10000 100000]
"""

import argparse
import json
import os
import time

from tools.bench.common import SHARED, time_calls


def context(size):
    with open(os.path.join(SHARED, "squad", "dev-v1.1.json"), encoding="utf-8") as f:
        data = json.load(f)["data"]
    text = " ".join(p["context"] for article in data for p in article["paragraphs"])
    while len(text) < size:
        text = text + " " + text
    return text[:size]


def full_matrix_best_spans(start_logits, end_logits, context_mask, example_ids, num_examples, max_answer_tokens=30):
    """The search this package used before the banded one: a [features, length, length] score matrix."""
    import tensorflow as tf

    from keras_bert_suite.export.postprocess import _masked_softmax

    p_start = _masked_softmax(start_logits, context_mask)
    p_end = _masked_softmax(end_logits, context_mask)
    length = tf.shape(start_logits)[1]
    pos = tf.range(length)
    allowed = (pos[None, :] >= pos[:, None]) & (pos[None, :] - pos[:, None] < max_answer_tokens)
    allowed = allowed[None] & context_mask[:, :, None] & context_mask[:, None, :]
    pair = tf.where(allowed, p_start[:, :, None] * p_end[:, None, :], -1.0)
    flat = tf.reshape(pair, [tf.shape(pair)[0], -1])
    best = tf.argmax(flat, axis=-1, output_type=tf.int32)
    score = tf.reduce_max(flat, axis=-1)
    best_score = tf.math.unsorted_segment_max(score, example_ids, num_examples)
    is_best = tf.equal(score, tf.gather(best_score, example_ids))
    features = tf.range(tf.shape(score)[0])
    feature = tf.math.unsorted_segment_min(tf.where(is_best, features, tf.int32.max), example_ids, num_examples)
    chosen = tf.gather(best, feature)
    return feature, chosen // length, chosen % length, tf.gather(score, feature)


def search(sizes):
    import tensorflow as tf

    from keras_bert_suite.export import postprocess
    from keras_bert_suite.export.windows import qa_features
    from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer
    from tools.bench.serving import minilm_folder

    tok = TFBertTokenizer.coerce(BertTokenizer.from_pretrained(minilm_folder()))
    print("| window | context | tokens | windows | features (tokenize + windows) s | full matrix s | banded s | same |")
    print("|---|---|---|---|---|---|---|---|")
    for max_length in (64, 384):
        stride = max_length // 4
        make = tf.function(lambda q, c: qa_features(tok, q, c, max_length=max_length, doc_stride=stride,  # noqa: B023
                                                    pad_to_multiple_of=8))
        for size in sizes:
            q, c = tf.constant(["What is it?"]), tf.constant([context(size)])
            feats = make(q, c)
            t_feats = time_calls(lambda: make(q, c), 1, warmup=1)  # noqa: B023
            logits = tf.random.stateless_normal(tf.shape(feats["input_ids"]), [1, 2])
            args = (logits, logits * 0.5, feats["context_mask"], feats["example_ids"], 1)
            old, new = tf.function(full_matrix_best_spans), tf.function(postprocess.best_spans)
            try:
                t_old = time_calls(lambda: old(*args), 3, warmup=1)  # noqa: B023
                same = [int(a.numpy()[0] * 1e6) for a in old(*args)] == [int(b.numpy()[0] * 1e6) for b in new(*args)]
                t_old = f"{t_old:.3f}"
            except tf.errors.ResourceExhaustedError:
                t_old, same = "out of memory", "-"
            t_new = time_calls(lambda: new(*args), 3, warmup=1)  # noqa: B023
            tokens = int(tf.reduce_sum(tf.cast(feats["context_mask"], tf.int32)))
            print(f"| {max_length} | {size // 1000} KB | {tokens} | {feats['input_ids'].shape[0]} | {t_feats:.3f} "
                  f"| {t_old} | {t_new:.3f} | {same} |", flush=True)


def export(sizes):
    import tempfile

    import tensorflow as tf

    import keras_bert_suite as kbs
    from keras_bert_suite.export import export_saved_model
    from keras_bert_suite.tokenizers import BertTokenizer
    from tools.bench.serving import minilm_folder

    model = kbs.BertForQuestionAnswering.from_pretrained(minilm_folder())
    with tempfile.TemporaryDirectory() as root:
        path = export_saved_model(model, BertTokenizer.from_pretrained(minilm_folder()), os.path.join(root, "qa"),
                                  max_length=64, max_context_tokens=None, warmup=False)
        fn = tf.saved_model.load(path).signatures["serving_default"]
        print("| context | first request s (compiles) | next request s |")
        print("|---|---|---|")
        for size in sizes:
            inputs = {"question": tf.constant(["What is it?"]), "context": tf.constant([context(size)])}
            start = time.perf_counter()
            fn(**inputs)
            first = time.perf_counter() - start
            print(f"| {size // 1000} KB | {first:.2f} | {time_calls(lambda: fn(**inputs), 1, warmup=1):.2f} |",  # noqa: B023
                  flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("search", "export"))
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    args = parser.parse_args()
    if args.what == "search":
        search(args.sizes or [1000, 10000, 100000, 1000000])
    else:
        export(args.sizes or [1000, 10000, 100000])


if __name__ == "__main__":
    main()
