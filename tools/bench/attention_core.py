"""Variants of the attention core (from the query/key/value projections' outputs to the context that enters the
output projection), each XLA-compiled and timed in one process, interleaved over rounds, with the same inputs.

Every variant takes q, k, v as the dense layers give them ([batch, length, hidden]) and a padding mask, runs
`layers` attention cores chained (the context of one is the query of the next, as in the encoder), and returns
[batch, length, hidden]:
- `current`: heads split by reshape + transpose to [b, h, s, d]; scores `bnqd,bnkd->bnqk`; float32 scale after
  the product; additive [b, 1, 1, s] mask; `tf.nn.softmax`; context `bnqk,bnkd->bqnd`; reshape (the layer as of
  the first version of this benchmark);
- `no-transpose`: q, k, v stay [b, s, h, d]; scores `bqnd,bknd->bnqk`, context `bnqk,bknd->bqnd`;
- `scale-query`: the query is scaled by 1/sqrt(d) before the product ([b, s, hidden] elements, not [b, h, s, s]);
- `where-mask`: the mask applied with a boolean `where` instead of an added bias;
- `no-mask`: no mask at all (what skipping it when no row is padded would save);
- `exp-sum`: softmax written out (max, exp, sum, multiply by the reciprocal);
- `no-softmax`: the two products alone (the floor any layout can reach: the core's matmuls).

Usage:
    python -m tools.bench.attention_core                      # MiniLM shape, batch 8 x 128
    python -m tools.bench.attention_core --shape base
    python -m tools.bench.attention_core --shape tiny --batch 2 --length 16 --rounds 1 --repeats 1   # smoke
"""

import argparse

from tools.bench.common import CLOCKS, SHAPES, add_clock_argument, fetched, machine, table, time_rounds

VARIANTS = ("current", "no-transpose", "scale-query", "scale-query+no-transpose", "where-mask", "no-mask",
            "exp-sum", "no-softmax")


def _core(variant, q, k, v, mask, heads):
    import tensorflow as tf

    b, s, hidden = q.shape
    d = hidden // heads
    scale = 1.0 / float(d) ** 0.5
    bias = (1.0 - tf.cast(mask, tf.float32))[:, None, None, :] * -3.4028234663852886e38
    keep = tf.cast(mask, tf.bool)[:, None, None, :]
    if variant.startswith("scale-query"):
        q = q * scale
    if variant in ("no-transpose", "scale-query+no-transpose"):
        qh, kh, vh = (tf.reshape(t, [b, s, heads, d]) for t in (q, k, v))
        scores = tf.einsum("bqnd,bknd->bnqk", qh, kh)
    else:
        qh, kh, vh = (tf.transpose(tf.reshape(t, [b, s, heads, d]), [0, 2, 1, 3]) for t in (q, k, v))
        scores = tf.einsum("bnqd,bnkd->bnqk", qh, kh)
    if not variant.startswith("scale-query"):
        scores = scores * scale
    if variant == "where-mask":
        scores = tf.where(keep, scores, -3.4028234663852886e38)
    elif variant not in ("no-mask", "no-softmax"):
        scores = scores + bias
    if variant == "exp-sum":
        e = tf.exp(scores - tf.reduce_max(scores, axis=-1, keepdims=True))
        probs = e * (1.0 / tf.reduce_sum(e, axis=-1, keepdims=True))
    elif variant == "no-softmax":
        probs = scores
    else:
        probs = tf.nn.softmax(scores, axis=-1)
    if variant in ("no-transpose", "scale-query+no-transpose"):
        context = tf.einsum("bnqk,bknd->bqnd", probs, vh)
    else:
        context = tf.einsum("bnqk,bnkd->bqnd", probs, vh)
    return tf.reshape(context, [b, s, hidden])


def _functions(shape, batch, length, variants):
    import numpy as np
    import tensorflow as tf

    c = SHAPES[shape]
    hidden, layers, heads = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"]
    rng = np.random.RandomState(0)
    q, k, v = (tf.constant(rng.randn(batch, length, hidden).astype("float32")) for _ in range(3))
    mask = np.ones([batch, length], "int32")
    mask[0, length // 2:] = 0  # one padded row, so the mask does something
    mask = tf.constant(mask)

    def make(variant):
        @tf.function(jit_compile=True)
        def run():
            h = q
            for _ in range(layers):
                h = _core(variant, h, k, v, mask, heads)
            return h

        return run

    flops = 2 * 2 * batch * length * length * hidden * layers  # scores and context products
    return {name: make(name) for name in variants}, flops


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="minilm", choices=sorted(SHAPES))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--length", type=int, default=128)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--variants", default=",".join(VARIANTS))
    add_clock_argument(p, default="cpu")
    args = p.parse_args(argv)

    import numpy as np

    fns, flops = _functions(args.shape, args.batch, args.length, args.variants.split(","))
    outputs = {name: fn().numpy() for name, fn in fns.items()}  # compile
    seconds = time_rounds({name: fetched(fn) for name, fn in fns.items()}, args.rounds, args.repeats,
                          CLOCKS[args.clock], warmup=0)
    ref = outputs.get("current")
    rows = []
    base = 1000 * seconds["current"] if "current" in seconds else None
    for name in fns:
        ms = 1000 * seconds[name]
        diff = "-" if ref is None or name in ("no-mask", "no-softmax") else f"{np.max(np.abs(outputs[name] - ref)):.1e}"
        rows.append([name, f"{ms:.2f}", f"{ms / base:.2f}x" if base else "-", f"{flops / ms / 1e6:.0f}", diff])
    print(f"machine: {machine()}; {args.shape}, batch {args.batch} x {args.length}, XLA, fp32; "
          f"median of {args.rounds} rounds x {args.repeats} calls; {args.clock} time")
    print(table(rows, ["variant", f"{args.clock} ms per call", "vs current", "GFLOP/s of the two products (per clock second)",
                       "max |diff| vs current"]))


if __name__ == "__main__":
    main()
