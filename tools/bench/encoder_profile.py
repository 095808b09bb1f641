"""Where the encoder's time goes under XLA: the whole encoder against its parts run alone with the same shapes.

Parts, each an XLA-compiled function timed in the same process, interleaved over rounds:
- `dense matmuls`: per layer the query, key, value, attention-output and two feed-forward products
  ([batch x length, hidden] by the weight matrices), chained as in the encoder;
- `attention core`: per layer the scores, the float32 softmax with the mask and the weighted sum of values;
- `attention products`: the same two batched products alone (scores and weighted values, no scale, mask or
  softmax): the attention core's share that is matrix multiplication;
- `everything else` is what remains of the whole encoder: embeddings, bias adds, GELU, layer norms, residual
  adds, head reshapes.

The dense matmuls run the same XLA CPU kernels whoever calls them: the share of the time left outside them
bounds how much faster any fp32 XLA implementation of the same model can be than another.

Usage:
    python -m tools.bench.encoder_profile                          # MiniLM shape, batch 8 x 128
    python -m tools.bench.encoder_profile --shape base
    python -m tools.bench.encoder_profile --clock cpu              # CPU seconds: steadier on a loaded machine
    python -m tools.bench.encoder_profile --shape tiny --batch 2 --length 16 --rounds 1 --repeats 1   # smoke
"""

import argparse

from tools.bench.common import CLOCKS, SHAPES, add_clock_argument, fetched, machine, table, time_rounds


def _parts(shape, batch, length):
    import numpy as np
    import tensorflow as tf

    import keras_bert_suite as kbs

    c = SHAPES[shape]
    hidden, inner, layers, heads = (c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"],
                                    c["num_attention_heads"])
    model = kbs.BertModel(kbs.BertConfig(vocab_size=30522, max_position_embeddings=512, **c))
    rng = np.random.RandomState(0)
    ids = tf.constant(rng.randint(1000, 30522, (batch, length)).astype("int32"))
    mask = tf.ones_like(ids)
    x = tf.constant(rng.randn(batch * length, hidden).astype("float32"))
    weights = [[tf.constant(rng.randn(*s).astype("float32") * 0.02)
                for s in ([hidden, hidden],) * 4 + ([hidden, inner], [inner, hidden])] for _ in range(layers)]
    d = hidden // heads
    qkv = [tf.constant(rng.randn(batch, heads, length, d).astype("float32")) for _ in range(3)]
    bias = tf.zeros([batch, 1, 1, length])

    @tf.function(jit_compile=True)
    def encoder():
        return model({"input_ids": ids, "attention_mask": mask}).last_hidden_state

    @tf.function(jit_compile=True)
    def matmuls():
        h = x
        for wq, wk, wv, wo, w1, w2 in weights:
            q, k, v = h @ wq, h @ wk, h @ wv
            h = (q + k + v) @ wo
            h = (h @ w1) @ w2
        return h

    @tf.function(jit_compile=True)
    def products():
        q, k, v = qkv
        for _ in range(layers):
            q = tf.einsum("bnqk,bnkd->bnqd", tf.einsum("bnqd,bnkd->bnqk", q, k), v)
        return q

    @tf.function(jit_compile=True)
    def attention():
        q, k, v = qkv
        for _ in range(layers):
            scores = tf.einsum("bnqd,bnkd->bnqk", q, k) / np.sqrt(d) + bias
            q = tf.einsum("bnqk,bnkd->bnqd", tf.nn.softmax(scores, axis=-1), v)
        return q

    flops = 2 * batch * length * layers * (4 * hidden * hidden + 2 * hidden * inner)
    attention_flops = 2 * 2 * batch * length * length * hidden * layers
    parts = {"whole encoder": encoder, "dense matmuls": matmuls, "attention core": attention,
             "attention products": products}
    return parts, flops, attention_flops


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="minilm", choices=sorted(SHAPES))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--length", type=int, default=128)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    add_clock_argument(p, default="wall")
    args = p.parse_args(argv)

    parts, flops, attention_flops = _parts(args.shape, args.batch, args.length)
    seconds = time_rounds({name: fetched(fn) for name, fn in parts.items()}, args.rounds, args.repeats,
                          CLOCKS[args.clock])  # the warmup call compiles
    ms = {name: 1000 * s for name, s in seconds.items()}
    whole = ms["whole encoder"]
    ms["everything else"] = max(whole - ms["dense matmuls"] - ms["attention core"], 0.0)
    ms["scale, mask, softmax"] = max(ms["attention core"] - ms["attention products"], 0.0)
    rows = [[name, f"{ms[name]:.1f}", f"{100 * ms[name] / whole:.0f}%"]
            for name in ("whole encoder", "dense matmuls", "attention core", "attention products",
                         "scale, mask, softmax", "everything else")]
    print(f"machine: {machine()}; {args.shape}, batch {args.batch} x {args.length}, XLA, fp32; "
          f"median of {args.rounds} rounds x {args.repeats} calls; {args.clock} time")
    print(table(rows, ["part", f"{args.clock} ms per call", "share of the whole"]))
    print(f"dense matmuls: {flops / ms['dense matmuls'] / 1e6:.1f} GFLOP/s; attention products: "
          f"{attention_flops / ms['attention products'] / 1e6:.1f} GFLOP/s (per {args.clock} second)")
    print(f"whole / dense matmuls: {whole / ms['dense matmuls']:.3f}x; whole / (dense matmuls + attention "
          f"products): {whole / (ms['dense matmuls'] + ms['attention products']):.3f}x")


if __name__ == "__main__":
    main()
