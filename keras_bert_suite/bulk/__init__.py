"""Bulk inference with Apache Beam (the `beam` extra): raw-text SavedModels of this package over files of any
size, on the DirectRunner, Dataflow, Flink or Spark (docs/bulk.md). `kbs bulk-predict` runs `bulk_predict`.

    signature.py  what a signature takes and gives, read from saved_model.pb (checks before any worker starts)
    handler.py    RawTextModelHandler: the SavedModel as a Beam ModelHandler (length-sorted batches, bad rows
                  isolated by splitting a failing batch)
    formats.py    rows in (text, JSON lines, Parquet, TFRecord) and answers out (JSON lines, Parquet, TFRecord)
    pipeline.py   the pipeline, its counters, the runner defaults, bulk_predict
    cli.py        `kbs bulk-predict`'s arguments (importable without Beam) and its run

The names below are imported on first use, so `import keras_bert_suite.bulk` (and `kbs --help`) works without
Apache Beam installed.

Example:
    >>> from keras_bert_suite.bulk import RawTextModelHandler, bulk_predict
"""

import importlib

_EXPORTS = {
    "RawTextModelHandler": "handler", "is_failed": "handler",
    "bulk_predict": "pipeline", "add_bulk_predict": "pipeline", "BulkReport": "pipeline",
    "read_signature": "signature", "SignatureSpec": "signature", "ERROR_KEY": "signature",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
