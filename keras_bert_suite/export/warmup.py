"""TF Serving warmup: requests stored with an export, so that the server compiles before it takes traffic.

An XLA-compiled export compiles the encoder once per input shape it meets. The serving signatures run a
request sorted by length, `chunk_size` rows at a time, each chunk padded to its longest row rounded up to
`pad_to_multiple_of` (length_sorted.py): the shapes are (rows 1..chunk_size) x (lengths multiple,
2 x multiple, ..., max_length). Without warmup the first requests of each shape pay its compilation.

`write_warmup` stores, for each signature, one request of every (rows, length) shape plus an empty request,
as TF Serving reads them: `<version>/assets.extra/tf_serving_warmup_requests`, a TFRecord file of
`tensorflow_serving.apis.prediction_log_pb2.PredictionLog` records with string inputs. TF Serving replays them
when it loads the version (and reads at most `MAX_RECORDS`; more thin the row counts to powers of two).
`replay_warmup` does what TF Serving does, in Python: load the SavedModel, run each record's signature.

Example:
    >>> path = export_saved_model(model, tokenizer, "savedmodels/sst2", max_length=64)   # warmup=True
    >>> [(name, len(inputs["text"])) for name, inputs, _ in replay_warmup(path)][:3]
    [('serving_default', 0), ('serving_default', 1), ('serving_default', 2)]
"""

import os

import numpy as np
import tensorflow as tf

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_RECORDS = 1000  # TF Serving refuses a warmup file with more records (WarmupConsts::kMaxNumRecords)
NUM_CHOICES = 4  # multiple choice: choices per question in the warmup requests (SWAG's count)


def _serving_apis():
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError as err:
        raise ImportError(
            "warmup records need the package tensorflow-serving-api (pip install tensorflow-serving-api==2.21.0), "
            "or export with warmup=False"
        ) from err
    return model_pb2, predict_pb2, prediction_log_pb2


def padded_lengths(max_length, multiple):
    """The lengths a chunk can be padded to: multiples of `multiple` below `max_length`, then `max_length`.

    Example:
        >>> padded_lengths(20, 8)
        [8, 16, 20]
    """
    multiple = multiple or 1
    return sorted({*range(multiple, max_length, multiple), max_length})


def row_counts(chunk_size, num_lengths, num_signatures):
    """Rows per warmup request: 1..chunk_size (every chunk shape), thinned to powers of two and chunk_size when
    the records would pass `MAX_RECORDS`. A whole-batch export (chunk_size 0) warms 1..8 rows."""
    size = chunk_size or 8
    counts = list(range(1, size + 1))
    if num_signatures * (1 + num_lengths * len(counts)) > MAX_RECORDS:
        counts = sorted({*(2 ** i for i in range(size.bit_length()) if 2 ** i <= size), size})
    return counts


def filler_word(tokenizer):
    """A vocabulary word that `tokenizer` (a TFBertTokenizer) turns into exactly one word piece, so that a text
    of n copies has n word pieces."""
    candidates = ["the", "a", "word"] + [t for t in tokenizer.vocab if t.isalpha()][:50]
    for word in candidates:
        ids, _, _ = tokenizer.word_pieces(tf.constant([f"{word} {word}"]), with_offsets=False)
        if int(ids.row_lengths()[0]) == 2:
            return word
    raise ValueError("no vocabulary word is a single word piece for this tokenizer; export with warmup=False")


def _text(word, pieces):
    return " ".join([word] * max(pieces, 1))


def request_inputs(input_names, length, rows, word):
    """String inputs of one request: `rows` rows that tokenize to `length` tokens, special tokens included.

    Args:
        input_names: the signature's input names (text, text_pair, question, context, choices, prompt).
        length: tokens per row once packed ([CLS] a [SEP] (b [SEP])); rows: batch size (0 allowed).
    Returns:
        {name: numpy bytes array [rows] ([rows, NUM_CHOICES] for choices)}.
    """
    names = set(input_names)
    if names == {"question", "context"} or names == {"question", "choices"}:
        other = "context" if "context" in names else "choices"
        values = {"question": _text(word, 1), other: _text(word, length - 4)}
    elif names == {"text", "text_pair"}:
        first = (length - 3) // 2
        values = {"text": _text(word, first), "text_pair": _text(word, length - 3 - first)}
    elif names == {"prompt"}:
        values = {"prompt": _text(word, length - 1)}
    else:
        values = {name: _text(word, length - 2) for name in names}
    out = {}
    for name, value in values.items():
        shape = [rows, NUM_CHOICES] if name == "choices" else [rows]
        out[name] = np.full(shape, value.encode("utf-8"), dtype=object)
    return out


def warmup_requests(signature_inputs, max_length, multiple, chunk_size, word):
    """[(signature name, inputs)] for every signature: an empty request, then each (rows, length) shape.

    Args:
        signature_inputs: {signature name: [input names]}. max_length, multiple, chunk_size: the export's
            options (max_length, pad_to_multiple_of, chunk_size). word: `filler_word(tokenizer)`.
    """
    lengths = padded_lengths(max_length, multiple)
    counts = row_counts(chunk_size, len(lengths), len(signature_inputs))
    requests = []
    for name, input_names in signature_inputs.items():
        requests.append((name, request_inputs(input_names, lengths[0], 0, word)))
        for length in lengths:
            for rows in counts:
                requests.append((name, request_inputs(input_names, length, rows, word)))
    return requests


def write_warmup(version_dir, requests, model_name=None):
    """Write `requests` ([(signature name, inputs)]) as TF Serving warmup records under `version_dir`; return
    the file's path. `model_name` is left empty by default: TF Serving fills in the served model's name."""
    model_pb2, predict_pb2, prediction_log_pb2 = _serving_apis()
    path = os.path.join(version_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for name, inputs in requests:
            request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name=model_name or "",
                                                                               signature_name=name))
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value, dtype=tf.string, shape=value.shape))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read_warmup(path):
    """[(signature name, {input: numpy array})] from the warmup file of the SavedModel at `path` (a version
    folder, or a model folder: its latest version)."""
    from keras_bert_suite.export.inspect import resolve_version

    _, _, prediction_log_pb2 = _serving_apis()
    file = os.path.join(resolve_version(path), WARMUP_FILE)
    if not os.path.exists(file):
        raise FileNotFoundError(f"no warmup records at {file} (exported with warmup=False?)")
    out = []
    for raw in tf.data.TFRecordDataset(file).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(raw)
        if not log.HasField("predict_log"):
            raise ValueError(f"{file}: warmup record {len(out)} is not a PredictLog")
        request = log.predict_log.request
        name = request.model_spec.signature_name or "serving_default"
        out.append((name, {k: tf.make_ndarray(v) for k, v in request.inputs.items()}))
    return out


def replay_warmup(path, loaded=None):
    """Replay the warmup records of the SavedModel at `path` as TF Serving does at load time: each record's
    signature run on its inputs, in order.

    Args:
        path: a version folder (or a model folder: its latest version).
        loaded: the SavedModel at `path` already loaded (`tf.saved_model.load`), else it is loaded here.
    Returns:
        [(signature name, inputs, outputs)] with numpy inputs and outputs, one per record.
    """
    from keras_bert_suite.export.inspect import load, resolve_version

    if loaded is None:
        loaded, path = load(path)
    else:
        path = resolve_version(path)
    results = []
    for name, inputs in read_warmup(path):
        if name not in loaded.signatures:
            raise KeyError(f"warmup record for signature {name!r}, which {path} does not have "
                           f"(it has {sorted(loaded.signatures)})")
        outputs = loaded.signatures[name](**{k: tf.constant(v, tf.string) for k, v in inputs.items()})
        results.append((name, inputs, {k: v.numpy() for k, v in outputs.items()}))
    return results
