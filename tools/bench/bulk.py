"""Bulk inference throughput: rows per second through `kbs bulk-predict`'s pipeline on Beam's DirectRunner at 1 and
2 workers, against a plain Python loop over the same SavedModel at the same batch size.

The SavedModel is the MiniLM sentence-transformers checkpoint exported as an embeddings signature (`--shape tiny`:
a tiny random encoder, for smoke runs). The rows are the first `--rows` SST-2 train sentences (short rows;
repeated dev sentences when the train file is absent). Every measurement runs in its own fresh process, the
configurations interleaved over `--rounds` rounds (medians): the loop loads the model and calls the signature on
consecutive batches of `--batch` rows; each Beam run is `bulk_predict` from start to end (worker start-up, model
loads, reading, writing JSON lines shards included, as a user sees it), with `--batch` as both its smallest and
largest batch. Both report rows per second over their whole run, model load included, and the loop also over
its calls alone.

Usage:
    python -m tools.bench.bulk [--rows 20000] [--batch 64] [--rounds 1] [--shape minilm|tiny]
        [--configs loop,in_memory:1,multi_processing:2,multi_threading:2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from tools.bench.common import (
    SHARED, add_run_arguments, emit, interleaved, machine, median_of, minilm_folder, report_error, table)

MODULE = "tools.bench.bulk"


def sentences(n):
    """`n` short real rows: SST-2 train sentences (dev sentences repeated when train.tsv is absent)."""
    for name in ("train.tsv", "dev.tsv"):
        path = os.path.join(SHARED, "sst2", name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                rows = [line.rstrip("\n").split("\t")[0] for line in f][1:]
            return (rows * (n // len(rows) + 1))[:n]
    words = "a gorgeous , witty , seductive movie that is never dull".split()
    return [" ".join(words[i % 7:i % 7 + 3 + i % 5]) for i in range(n)]


def export(shape, folder):
    """An embeddings SavedModel (the default export: XLA, max length 128) of MiniLM or a tiny encoder."""
    import keras

    import keras_bert_suite as kbs
    from keras_bert_suite.export import export_saved_model
    from keras_bert_suite.tokenizers import BertTokenizer

    if shape == "minilm":
        return export_saved_model(kbs.SentenceTransformer(minilm_folder()), export_dir=folder, warmup=False)
    keras.utils.set_random_seed(0)
    model = kbs.BertModel(kbs.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                                         num_attention_heads=4, intermediate_size=37))
    return export_saved_model(model, BertTokenizer.from_pretrained(minilm_folder()), folder, warmup=False)


def run_loop(model, rows_file, batch):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    with open(rows_file, encoding="utf-8") as f:
        rows = f.read().splitlines()
    start = time.perf_counter()
    fn = tf.saved_model.load(model).signatures["serving_default"]
    loaded = time.perf_counter()
    for i in range(0, len(rows), batch):
        out = fn(text=tf.constant(rows[i:i + batch]))
        [v.numpy() for v in out.values()]
    end = time.perf_counter()
    return {"rows_per_s": len(rows) / (end - start), "calls_rows_per_s": len(rows) / (end - loaded),
            "seconds": end - start}


def run_beam(model, rows_file, batch, mode, workers, out):
    from keras_bert_suite.bulk import bulk_predict

    report = bulk_predict(model, rows_file, out, batch_size=batch, min_batch_size=batch,
                          pipeline_args=[f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"])
    return {"rows_per_s": report.rows_per_second, "seconds": report.seconds,
            "answered": report.answered, "unanswered": report.failed}


def worker(argv):
    config, model, rows_file, batch = argv[0], argv[1], argv[2], int(argv[3])
    if config == "loop":
        emit(run_loop(model, rows_file, batch))
        return
    mode, workers = config.split(":")
    with tempfile.TemporaryDirectory() as out:
        emit(run_beam(model, rows_file, batch, mode, int(workers), os.path.join(out, "rows")))


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    add_run_arguments(parser, batch=64, rounds=1)
    parser.add_argument("--shape", choices=["minilm", "tiny"], default="minilm")
    parser.add_argument("--configs", default="loop,in_memory:1,multi_processing:2,multi_threading:2",
                        help="comma-separated: loop, or RUNNING_MODE:WORKERS of the DirectRunner")
    parser.add_argument("--model", default=None, help="an exported embeddings SavedModel to reuse (default: "
                        "export one to a temporary folder)")
    args = parser.parse_args()
    configs = args.configs.split(",")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or export(args.shape, os.path.join(tmp, "model"))
        rows_file = os.path.join(tmp, "rows.txt")
        with open(rows_file, "w", encoding="utf-8") as f:
            f.write("\n".join(sentences(args.rows)) + "\n")
        print(f"{machine()}; commit {commit}; load average before: {load_average()}")
        jobs = {c: (MODULE, [c, model, rows_file, args.batch], None) for c in configs}
        samples = interleaved(jobs, args.rounds)
        print(f"load average after: {load_average()}")
    loop = median_of(samples.get("loop", []), "rows_per_s")
    rows = []
    for config in configs:
        if report_error(config, samples[config]):
            continue
        rate = median_of(samples[config], "rows_per_s")
        workers = 1 if config == "loop" else int(config.split(":")[1])
        ratio = f"{rate / loop:.2f}x" if loop and config != "loop" else ""
        per_worker = f"{rate / loop / workers:.2f}x" if loop and config != "loop" else ""
        calls = median_of(samples[config], "calls_rows_per_s")
        rows.append([config, workers, f"{rate:.1f}", f"{calls:.1f}" if calls else "",
                     f"{median_of(samples[config], 'seconds'):.1f}", ratio, per_worker])
    print(f"{args.rows} rows, batch {args.batch}, {args.shape} embeddings SavedModel, {args.rounds} round(s)")
    print(table(rows, ["config", "workers", "rows/s (whole run)", "rows/s (calls only)", "seconds",
                       "vs loop", "vs loop per worker"]))
    print(json.dumps({c: samples[c] for c in configs}))


if __name__ == "__main__":
    main()
