"""Where the serving signature's time goes on a batch of short rows: tokenizer, the XLA encoder per chunk shape,
the sort / gather / chunk loop / un-sort machinery, and the whole `serving_default` signature under chunk rules.

Everything runs in one process on the real MiniLM checkpoint (sequence classification, `max_length` = the row
length), without exporting: the signature is the function `export_saved_model` would save. Rows are WikiText-2
text of exactly `--length` tokens (tools/bench/sweep.py's `exact_length_texts`). Each round times every part
once, in a rotated order (interleaved A/B on a loaded machine); the table gives medians of `--clock` seconds.

Parts (B = --batch rows, L = --length tokens):
    tokenizer                    the in-graph tokenizer on B strings (graph function)
    encoder [r, L] x k           the XLA-compiled model function called k times on r rows (r = 8, 16, ..., B)
    loop machinery               `run_by_length` with a model that does nothing: sort, gathers, chunk loop, un-sort
    signature <rule>             the whole serving signature (strings in, label out) under each chunk rule

Usage:
    python -m tools.bench.serving_profile --batch 32 --length 32 --rounds 5 --repeats 3 --clock cpu
"""

import argparse

from tools.bench.common import CLOCKS, add_clock_argument, table, time_rounds


def build_parts(batch, length, rules, peers=()):
    """{part name: no-argument function}, every function compiled (called once) before it is returned.

    rules: {name: ExportOptions keyword arguments} for the whole-signature parts. peers: names of
    `tools.bench.serving.IMPLS` peers timed on the same rows (strings in, labels out) in this process.
    """
    import tensorflow as tf

    import keras_bert_suite as kbs
    from keras_bert_suite.export.length_sorted import run_by_length
    from keras_bert_suite.export.signatures import ExportOptions, build_signatures
    from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer
    from tools.bench import serving
    from tools.bench.serving import minilm_folder
    from tools.bench.sweep import exact_length_texts

    folder = minilm_folder()
    tokenizer = BertTokenizer.from_pretrained(folder)
    model = kbs.BertForSequenceClassification.from_pretrained(folder, num_labels=2)
    rows_text = exact_length_texts(tokenizer, length, batch)
    texts = tf.constant(rows_text)
    tokenizer = TFBertTokenizer.coerce(tokenizer)
    parts = {}
    signatures = {}
    for name, options in rules.items():
        functions, _ = build_signatures(model, tokenizer, "sequence_classification",
                                        ExportOptions(max_length=length, **options))
        signatures[name] = dict(functions)["serving_default"]
        parts[f"signature {name}"] = lambda s=signatures[name]: s(texts)["label"].numpy()

    first = ExportOptions(max_length=length)
    from keras_bert_suite.export.signatures import _Builder

    builder = _Builder(model, tokenizer, first)
    tokenize = tf.function(lambda t: builder.tokenizer(t)["input_ids"])
    parts["tokenizer"] = lambda: tokenize(texts).numpy()
    enc = builder.tokenizer(texts)
    ids, mask, types = (enc[k] for k in ("input_ids", "attention_mask", "token_type_ids"))
    rows = 8
    while rows <= batch:
        calls = batch // rows
        pieces = [(ids[i * rows:(i + 1) * rows], mask[i * rows:(i + 1) * rows], types[i * rows:(i + 1) * rows])
                  for i in range(calls)]

        def encoder(pieces=pieces):
            for p in pieces:
                builder.run(*p)["logits"].numpy()
        parts[f"encoder [{rows}, {ids.shape[1]}] x {calls}"] = encoder
        rows *= 2

    def nothing(i, m, t):
        return {"logits": tf.cast(i[:, :2], tf.float32)}

    machinery = tf.function(lambda i, m, t: run_by_length(nothing, i, m, t, chunk_size=8, multiple=8)["logits"])
    parts["loop machinery (chunks of 8, no model)"] = lambda: machinery(ids, mask, types).numpy()
    for peer in peers:
        parts[f"peer {peer}"] = serving.load(peer, max_length=length)([rows_text])
    for fn in parts.values():
        fn()
        fn()
    return parts


def profile(batch, length, rounds, repeats, clock, rules, peers=()):
    """{part: median seconds per call} over interleaved rounds."""
    parts = build_parts(batch, length, rules, peers)  # each already called twice (compiled)
    return time_rounds(parts, rounds, repeats, CLOCKS[clock], warmup=0)


#: chunk rules compared by default: ExportOptions keyword arguments
RULES = {
    "chunks of 8 (chunk_size=8, chunk_tokens=0)": {"chunk_size": 8, "chunk_tokens": 0},
    "token budget (defaults)": {},
    "whole batch (chunk_size=0)": {"chunk_size": 0},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    add_clock_argument(parser, "cpu")
    args = parser.parse_args(argv)
    result = profile(args.batch, args.length, args.rounds, args.repeats, args.clock, RULES)
    print(f"batch {args.batch} x {args.length} tokens, {args.clock} ms per call, median of {args.rounds} rounds")
    print(table([(name, f"{1000 * s:.1f}") for name, s in result.items()], ["part", f"{args.clock} ms"]))


if __name__ == "__main__":
    main()
