"""The whole encoder with variants of its attention core: one random MiniLM (or BERT-base) model per variant,
the attention core of every `BertSelfAttention` swapped on the instance, XLA-compiled, one process, rounds
interleaved, CPU seconds of the process. A measurement tool only: the library's layer is `current-layer`.

Variants: `current-layer` (the layer as it is), `current` (the same core rewritten here, the reference for the
others), `notrans` (q, k, v stay [b, s, h, d]: no transposes), `expsum` (softmax written out), `notrans-expsum`,
`nomask` (no mask added).

Usage:
    python -m tools.bench.attention_encoder_ab                       # MiniLM, batch 8 x 128, 5 rounds
    python -m tools.bench.attention_encoder_ab --shape base --rounds 3
"""

import argparse
import math
import time
import types

VARIANTS = ("current-layer", "current", "notrans", "notrans-expsum", "expsum", "nomask")


def _core(variant):
    from keras import ops

    def call(self, hidden_states, attention_mask=None, head_mask=None, encoder_hidden_states=None,
             past_key_value=None, key_value_states=None, training=None):
        b = ops.shape(hidden_states)[0]
        h, d = self.num_heads, self.head_dim
        q, k, v = self.query(hidden_states), self.key(hidden_states), self.value(hidden_states)
        if variant.startswith("notrans"):
            q, k, v = (ops.reshape(t, (b, -1, h, d)) for t in (q, k, v))
            scores = ops.einsum("bqnd,bknd->bnqk", q, k)
        else:
            q, k, v = (ops.transpose(ops.reshape(t, (b, -1, h, d)), (0, 2, 1, 3)) for t in (q, k, v))
            scores = ops.einsum("bnqd,bnkd->bnqk", q, k)
        scores = scores / math.sqrt(d)
        if attention_mask is not None and variant != "nomask":
            scores = scores + attention_mask
        if variant.endswith("expsum"):
            e = ops.exp(scores - ops.max(scores, axis=-1, keepdims=True))
            probs = e * (1.0 / ops.sum(e, axis=-1, keepdims=True))
        else:
            probs = ops.softmax(scores, axis=-1)
        if variant.startswith("notrans"):
            context = ops.einsum("bnqk,bknd->bqnd", probs, v)
        else:
            context = ops.einsum("bnqk,bnkd->bqnd", probs, v)
        return ops.reshape(context, (b, -1, h * d)), probs, (k, v)

    return call


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="minilm")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    import keras_bert_suite as kbs
    from keras_bert_suite.layers.attention import BertSelfAttention
    from tools.bench.common import SHAPES, machine

    rng = np.random.RandomState(0)
    ids = tf.constant(rng.randint(1000, 30522, (8, 128)).astype("int32"))
    mask = tf.ones_like(ids)
    fns = {}
    for name in args.variants.split(","):
        model = kbs.BertModel(kbs.BertConfig(vocab_size=30522, max_position_embeddings=512, **SHAPES[args.shape]))
        model({"input_ids": ids, "attention_mask": mask})
        if name != "current-layer":
            for layer in model._flatten_layers():
                if isinstance(layer, BertSelfAttention):
                    layer.call = types.MethodType(_core(name), layer)
        fns[name] = tf.function(lambda m=model: m({"input_ids": ids, "attention_mask": mask}).last_hidden_state,
                                jit_compile=True)
    for fn in fns.values():
        fn().numpy()  # compile
    seconds = {name: [] for name in fns}
    names = list(fns)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.process_time()
            for _ in range(3):
                fns[name]().numpy()
            seconds[name].append((time.process_time() - start) / 3)
    base = np.median(seconds[names[0]])
    print(f"machine: {machine()}; {args.shape}, batch 8 x 128, XLA, fp32; median of {args.rounds} rounds; cpu time")
    for name in names:
        print(f"| {name} | {1000 * np.median(seconds[name]):.1f} | {np.median(seconds[name]) / base:.3f}x | "
              f"{[round(1000 * s) for s in seconds[name]]} |")


if __name__ == "__main__":
    main()
