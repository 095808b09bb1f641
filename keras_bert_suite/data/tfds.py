"""Loaders over tensorflow-datasets (`pip install 'keras-bert-suite[data]'`): `glue/<task>`, `conll2003` and
`squad` / `squad/v2.0`, read with tensorflow-datasets' builders and encoded by the same code as the local-file
loaders (`glue`, `ner`, `squad`). Nothing is downloaded unless `download=True`: then `prepare` downloads the
source once into tensorflow-datasets' cache (`data_dir`, else `TFDS_DATA_DIR`, else `~/tensorflow_datasets`), with
its progress bars, and later calls read the prepared copy without the network. `url` replaces a builder's download
address with a mirror or a local file (GLUE's tasks download one zip file each).

Example:
    >>> ds = load_tfds("glue/sst2", "train", tokenizer, data_dir="~/tensorflow_datasets", batch_size=32)
    >>> ds = load_tfds("conll2003", "train", tokenizer, data_dir=..., bucket_boundaries=[32, 64])
    >>> dev = columns("glue/sst2", "validation[:4]", download=True)   # {"sentence": [...], "label": [...], ...}
"""

import contextlib
import socket
import urllib.parse
import urllib.request

import numpy as np
import tensorflow as tf

from keras_bert_suite.data.glue import classification_dataset, glue_task
from keras_bert_suite.data.ner import CONLL2003_LABELS, ner_dataset
from keras_bert_suite.data.squad import squad_dataset


def _tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError("these loaders need tensorflow-datasets: pip install 'keras-bert-suite[data]'") from None
    return tfds


class DatasetDownloadError(ConnectionError):
    """A tensorflow-datasets source could not be downloaded (no network, a refused or missing address)."""


@contextlib.contextmanager
def _download_address(builder, url):
    """Within the block, `builder` downloads from `url` instead of its config's `data_url` (tensorflow-datasets
    refuses a second config of the same name, so the shared config's address is swapped and put back)."""
    config = builder.builder_config
    saved, config.data_url = config.data_url, url
    try:
        yield
    finally:
        config.data_url = saved


def _check_reachable(name, url, folder, timeout):
    """Fail at once, with the reason, when `url`'s host takes no connection (tensorflow-datasets itself retries
    for minutes). Skipped for local files and behind a proxy (the proxy is what would be reached)."""
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme not in ("http", "https") or urllib.request.getproxies().get(parts.scheme):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as error:
        raise DatasetDownloadError(
            f"{name} could not be downloaded: {url} cannot be reached ({error}). tensorflow-datasets keeps it in "
            f"{folder} once downloaded.") from None


def prepare(name, data_dir=None, url=None, timeout=10.0):
    """Download (once) and prepare `name` in the tensorflow-datasets cache; returns its builder.

    Args:
        name: a tensorflow-datasets name, with its config and version if needed ("glue/sst2", "conll2003").
        data_dir: the tensorflow-datasets folder (default: `TFDS_DATA_DIR`, else `~/tensorflow_datasets`).
        url: replaces the config's download address (`data_url`): a mirror, or a local file path, which
            tensorflow-datasets copies instead of downloading. Only for builders that download one file (GLUE).
        timeout: seconds to wait for the download host before giving up with `DatasetDownloadError`.

    Raises:
        DatasetDownloadError: naming the dataset, the address and the cache folder, when the source cannot be
            reached or the download fails.
    """
    b = _tfds().builder(name, data_dir=data_dir)
    if b.is_prepared():
        return b
    own = getattr(b.builder_config, "data_url", None)
    if url is not None and not own:
        raise ValueError(f"{name} has no single download address to replace with url={url!r}")
    source = url or own
    _check_reachable(name, source, b.data_dir, timeout)
    try:
        with _download_address(b, url) if url is not None else contextlib.nullcontext():
            b.download_and_prepare()
    except (OSError, _tfds().download.DownloadError) as error:  # requests' errors are OSErrors
        raise DatasetDownloadError(f"{name} could not be downloaded from {source or 'its source'} into "
                                   f"{b.data_dir}: {error}") from error
    return b


def raw(name, split, data_dir=None, download=False, shuffle_files=False, url=None):
    """The examples of a tensorflow-datasets dataset (dicts of tensors), as `tfds.load` gives them; with
    `download=True` the source is downloaded and prepared first if it is not yet (`prepare`)."""
    if download:
        return prepare(name, data_dir=data_dir, url=url).as_dataset(split=split, shuffle_files=shuffle_files)
    return _tfds().load(name, split=split, data_dir=data_dir, download=False, shuffle_files=shuffle_files)


def columns(name, split, **options):
    """A split as a dict of lists (strings decoded, numbers as Python numbers, sequences as lists, nested
    features as dicts): what the local-file readers give. `options`: those of `raw`.

    Example:
        >>> dev = columns("glue/sst2", "validation[:2]", data_dir="~/tensorflow_datasets")  # doctest: +SKIP
        >>> dev["sentence"][0], dev["label"][0]                                             # doctest: +SKIP
        ("it 's a charming and often affecting journey . ", 1)
    """
    def value(v):
        if isinstance(v, bytes):
            return v.decode("utf-8")
        if isinstance(v, np.ndarray):
            return [value(x) for x in v]
        if isinstance(v, dict):  # nested features (squad's answers)
            return {k: value(x) for k, x in v.items()}
        return v.item() if isinstance(v, np.generic) else v

    out = {}
    for row in raw(name, split, **options).as_numpy_iterator():
        for key, v in row.items():
            out.setdefault(key, []).append(value(v))
    return out


def glue_examples(ds, task):
    """tfds GLUE examples -> {"text", "text_pair"?, "labels"} (test splits, label -1, keep -1)."""
    task = glue_task(task)
    keys = task.tfds_keys

    def convert(ex):
        out = {"text": ex[keys[0]]}
        if len(keys) > 1:
            out["text_pair"] = ex[keys[1]]
        out["labels"] = tf.cast(ex["label"], tf.float32 if task.is_regression else tf.int32)
        return out

    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)


def conll2003_examples(ds):
    """tfds conll2003 examples -> {"tokens", "tags"} (tags are already ids in `CONLL2003_LABELS` order)."""
    return ds.map(lambda ex: {"tokens": ex["tokens"], "tags": tf.cast(ex["ner"], tf.int32)},
                  num_parallel_calls=tf.data.AUTOTUNE)


def squad_examples(ds):
    """tfds squad examples -> {"id", "question", "context", "answer_text", "answer_start"} (first gold answer;
    "" and -1 when there is none or, for v2.0, the question is impossible)."""

    def convert(ex):
        texts, starts = ex["answers"]["text"], tf.cast(ex["answers"]["answer_start"], tf.int32)
        n = tf.minimum(tf.size(texts), tf.size(starts))
        has = n > 0
        if "is_impossible" in ex:
            has = tf.logical_and(has, tf.logical_not(ex["is_impossible"]))
        return {
            "id": ex["id"], "question": ex["question"], "context": ex["context"],
            "answer_text": tf.where(has, tf.concat([texts, [""]], 0)[0], ""),
            "answer_start": tf.where(has, tf.concat([starts, [-1]], 0)[0], -1),
        }

    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)


def load_tfds(name, split, tokenizer, *, data_dir=None, download=False, url=None, **options):
    """A batched dataset for `glue/<task>`, `conll2003` or `squad[/v1.1|/v2.0]` (options: those of
    `classification_dataset`, `ner_dataset` or `squad_dataset`; `download` and `url`: those of `raw`)."""
    ds = raw(name, split, data_dir=data_dir, download=download, url=url)
    family = name.split("/")[0].split(":")[0]
    if family == "glue":
        task = glue_task(name.split(":")[0])
        return classification_dataset(glue_examples(ds, task), tokenizer, regression=task.is_regression, **options)
    if family == "conll2003":
        return ner_dataset(conll2003_examples(ds), tokenizer, label_names=CONLL2003_LABELS, **options)
    if family == "squad":
        return squad_dataset(squad_examples(ds), tokenizer, **options)
    raise ValueError(f"no loader for {name!r}; known: glue/<task>, conll2003, squad")
