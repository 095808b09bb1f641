"""Bulk inference with Apache Beam (the `beam` extra): raw-text SavedModels of this package over files of any
size, on the DirectRunner, Dataflow, Flink or Spark (docs/bulk.md). `kbs bulk-predict` runs `bulk_predict`.

    signature.py  what a signature takes and gives, read from saved_model.pb (checks before any worker starts)
    handler.py    RawTextModelHandler: the SavedModel as a Beam ModelHandler (length-sorted batches, bad rows
                  isolated by splitting a failing batch)
    formats.py    rows in (text, JSON lines, Parquet, TFRecord) and answers out (JSON lines, Parquet, TFRecord)
    pipeline.py   the pipeline, its counters, the runner defaults, bulk_predict
"""

from keras_bert_suite.bulk.handler import RawTextModelHandler, is_failed
from keras_bert_suite.bulk.pipeline import BulkReport, add_bulk_predict, bulk_predict
from keras_bert_suite.bulk.signature import ERROR_KEY, SignatureSpec, read_signature

__all__ = ["RawTextModelHandler", "is_failed", "bulk_predict", "add_bulk_predict", "BulkReport", "read_signature",
           "SignatureSpec", "ERROR_KEY"]
