"""The CPU latency path: raw text to answer with the MiniLM checkpoint's weights, for three tasks, through our
LiteRT files (`export_litert`: float32, dynamic int8, float16 weights), our SavedModels (`export_saved_model`:
float32, int8) and two peers: transformers' Rust tokenizer + PyTorch, and the Rust tokenizer + our ONNX int8
export (`export_onnx(quantize="int8")`) on onnxruntime.

Tasks: `classification` (label and score; a seeded 2-label head), `embeddings` (mean-pooled, L2-normalized) and
`token-classification` (a label per word piece with its character offsets; a seeded 9-label head). Every path
computes its task's answers, peers included (PyTorch and ONNX post-process in numpy).

Texts: `short`, SST-2 dev sentences of 10-14 tokens ([CLS] and [SEP] included); `long`, SST-2 dev sentences joined
until they pass 128 tokens, truncated at 128. Calls: batch 1 (`--requests` calls in a row, one text each) and
batch 32 (`--batch-requests` calls of 32 texts); each call is padded to its own longest row. Every process runs
with the same `--threads` (LiteRT's num_threads, TensorFlow's intra-op pool, torch.set_num_threads,
onnxruntime's intra-op threads).

`litert-tokenizer-only` is the int8 file's tokenizer alone (texts to padded ids, converted the same way): where
a path is slower than hoped, it says how much of a call is tokenization and how much the model and interpreter.

Measured per (path, task), each in its own process: p50 and p99 milliseconds per call for each texts x batch
cell, the first call after loading, and the size of the file(s) it loads. Rounds interleave the processes
(rotated order); figures are medians over rounds. Ratios: the peer's p50 / ours (higher is better for ours).

The files are made once, by one process, in `--cache` (default: a temporary folder), and reused by later runs
given the same folder.

Usage:
    python -m tools.bench.litert                      # every path and task, 1 round
    python -m tools.bench.litert --tasks classification --rounds 3
    python -m tools.bench.litert --quick              # smoke run: tiny model, few calls
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time

import numpy as np

from tools.bench.common import SHAPES, emit, interleaved, machine, minilm_folder, report_error, run_worker, table
from tools.bench.latency import short_sentences
from tools.bench.serving import sentences

MODULE = "tools.bench.litert"
TASKS = ("classification", "embeddings", "token-classification")
LITERT = {"litert-int8": "dynamic_int8", "litert-float32": None, "litert-float16": "float16"}
SAVEDMODEL = {"savedmodel-float32": {}, "savedmodel-int8": {"quantize": "int8"}}
PEERS = ("torch+rust-tokenizer", "onnx-int8+rust-tokenizer")
TOKENIZER_ONLY = "litert-tokenizer-only"
IMPLS = (*LITERT, TOKENIZER_ONLY, *SAVEDMODEL, *PEERS)
MAX_LENGTH = 128
CELLS = (("short", 1), ("long", 1), ("short", 32), ("long", 32))
EXPORT_TASK = {"classification": "sequence_classification", "embeddings": "feature_extraction",
               "token-classification": "token_classification"}


def texts(kind, n):
    """`n` texts of one kind: "short" (10-14 tokens) or "long" (at least 128 tokens before truncation)."""
    if kind == "short":
        rows = short_sentences()
        return (rows * (n // len(rows) + 1))[:n]
    pool, out, current = sentences(872), [], []
    for sentence in pool * 4:
        current.append(sentence)
        if sum(len(s.split()) for s in current) >= 150:  # about 128 word pieces or more
            out.append(" ".join(current))
            current = []
        if len(out) == n:
            return out
    raise ValueError(f"not enough SST-2 text for {n} long rows")


def _model(task, quick):
    """A Keras model with MiniLM's weights (or a tiny seeded one with `quick`) for `task`, and its tokenizer."""
    import keras

    import keras_bert_suite as kbs

    folder = minilm_folder()
    tokenizer = kbs.BertTokenizer.from_pretrained(folder)
    cls = {"classification": kbs.BertForSequenceClassification, "embeddings": kbs.BertModel,
           "token-classification": kbs.BertForTokenClassification}[task]
    labels = {"classification": 2, "token-classification": 9}.get(task)
    options = {"num_labels": labels} if labels else {}
    keras.utils.set_random_seed(0)
    if quick:
        config = kbs.BertConfig(vocab_size=30522, **SHAPES["tiny"], **options)
        model = cls(config)
        model({k: np.array([[v, v]], "int32") for k, v in (("input_ids", 101), ("attention_mask", 1),
                                                            ("token_type_ids", 0))})
    else:
        model = cls.from_pretrained(folder, **options)
    return model, tokenizer


def prepare(cache, tasks, impls, quick):
    """Write every file the chosen paths load into `cache/TASK/`: LiteRT files, SavedModels, the ONNX file, and a
    Hugging Face folder (weights + tokenizer) for the peers. Files already there are kept."""
    from keras_bert_suite.export import export_onnx, export_saved_model
    from keras_bert_suite.export.litert import export_litert

    for task in tasks:
        folder = os.path.join(cache, task)
        os.makedirs(folder, exist_ok=True)
        wanted = {impl: _artifact(cache, task, impl) for impl in _impls_of(task, tasks, impls)}
        if all(os.path.exists(path) for path in wanted.values()):
            continue
        model, tokenizer = _model(task, quick)
        for impl, path in wanted.items():
            if os.path.exists(path):
                continue
            if impl in LITERT:
                export_litert(model, tokenizer, path, max_length=MAX_LENGTH, quantize=LITERT[impl])
            elif impl == TOKENIZER_ONLY:
                _write_tokenizer_only(tokenizer, path)
            elif impl in SAVEDMODEL:
                export_saved_model(model, tokenizer, path, task=EXPORT_TASK[task], max_length=MAX_LENGTH,
                                   version=1, warmup=False, **SAVEDMODEL[impl])
            elif impl == "onnx-int8+rust-tokenizer":
                export_onnx(model, path, quantize="int8")
            else:
                model.save_pretrained(path)
                tokenizer.save_pretrained(path)


def _write_tokenizer_only(tokenizer, path):
    """The LiteRT tokenizer alone (texts -> input_ids, attention_mask, token_type_ids) as a .tflite file."""
    import tensorflow as tf

    from keras_bert_suite.tokenizers import TFBertTokenizer
    from keras_bert_suite.tokenizers.litert import LiteTokenizer

    lite = LiteTokenizer(TFBertTokenizer.coerce(tokenizer), max_length=MAX_LENGTH)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")], autograph=False)
    def serving_default(text):
        enc = lite(text)
        return {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([serving_default.get_concrete_function()],
                                                                tf.Module())
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = True  # tensorflow-text's kernels
    with open(path, "wb") as f:
        f.write(converter.convert())


def _artifact(cache, task, impl):
    name = {"onnx-int8+rust-tokenizer": "model-int8.onnx", "torch+rust-tokenizer": "hf"}.get(
        impl, impl + (".tflite" if impl in LITERT or impl == TOKENIZER_ONLY else ""))
    return os.path.join(cache, task, name)


def _size_mb(path):
    if os.path.isfile(path):
        return os.path.getsize(path) / 2**20
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files) / 2**20


def _litert_call(path, threads):
    from keras_bert_suite.export.litert import litert_interpreter

    runner = litert_interpreter(path, num_threads=threads).get_signature_runner()
    return lambda batch: runner(text=np.array([t.encode() for t in batch], dtype=object))


def _savedmodel_call(path, threads):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the tokenizer's ops)

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    signature = tf.saved_model.load(os.path.join(path, "1")).signatures["serving_default"]
    return lambda batch: {k: v.numpy() for k, v in signature(text=tf.constant(batch)).items()}


def _postprocess(task, hidden_or_logits, enc):
    """The task's answers from a peer's raw output (numpy), as our signatures give them."""
    if task == "classification":
        logits = hidden_or_logits
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        return {"label": probs.argmax(-1), "score": probs.max(-1)}
    if task == "embeddings":
        mask = enc["attention_mask"][..., None].astype("float32")
        pooled = (hidden_or_logits * mask).sum(1) / np.maximum(mask.sum(1), 1.0)
        return {"sentence_embedding": pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)}
    offsets = enc["offset_mapping"]
    return {"token_labels": hidden_or_logits.argmax(-1), "token_start": offsets[..., 0], "token_end": offsets[..., 1]}


def _torch_call(path, task, threads):
    import torch
    import transformers

    torch.set_num_threads(threads)
    tok = transformers.BertTokenizerFast.from_pretrained(path)
    cls = {"classification": transformers.BertForSequenceClassification, "embeddings": transformers.BertModel,
           "token-classification": transformers.BertForTokenClassification}[task]
    model = cls.from_pretrained(path).eval()

    def call(batch):
        enc = tok(batch, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="np",
                  return_offsets_mapping=task == "token-classification")
        inputs = {k: torch.from_numpy(enc[k]) for k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.no_grad():
            out = model(**inputs)
        raw = out.last_hidden_state if task == "embeddings" else out.logits
        return _postprocess(task, raw.numpy(), enc)
    return call


def _onnx_call(path, folder, task, threads):
    import onnxruntime
    import transformers

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    output = "last_hidden_state" if task == "embeddings" else "logits"
    tok = transformers.BertTokenizerFast.from_pretrained(folder)

    def call(batch):
        enc = tok(batch, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="np",
                  return_offsets_mapping=task == "token-classification")
        raw = session.run([output], {n: enc[n].astype("int32") for n in names})[0]
        return _postprocess(task, raw, enc)
    return call


def _load(cache, task, impl, threads):
    path = _artifact(cache, task, impl)
    if impl in LITERT or impl == TOKENIZER_ONLY:
        return _litert_call(path, threads), _size_mb(path)
    if impl in SAVEDMODEL:
        return _savedmodel_call(path, threads), _size_mb(path)
    hf = _artifact(cache, task, "torch+rust-tokenizer")
    if impl == "torch+rust-tokenizer":
        return _torch_call(hf, task, threads), _size_mb(os.path.join(hf, "model.safetensors"))
    return _onnx_call(path, hf, task, threads), _size_mb(path)


def worker(impl, task, cache, requests, batch_requests, threads):
    """One process: load `impl` for `task`, time the first call, then every cell of `CELLS`."""
    call, size = _load(cache, task, impl, threads)
    short, long = texts("short", max(requests, 32 * batch_requests)), texts("long", max(requests, 32))
    start = time.perf_counter()
    call(short[:1])
    result = {"first_call_ms": (time.perf_counter() - start) * 1e3, "size_mb": size}
    for kind, batch in CELLS:
        pool = short if kind == "short" else long
        n = requests if batch == 1 else batch_requests
        calls = [pool[i * batch % len(pool):][:batch] or pool[:batch] for i in range(n)]
        call(calls[0])  # this shape's first call is not a steady-state one
        times = []
        for rows in calls:
            start = time.perf_counter()
            call(rows)
            times.append((time.perf_counter() - start) * 1e3)
        times.sort()
        result[f"{kind}-{batch}"] = {"p50": statistics.median(times), "p99": times[min(len(times) - 1,
                                                                                      int(0.99 * len(times)))]}
    emit(result)


def _cell(samples, key, stat):
    values = [s[key][stat] for s in samples if key in s]
    return statistics.median(values) if values else None


def report(samples, tasks, impls):
    """Print one table per task: p50 / p99 per cell, first call, size, and p50 ratios against the peers."""
    for task in tasks:
        rows = []
        best_peer = {}
        for kind, batch in CELLS:
            key = f"{kind}-{batch}"
            peers = [_cell(samples[(impl, task)], key, "p50") for impl in impls if impl in PEERS]
            best_peer[key] = min((p for p in peers if p), default=None)
        float_sm = {f"{k}-{b}": _cell(samples.get(("savedmodel-float32", task), []), f"{k}-{b}", "p50")
                    for k, b in CELLS}
        for impl in _impls_of(task, tasks, impls):
            got = samples[(impl, task)]
            if report_error(f"{impl} ({task})", got):
                continue
            cells = []
            for kind, batch in CELLS:
                key = f"{kind}-{batch}"
                p50, p99 = _cell(got, key, "p50"), _cell(got, key, "p99")
                ratio = f" ({best_peer[key] / p50:.2f}x peer" if best_peer[key] and impl not in PEERS else ""
                if ratio and float_sm[key]:
                    ratio += f", {float_sm[key] / p50:.2f}x SM f32)"
                elif ratio:
                    ratio += ")"
                cells.append(f"{p50:.2f} / {p99:.2f}{ratio}")
            first = statistics.median(s["first_call_ms"] for s in got if "first_call_ms" in s)
            size = statistics.median(s["size_mb"] for s in got if "size_mb" in s)
            rows.append([impl, *cells, f"{first:.0f}", f"{size:.1f}"])
        print(f"\n{task}: ms per call, p50 / p99 (ratios: the best peer's p50 / ours, the float32 SavedModel's "
              f"p50 / ours)")
        print(table(rows, ["path", *(f"{k} x{b}" for k, b in CELLS), "first call ms", "MB"]))


def _impls_of(task, tasks, impls):
    """The paths measured for `task`: the tokenizer alone only once, with the first task."""
    return [impl for impl in impls if impl != TOKENIZER_ONLY or task == tasks[0]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs="+", help="(internal) IMPL TASK CACHE REQUESTS BATCH_REQUESTS THREADS, "
                        "or prepare CACHE TASKS IMPLS QUICK")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--requests", type=int, default=200, help="batch-1 calls per cell")
    parser.add_argument("--batch-requests", type=int, default=10, help="batch-32 calls per cell")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cache", default=None, help="where the exported files are kept (reused when present)")
    parser.add_argument("--quick", action="store_true", help="smoke run: a tiny model, few calls, two paths")
    args = parser.parse_args(argv)
    if args.worker and args.worker[0] == "prepare":
        cache, tasks, impls, quick = args.worker[1:]
        prepare(cache, tasks.split(","), impls.split(","), quick == "1")
        return emit({"prepared": True})
    if args.worker:
        impl, task, cache, requests, batch_requests, threads = args.worker
        return worker(impl, task, cache, int(requests), int(batch_requests), int(threads))
    tasks, impls = args.tasks.split(","), args.impls.split(",")
    if args.quick:
        tasks, impls = ["classification"], ["litert-int8", "torch+rust-tokenizer"]
        args.requests, args.batch_requests = 5, 1
    unknown = sorted(set(tasks) - set(TASKS)) + sorted(set(impls) - set(IMPLS))
    if unknown:
        parser.error(f"unknown {unknown}; tasks: {TASKS}; paths: {IMPLS}")
    cache = args.cache or tempfile.mkdtemp(prefix="litert-bench-")
    needed = sorted(set(impls) | {"torch+rust-tokenizer"})  # the peers read its Hugging Face folder
    done = run_worker(MODULE, ["prepare", cache, ",".join(tasks), ",".join(needed), "1" if args.quick else "0"])
    if "error" in done:
        raise SystemExit(f"preparing the files failed: {done['error']}")
    print(f"{machine()}; threads {args.threads}; {args.rounds} round(s); files in {cache}")
    jobs = {(impl, task): (MODULE, [impl, task, cache, args.requests, args.batch_requests, args.threads], None)
            for task in tasks for impl in _impls_of(task, tasks, impls)}
    report(interleaved(jobs, args.rounds), tasks, impls)
    if not args.cache:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
