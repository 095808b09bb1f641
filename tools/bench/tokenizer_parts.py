"""How many parts a batch should be tokenized in: 1, 2, 4 and 8 parts side by side, over batch sizes.

`GraphTokenizer.tokenize` cuts a batch into parts of about equal bytes, at least `graph.PART_BYTES` each and at
most `graph.MAX_PARTS`, and tokenizes them as the parallel iterations of one `tf.map_fn`. Here the number of
parts is forced (the two settings patched while each function is traced), the same rows go through each, and
the speed-up over one part is printed with the batch's size in bytes, beside the default settings' choice: the
evidence for those two numbers. Ids only, no packing (the step the parts change); several back-to-back passes
per round (a stream's steady state).

Usage:
    python -m tools.bench.tokenizer_parts                       # batches of 16..1024 rows, 3 corpora
    python -m tools.bench.tokenizer_parts --batches 32,256 --rows 512 --rounds 3   # a quick run
"""

import argparse
import os

from tools.bench.common import CLOCKS, add_clock_argument, machine, table, time_rounds
from tools.bench.tokenizer_profile import load_rows

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PARTS = (1, 2, 4, 8)


def forced_parts(g, k):
    """A `tf.function` from strings to padded ids tokenizing its batch in `k` parts (None: the default
    settings' choice), traced here."""
    import tensorflow as tf

    from keras_bert_suite.tokenizers import graph

    fn = tf.function(lambda texts: g.tokenize(texts, with_offsets=False)[0].to_tensor(),
                     input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    saved = graph.PART_BYTES, graph.MAX_PARTS
    if k is not None:
        graph.PART_BYTES, graph.MAX_PARTS = 1, k  # every batch of at least k bytes: k parts
    try:
        fn.get_concrete_function()
    finally:
        graph.PART_BYTES, graph.MAX_PARTS = saved
    return fn


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", default="16,32,64,128,256,1024", help="comma-separated batch sizes (rows)")
    p.add_argument("--rows", type=int, default=2048, help="rows per corpus (SST-2 dev has 872)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--passes", type=int, default=3, help="back-to-back passes per round")
    add_clock_argument(p, "wall")
    args = p.parse_args(argv)

    import tensorflow as tf

    from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer
    from tools.bench.serving import minilm_folder

    g = TFBertTokenizer.from_tokenizer(BertTokenizer.from_pretrained(minilm_folder())).graph_tokenizer
    fns = {k: forced_parts(g, k) for k in (*PARTS, None)}
    print(f"machine: {machine()}; MiniLM uncased vocabulary, ids only; median of {args.rounds} rounds of "
          f"{args.passes} passes ({args.clock} clock); speed-up over 1 part")
    lines = []
    corpora = load_rows(args.rows, args.rows, args.rows)
    for batch in (int(b) for b in args.batches.split(",")):
        for corpus, rows in corpora.items():
            texts = [tf.constant([s.encode("utf-8") for s in rows[i : i + batch]])
                     for i in range(0, len(rows) - batch + 1, batch)]
            if not texts:
                continue
            kb = sum(len(s.encode("utf-8")) for s in rows[: len(texts) * batch]) / len(texts) / 1e3
            seconds = time_rounds({k: (lambda f=f: [f(t).numpy() for t in texts]) for k, f in fns.items()},
                                  rounds=args.rounds, repeats=args.passes, clock=CLOCKS[args.clock])
            lines.append([str(batch), corpus, f"{kb:.0f}"] + [f"{seconds[1] / seconds[k]:.2f}x" for k in fns])
    print(table(lines, ["rows", "corpus", "kB per batch"] + [f"{k} part{'s' * (k > 1)}" for k in PARTS]
                + ["default"]))


if __name__ == "__main__":
    main()
