"""End to end, raw text to answer: sentence classification of real sentences of natural lengths (GLUE SST-2 dev)
with the MiniLM checkpoint's shape. Ours: the exported raw-text SavedModel (`serving_default`; in-graph tokenizer,
rows sorted by length and run 8 at a time, each chunk padded to its longest row rounded to 8, XLA encoder;
`-whole-batch`: the batch padded to its longest row in one call). Peers: transformers' Rust tokenizer +
PyTorch; transformers 4.x Rust tokenizer + TFBertForSequenceClassification (XLA); KerasHub's preprocessor +
BertTextClassifier (XLA).

Every implementation classifies the same sentences in batches of `--batch`; sentences/second, medians over
interleaved rounds, and each process's peak memory.

Usage:
    python -m tools.bench.serving [--sentences 872] [--batch 32] [--rounds 3]
"""

import argparse
import os

from tools.bench.common import (
    SHAPES, SHARED, add_run_arguments, bar_chart, emit, interleaved, machine, median_of, minilm_folder, report_error,
    table, time_calls)

#: our SavedModel variants: the `export_saved_model` options each one changes from the defaults.
OURS = {
    "ours-savedmodel": {},
    "ours-savedmodel-whole-batch": {"chunk_size": 0},
    "ours-savedmodel-no-xla": {"jit_compile": False},
    "ours-savedmodel-bf16": {"compute_dtype": "bfloat16", "jit_compile": False},
    "ours-savedmodel-int8": {"quantize": "int8"},
}
IMPLS = (*OURS, "torch+rust-tokenizer", "hf-tf-xla+rust-tokenizer", "kerashub-xla")
MODULE = "tools.bench.serving"
MAX_LENGTH = 128


def savedmodel_calls(path):
    """A `make(chunks)` for the exported SavedModel at `path`: `make` returns a function that sends each chunk of
    strings to its `serving_default` signature and reads the labels."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer's ops)

    signature = tf.saved_model.load(path).signatures["serving_default"]

    def make(chunks):
        tensors = [tf.constant(c) for c in chunks]

        def fn():
            for t in tensors:
                signature(text=t)["label"].numpy()
        return fn
    return make


def sentences(n):
    with open(os.path.join(SHARED, "sst2", "dev.tsv"), encoding="utf-8") as f:
        rows = [line.split("\t")[0] for line in f.read().splitlines()[1:]]
    return rows[:n]


def _batches(texts, size):
    return [texts[i:i + size] for i in range(0, len(texts), size)]


def _ours(impl, folder, max_length, warmup):
    import tempfile

    import keras_bert_suite as kbs
    from keras_bert_suite.export import export_saved_model
    from keras_bert_suite.tokenizers import BertTokenizer

    model = kbs.BertForSequenceClassification.from_pretrained(folder, num_labels=2)
    path = export_saved_model(model, BertTokenizer.from_pretrained(folder), tempfile.mkdtemp(),
                              max_length=max_length, warmup=warmup, **OURS[impl])
    return savedmodel_calls(path)


def _torch(folder, max_length):
    import torch
    import transformers

    torch.set_num_threads(os.cpu_count())
    tok = transformers.BertTokenizerFast.from_pretrained(folder)
    model = transformers.BertForSequenceClassification.from_pretrained(folder, num_labels=2).eval()

    def make(chunks):
        def fn():
            with torch.no_grad():
                for c in chunks:
                    enc = tok(c, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
                    model(**enc).logits.argmax(-1).numpy()
        return fn
    return make


def _hf_tf_xla(folder, max_length):
    import tensorflow as tf
    import transformers

    tok = transformers.BertTokenizerFast.from_pretrained(folder)
    model = transformers.TFBertForSequenceClassification.from_pretrained(folder, num_labels=2, from_pt=True)
    call = tf.function(lambda x: tf.argmax(model(x, training=False).logits, -1), jit_compile=True)

    def make(chunks):
        def fn():
            for c in chunks:
                enc = tok(c, padding=True, truncation=True, max_length=max_length, pad_to_multiple_of=16,
                          return_tensors="tf")
                call(dict(enc)).numpy()
        return fn
    return make


def _kerashub_xla(folder, max_length):
    import keras_hub
    import tensorflow as tf

    c = SHAPES["minilm"]
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=os.path.join(folder, "vocab.txt"), lowercase=True)
    pre = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=max_length)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30522, num_layers=c["num_hidden_layers"], num_heads=c["num_attention_heads"],
        hidden_dim=c["hidden_size"], intermediate_dim=c["intermediate_size"], max_sequence_length=512,
    )
    classifier = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
    call = tf.function(lambda x: tf.argmax(classifier(x, training=False), -1), jit_compile=True)

    def make(chunks):
        tensors = [tf.constant(ch) for ch in chunks]

        def fn():
            for t in tensors:
                call(pre(t)).numpy()
        return fn
    return make


#: the peers' loaders: (MiniLM folder, max_length) -> make
PEER_LOADERS = {"torch+rust-tokenizer": _torch, "hf-tf-xla+rust-tokenizer": _hf_tf_xla, "kerashub-xla": _kerashub_xla}


def load(impl, max_length=MAX_LENGTH, warmup=True):
    """Load (and for ours, export) one implementation for raw text up to `max_length` tokens.

    Args:
        impl: one of IMPLS. max_length: longest tokenized row (longer rows are truncated by the tokenizer).
        warmup: for ours, whether the export writes TF Serving warmup records.
    Returns:
        `make(chunks)`: chunks is a list of lists of strings; it returns a no-argument function that classifies
        every chunk once (one call per chunk) and fetches the labels.
    Example: `fn = load("torch+rust-tokenizer", 64)([["a sentence", "another"]]); fn()`
    """
    if impl in OURS:
        return _ours(impl, minilm_folder(), max_length, warmup)
    if impl in PEER_LOADERS:
        return PEER_LOADERS[impl](minilm_folder(), max_length)
    raise ValueError(f"unknown serving implementation {impl!r}; known: {', '.join(IMPLS)}")


def worker(impl, n, batch, repeats):
    texts = sentences(n)
    fn = load(impl)(_batches(texts, batch))
    seconds = time_calls(fn, repeats, warmup=1)
    emit({"impl": impl, "sentences_per_s": len(texts) / seconds})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=4, metavar=("IMPL", "N", "BATCH", "REPEATS"))
    parser.add_argument("--sentences", type=int, default=872)
    add_run_arguments(parser, batch=32, rounds=3, repeats=3)
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--chart", default="docs/bench_serving.png")
    args = parser.parse_args(argv)
    if args.worker:
        impl, n, batch, repeats = args.worker
        return worker(impl, int(n), int(batch), int(repeats))
    impls = args.impls.split(",")
    texts = sentences(args.sentences)
    words = sorted(len(t.split()) for t in texts)
    print(f"end-to-end serving, {machine()}; {len(texts)} SST-2 dev sentences, median {words[len(words) // 2]} "
          f"words (max {words[-1]}), batch {args.batch}, max_length {MAX_LENGTH}")
    jobs = {impl: (MODULE, [impl, args.sentences, args.batch, args.repeats],
                   {"TF_USE_LEGACY_KERAS": "1"} if impl.startswith("hf-tf") else {}) for impl in impls}
    samples = interleaved(jobs, args.rounds)
    speeds = {impl: median_of(samples[impl], "sentences_per_s") for impl in impls}
    peers = [v for k, v in speeds.items() if not k.startswith("ours") and v]
    best = max(peers) if peers else None
    rows = []
    for impl in impls:
        s, rss = speeds[impl], median_of(samples[impl], "peak_rss_mb")
        report_error(impl, samples[impl])
        rows.append([impl, f"{s:,.1f}" if s else "error", f"{s / best:.2f}x" if s and best else "-",
                     f"{rss:,.0f}" if rss else "-"])
    print(table(rows, ["implementation", "sentences/s", "vs best peer", "peak RSS MB"]))
    if args.chart:
        ok = [(k, v) for k, v in speeds.items() if v]
        bar_chart(args.chart, [k for k, _ in ok], [v for _, v in ok], "Raw text to label (SST-2 dev)",
                  "sentences / second")


if __name__ == "__main__":
    main()
