"""Extractive QA (SQuAD v1.1 / v2.0 style): training features with answer positions, and answers back from logits.

Features are the windows of `export.windows.qa_features` ([CLS] question [SEP] context window [SEP], windows
overlapping by `doc_stride` tokens), the same code the exported SavedModel runs. A window's labels are the
token positions of the answer (`export.windows.answer_positions`); unanswerable examples and windows that do not
hold the whole answer point at [CLS] (0). Going back, `predict_answers` runs the model over the windows and
picks the best span with `export.postprocess.answers`, as the SavedModel does.

Training elements: input_ids, attention_mask, token_type_ids [batch, length] int32, start_positions,
end_positions [batch] int32 (with `return_meta=True` also example_index [batch] and char_start, char_end
[batch, length], the character span of each context token, -1 elsewhere).

Example:
    >>> cols = read_squad("train-v1.1.json")
    >>> ds = squad_dataset(squad_examples(cols), tokenizer, max_length=384, doc_stride=128, batch_size=16)
    >>> model.fit(ds)                                    # BertForQuestionAnswering compiled without a loss
    >>> predict_answers(model, tokenizer, cols)          # ["Denver Broncos", ...]
"""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.data import bucketing
from keras_bert_suite.data.files import read_squad
from keras_bert_suite.data.pipeline import as_dataset, cached, encode_in_chunks, graph_tokenizer, trim
from keras_bert_suite.export import postprocess
from keras_bert_suite.export.windows import answer_positions, qa_features

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def windows(tok, max_length, doc_stride, max_question_tokens, pad_to_multiple_of=None):
    """`qa_features` with these settings as a `tf.function` over (questions, contexts), traced once per tokenizer."""
    spec = tf.TensorSpec([None], tf.string)
    key = ("qa", max_length, doc_stride, max_question_tokens, pad_to_multiple_of)
    return cached(tok, key, lambda: tf.function(
        lambda q, c: qa_features(tok, q, c, max_length=max_length, doc_stride=doc_stride,
                                 max_question_tokens=max_question_tokens, pad_to_multiple_of=pad_to_multiple_of),
        input_signature=[spec, spec]))


def squad_examples(columns):
    """`files.read_squad` columns -> training examples: question, context, answer_text, answer_start (the first
    gold answer; "" and -1 when there is none or the question is impossible)."""
    out = {"question": list(columns["question"]), "context": list(columns["context"]),
           "answer_text": [], "answer_start": []}
    impossible = columns.get("is_impossible") or [False] * len(out["question"])
    for texts, starts, no_answer in zip(columns["answers"], columns["answer_starts"], impossible):
        has = bool(texts) and not no_answer
        out["answer_text"].append(texts[0] if has else "")
        out["answer_start"].append(int(starts[0]) if has else -1)
    return out


def squad_dataset(examples, tokenizer, *, max_length=384, doc_stride=128, max_question_tokens=64,
                  batch_size=16, return_meta=False, chunk_size=64, **batching):
    """Windows with answer positions, batched.

    Args:
        examples: dict of lists or dataset of dicts with question, context, answer_text, answer_start (a
            character offset into context, -1 for no answer).
        max_length: window length in tokens. doc_stride: tokens shared by consecutive windows.
        max_question_tokens: questions are cut to this many tokens.
        return_meta: also example_index, char_start, char_end (for checks and evaluation).
        **batching: `bucketing.finish` options.
    """
    tok = graph_tokenizer(tokenizer)
    ds = as_dataset(examples)
    if return_meta:
        ds = ds.enumerate().map(lambda i, ex: {**ex, "example_index": tf.cast(i, tf.int32)})

    make_windows = windows(tok, max_length, doc_stride, max_question_tokens)

    def encode(batch):
        feats = make_windows(batch["question"], batch["context"])
        start_char = tf.cast(batch["answer_start"], tf.int32)
        length = tf.strings.length(batch["answer_text"], unit="UTF8_CHAR")
        end_char = tf.where(start_char >= 0, start_char + length, -1)
        start, end = answer_positions(feats, start_char, end_char)
        lengths = tf.reduce_sum(feats["attention_mask"], axis=1)
        out = {k: trim(feats[k], lengths) for k in MODEL_INPUTS}
        out["start_positions"], out["end_positions"] = start, end
        if return_meta:
            out["example_index"] = tf.gather(batch["example_index"], feats["example_ids"])
            out["char_start"] = trim(feats["char_start"], lengths)
            out["char_end"] = trim(feats["char_end"], lengths)
        return out

    ds = encode_in_chunks(ds, encode, chunk_size)
    return bucketing.finish(ds, batch_size=batch_size, max_length=max_length, **batching)


def load_squad_file(path, tokenizer, *, limit=None, **options):
    """A SQuAD JSON file -> batched training windows (see `squad_dataset`)."""
    return squad_dataset(squad_examples(read_squad(path, limit=limit)), tokenizer, **options)


def predict_answers(model, tokenizer, examples, *, max_length=384, doc_stride=128, max_question_tokens=64,
                    max_answer_tokens=30, batch_size=16, version_2=False, null_threshold=0.0, pad_to_multiple_of=32):
    """Answer texts, one per example (dict of lists or dataset with question and context).

    The best span over the context tokens of all windows (p(start) * p(end)). With `version_2`, the answer is
    "" when the [CLS] score (start + end logit, the smallest over the example's windows) beats the best span's
    logit sum by more than `null_threshold`.
    """
    tok = graph_tokenizer(tokenizer)
    ds = as_dataset(examples)
    ds = ds.map(lambda ex: {"question": ex["question"], "context": ex["context"]}).batch(batch_size)

    make_windows = windows(tok, max_length, doc_stride, max_question_tokens, pad_to_multiple_of)

    @tf.function(reduce_retracing=True)
    def run_in_graph(inputs):
        out = model(inputs, training=False)
        return out["start_logits"], out["end_logits"]

    def run(inputs):
        if keras.backend.backend() == "tensorflow":
            return run_in_graph(inputs)
        out = model({k: v.numpy() for k, v in inputs.items()}, training=False)  # JAX: eager, arrays back to TF
        return tf.constant(np.asarray(out["start_logits"])), tf.constant(np.asarray(out["end_logits"]))

    @tf.function(reduce_retracing=True)
    def decode(start_logits, end_logits, feats, contexts):
        best = postprocess.answers(start_logits, end_logits, feats, contexts, max_answer_tokens)
        if not version_2:
            return best["answer"]
        at = lambda logits, tokens: tf.gather_nd(logits, tf.stack([best["feature"], tokens], 1))  # noqa: E731
        span = at(start_logits, best["start_token"]) + at(end_logits, best["end_token"])
        null = tf.math.unsorted_segment_min(start_logits[:, 0] + end_logits[:, 0], feats["example_ids"],
                                            tf.shape(contexts)[0])
        return tf.where(null - span > null_threshold, tf.constant(""), best["answer"])

    texts = []
    for batch in ds:
        feats = make_windows(batch["question"], batch["context"])
        start_logits, end_logits = run({k: feats[k] for k in MODEL_INPUTS})
        answer = decode(tf.cast(start_logits, tf.float32), tf.cast(end_logits, tf.float32), feats, batch["context"])
        texts.extend(a.decode("utf-8") for a in answer.numpy())
    return texts
