"""Serving latency and load: short real sentences (GLUE SST-2 dev rows of 10-14 tokens with [CLS] and [SEP],
about 12) classified by the MiniLM checkpoint, raw text to label, in-process.

Ours: the exported raw-text SavedModel (`export_saved_model`, default options) loaded with `tf.saved_model.load`
and called through its `serving_default` signature. Peers: those of `tools.bench.serving` (transformers' Rust
tokenizer + PyTorch, the Rust tokenizer + transformers' TFBertForSequenceClassification under XLA, KerasHub's
preprocessor + BertTextClassifier under XLA), built by its `load`.

Measured per implementation, each in its own process (once every shape it meets is compiled):
- batch-1 latency: one sentence per request, `--requests` requests in a row, p50 and p99 milliseconds;
- load: 1, 4 and 16 client threads (`--threads`), each sending batch-1 requests back to back for `--seconds`
  seconds, completed requests per second (all threads together);
- batch 32: requests of 32 of the short sentences, sentences per second;
- cold start, in a fresh process of its own: imports, loading (ours: the SavedModel already on disk; peers: the
  checkpoint) and the first answer, seconds.
Rounds interleave the implementations (rotated order); figures are medians over rounds; ratios compare with the
best peer of the same run (for latency and cold start: the peer's time / ours, so higher is better for ours).

`--savedmodel LABEL=PATH` adds another SavedModel (any export of the same checkpoint, for instance one written by
an earlier version of the code) beside ours; `--threading INTRA,INTER` sets TensorFlow's intra-op / inter-op
thread pools in our processes (0: TensorFlow's default, one thread per core).

Usage:
    python -m tools.bench.latency                        # 3 rounds, 1000 requests, threads 1,4,16
    python -m tools.bench.latency --variant ours-savedmodel-int8 --variant ours-savedmodel-bf16   # beside ours
    python -m tools.bench.latency --quick                # smoke run: ours and PyTorch, a few requests
"""

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time

_STARTED = time.perf_counter()  # cold start counts from here: before any heavy import

from tools.bench.common import (  # noqa: E402
    emit, interleaved, machine, median_of, minilm_folder, report_error, run_worker, table)
from tools.bench.serving import OURS as VARIANTS, load, savedmodel_calls, sentences  # noqa: E402

MODULE = "tools.bench.latency"
OURS = "ours-savedmodel"
PEERS = ("torch+rust-tokenizer", "hf-tf-xla+rust-tokenizer", "kerashub-xla")
MAX_LENGTH = 128
SHORT_TOKENS = (10, 14)  # tokens per short sentence, [CLS] and [SEP] included


def short_sentences(low=SHORT_TOKENS[0], high=SHORT_TOKENS[1]):
    """SST-2 dev sentences of `low`..`high` MiniLM tokens ([CLS] and [SEP] included), in file order (115 rows)."""
    from keras_bert_suite.tokenizers import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(minilm_folder())
    return [t for t in sentences(10_000) if low <= len(tokenizer(t)["input_ids"]) <= high]


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ours(path, threading_):
    """A `make(chunks)` (as `tools.bench.serving.load` returns) for a SavedModel folder."""
    import tensorflow as tf

    intra, inter = threading_
    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    return savedmodel_calls(path)


def _load(spec):
    if spec.get("path"):
        return _ours(spec["path"], spec.get("threading", (0, 0)))
    return load(spec["impl"], max_length=MAX_LENGTH, warmup=False)


def _clients(calls, threads, seconds):
    """Completed calls per second with `threads` threads calling back to back for `seconds` (thread i starts at
    calls[i])."""
    done = [0] * threads
    stop = threading.Event()
    start = threading.Barrier(threads + 1)

    def client(i):
        start.wait()
        k = i
        while not stop.is_set():
            calls[k % len(calls)]()
            done[i] += 1
            k += threads
    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    return sum(done) / (time.perf_counter() - began)


def measure(spec):
    """Worker: batch-1 latency, load with client threads, batch-32 throughput for one implementation."""
    with open(spec["texts"], encoding="utf-8") as f:
        texts = json.load(f)
    make = _load(spec)
    singles = [make([[t]]) for t in texts]
    batches = [make([(texts * 32)[i:i + 32]]) for i in range(0, len(texts), 32)]
    for fn in singles + batches:  # compiles every shape the measurements meet
        fn()
    times = []
    for k in range(spec["requests"]):
        fn = singles[k % len(singles)]
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    result = {"p50_ms": 1e3 * _percentile(times, 0.5), "p99_ms": 1e3 * _percentile(times, 0.99),
              "mean_ms": 1e3 * statistics.fmean(times)}
    for n in spec["threads"]:
        result[f"rps_{n}"] = _clients(singles, n, spec["seconds"])
    began, rows = time.perf_counter(), 0
    while time.perf_counter() - began < spec["seconds"]:
        for fn in batches:
            fn()
            rows += 32
    result["batch32_per_s"] = rows / (time.perf_counter() - began)
    emit({"impl": spec["label"], **result})


def cold(spec, began):
    """Worker: imports + load + first answer, in this fresh process (`began`: when the worker started)."""
    with open(spec["texts"], encoding="utf-8") as f:
        text = json.load(f)[0]
    _load(spec)([[text]])()
    emit({"impl": spec["label"], "cold_s": time.perf_counter() - began})


def export(path, max_length, options=None):
    """Worker: export the MiniLM classifier as ours is served (default options plus `options`, no warmup
    records)."""
    import keras_bert_suite as kbs
    from keras_bert_suite.export import export_saved_model
    from keras_bert_suite.tokenizers import BertTokenizer

    folder = minilm_folder()
    model = kbs.BertForSequenceClassification.from_pretrained(folder, num_labels=2)
    emit({"path": export_saved_model(model, BertTokenizer.from_pretrained(folder), path, max_length=max_length,
                                     warmup=False, version=1, **(options or {}))})


def _env(impl):
    return {"TF_USE_LEGACY_KERAS": "1"} if impl.startswith("hf-tf") else {}


def _job(mode, spec):
    return MODULE, [mode, json.dumps(spec)], _env(spec["impl"])


def _ratio(value, best, higher_is_better):
    if not value or not best:
        return "-"
    return f"{(value / best if higher_is_better else best / value):.2f}x"


def report(specs, samples, cold_samples, threads):
    """Print the table: one row per implementation, ratios against the best peer."""
    fields = ["p50_ms", "p99_ms", *(f"rps_{n}" for n in threads), "batch32_per_s"]
    lower = {"p50_ms", "p99_ms", "cold_s"}
    figures = {}
    for spec in specs:
        label = spec["label"]
        report_error(label, samples[label])
        figures[label] = {f: median_of(samples[label], f) for f in fields}
        if cold_samples:
            report_error(f"{label} (cold start)", cold_samples[label])
            figures[label]["cold_s"] = median_of(cold_samples[label], "cold_s")
    fields += ["cold_s"] if cold_samples else []
    peers = [s["label"] for s in specs if s["label"] in PEERS]
    best = {}
    for f in fields:
        values = [figures[p][f] for p in peers if figures[p][f]]
        best[f] = (min if f in lower else max)(values) if values else None
    headers = ["implementation", "p50 ms", "p99 ms", *(f"req/s {n} thr" for n in threads), "batch 32 rows/s"]
    headers += ["cold start s"] if cold_samples else []
    headers += ["p50 vs best peer", "batch 32 vs best peer"]
    rows = []
    for spec in specs:
        got = figures[spec["label"]]
        cells = [f"{got[f]:,.2f}" if f in lower and got[f] else f"{got[f]:,.1f}" if got[f] else "error"
                 for f in fields]
        rows.append([spec["label"], *cells, _ratio(got["p50_ms"], best["p50_ms"], False),
                     _ratio(got["batch32_per_s"], best["batch32_per_s"], True)])
    print(table(rows, headers))
    if peers:
        print("vs best peer, every column (x > 1: ours better): " + "; ".join(
            f"{spec['label']}: " + ", ".join(
                f"{f} {_ratio(figures[spec['label']][f], best[f], f not in lower)}" for f in fields)
            for spec in specs if spec["label"] not in PEERS))
    return figures


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "SPEC"))
    parser.add_argument("--impls", default=",".join((OURS, *PEERS)), help="ours-savedmodel and peers")
    parser.add_argument("--savedmodel", action="append", default=[], metavar="LABEL=PATH",
                        help="another SavedModel to measure beside ours")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME",
                        help="also export and measure ours with the options of tools.bench.serving's OURS[NAME] "
                        "(ours-savedmodel-int8, ours-savedmodel-bf16, ...)")
    parser.add_argument("--threading", default="0,0", help="INTRA,INTER thread pools for our SavedModels")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--threads", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=5.0, help="per client-thread count and for batch 32")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold-rounds", type=int, default=3, help="fresh processes per implementation (0: none)")
    parser.add_argument("--quick", action="store_true", help="smoke run: ours and PyTorch, tiny counts")
    return parser


def build_specs(args, work, texts_path, threads, threading_):
    """One spec per implementation to measure: ours (exported here by a worker process into `work`), the peers,
    each `--variant` export and each `--savedmodel` folder."""
    def ours(label, options):
        module, worker_args, env = _job("export", {"impl": OURS, "path": os.path.join(work, label),
                                                   "max_length": MAX_LENGTH, "options": options})
        exported = run_worker(module, worker_args, env)
        if "error" in exported:
            raise RuntimeError(f"export of {label} failed: {exported['error']}")
        return {"impl": label, "label": label, "texts": texts_path, "path": exported["path"],
                "threading": threading_}

    specs = []
    for impl in args.impls.split(","):
        spec = {"impl": impl, "label": impl, "texts": texts_path}
        if impl == OURS:
            spec = ours(OURS, {})
        elif impl not in PEERS:
            raise ValueError(f"unknown implementation {impl!r}; known: {OURS}, {', '.join(PEERS)}")
        specs.append(spec)
    specs += [ours(name, VARIANTS[name]) for name in args.variant]
    for extra in args.savedmodel:
        label, _, path = extra.partition("=")
        specs.append({"impl": label, "label": label, "texts": texts_path, "path": path, "threading": threading_})
    for spec in specs:
        spec.update(requests=args.requests, threads=threads, seconds=args.seconds)
    return specs


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.worker:
        mode, spec = args.worker[0], json.loads(args.worker[1])
        if mode == "export":
            return export(spec["path"], spec["max_length"], spec.get("options"))
        return cold(spec, _STARTED) if mode == "cold" else measure(spec)
    if args.quick:
        args.impls, args.requests, args.threads, args.seconds = f"{OURS},torch+rust-tokenizer", 20, "1,2", 0.5
        args.rounds, args.cold_rounds = 1, 1
    unknown = sorted(set(args.variant) - set(VARIANTS))
    if unknown:
        raise ValueError(f"unknown --variant {unknown}; known: {', '.join(VARIANTS)}")
    threads = [int(n) for n in args.threads.split(",")]
    threading_ = [int(n) for n in args.threading.split(",")]
    work = tempfile.mkdtemp(prefix="latency.")
    try:
        texts = short_sentences()
        texts_path = os.path.join(work, "texts.json")
        with open(texts_path, "w", encoding="utf-8") as f:
            json.dump(texts, f)
        specs = build_specs(args, work, texts_path, threads, threading_)
        tokens = f"{SHORT_TOKENS[0]}-{SHORT_TOKENS[1]}"
        print(f"serving latency and load, {machine()}; {len(texts)} SST-2 dev sentences of {tokens} tokens, "
              f"max_length {MAX_LENGTH}; {args.requests} batch-1 requests, {args.seconds:g} s per client-thread "
              f"count; TF threads (intra, inter) {tuple(threading_)}; load average {os.getloadavg()[0]:.1f}")
        samples = interleaved({s["label"]: _job("measure", s) for s in specs}, args.rounds)
        cold_samples = interleaved({s["label"]: _job("cold", s) for s in specs}, args.cold_rounds) \
            if args.cold_rounds else {}
        print(f"load average after the run: {os.getloadavg()[0]:.1f}")
        report(specs, samples, cold_samples, threads)
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
