"""Tokenizer throughput: ours (TFBertTokenizer in a tf.function, BertTokenizerFast, BertTokenizer) against
transformers' Rust-backed BertTokenizerFast and raw tensorflow_text.FastBertTokenizer, on the same lines.

Prints lines/second and MB/s (UTF-8 input bytes), medians over repeats, and ratios to the Rust tokenizer.
Every tokenizer encodes batches of `--batch` lines into padded model inputs (the raw FastBertTokenizer only
tokenizes; it is the speed limit of the in-graph path, not the reference behaviour).

Each round times `--passes` passes over the lines back to back for every tokenizer in turn (tools.bench.common
.time_rounds): the steady state of tokenizing a stream. A single pass right after another tokenizer also times
waking the thread pools up (measured: the in-graph layer takes 1.3x longer right after the Rust tokenizer and
1.5x after 0.2 s idle than back to back); `--passes 1` gives that figure.

Usage:
    python -m tools.bench.tokenizers --lines 10000 --udhr-lines 2000 --cldr-lines 2000 --repeats 5
"""

import argparse
import os

from tools.bench.common import SHARED, bar_chart, minilm_folder, time_rounds

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def load_lines(n_sst2, n_udhr, n_cldr=0):
    """{'sst2': SST-2 train sentences, 'udhr': UDHR paragraphs (72 languages), 'cldr': rows of localized CLDR
    names (tools/bench/cldr_text.py, hundreds of locales; left out when 0)}."""
    with open(os.path.join(SHARED, "sst2", "train.tsv"), encoding="utf-8") as f:
        next(f)
        sst2 = [line.split("\t")[0] for _, line in zip(range(n_sst2), f)]
    with open(os.path.join(SHARED, "multilingual", "udhr_paragraphs.tsv"), encoding="utf-8") as f:
        next(f)
        udhr = [line.rstrip("\n").split("\t")[2] for _, line in zip(range(n_udhr), f) if line.count("\t") >= 2]
    lines = {"sst2": sst2, "udhr": udhr}
    if n_cldr:
        from tools.bench.cldr_text import cldr_rows

        lines["cldr"] = cldr_rows(n_cldr)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10000, help="SST-2 lines")
    parser.add_argument("--udhr-lines", type=int, default=2000, help="UDHR paragraphs")
    parser.add_argument("--cldr-lines", type=int, default=2000, help="rows of CLDR names (0: none; needs babel)")
    parser.add_argument("--python-lines", type=int, default=1000, help="lines for the slow pure-Python tokenizer")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (medians)")
    parser.add_argument("--passes", type=int, default=3, help="back-to-back passes per tokenizer and round")
    parser.add_argument("--model", default=None, help="folder with vocab.txt (default: the MiniLM uncased one)")
    parser.add_argument("--chart", default="docs/bench_tokenizers.png", help="PNG chart path ('' for none)")
    args = parser.parse_args(argv)

    import tensorflow as tf
    import tensorflow_text as tf_text
    import transformers

    from keras_bert_suite.tokenizers import BertTokenizer, BertTokenizerFast, TFBertTokenizer

    folder = args.model or minilm_folder()
    rust = transformers.BertTokenizerFast.from_pretrained(folder)
    fast = BertTokenizerFast.from_pretrained(folder)
    python = BertTokenizer.from_pretrained(folder)
    layer = TFBertTokenizer.from_tokenizer(python)
    layer_fn = tf.function(layer, input_signature=[tf.TensorSpec([None], tf.string)])
    raw = tf_text.FastBertTokenizer(python.convert_ids_to_tokens(list(range(python.vocab_size))),
                                    token_out_type=tf.int64, lower_case_nfd_strip_accents=True)
    raw_fn = tf.function(lambda t: raw.tokenize(t).to_tensor(), input_signature=[tf.TensorSpec([None], tf.string)])

    print(f"model: {folder}\nbatch {args.batch}, median of {args.repeats} interleaved rounds of {args.passes} "
          "passes, threads: TF default, Rust default")
    for name, lines in load_lines(args.lines, args.udhr_lines, args.cldr_lines).items():
        nbytes = sum(len(s.encode("utf-8")) for s in lines)
        batches = [lines[i : i + args.batch] for i in range(0, len(lines), args.batch)]
        tensors = [tf.constant([s.encode("utf-8") for s in b]) for b in batches]
        py_lines = lines[: args.python_lines]
        py_batches = [py_lines[i : i + args.batch] for i in range(0, len(py_lines), args.batch)]
        runs = {
            "rust BertTokenizerFast (transformers)": (lambda: [rust(b, padding=True) for b in batches], len(lines), nbytes),
            "tensorflow_text.FastBertTokenizer (raw)": (lambda: [raw_fn(t) for t in tensors], len(lines), nbytes),
            "TFBertTokenizer in tf.function": (lambda: [layer_fn(t) for t in tensors], len(lines), nbytes),
            "BertTokenizerFast (ours)": (lambda: [fast(b, padding=True) for b in batches], len(lines), nbytes),
            "BertTokenizer (ours, pure Python)": (
                lambda: [python(b, padding=True) for b in py_batches],
                len(py_lines),
                sum(len(s.encode("utf-8")) for s in py_lines),
            ),
        }
        print(f"\n[{name}] {len(lines)} lines, {nbytes / 1e6:.2f} MB; load average before: {os.getloadavg()}")
        medians = time_rounds({label: fn for label, (fn, _, _) in runs.items()}, rounds=args.repeats,
                              repeats=args.passes)
        results = {}
        for label, (fn, n, b) in runs.items():
            seconds = medians[label]
            results[label] = n / seconds
            print(f"  {label:42s} {n / seconds:12,.0f} lines/s {b / seconds / 1e6:8.2f} MB/s")
        print(f"  load average after: {os.getloadavg()}")
        base = results["rust BertTokenizerFast (transformers)"]
        for label, rate in results.items():
            print(f"  ratio to Rust: {label:42s} {rate / base:6.2f}x")
        if args.chart:
            root, ext = os.path.splitext(args.chart)
            bar_chart(f"{root}_{name}{ext}", list(results), list(results.values()), f"Tokenizers ({name})",
                      "lines / second")


if __name__ == "__main__":
    main()
