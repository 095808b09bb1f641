"""TF Serving warmup: requests stored with an export, so that the server compiles before it takes traffic.

An XLA-compiled export compiles its model function once per input shape it meets. The serving signatures sort a
request's rows by length and run them in chunks (length_sorted.py): full chunks of `chunk_size` rows, then the
rows left as powers of two, each chunk padded to its longest row rounded up to `pad_to_multiple_of`. The shapes
are therefore `chunk_sizes(chunk_size)` rows (8, 4, 2, 1) x the multiples of `multiple` up to max_length rounded
up (a row of max_length tokens pads to the next multiple): 32 at max_length 64 (an empty request compiles
nothing). Without warmup the first requests of each shape pay for them.

`warmup_requests` covers those shapes with few records. One request of 8 + 4 + 2 + 1 = 15 rows of the same length
runs one chunk of each row count, so one record per length compiles every shape of that length. With a token
budget (`chunk_tokens`, 1024 by default) short rows also run in chunks of 16, 32 or 64 rows (`chunk_rows`): the
request of a length then has one row per row count of that length (63 rows at 32 tokens), still one record per
length. The signatures of one export share one compiled model function (signatures.py
builds one for the export), and XLA caches compilations per function and shape for the loaded SavedModel: only
the first signature that chunks gets those records; the others get an empty and a one-row request, which run their
own graph once. Multiple choice runs each (question, choice) row on its own ([rows, 1, length]) through the same
chunks, so its shapes do not depend on the number of choices: its records have one choice per question and cover
every number of choices and questions. Whole-batch exports (`chunk_size=0`, multiple choice included: the
whole [batch, choices, length] batch in one call, whose shapes do depend on both) and generation (no XLA) are
covered as before: rows 1..8 (with 4 choices) x lengths for the first, one row for generation. A MiniLM classifier
at max_length 64 without a budget: 11 records (was 130), 32 compilations (was 64).
tests/test_warmup_compiles.py checks, from TensorFlow's log, that after the replay no request compiles anything.

`write_warmup` stores them as TF Serving reads them: `<version>/assets.extra/tf_serving_warmup_requests`, a
TFRecord file of `tensorflow_serving.apis.prediction_log_pb2.PredictionLog` records with string inputs. TF Serving
replays them when it loads the version (and reads at most `MAX_RECORDS`). `replay_warmup` does what TF Serving
does, in Python. `xla_compilations` reads which shapes a process compiled from its log (`XLA_LOG_ENV`).

Example:
    >>> from keras_bert_suite.export.saved_model import export_saved_model
    >>> # model and tokenizer: as in the example of keras_bert_suite.export.saved_model
    >>> path = export_saved_model(model, tokenizer, "savedmodels/sst2", max_length=64)  # doctest: +SKIP
    >>> [(name, len(inputs["text"])) for name, inputs, _ in replay_warmup(path)][:3]  # doctest: +SKIP
    [('serving_default', 0), ('serving_default', 127), ('serving_default', 127)]
"""

import os
import re

import numpy as np
import tensorflow as tf

from keras_bert_suite.export.inspect import load, resolve_version
from keras_bert_suite.export.length_sorted import chunk_rows

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
#: environment for a TensorFlow process whose log should name each XLA compilation with its input shapes
XLA_LOG_ENV = {"TF_CPP_VMODULE": "device_compiler=3", "TF_CPP_MIN_LOG_LEVEL": "0"}
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
    """Token counts whose rows reach every length a chunk can be padded to: multiples of `multiple` below
    `max_length`, then `max_length` (which pads to the next multiple).

    Example:
        >>> padded_lengths(20, 8)
        [8, 16, 20]
    """
    multiple = multiple or 1
    return sorted({*range(multiple, max_length, multiple), max_length})


def row_counts(chunk_size, num_lengths, num_signatures):
    """Rows per warmup request of a signature that runs the whole batch in one call (multiple choice, or
    chunk_size 0): 1..8 (1..chunk_size when set), thinned to powers of two and chunk_size when the records would
    pass `MAX_RECORDS`."""
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


def request_inputs(input_names, length, rows, word, choices=NUM_CHOICES):
    """String inputs of one request: `rows` rows that tokenize to `length` tokens, special tokens included.

    Args:
        input_names: the signature's input names (text, text_pair, question, context, choices, prompt).
        length: tokens per row once packed ([CLS] a [SEP] (b [SEP])); rows: batch size (0 allowed).
        choices: multiple choice: choices per question.
    Returns:
        {name: numpy bytes array [rows] ([rows, choices] for choices)}.
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
        shape = [rows, choices] if name == "choices" else [rows]
        out[name] = np.full(shape, value.encode("utf-8"), dtype=object)
    return out


def signature_kind(input_names, chunk_size):
    """How a signature runs its model: "chunked" (length_sorted.run_by_length; multiple choice too, one row per
    (question, choice)), "whole" (the whole batch in one call: `chunk_size` 0) or "generation" (causal LM: not
    XLA-compiled)."""
    names = set(input_names)
    if names == {"prompt"}:
        return "generation"
    if not chunk_size:
        return "whole"
    return "chunked"


def chunked_rows(length, multiple, chunk_size, chunk_tokens):
    """Rows of the warmup request at `length` tokens that runs one chunk of each row count a chunk padded to that
    length can have (`length_sorted.chunk_rows`): 8 + 4 + 2 + 1 = 15 without a budget, 32 + 16 + 15 = 63 at 32
    tokens with a budget of 1024."""
    multiple = multiple or 1
    return sum(chunk_rows(-(-length // multiple) * multiple, chunk_size, chunk_tokens))


def warmup_requests(signature_inputs, max_length, multiple, chunk_size, word, chunk_tokens=0):
    """[(signature name, inputs)] that make an export compile every shape its traffic can meet.

    Per signature an empty request first. The first chunked signature then gets one request per padded length,
    of `chunked_rows` rows (one chunk of each row count); later chunked signatures share its
    compiled function and get one row. Whole-batch signatures get each row count of `row_counts` x each length,
    generation one row.

    Args:
        signature_inputs: {signature name: [input names]}. max_length, multiple, chunk_size, chunk_tokens: the
            export's options (max_length, pad_to_multiple_of, chunk_size, chunk_tokens). word:
            `filler_word(tokenizer)`.

    Example:
        >>> [(n, len(i["text"])) for n, i in warmup_requests({"serving_default": ["text"]}, 16, 8, 8, "the")]
        [('serving_default', 0), ('serving_default', 15), ('serving_default', 15)]
    """
    lengths = padded_lengths(max_length, multiple)
    kinds = {name: signature_kind(inputs, chunk_size) for name, inputs in signature_inputs.items()}
    counts = row_counts(chunk_size, len(lengths), sum(kind == "whole" for kind in kinds.values()))
    requests = []
    chunked_warm = False
    for name, input_names in signature_inputs.items():
        # multiple choice, chunked: one choice per question, so that a request's rows are its chunked rows
        choices = 1 if kinds[name] == "chunked" else NUM_CHOICES
        requests.append((name, request_inputs(input_names, lengths[0], 0, word, choices)))
        if kinds[name] == "whole":
            shapes = [(length, rows) for length in lengths for rows in counts]
        elif kinds[name] == "chunked" and not chunked_warm:
            shapes = [(length, chunked_rows(length, multiple, chunk_size, chunk_tokens)) for length in lengths]
            chunked_warm = True
        else:
            shapes = [(lengths[0], 1)]
        requests += [(name, request_inputs(input_names, length, rows, word, choices)) for length, rows in shapes]
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


_COMPILING = re.compile(r"Instantly compiling for signature: ([^\[\s]+)\[\],\w+ \[([\d,]*)\]")


def xla_compilations(log):
    """[(function name, shape of its first input)] for each XLA compilation in `log`, the standard error of a
    TensorFlow process started with `XLA_LOG_ENV` in its environment (one entry per compiled shape).

    Example:
        >>> xla_compilations("... Instantly compiling for signature: __inference_run_9[],int32 [8,64],int32 [8,64]")
        [('__inference_run_9', (8, 64))]
    """
    return [(name, tuple(int(d) for d in dims.split(",") if d)) for name, dims in _COMPILING.findall(log)]
