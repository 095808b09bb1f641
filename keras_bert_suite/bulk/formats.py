"""Rows in and answers out for bulk inference: reading text, JSON lines, Parquet and TFRecord files into keyed rows,
and writing answered and failed rows as JSON lines, Parquet or TFRecord shards.

A row's key is `(path, row)`: the file it came from and its 0-based position there (line number for text and JSON
lines, row for Parquet, record for TFRecord). Every file is read whole by one worker, which numbers its rows;
the pipeline reshuffles the rows afterwards to spread the inference.

Example:
    >>> read = make_reader("jsonl", {"question": "q", "context": "c"})
    >>> list(read(open_lines([b'{"q": "Who?", "c": "Ada."}'])))     # doctest: +SKIP
"""

import io
import json
import struct

import numpy as np

from keras_bert_suite.bulk.signature import ERROR_KEY

INPUT_FORMATS = ("text", "jsonl", "parquet", "tfrecord")
OUTPUT_FORMATS = ("jsonl", "parquet", "tfrecord")
SUFFIXES = {"jsonl": ".jsonl", "parquet": ".parquet", "tfrecord": ".tfrecord"}
FAILED = "failed"  # the tag of rows that cannot be answered


def check_format(name, value, known):
    if value not in known:
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(known)}")


class BadRow(Exception):
    """A row that cannot become model input (not JSON, a field missing, not text); its message says why."""


def _lines(handle):
    """The lines of a binary file, without their line ends (\\n or \\r\\n), as bytes."""
    for line in handle:
        yield line.rstrip(b"\n").rstrip(b"\r") if line.endswith(b"\n") else line


def _pick(record, fields):
    """{input name: UTF-8 bytes} from one record (a dict) by `fields` {input name: field name}."""
    if not isinstance(record, dict):
        raise BadRow(f"row is {type(record).__name__}, not an object with fields {sorted(fields.values())}")
    picked = {}
    for name, field in fields.items():
        if field not in record:
            raise BadRow(f"row has no field {field!r} (it has {sorted(record)[:20]})")
        value = record[field]
        if not isinstance(value, (str, bytes)):
            raise BadRow(f"field {field!r} is {type(value).__name__}, not text")
        # bytes from here on: a JSON string may hold lone surrogates, which Beam's coders cannot encode as str
        picked[name] = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return picked


def _text_rows(handle, fields):
    for line in _lines(handle):
        yield lambda line=line: line


def _jsonl_rows(handle, fields):
    def parse(line):
        try:
            record = json.loads(line)
        except ValueError as e:
            raise BadRow(f"not a JSON line: {e}") from None
        return _pick(record, fields)

    for line in _lines(handle):
        yield lambda line=line: parse(line)


def _parquet_rows(handle, fields):
    import pyarrow.parquet as pq

    columns = sorted(set(fields.values()))
    parquet = pq.ParquetFile(handle)
    missing = [c for c in columns if c not in parquet.schema_arrow.names]
    if missing:
        raise ValueError(f"parquet file has no column {missing[0]!r}; it has {parquet.schema_arrow.names}")
    for batch in parquet.iter_batches(columns=columns):
        for record in batch.to_pylist():
            yield lambda record=record: _pick(record, fields)


def _tfrecord_rows(handle, fields):
    def parse(data):
        from tensorflow.core.example import example_pb2

        try:
            example = example_pb2.Example.FromString(data)
        except Exception as e:  # protobuf's DecodeError
            raise BadRow(f"not a tf.train.Example: {e}") from None
        record = {k: v.bytes_list.value[0] for k, v in example.features.feature.items()
                  if v.WhichOneof("kind") == "bytes_list" and len(v.bytes_list.value) == 1}
        return _pick(record, fields)

    for data in read_tfrecords(handle):
        yield lambda data=data: parse(data)


_READERS = {"text": _text_rows, "jsonl": _jsonl_rows, "parquet": _parquet_rows, "tfrecord": _tfrecord_rows}


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def masked_crc32c(data):
    """TFRecord's masked CRC-32C (Castagnoli) of `data` (bytes). Pure Python: Beam's own TFRecord sink needs
    one of python-snappy, google-crc32c or crcmod, which its base install lacks; our records are small."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_frame(record):
    """One record framed as in a TFRecord file: length (uint64 LE), its masked CRC, the data, its masked CRC."""
    length = struct.pack("<Q", len(record))
    return length + struct.pack("<I", masked_crc32c(length)) + record + struct.pack("<I", masked_crc32c(record))


def read_tfrecords(handle):
    """The records of a TFRecord file (uncompressed): length (uint64) + its CRC, data + its CRC, repeated.
    CRCs are not checked."""
    while True:
        head = handle.read(12)
        if not head:
            return
        if len(head) < 12:
            raise ValueError("truncated TFRecord file")
        (length,) = struct.unpack("<Q", head[:8])
        data = handle.read(length + 4)
        if len(data) < length + 4:
            raise ValueError("truncated TFRecord file")
        yield data[:length]


def make_reader(input_format, fields):
    """A function of an open binary file yielding `(row, example)` for each row, where example is bytes (text
    format), a dict `{input name: text}` (the others), or a `BadRow` exception for a row that cannot be read.

    Args:
        input_format: one of `INPUT_FORMATS`.
        fields: {signature input name: field/column/feature name}; the text format takes one input.
    """
    check_format("input format", input_format, INPUT_FORMATS)
    rows = _READERS[input_format]

    def read(handle):
        for number, make in enumerate(rows(handle, fields)):
            try:
                yield number, make()
            except BadRow as e:
                yield number, e

    return read


def plain(value):
    """A numpy output as JSON-ready Python values: arrays as (nested) lists, bytes as text (UTF-8, invalid bytes
    replaced)."""
    value = value.tolist() if isinstance(value, np.ndarray) else value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def key_fields(key, several_files):
    """The fields naming a row in the output: {"row": n}, and {"file": path} first when the input had several
    files."""
    path, row = key
    return {"file": path, "row": row} if several_files else {"row": row}


def answered_record(key, inference, several_files):
    """One answered row as a dict of Python values: its key fields, then each output."""
    return {**key_fields(key, several_files), **{name: plain(v) for name, v in sorted(inference.items())}}


def failed_record(key, error, several_files):
    """One failed row: its key fields and `error`."""
    return {**key_fields(key, several_files), ERROR_KEY: str(error)}


def to_json(record):
    return json.dumps(record, ensure_ascii=False)


_ARROW = {"float16": "float32", "bfloat16": "float32", "float32": "float32", "float64": "float64",
          "int8": "int32", "int16": "int32", "int32": "int32", "int64": "int64", "uint8": "int32", "bool": "bool_",
          "string": "string"}


def parquet_schema(outputs, several_files):
    """A pyarrow schema for answered rows from a `SignatureSpec.outputs` {name: (dtype, rank of a row)}: row
    (and file) first, then each output as a scalar or (nested) list column."""
    import pyarrow as pa

    columns = ([("file", pa.string())] if several_files else []) + [("row", pa.int64())]
    for name, (dtype, rank) in sorted(outputs.items()):
        kind = getattr(pa, _ARROW.get(dtype, "string"))()
        for _ in range(rank):
            kind = pa.list_(kind)
        columns.append((name, kind))
    return pa.schema(columns)


def to_example(record):
    """One answered row as a serialized tf.train.Example: each output flattened (floats as float_list, integers
    and booleans as int64_list, text as bytes_list); row (and file) as features too."""
    from tensorflow.core.example import example_pb2

    example = example_pb2.Example()
    for name, value in record.items():
        flat = list(_flatten(value))
        feature = example.features.feature[name]
        if flat and all(isinstance(v, str) for v in flat):
            feature.bytes_list.value.extend(v.encode("utf-8") for v in flat)
        elif all(isinstance(v, (bool, int)) for v in flat):
            feature.int64_list.value.extend(int(v) for v in flat)
        else:
            feature.float_list.value.extend(float(v) for v in flat)
    return example.SerializeToString()


def _flatten(value):
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def from_example(data):
    """A serialized tf.train.Example written by `to_example` as {name: list of values} (text decoded)."""
    from tensorflow.core.example import example_pb2

    example = example_pb2.Example.FromString(data)
    out = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value) if kind else []
        out[name] = [v.decode("utf-8") for v in values] if kind == "bytes_list" else values
    return out


def open_lines(lines):
    """A binary file object holding `lines` (bytes) joined by newlines; for tests and examples."""
    return io.BytesIO(b"\n".join(lines) + b"\n")
