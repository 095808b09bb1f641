"""`export_litert`: a model and its tokenizer as one LiteRT (TFLite) flatbuffer that takes raw strings.

The graph is its own, not the SavedModel's: the tokenizer is tokenizers.litert.LiteTokenizer (LiteRT builtins
plus tensorflow-text's TFLite kernels, reference-exact ids), the model runs once on the whole padded batch (no
length-sorted chunk loop, no XLA), and the answers are computed in builtins. Run it with
`litert_interpreter(path)` (tf.lite's interpreter with `tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`);
on a device, register the same tensorflow-text kernels with the LiteRT runtime. No Flex delegate is needed.

Tasks and outputs (signature `serving_default`, input `text`: tf.string [batch]; every task also returns the
`input_ids` [batch, length] int32 it ran on):
  sequence_classification: logits, probabilities [batch, labels] float32; label (string) and score [batch].
  feature_extraction: sentence_embedding [batch, hidden] (mean over the tokens, L2-normalized when
      `normalize_embeddings`), pooler_output [batch, hidden] when the model has a pooler.
  token_classification: logits [batch, length, labels]; token_labels (string, "" off word pieces), token_start,
      token_end (character offsets of each word piece, -1 off word pieces) [batch, length].
  masked_lm (fill-mask): the SavedModel's outputs: tokens (string), token_ids, scores [batch, max_masks, top_k]
      (padded "", -1, 0.0 past a row's masks) and num_masks [batch].
Question answering stays with the SavedModel: its windows over long contexts loop over a ragged number of
features and cut the answer text with `tf.strings.substr`, neither of which LiteRT's builtins or tensorflow-text's
TFLite kernels provide.

Example:
    >>> path = export_litert(classifier, tokenizer, "savedmodels/sst2.tflite")
    >>> run = litert_interpreter(path).get_signature_runner()
    >>> run(text=np.array(["a fine film"], dtype=object))["label"]
"""

import os

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from keras_bert_suite import io
from keras_bert_suite.export.inspect import plain
from keras_bert_suite.export.on_tensorflow import export_on_tensorflow
from keras_bert_suite.export.signatures import task_of
from keras_bert_suite.tokenizers import TFBertTokenizer
from keras_bert_suite.tokenizers.litert import LiteTokenizer

LITERT_TASKS = ("sequence_classification", "feature_extraction", "token_classification", "masked_lm")
QUANTIZATIONS = (None, "dynamic_int8", "float16")


def _task(model, task):
    task = task_of(model, task)
    if task not in LITERT_TASKS:
        raise ValueError(f"LiteRT export serves the tasks {LITERT_TASKS}, not {task!r}")
    return task


def _fill_mask(logits, input_ids, mask_id, vocab, k):
    """Top-k tokens at each [MASK], as the SavedModel's fill-mask gives them, in LiteRT builtins (no ragged ops):
    the j-th mask of a row is found by its rank among the row's masks, its logits gathered with `batch_dims=1`,
    and only those go through the softmax and top-k."""
    is_mask = tf.cast(tf.equal(input_ids, mask_id), tf.int32)
    num_masks = tf.reduce_sum(is_mask, axis=1)
    slots = tf.range(tf.reduce_max(num_masks))  # [max_masks]
    rank = tf.cumsum(is_mask, axis=1) - 1  # [batch, length]
    # expand_dims, not [:, None]: LiteRT's StridedSlice takes no new axes
    at = tf.logical_and(tf.expand_dims(is_mask > 0, 1),
                        tf.equal(tf.expand_dims(rank, 1), tf.reshape(slots, [1, -1, 1])))  # [batch, masks, length]
    position = tf.argmax(tf.cast(at, tf.int32), axis=-1, output_type=tf.int32)  # [batch, max_masks]
    valid = tf.expand_dims(tf.less(tf.expand_dims(slots, 0), tf.expand_dims(num_masks, 1)), -1)
    masked = tf.gather(logits, position, batch_dims=1)  # [batch, max_masks, vocab]
    probs, ids = tf.math.top_k(tf.nn.softmax(masked, axis=-1), k=k)  # [batch, max_masks, k]
    token_ids = tf.where(valid, ids, -1)
    tokens = tf.gather(tf.constant(list(vocab) + [""]), tf.reshape(tf.where(token_ids < 0, len(vocab), token_ids),
                                                                    [-1]))  # LiteRT gathers strings in 1-D
    return {"tokens": tf.reshape(tokens, tf.shape(token_ids)), "token_ids": token_ids,
            "scores": tf.where(valid, probs, 0.0),
            "num_masks": num_masks}


def _answer_fn(model, lite, task, normalize_embeddings, top_k=5, vocab=(), mask_token="[MASK]"):
    """The serving function: texts [batch] -> dict of outputs (see the module docstring); `vocab` (a list of
    tokens) and `mask_token` serve fill-mask."""
    config = model.config
    with_labels = task in ("sequence_classification", "token_classification")
    names = [config.id2label[i] for i in range(config.num_labels)] if with_labels else []
    names_or_empty = tf.constant(names + [""])

    def forward(enc):
        inputs = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        out = model(inputs, training=False)
        return {k: tf.cast(v, tf.float32) for k, v in out.items() if isinstance(v, tf.Tensor)}

    def task_outputs(enc, out):
        if task == "sequence_classification":
            logits = out["logits"]
            if config.num_labels == 1 or config.problem_type == "regression":
                return {"logits": logits, "score": logits[:, 0]}
            multi = config.problem_type == "multi_label_classification"
            probs = tf.sigmoid(logits) if multi else tf.nn.softmax(logits, axis=-1)
            best = tf.argmax(probs, axis=-1, output_type=tf.int32)
            return {"logits": logits, "probabilities": probs, "label": tf.gather(names_or_empty, best),
                    "score": tf.reduce_max(probs, axis=-1)}
        if task == "masked_lm":
            return _fill_mask(out[model.prediction_keys[0]], enc["input_ids"], vocab.index(mask_token), vocab,
                              min(top_k, len(vocab)))
        if task == "feature_extraction":
            mask = tf.expand_dims(tf.cast(enc["attention_mask"], tf.float32), -1)
            pooled = tf.reduce_sum(out["last_hidden_state"] * mask, axis=1) / tf.maximum(
                tf.reduce_sum(mask, axis=1), 1.0)
            if normalize_embeddings:
                pooled = pooled * tf.math.rsqrt(tf.maximum(tf.reduce_sum(pooled * pooled, -1, keepdims=True),
                                                           1e-12))
            result = {"sentence_embedding": pooled}
            if "pooler_output" in out:
                result["pooler_output"] = out["pooler_output"]
            return result
        logits = out["logits"]
        real = enc["real_tokens"] > 0
        best = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"logits": logits,
                # LiteRT gathers strings with 1-D indices only.
                "token_labels": tf.reshape(
                    tf.gather(names_or_empty, tf.reshape(tf.where(real, best, len(names)), [-1])), tf.shape(best)),
                "token_start": tf.where(real, enc["token_start"], -1),
                "token_end": tf.where(real, enc["token_end"], -1)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")], autograph=False)
    def answer(text):
        enc = lite(text)
        return {"input_ids": enc["input_ids"], **task_outputs(enc, forward(enc))}

    return answer


def convert_litert(model, tokenizer, *, task=None, max_length=128, pad_to_multiple_of=8, quantize=None,
                   normalize_embeddings=True, top_k=5):
    """The flatbuffer bytes of `export_litert` (arguments as there)."""
    task = _task(model, task)
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}")
    graph_tokenizer = TFBertTokenizer.coerce(tokenizer)
    if len(graph_tokenizer.vocab) > model.config.vocab_size:
        raise ValueError(
            f"the tokenizer's vocabulary has {len(graph_tokenizer.vocab)} tokens but the model's embeddings have "
            f"{model.config.vocab_size} rows: ids past {model.config.vocab_size - 1} would have no embedding")
    lite = LiteTokenizer(graph_tokenizer, max_length=max_length, pad_to_multiple_of=pad_to_multiple_of)
    answer = _answer_fn(model, lite, task, normalize_embeddings, top_k, list(graph_tokenizer.vocab),
                        graph_tokenizer.mask_token)
    # Weights become constants here: left as resource variables, the converter keeps them as variables that
    # nothing initializes (the interpreter then reads garbage).
    concrete = answer.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)
    keys = sorted(concrete.structured_outputs)  # the frozen function returns them flat, in this order

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")], autograph=False)
    def serving_default(text):
        return dict(zip(keys, tf.nest.flatten(frozen(text))))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([serving_default.get_concrete_function()],
                                                                tf.Module())
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = True  # tensorflow-text's kernels, served by its tflite_registrar
    if quantize in ("dynamic_int8", "float16"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def export_litert(model, tokenizer, path="savedmodels/model.tflite", *, task=None, max_length=128,
                  pad_to_multiple_of=8, quantize=None, normalize_embeddings=True, top_k=5):
    """Write a raw-text LiteRT model to `path` (atomically) and return the path.

    Args:
        model: `BertForSequenceClassification`, `BertModel` (embeddings), `BertForTokenClassification` or
            `BertForMaskedLM` / `BertForPreTraining` (fill-mask).
        tokenizer: `BertTokenizer`, `BertTokenizerFast` or `TFBertTokenizer` (or a folder); tokenizers that
            keep accents (NFC) are refused (see tokenizers/litert.py).
        path: the .tflite file to write.
        task: "sequence_classification", "feature_extraction", "token_classification" or "masked_lm" (default:
            from the model).
        max_length: longest tokenized input, [CLS] and [SEP] included.
        pad_to_multiple_of: the padded length of each call is a multiple of this.
        quantize: None (float32 weights), "dynamic_int8" (the converter's dynamic-range quantization: int8
            weights, float activations) or "float16" (float16 weights, computed in float32); docs/litert.md
            states the measured tolerances.
        normalize_embeddings: L2-normalize sentence embeddings (feature_extraction).
        top_k: fill-mask candidates per [MASK] (masked_lm).

    Under the JAX backend a TensorFlow-backend child process rebuilds the model from its weights and converts it
    (`export/on_tensorflow.py`).
    """
    if keras.backend.backend() != "tensorflow":
        return export_on_tensorflow(export_litert, model, tokenizer, path, task=task, max_length=max_length,
                                    pad_to_multiple_of=pad_to_multiple_of, quantize=quantize,
                                    normalize_embeddings=normalize_embeddings, top_k=top_k)
    data = convert_litert(model, tokenizer, task=task, max_length=max_length,
                          pad_to_multiple_of=pad_to_multiple_of, quantize=quantize,
                          normalize_embeddings=normalize_embeddings, top_k=top_k)
    path = os.fspath(path)
    with io.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return path


def litert_interpreter(model, num_threads=None):
    """A tf.lite interpreter for an exported model (a path or the flatbuffer bytes), with tensorflow-text's
    kernels registered; `.get_signature_runner()(text=np.array([...], dtype=object))` answers. A path that is not
    a file raises FileNotFoundError naming it."""
    import warnings

    import tensorflow_text as tf_text
    from tensorflow.lite.python.interpreter import InterpreterWithCustomOps

    if isinstance(model, (bytes, bytearray)):
        source = {"model_content": bytes(model)}
    elif os.path.isfile(model):
        source = {"model_path": os.fspath(model)}
    else:
        raise FileNotFoundError(f"no LiteRT file at {os.fspath(model)}")
    with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice
        warnings.simplefilter("ignore", UserWarning)
        return InterpreterWithCustomOps(custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS,
                                        num_threads=num_threads, **source)


def utf8_rows(texts):
    """`texts` (str or bytes) as UTF-8 bytes. Raises ValueError naming the first row that is not valid UTF-8: the
    LiteRT tokenizer would drop its invalid bytes silently, where the SavedModel refuses the request."""
    rows = []
    for i, text in enumerate(texts):
        if isinstance(text, str):
            text = text.encode("utf-8", "surrogatepass")
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"row {i} is not valid UTF-8 ({error.reason} at byte {error.start})") from None
        rows.append(text)
    return rows


def run_litert(interpreter, texts):
    """Answers of an exported model for `texts` (a list of str or UTF-8 bytes): a dict of numpy arrays. Raises
    ValueError on a row that is not valid UTF-8 (`utf8_rows`)."""
    runner = interpreter.get_signature_runner()
    return runner(text=np.array(utf8_rows(texts), dtype=object))


def predict_file(path, texts, num_threads=None):
    """What `kbs predict model.tflite TEXT...` prints: the answers of a raw-text LiteRT file for `texts` (a list
    of str), as Python lists per output (strings decoded), all texts in one call.

    Example:
        >>> predict_file("savedmodels/sst2.tflite", ["a fine film"])["label"]  # doctest: +SKIP
        ['positive']
    """
    if not texts:
        raise ValueError("give at least one text to answer")
    answers = run_litert(litert_interpreter(path, num_threads=num_threads), list(texts))
    return {key: plain(value) for key, value in sorted(answers.items())}
