"""The bulk inference pipeline: rows read from files, answered by `RawTextModelHandler` under Beam's
`RunInference`, written as shards; rows that cannot be answered go to their own shards. Counters (in the
namespace `NAMESPACE`) count answered and failed rows.

    files -> ReadRows -> Reshuffle -> RunInference(KeyedModelHandler(RawTextModelHandler)) -> Route
    answered rows (Route)                                           -> OUTPUT-*.{jsonl,parquet,tfrecord}
    failed rows (Route) + rows ReadRows cannot read (not JSON, ...) -> OUTPUT-failed-*.jsonl

Example:
    >>> report = bulk_predict("savedmodels/sst2", "reviews.txt", "out/labels")  # doctest: +SKIP
    >>> print(report.format())      # rows answered, rows failed, rows per second  # doctest: +SKIP
"""

import dataclasses
import os
import time

import apache_beam as beam
from apache_beam import coders
from apache_beam.io import fileio, filebasedsink
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from keras_bert_suite.bulk import formats
from keras_bert_suite.bulk.handler import RawTextModelHandler, is_failed
from keras_bert_suite.bulk.signature import ERROR_KEY

NAMESPACE = "keras_bert_suite.bulk"
ANSWERED, FAILED = "rows_answered", "rows_failed"


class ReadRows(beam.PTransform):
    """Files matching `pattern` as keyed rows `((path, row), example)` (main output "rows"), and rows that cannot
    be read as `((path, row), error)` (output "failed"). See `formats.make_reader` for the examples."""

    def __init__(self, pattern, input_format, fields):
        super().__init__()
        self.pattern, self.read = pattern, formats.make_reader(input_format, fields)

    def expand(self, pbegin):
        read = self.read

        def rows(readable):
            path = readable.metadata.path
            with readable.open() as handle:
                for number, example in read(handle):
                    if isinstance(example, Exception):
                        yield beam.pvalue.TaggedOutput(formats.FAILED, ((path, number), str(example)))
                    else:
                        yield (path, number), example

        return (pbegin | fileio.MatchFiles(self.pattern) | fileio.ReadMatches()
                | beam.FlatMap(rows).with_outputs(formats.FAILED, main="rows"))


class TFRecordSink(filebasedsink.FileBasedSink):
    """Serialized records as TFRecord shards (`formats.tfrecord_frame`: no compression library needed)."""

    def __init__(self, prefix, suffix=".tfrecord"):
        super().__init__(prefix, coder=coders.BytesCoder(), file_name_suffix=suffix,
                         mime_type="application/octet-stream", compression_type=CompressionTypes.UNCOMPRESSED)

    def write_encoded_record(self, file_handle, encoded_value):
        file_handle.write(formats.tfrecord_frame(encoded_value))


class Route(beam.DoFn):
    """`(key, PredictionResult)` -> `(key, inference)` (main output) or `(key, error)` (output "failed"), counted."""

    def __init__(self):
        self.answered = Metrics.counter(NAMESPACE, ANSWERED)

    def process(self, keyed):
        key, result = keyed
        if is_failed(result):
            yield beam.pvalue.TaggedOutput(formats.FAILED, (key, result.inference[ERROR_KEY]))
        else:
            self.answered.inc()
            yield key, result.inference


def _count_failed(keyed, counter=Metrics.counter(NAMESPACE, FAILED)):
    counter.inc()
    return keyed


def add_bulk_predict(pipeline, handler, input_pattern, output, *, input_format="text", output_format="jsonl",
                     fields=None, several_files=False, spec=None):
    """Add reading, inference and writing to `pipeline`.

    Args:
        pipeline: a `beam.Pipeline`.
        handler: a `RawTextModelHandler`.
        input_pattern: a file or glob (any file system Beam reads: local, gs://, s3://, hdfs://).
        output: the prefix of the output shards: `OUTPUT-00000-of-00004.jsonl` ...; failed rows go to
            `OUTPUT-failed-00000-of-00001.jsonl` (always JSON lines: `{"row": n, "error": "why"}`).
        input_format, output_format: one of `formats.INPUT_FORMATS`, `formats.OUTPUT_FORMATS`.
        fields: {signature input name: field name in the input rows}; default each input's own name.
        several_files: write each row's `file` beside its `row` (the input pattern matched several files).
        spec: the handler's `SignatureSpec` (read when not given).
    """
    spec = spec or handler.spec()
    formats.check_format("output format", output_format, formats.OUTPUT_FORMATS)
    fields = check_fields(spec, input_format, fields)
    read = pipeline | "Read" >> ReadRows(input_pattern, input_format, fields)
    results = (read.rows | "Spread" >> beam.Reshuffle()
               | "Infer" >> RunInference(KeyedModelHandler(handler)))
    routed = results | "Route" >> beam.ParDo(Route()).with_outputs(formats.FAILED, main="answered")
    failed = ((read[formats.FAILED], routed[formats.FAILED]) | "AllFailed" >> beam.Flatten()
              | "CountFailed" >> beam.Map(_count_failed))
    records = routed.answered | "Records" >> beam.Map(lambda kv: formats.answered_record(*kv, several_files))
    suffix = formats.SUFFIXES[output_format]
    if output_format == "jsonl":
        _ = records | "Json" >> beam.Map(formats.to_json) | "Write" >> beam.io.WriteToText(output, suffix)
    elif output_format == "parquet":
        schema = formats.parquet_schema(spec.outputs, several_files)
        _ = records | "Write" >> beam.io.WriteToParquet(output, schema, file_name_suffix=suffix)
    else:
        _ = (records | "Examples" >> beam.Map(formats.to_example)
             | "Write" >> beam.io.Write(TFRecordSink(output, suffix)))
    _ = (failed | "FailedRecords" >> beam.Map(lambda kv: formats.failed_record(*kv, several_files))
         | "FailedJson" >> beam.Map(formats.to_json)
         | "WriteFailed" >> beam.io.WriteToText(output + "-failed", ".jsonl"))


def check_fields(spec, input_format, fields=None):
    """{signature input: row field}: `fields` checked against the signature's inputs (default: each input's own
    name). The text format feeds one input, so it takes only signatures of one input."""
    fields = dict(fields or {})
    unknown = sorted(set(fields) - set(spec.inputs))
    if unknown:
        raise ValueError(f"signature {spec.name!r} has no input {unknown[0]!r}; it takes {list(spec.inputs)}")
    if input_format == "text" and len(spec.inputs) != 1:
        raise ValueError(f"signature {spec.name!r} takes {list(spec.inputs)}: one line of text cannot fill them; "
                         f"give --input-format jsonl, parquet or tfrecord with a field for each")
    return {name: fields.get(name, name) for name in spec.inputs}


@dataclasses.dataclass
class BulkReport:
    """What a bulk run did: rows answered and failed (Beam's counters) and its wall seconds."""

    answered: int
    failed: int
    seconds: float

    @property
    def rows_per_second(self):
        return (self.answered + self.failed) / self.seconds if self.seconds else 0.0

    def format(self):
        return (f"rows answered: {self.answered}\nrows failed: {self.failed}\n"
                f"rows per second: {self.rows_per_second:.1f} ({self.answered + self.failed} rows in "
                f"{self.seconds:.1f} s, start-up included)")


def default_options(args=(), running_mode="multi_threading"):
    """Beam `PipelineOptions` from command-line style `args`; without `--runner` the DirectRunner, and for it one
    worker per core (`--direct_num_workers`) in `running_mode` unless `args` say otherwise.

    Threads by default: they share one TensorFlow runtime and one copy of the model (TensorFlow releases the GIL
    inside a call and spreads each call over the cores), where each process of "multi_processing" starts its own
    Python, TensorFlow and model, and sizes its own TensorFlow thread pool to every core. Measured on 2 cores,
    MiniLM, 20,000 rows, two runs: 2 threads 0.95x and 1.05x a plain loop over the SavedModel, 2 processes 0.85x
    and 0.94x (docs/benchmarks.md).

    Example:
        >>> default_options(["--direct_num_workers=2"]).get_all_options()["direct_running_mode"]
        'multi_threading'
    """
    args = list(args)
    given = {a.split("=", 1)[0] for a in args if a.startswith("--")}
    if "--runner" not in given:
        args += ["--runner", "DirectRunner"]
    options = PipelineOptions(args)
    runner = options.get_all_options()["runner"]
    if runner in ("DirectRunner", "direct", "SwitchingDirectRunner"):
        if "--direct_num_workers" not in given:
            args += ["--direct_num_workers", str(os.cpu_count() or 1)]
        if "--direct_running_mode" not in given:
            args += ["--direct_running_mode", running_mode]
        options = PipelineOptions(args)
    return options


def counters(result):
    """{counter name: value} of this package's counters in a finished pipeline's `result`."""
    found = {ANSWERED: 0, FAILED: 0}
    for counter in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        found[counter.key.metric.name] = found.get(counter.key.metric.name, 0) + (value or 0)
    return found


def bulk_predict(model_dir, input_pattern, output, *, signature="serving_default", input_format="text",
                 output_format="jsonl", fields=None, batch_size=64, min_batch_size=None, max_batch_bytes=None,
                 pipeline_args=()):
    """Answer every row of the files matching `input_pattern` with a raw-text SavedModel and write the answers
    (`add_bulk_predict`); return a `BulkReport` from Beam's counters.

    Args:
        model_dir: a SavedModel folder or model base path (latest version).
        signature: the signature to serve (a ValueError lists the SavedModel's signatures when it has no such one).
        batch_size: most rows per signature call; min_batch_size: fewest (default: Beam's adaptive batching);
        max_batch_bytes: most bytes of text per call.
        pipeline_args: Beam pipeline options as command-line strings (`--runner DataflowRunner`, `--project`,
            `--direct_num_workers 2`, ...); see `default_options` for the defaults.
        (the others: see `add_bulk_predict`)
    """
    formats.check_format("input format", input_format, formats.INPUT_FORMATS)
    formats.check_format("output format", output_format, formats.OUTPUT_FORMATS)
    handler = RawTextModelHandler(model_dir, signature, min_batch_size=min_batch_size, max_batch_size=batch_size,
                                  max_batch_weight=max_batch_bytes)
    spec = handler.spec()
    matched = FileSystems.match([input_pattern])[0].metadata_list
    if not matched:
        raise FileNotFoundError(f"no input file matches {input_pattern!r}")
    start = time.perf_counter()
    pipeline = beam.Pipeline(options=default_options(pipeline_args))
    add_bulk_predict(pipeline, handler, input_pattern, output, input_format=input_format,
                     output_format=output_format, fields=fields, several_files=len(matched) > 1, spec=spec)
    result = pipeline.run()
    result.wait_until_finish()
    found = counters(result)
    return BulkReport(found[ANSWERED], found[FAILED], time.perf_counter() - start)
