"""`RawTextModelHandler`: a raw-text SavedModel of this package (or its LiteRT file) as an Apache Beam
`ModelHandler`, for `apache_beam.ml.inference.RunInference`.

Each worker process loads the SavedModel once (`tf.saved_model.load`, after importing tensorflow-text, whose ops
the in-graph tokenizer uses) and its threads share it: RunInference keeps the loaded model in Beam's per-process
`shared.Shared` handle (this handler leaves `share_model_across_processes()` False, so no process serves another
through a proxy). A batch is sorted by length, answered in one signature call, and put back in input order. When
the call fails on the data (invalid UTF-8, a QA context over `max_context_tokens`: InvalidArgumentError), the batch
is split in halves and each half retried, down to the rows that fail alone: those come back failed, as
`PredictionResult(example, {"error": "why"})`, and every other row is answered.

A path ending in .tflite serves a raw-text LiteRT file (`export_litert`) the same way: one interpreter per
worker process, called by one thread at a time (a LiteRT interpreter is not thread-safe); rows that are not valid
UTF-8 fail alone (the LiteRT tokenizer would drop their invalid bytes where the SavedModel refuses them).

Example:
    >>> import apache_beam as beam
    >>> from apache_beam.ml.inference.base import RunInference
    >>> with beam.Pipeline() as p:                         # savedmodels/sst2: an `export_saved_model` folder
    ...     (p | beam.Create(["a gorgeous film", "dull"])
    ...        | RunInference(RawTextModelHandler("savedmodels/sst2"))
    ...        | beam.Map(lambda r: (r.example, str(r.inference["label"]))) | beam.Map(print))  # doctest: +SKIP
"""

import functools
import re
import threading

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from keras_bert_suite.bulk.signature import ERROR_KEY, read_signature
from keras_bert_suite.export.litert import litert_interpreter, utf8_rows

# outputs padded to the widest row of a call, by the output that counts each row's real entries
COUNTED = {
    "num_entities": ("entity_text", "entity_label", "entity_start", "entity_end", "entity_score"),
    "num_answers": ("top_answers", "top_starts", "top_ends", "top_scores"),
    "num_masks": ("tokens", "token_ids", "scores"),
}
# token classification's per-token outputs, padded to the call's padded length (token_start -1 past the row)
TOKEN_OUTPUTS = ("token_labels", "token_start", "token_end")


def is_failed(result):
    """True when `result` (a `PredictionResult` of this handler) is a row that could not be answered."""
    return ERROR_KEY in result.inference


def row_bytes(element):
    """The weight of one element for Beam's `max_batch_weight`: the UTF-8 bytes of its text(s); a keyed
    element `(key, example)` weighs its example."""
    if isinstance(element, tuple) and len(element) == 2:
        element = element[1]
    values = element.values() if isinstance(element, dict) else (element,)
    return sum(len(v) if isinstance(v, (str, bytes)) else 0 for v in values)


def row_weight(element, limit):
    """`row_bytes(element)` within [1, limit]: an element's weight for byte-bounded batches."""
    return max(1, min(row_bytes(element), limit))


def trim_row(outputs):
    """One row's outputs `{name: np.ndarray}` without the padding its call added for wider rows: the entries past
    the row's count (`COUNTED`) and past its last token (`TOKEN_OUTPUTS`), so that a row's answer does not depend
    on the rows it was batched with."""
    trimmed = dict(outputs)
    for count, names in COUNTED.items():
        if count in outputs:
            n = int(outputs[count])
            for name in names:
                if name in trimmed and trimmed[name].ndim >= 1:
                    trimmed[name] = trimmed[name][:n]
    if "token_start" in outputs:
        real = np.flatnonzero(outputs["token_start"] != -1)
        end = int(real[-1]) + 1 if real.size else 0
        for name in TOKEN_OUTPUTS:
            if name in trimmed:
                trimmed[name] = trimmed[name][:end]
    return trimmed


def clean_error(message):
    """The reason a TensorFlow error gives (the message of the assertion that failed, else its first line),
    without the row numbers of the call it came from: they count the rows of a retried part of a batch.

    Example:
        >>> clean_error("Graph execution error:\\nassertion failed: [invalid UTF-8 in input rows:] [0]\\n[[{{node}}]]")
        'invalid UTF-8 in input'
    """
    lines = [line.strip() for line in str(message).splitlines() if line.strip()] or [str(message)]
    reason = next((line.split("assertion failed:", 1)[1] for line in lines if "assertion failed:" in line), lines[0])
    reason = reason.replace("[", "").replace("]", "")
    return re.sub(r"\s*\brows?:?\s*\d+(, \d+)*:?", "", reason).replace(": with ", ": ").strip()


class RowsRefused(Exception):
    """The model refused a call on its data (invalid UTF-8, a QA context over its limit); the message says why."""


class LoadedSignature:
    """A loaded SavedModel and one of its signatures: what `RawTextModelHandler.load_model` returns.

    Attributes:
        loaded: the object `tf.saved_model.load` returned (kept alive: the signature uses its variables).
        fn: the signature function; called with one tf.string tensor [rows] per input name.
        inputs: its input names, sorted.
    """

    def __init__(self, loaded, fn, inputs):
        self.loaded, self.fn, self.inputs = loaded, fn, inputs

    def answer(self, columns):
        """`{input name: [bytes] * rows}` -> `{output name: np.ndarray [rows, ...]}`; raises `RowsRefused`."""
        import tensorflow as tf

        try:
            out = self.fn(**{name: tf.constant(values, tf.string) for name, values in columns.items()})
        except tf.errors.InvalidArgumentError as e:
            raise RowsRefused(clean_error(e.message)) from None
        return {name: value.numpy() for name, value in out.items()}


class LoadedLiteRT:
    """A raw-text LiteRT file's interpreter, shared by a worker's threads one call at a time: what
    `RawTextModelHandler.load_model` returns for a .tflite path. `inputs` is ("text",)."""

    def __init__(self, path, signature):
        self.inputs = ("text",)
        self._runner = litert_interpreter(path).get_signature_runner(signature)
        self._lock = threading.Lock()

    def answer(self, columns):
        """As `LoadedSignature.answer`."""
        try:
            rows = np.array(utf8_rows(columns["text"]), dtype=object)
        except ValueError:
            raise RowsRefused("invalid UTF-8 in input") from None  # the SavedModel's words
        with self._lock:
            return dict(self._runner(text=rows))


class RawTextModelHandler(ModelHandler):
    """A raw-text SavedModel (`export_saved_model`) as a Beam `ModelHandler`: strings in, one `PredictionResult`
    per row out, whose `inference` is `{output name: np.ndarray}` for that row (a scalar output is a 0-d array,
    padding past the row's entities, answers or tokens cut off: `trim_row`), or `{"error": "why"}` for a row the
    model refused (`is_failed`).

    Args:
        model_dir: a SavedModel folder or a model base path (its latest version is served); local or any path
            TensorFlow's file systems read (gs://...: give the version folder).
        signature: the signature to call (default "serving_default"); `kbs serve-check` lists them.
        min_batch_size, max_batch_size: rows per signature call, Beam's `BatchElements` bounds (defaults: Beam's
            adaptive batching up to 64 rows).
        max_batch_weight: most UTF-8 bytes of text per batch (`row_bytes`), or None (no limit); batches are then
            bounded in bytes only (`batch_elements_kwargs`) and each call still takes at most `max_batch_size` rows.
        max_batch_duration_secs: streaming pipelines: the longest a batch waits to fill.
        **kwargs: passed to Beam's `ModelHandler` (`env_vars`, `large_model`, `model_copies`).

    Elements: a string (bytes or str) for a signature of one input; a dict `{input name: string}` for any
    signature (pairs: `{"text": ..., "text_pair": ...}`; QA: `{"question": ..., "context": ...}`). Under
    `KeyedModelHandler` elements are `(key, element)` and results `(key, PredictionResult)`.

    Example:
        >>> handler = RawTextModelHandler("savedmodels/squad", max_batch_size=32)
        >>> model = handler.load_model()  # doctest: +SKIP
        >>> [r.inference["answer"] for r in handler.run_inference(
        ...     [{"question": "Where?", "context": "In Paris."}], model)]  # doctest: +SKIP
        [array(b'Paris.', dtype=object)]
    """

    def __init__(self, model_dir, signature="serving_default", *, min_batch_size=None, max_batch_size=64,
                 max_batch_weight=None, max_batch_duration_secs=None, **kwargs):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size,
                         max_batch_duration_secs=max_batch_duration_secs, **kwargs)
        self._max_rows, self._max_bytes = max_batch_size, max_batch_weight
        self._model_dir = str(model_dir)
        self._signature = signature

    def batch_elements_kwargs(self):
        """Beam's `BatchElements` arguments. With `max_batch_weight`, batches are bounded in bytes: BatchElements
        (Beam 2.77) takes no `max_batch_weight` and counts its sizes in `element_size_fn`'s units, so its
        `max_batch_size` becomes the byte bound, and `run_inference` keeps each call within `max_batch_size`
        rows; a row over the byte bound makes a batch alone."""
        kwargs = dict(super().batch_elements_kwargs())
        if self._max_bytes is not None:
            # A fixed target, and no element heavier than it: BatchElements emits an empty batch when an element
            # outweighs its current target. Each row weighs at least 1 (empty rows too).
            kwargs.update(min_batch_size=self._max_bytes, max_batch_size=self._max_bytes,
                          element_size_fn=functools.partial(row_weight, limit=self._max_bytes))
        return kwargs

    def spec(self):
        """The served signature's `SignatureSpec` (inputs and outputs), read from saved_model.pb alone."""
        return read_signature(self._model_dir, self._signature)

    def update_model_path(self, model_path=None):
        """Serve the SavedModel at `model_path` from the next load on (RunInference's model updates: a side input
        of new paths, e.g. `WatchFilePattern` on new version folders)."""
        if model_path:
            self._model_dir = str(model_path)

    def load_model(self):
        """Import tensorflow-text (its ops), load the SavedModel and return its `LoadedSignature` (a LiteRT
        file: its `LoadedLiteRT`)."""
        if self._model_dir.endswith(".tflite"):  # one interpreter; the spec would load a second one
            return LoadedLiteRT(self._model_dir, self._signature)
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (registers the ops of the in-graph tokenizer before loading)

        spec = self.spec()
        loaded = tf.saved_model.load(spec.path)
        return LoadedSignature(loaded, loaded.signatures[self._signature], spec.inputs)

    def run_inference(self, batch, model, inference_args=None):
        """One `PredictionResult` per element of `batch`, in its order (see the class docstring)."""
        inputs, answers = [], [None] * len(batch)
        for i, element in enumerate(batch):
            row = self._row(element, model.inputs)
            if isinstance(row, str):
                answers[i] = {ERROR_KEY: row}
            inputs.append(row)
        good = sorted((i for i, row in enumerate(inputs) if answers[i] is None),
                      key=lambda i: sum(len(v) for v in inputs[i].values()))
        rows = self._max_rows or len(good) or 1  # rows per call (a batch bounded in bytes may hold more)
        parts = [good[start:start + rows] for start in range(0, len(good), rows)][::-1]
        while parts:
            part = parts.pop()
            try:
                arrays = model.answer({name: [inputs[i][name] for i in part] for name in model.inputs})
            except RowsRefused as e:
                if len(part) == 1:
                    answers[part[0]] = {ERROR_KEY: str(e)}
                else:  # isolate the rows that fail: retry each half
                    parts += [part[len(part) // 2:], part[:len(part) // 2]]
                continue
            for j, i in enumerate(part):
                answers[i] = trim_row({name: np.asarray(value[j], value.dtype) for name, value in arrays.items()})
        return [PredictionResult(element, answer, self._model_dir) for element, answer in zip(batch, answers)]

    @staticmethod
    def _row(element, names):
        """`{input name: bytes}` of one element, or a string saying why the element is not a row."""
        if isinstance(element, dict):
            missing = [n for n in names if n not in element]
            if missing:
                return f"row has no field {missing[0]!r} (this signature takes {list(names)}; it has {sorted(element)})"
            values = {n: element[n] for n in names}
        elif len(names) == 1:
            values = {names[0]: element}
        else:
            return f"this signature takes {list(names)}: give each row as a dict, got {type(element).__name__}"
        for name, value in values.items():
            if isinstance(value, str):
                values[name] = value.encode("utf-8", "surrogatepass")
            elif not isinstance(value, bytes):
                return f"input {name!r} is {type(value).__name__}, not text"
        return values

    def get_num_bytes(self, batch):
        """Bytes of text in `batch` (Beam's inference byte counter)."""
        return sum(row_bytes(e) for e in batch)

    def get_metrics_namespace(self):
        return "keras_bert_suite"
