"""`kbs bulk-predict MODEL_DIR INPUT OUTPUT`: its arguments (added without importing Apache Beam, so `kbs --help`
works without it) and its run, which prints Beam's counters at the end.

Example:
    kbs bulk-predict savedmodels/sst2 reviews.txt out/labels
    kbs bulk-predict savedmodels/squad questions.jsonl out/answers --input-format jsonl --field context=passage
    kbs bulk-predict savedmodels/sst2 'gs://bucket/reviews-*.txt' gs://bucket/labels --runner=DataflowRunner ...
"""

import sys

from keras_bert_suite.bulk.formats import INPUT_FORMATS, OUTPUT_FORMATS
from keras_bert_suite.bulk.signature import ERROR_KEY, read_signature


def add_bulk_arguments(parser):
    """Add bulk-predict's positional arguments and options to an argparse `parser`."""
    parser.add_argument("model_dir", help="a SavedModel folder or a model base path (latest version)")
    parser.add_argument("input", help="an input file or glob (local, gs://, s3://, hdfs://: any file system Beam "
                        "reads)")
    parser.add_argument("output", help="prefix of the output shards: OUTPUT-00000-of-0000N.<format>; rows that "
                        "cannot be answered go to OUTPUT-failed-*.jsonl")
    parser.add_argument("--signature", default="serving_default", help="signature to call (default: "
                        "serving_default; kbs serve-check lists them)")
    parser.add_argument("--input-format", choices=INPUT_FORMATS, default="text",
                        help="text: one row per line (default); jsonl, parquet, tfrecord (tf.train.Example): "
                        "rows with a field per signature input")
    parser.add_argument("--text-field", default=None, help="the field holding the text of a one-input signature "
                        "(default: the input's name, e.g. text)")
    parser.add_argument("--field", action="append", default=[], metavar="INPUT=FIELD",
                        help="the field holding a signature input, e.g. --field question=q --field context=passage "
                        "(default: each input's own name)")
    parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="jsonl",
                        help="answered rows as JSON lines (default), Parquet or TFRecord (tf.train.Example, "
                        "outputs flattened)")
    parser.add_argument("--batch-size", type=int, default=64, help="most rows per signature call (default 64)")
    parser.add_argument("--min-batch-size", type=int, default=None,
                        help="fewest rows per call (default: Beam's adaptive batching from 1 up)")
    parser.add_argument("--max-batch-bytes", type=int, default=None, help="most bytes of text per call "
                        "(default: no limit)")
    parser.epilog = ("Other options go to Apache Beam as pipeline options (--runner=DataflowRunner, --project, "
                     "--direct_num_workers, ...); without --runner: the DirectRunner with one worker thread per "
                     "core. Give them after the positional arguments.")


def fields_of(args, inputs):
    """{signature input: field} from --field INPUT=FIELD and --text-field (for a signature of one input, whose
    names are `inputs`)."""
    fields = {}
    for item in args.field:
        name, sep, field = item.partition("=")
        if not sep or not name or not field:
            raise ValueError(f"--field takes INPUT=FIELD, got {item!r}")
        fields[name] = field
    if args.text_field:
        if len(inputs) != 1:
            raise ValueError(f"--text-field names the field of a one-input signature; {args.signature!r} takes "
                             f"{list(inputs)}: give --field INPUT=FIELD for each")
        fields[inputs[0]] = args.text_field
    return fields


def run_bulk_predict(args):
    """Run `kbs bulk-predict` from parsed `args` (with `args.pipeline_args`: the options left for Beam); print
    the counters; exit status 1 when rows were read but none could be answered."""
    try:  # Beam is an optional extra: `kbs --help` and the other commands run without it
        from keras_bert_suite.bulk.pipeline import bulk_predict
    except ImportError as e:
        raise ValueError(f"bulk-predict needs Apache Beam: pip install 'keras-bert-suite[beam]' ({e})") from None
    fields = fields_of(args, read_signature(args.model_dir, args.signature).inputs)
    report = bulk_predict(args.model_dir, args.input, args.output, signature=args.signature,
                          input_format=args.input_format, output_format=args.output_format, fields=fields,
                          batch_size=args.batch_size, min_batch_size=args.min_batch_size,
                          max_batch_bytes=args.max_batch_bytes, pipeline_args=args.pipeline_args)
    print(report.format())
    if report.failed:
        print(f"failed rows and their {ERROR_KEY!r}: {args.output}-failed-*.jsonl", file=sys.stderr)
    return 1 if report.failed and not report.answered else 0
