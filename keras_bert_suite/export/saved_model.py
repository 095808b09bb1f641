"""`export_saved_model`: a model and its tokenizer as one SavedModel that takes raw strings, laid out for
TensorFlow Serving (`export_dir/<version>/`).

The write is atomic: the version folder is written under a temporary name beside it and renamed at the end, so
a failed export leaves `export_dir` as it was. The SavedModel needs only TensorFlow and tensorflow-text ops.

Example:
    >>> import keras_bert_suite as kbs
    >>> from keras_bert_suite.tokenizers import BertTokenizer
    >>> tokenizer = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "fine", "film"])
    >>> classifier = kbs.BertForSequenceClassification(kbs.BertConfig(
    ...     vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37))
    >>> path = export_saved_model(classifier, tokenizer, "savedmodels/sst2", max_length=128)  # doctest: +SKIP
    >>> served = tf.saved_model.load(path)  # doctest: +SKIP
    >>> served.signatures["serving_default"](text=tf.constant(["a fine film"]))["label"]  # doctest: +SKIP
"""

import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf

from keras_bert_suite.export.on_tensorflow import export_on_tensorflow
from keras_bert_suite.export.signatures import RENAMED, ExportOptions, build_signatures, task_of
from keras_bert_suite.export.warmup import filler_word, warmup_requests, write_warmup
from keras_bert_suite.layers.dense import quantize_dense_int8
from keras_bert_suite.tokenizers import TFBertTokenizer


def next_version(export_dir):
    """1 + the largest integer-named folder in `export_dir` (1 when none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(n) for n in os.listdir(export_dir) if re.fullmatch(r"\d+", n)]
    return max(versions, default=0) + 1


_POLICIES = {"float32": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def with_compute_dtype(model, compute_dtype):
    """`model` itself for float32, else a copy built from its config with the mixed policy (the policy is part of
    the model's config; the global policy is left alone) and the same (float32) weights."""
    if compute_dtype not in _POLICIES:
        raise ValueError(f"compute_dtype must be one of {sorted(_POLICIES)}, got {compute_dtype!r}")
    policy = _POLICIES[compute_dtype]
    if policy is None or model.dtype_policy.name == policy:
        return model
    copy = type(model).from_config({**model.get_config(), "dtype": policy})
    source = model.hf_weights()
    for name, weight in copy.hf_weights().items():
        weight.variable.assign(source[name].variable)
    return copy


QUANTIZE = (None, "int8")


# the encoder's dense layers by role, from the last parts of their Keras paths
INT8_GROUPS = {("self", "query"): "query", ("self", "key"): "key", ("self", "value"): "value",
               ("attention", "dense"): "attention_output", ("layer", "intermediate_dense"): "intermediate",
               ("layer", "output_dense"): "output"}


def _int8_group(path):
    """(role, transformer layer) of an encoder dense layer's Keras path, e.g. ("output", "layer_5")."""
    parts = path.split("/")
    block = next((p for p in parts if p.startswith("layer_")), None)
    parent = "layer" if parts[-2] == block else parts[-2]
    return INT8_GROUPS.get((parent, parts[-1])), block


def with_int8_encoder(model, keep_float=(), row_scales=True):
    """A copy of `model` (built from its config, same weights) whose encoder's dense layers (query, key, value,
    attention output, intermediate, output) hold int8 kernels and run 8-bit products (`layers.dense.Int8Dense`);
    embeddings, layer norms, attention scores, the pooler and the head stay float32. `model` is left as it was.

    Args:
        model: a float32 model of this package.
        keep_float: dense layers left float32, by role (`INT8_GROUPS`' values: "query", "key", "value",
            "attention_output", "intermediate", "output") or by transformer layer ("layer_0", ...).
        row_scales: each int8 layer quantizes its input with one range per token (True, the default) or one
            range per call (docs/benchmarks.md compares them).

    The products run in TensorFlow's oneDNN kernel (`QuantizedMatMulWithBiasAndDequantize`: x86-64 TensorFlow
    with oneDNN on, its default on Linux; not XLA-compilable, so the model runs in graph mode). Measured on the
    MiniLM checkpoint over the 872 SST-2 dev sentences: mean-pooled embeddings' cosine to float32 0.9987 on
    average (0.9936 the lowest); labels of a classifier fine-tuned on SST-2 equal on 100%, of a small-margin
    linear head on 97.8% (tests/test_quantize_int8.py; the fine-tuned figure from an A/B tool last in commit dd87116; speed and
    the tolerance in docs/benchmarks.md).

    Example:
        >>> fast = with_int8_encoder(classifier, keep_float=("layer_0",))  # doctest: +SKIP
    """
    if model.dtype_policy.name != "float32":
        raise ValueError(f"quantize='int8' takes a float32 model, got dtype policy {model.dtype_policy.name!r}")
    known = set(INT8_GROUPS.values()) | {f"layer_{i}" for i in range(model.config.num_hidden_layers)}
    unknown = sorted(set(keep_float) - known)
    if unknown:
        raise ValueError(f"keep_float names no encoder dense layers: {unknown}; choose from {sorted(known)}")
    copy = type(model).from_config(model.get_config())
    source = model.hf_weights()
    for name, weight in copy.hf_weights().items():
        weight.variable.assign(source[name].variable)
    dense = [layer for layer in copy._flatten_layers()
             if type(layer) is keras.layers.Dense and "encoder" in layer.path.split("/")]
    if not dense:
        raise ValueError(f"{type(model).__name__} has no encoder dense layers to quantize")
    for layer in dense:
        if not set(_int8_group(layer.path)) & set(keep_float):
            quantize_dense_int8(layer, row_scales=row_scales)
    return copy


def export_saved_model(model, tokenizer=None, export_dir="savedmodels/model", *, task=None, max_length=None,
                       version=None, jit_compile=None, compute_dtype="float32", quantize=None, warmup=True,
                       **options):
    """Write `export_dir/<version>/` and return its path.

    Args:
        model: any model of this package, or a `SentenceTransformer` (an embeddings SavedModel with the folder's
            tokenizer, max_seq_length, pooling and normalization unless given here).
        tokenizer: `BertTokenizer`, `BertTokenizerFast` or `TFBertTokenizer` (optional for a SentenceTransformer).
        task: the serving task (default: from the model class); see `signatures.TASKS`.
        max_length: longest tokenized input (QA: window length, the pipeline's `max_seq_len`, which is accepted
            too; default 128). version: int, default the next free one.
        jit_compile: run the encoder and head XLA-compiled inside the SavedModel (True, the default without
            `quantize`; measured faster than TensorFlow's graph kernels end to end, see docs/benchmarks.md), or not
            (False, the default and the only choice with `quantize`), or "auto": XLA only when this machine has a
            GPU or TPU.
        compute_dtype: "float32" (default, exact), or "bfloat16" / "float16": the encoder computes in that type
            (weights stay float32; layer norms and softmax in float32). bfloat16 is 1.3x faster on CPUs with
            AVX512_BF16 with jit_compile=False (docs/benchmarks.md); logits move by about 1e-2.
        quantize: None (default), or "int8": the encoder's dense layers hold int8 kernels and run 8-bit products
            with TensorFlow's oneDNN kernel, not XLA-compilable (`with_int8_encoder` gives the measured accuracy).
        warmup: write `assets.extra/tf_serving_warmup_requests` (True, the default): one request per signature
            and chunk shape, which TF Serving replays at load so that XLA compiles before traffic (warmup.py).
        **options: fields of `ExportOptions`, the pipelines' options under the pipeline's names and defaults
            (top_k, function_to_apply, aggregation_strategy, align_to_words, handle_impossible_answer, max_seq_len,
            doc_stride, max_question_len, max_answer_len) and ours (max_context_tokens, pad_to_multiple_of,
            normalize_embeddings, pooling, ...); savedmodels/README.md lists them.

    Under the JAX backend the model is rebuilt from its weights and exported by a TensorFlow-backend child
    process (`export/on_tensorflow.py`): the same SavedModel.
    """
    if keras.backend.backend() != "tensorflow":  # JAX: rebuilt and exported by a TensorFlow child process
        return export_on_tensorflow(
            export_saved_model, model, tokenizer, export_dir, task=task, max_length=max_length, version=version,
            jit_compile=jit_compile, compute_dtype=compute_dtype, quantize=quantize, warmup=warmup, **options)
    if hasattr(model, "export_arguments"):  # a SentenceTransformer
        model, tokenizer, max_length, options = model.export_arguments(tokenizer, max_length, options)
    task = _check_arguments(model, tokenizer, task, quantize, compute_dtype, jit_compile, options)
    jit_compile = _jit_compile(jit_compile, quantize)
    opts = ExportOptions(max_length=max_length, jit_compile=jit_compile, **options)
    final = version_folder(export_dir, version)
    model = with_int8_encoder(model) if quantize == "int8" else with_compute_dtype(model, compute_dtype)
    graph_tokenizer = serving_tokenizer(tokenizer, model)
    signatures, tokenizers = build_signatures(model, graph_tokenizer, task, opts)
    archive = keras.export.ExportArchive()
    for layer in [model, *tokenizers]:
        archive.track(layer)
    for name, fn in signatures:
        archive.add_endpoint(name, fn)

    def requests():
        inputs = {name: [spec.name for spec in fn.input_signature] for name, fn in signatures}
        return warmup_requests(inputs, opts.max_length, opts.pad_to_multiple_of, opts.chunk_size,
                               filler_word(graph_tokenizer), chunk_tokens=opts.chunk_tokens)

    return write_version(archive, final, requests if warmup else None)


def _check_arguments(model, tokenizer, task, quantize, compute_dtype, jit_compile, options):
    """The serving task of `model`, once `export_saved_model`'s arguments are known to go together (else
    TypeError or ValueError naming the one at fault)."""
    if tokenizer is None:
        raise TypeError(f"export_saved_model needs the tokenizer of the {type(model).__name__} to export")
    for old, new in RENAMED.items():
        if old in options:
            raise TypeError(f"export option {old!r} is now {new!r}, the pipeline's name")
    task = task_of(model, task)
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {QUANTIZE}, got {quantize!r}")
    if quantize and compute_dtype != "float32":
        raise ValueError(f"quantize={quantize!r} computes in int8 and float32; compute_dtype={compute_dtype!r} "
                         "cannot be combined with it")
    if quantize and jit_compile not in (None, False):
        raise ValueError(f"quantize={quantize!r} runs TensorFlow's oneDNN int8 kernel, which XLA cannot compile: "
                         f"leave jit_compile unset or False, got {jit_compile!r}")
    return task


def _jit_compile(jit_compile, quantize):
    """`export_saved_model`'s jit_compile as a bool: unset is True without `quantize`; "auto" is True where this
    machine has a GPU or TPU."""
    jit_compile = not quantize if jit_compile is None else jit_compile
    if jit_compile == "auto":
        jit_compile = bool(tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("TPU"))
    return jit_compile


def serving_tokenizer(tokenizer, model):
    """`tokenizer` as the `TFBertTokenizer` a SavedModel serves: one part per call (serving cuts batches itself;
    parts would cost export time and cold start), its vocabulary checked to fit `model`'s embeddings.

    Example:
        >>> serving_tokenizer(BertTokenizer("vocab.txt"), model).split_large_batches  # doctest: +SKIP
        False
    """
    graph_tokenizer = TFBertTokenizer.coerce(tokenizer).with_settings(split_large_batches=False)
    if len(graph_tokenizer.vocab) > model.config.vocab_size:
        raise ValueError(
            f"the tokenizer's vocabulary has {len(graph_tokenizer.vocab)} tokens but the model's embeddings have "
            f"{model.config.vocab_size} rows: ids past {model.config.vocab_size - 1} would have no embedding"
        )
    return graph_tokenizer


def version_folder(export_dir, version=None):
    """The path `export_dir/<version>` (version default: `next_version`); FileExistsError if it exists.

    Example:
        >>> os.path.basename(version_folder(tempfile.mkdtemp()))
        '1'
    """
    export_dir = os.fspath(export_dir)
    version = next_version(export_dir) if version is None else int(version)
    final = os.path.join(export_dir, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"{final} already exists; pick another version")
    return final


def write_version(archive, final, requests=None):
    """Write `archive` (a `keras.export.ExportArchive`) as the version folder `final`, atomically, and return
    it: written under a temporary name beside it, with `requests()`'s TF Serving warmup records when given,
    then renamed; a failure removes what was written (and the model folder if this call created it).

    Example:
        >>> write_version(archive, version_folder("savedmodels/sst2"))  # doctest: +SKIP
        'savedmodels/sst2/3'
    """
    export_dir, version = os.path.split(final)
    created = not os.path.isdir(export_dir)
    os.makedirs(export_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{version}.", suffix=".tmp", dir=export_dir)
    try:
        archive.write_out(tmp, verbose=False)
        if requests is not None:
            write_warmup(tmp, requests())
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:
            shutil.rmtree(export_dir, ignore_errors=True)
        raise
    return final
