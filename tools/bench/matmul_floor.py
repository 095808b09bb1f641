"""The floor under small-batch latency: MiniLM's 36 encoder matmuls alone, at a few tokens, in each precision.

At batch 1 a BERT call does little arithmetic per weight: every call reads all encoder weights (MiniLM: 6 layers x
(4 x 384 x 384 + 2 x 384 x 1536) = 10.6 M floats, 42 MB in float32, more than this machine's 32 MB L3), so the
time is set by reading them, not by the FLOPs. This chain of the encoder's dense products (plus the residual adds
and GELU that keep it honest) on `--rows` tokens is what any implementation pays; it is run as float32 under XLA
(what our SavedModel and transformers' TF XLA run), float32 and bfloat16 in graph mode (oneDNN kernels),
bfloat16 under XLA, and float32 weights cast to bfloat16 per call (Keras' mixed_bfloat16). Per-token dynamic
int8 is not here: its graph-mode kernels are measured whole in tools/bench/int8_ablation.py.

Usage:
    python -m tools.bench.matmul_floor                 # 1, 4, 16 and 64 rows
    python -m tools.bench.matmul_floor --rows 1,16 --rounds 3 --repeats 50
"""

import argparse
import os

from tools.bench.common import CLOCKS, SHAPES, add_clock_argument, machine, table, time_rounds

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def chains(seed=0):
    """{variant: (fn, input dtype, weight bytes)}: `fn(x)` runs the matmul chain on tokens x [rows, hidden]."""
    import numpy as np
    import tensorflow as tf

    shape = SHAPES["minilm"]
    h, inner, layers = shape["hidden_size"], shape["intermediate_size"], shape["num_hidden_layers"]
    rng = np.random.default_rng(seed)
    kernels = [[rng.normal(0, 0.05, s).astype("float32") for s in [(h, h)] * 4 + [(h, inner), (inner, h)]]
               for _ in range(layers)]
    w32 = [[tf.constant(k) for k in layer] for layer in kernels]
    w16 = [[tf.cast(k, tf.bfloat16) for k in layer] for layer in w32]

    def chain(x, weights, cast=None):
        for layer in weights:
            q, k, v, o, up, down = [w if cast is None else tf.cast(w, cast) for w in layer]
            a = tf.matmul(tf.matmul(x, q) + tf.matmul(x, k) + tf.matmul(x, v), o)
            x = x + tf.matmul(tf.nn.gelu(tf.matmul(a, up)), down)
        return x

    variants = {
        "float32, XLA": (w32, tf.float32, None, True),
        "float32, graph": (w32, tf.float32, None, False),
        "bfloat16 weights, graph": (w16, tf.bfloat16, None, False),
        "bfloat16 weights, XLA": (w16, tf.bfloat16, None, True),
        "float32 weights cast per call, graph": (w32, tf.bfloat16, tf.bfloat16, False),
    }
    out = {}
    for name, (weights, dtype, cast, xla) in variants.items():
        fn = tf.function(lambda x, weights=weights, cast=cast: chain(x, weights, cast), jit_compile=xla)
        nbytes = sum(w.shape.num_elements() * w.dtype.size for layer in weights for w in layer)
        out[name] = (fn, dtype, nbytes)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default="1,4,16,64", help="comma-separated token counts")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=100)
    add_clock_argument(p, "wall")
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    variants = chains()
    print(f"machine: {machine()}; MiniLM encoder matmuls (36 products, 42 MB of float32 weights); median of "
          f"{args.rounds} rounds x {args.repeats} calls ({args.clock} clock)")
    lines = []
    for rows in (int(r) for r in args.rows.split(",")):
        x = tf.constant(np.random.default_rng(rows).normal(0, 1, (rows, SHAPES["minilm"]["hidden_size"])), tf.float32)
        fns = {name: (lambda fn=fn, x=tf.cast(x, dtype): fn(x).numpy()) for name, (fn, dtype, _) in variants.items()}
        seconds = time_rounds(fns, rounds=args.rounds, repeats=args.repeats, clock=CLOCKS[args.clock], warmup=3)
        base = seconds["float32, XLA"]
        for name, s in seconds.items():
            gb_per_s = variants[name][2] / s / 1e9
            lines.append([str(rows), name, f"{1e3 * s:.2f}", f"{base / s:.2f}x", f"{gb_per_s:.1f}"])
    print(table(lines, ["tokens", "variant", "ms per call", "vs float32 XLA", "weight GB/s"]))


if __name__ == "__main__":
    main()
