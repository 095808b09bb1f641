"""Dropout's cost in a fine-tuning step: the masks alone (variants of how the random bits are drawn) and the
classification model's forward pass with dropout on, attention dropout only, hidden dropout only and none;
XLA-compiled, one process, rounds interleaved, CPU seconds of the process (steady on a shared machine).

Usage:
    python -m tools.bench.dropout_cost masks            # a [32, 12, 128, 128] mask (MiniLM attention, batch 32)
    python -m tools.bench.dropout_cost model            # MiniLM forward + loss, batch 8 x 128
    python -m tools.bench.dropout_cost layer            # BertDropout between softmax and the context product,
                                                        # one MiniLM layer's [8, 12, 128, 128], alone
"""

import sys
import time

import numpy as np
import tensorflow as tf

RATE = 0.1


def _halves(bits, axis):
    return tf.concat([tf.bitwise.bitwise_and(bits, 0xFFFF), tf.bitwise.right_shift(bits, 16)], axis=axis)


def _keep_scaled(x, keep):
    return tf.where(keep, x * (1 / (1 - RATE)), tf.zeros_like(x))


def _mask_variants():
    threshold = tf.constant(round(RATE * 65536), tf.uint32)

    def current(x, seed):  # layers/dropout.py: flat draw, halves concatenated, sliced, reshaped
        shape, size = tf.shape(x), tf.size(x)
        bits = tf.random.stateless_uniform([(size + 1) // 2], seed=seed, minval=None, maxval=None,
                                           dtype=tf.uint32, alg="philox")
        return _keep_scaled(x, tf.reshape(_halves(bits, 0)[:size], shape) >= threshold)

    def last_axis(x, seed, alg="philox"):
        bits = tf.random.stateless_uniform(list(x.shape[:-1]) + [x.shape[-1] // 2], seed=seed, minval=None,
                                           maxval=None, dtype=tf.uint32, alg=alg)
        return _keep_scaled(x, _halves(bits, -1) >= threshold)

    def bits32(x, seed):
        bits = tf.random.stateless_uniform(tf.shape(x), seed=seed, minval=None, maxval=None, dtype=tf.uint32,
                                           alg="philox")
        return _keep_scaled(x, bits >= tf.constant(round(RATE * 2 ** 32), tf.uint32))

    return {"Philox, 16 bits (current)": current, "halves on the last axis": last_axis,
            "Threefry, 16 bits": lambda x, seed: last_axis(x, seed, "threefry"), "32 bits per element": bits32,
            "no mask (scale only)": lambda x, seed: x * (1 / (1 - RATE))}


def _masks():
    x = tf.constant(np.random.RandomState(0).rand(32, 12, 128, 128).astype("float32"))
    seed = tf.constant([1, 2], tf.int32)
    return {name: tf.function(lambda f=f: tf.reduce_sum(f(x, seed)), jit_compile=True)
            for name, f in _mask_variants().items()}


def _layer():
    from keras_bert_suite.layers.dropout import BertDropout

    rng = np.random.RandomState(0)
    scores = tf.constant(rng.rand(8, 12, 128, 128).astype("float32"))
    values = tf.constant(rng.rand(8, 12, 128, 32).astype("float32"))
    dropout = BertDropout(RATE)

    def context(drop):
        probs = tf.nn.softmax(scores)
        probs = dropout(probs, training=True) if drop else probs
        return tf.reduce_sum(tf.einsum("bnqk,bnkd->bqnd", probs, values))

    return {"softmax, BertDropout, context product": tf.function(lambda: context(True), jit_compile=True),
            "softmax, context product": tf.function(lambda: context(False), jit_compile=True)}


def _model():
    import keras_bert_suite as kbs
    from tools.bench.common import SHAPES

    rng = np.random.RandomState(0)
    ids = rng.randint(1000, 30522, (8, 128)).astype("int32")
    x = {"input_ids": tf.constant(ids), "attention_mask": tf.ones_like(ids), "token_type_ids": tf.zeros_like(ids),
         "labels": tf.constant(rng.randint(0, 2, (8,)).astype("int32"))}
    fns = {}
    for name, rates in [("all dropout", {}), ("attention dropout only", dict(hidden_dropout_prob=0.0)),
                        ("hidden dropout only", dict(attention_probs_dropout_prob=0.0)),
                        ("none", dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))]:
        model = kbs.BertForSequenceClassification(kbs.BertConfig(vocab_size=30522, **SHAPES["minilm"], **rates))
        fns[name] = tf.function(lambda m=model: m(x, training=True).loss, jit_compile=True)
    return fns


def main(argv=None):
    mode = (argv if argv is not None else sys.argv[1:] or ["masks"])[0]
    fns = {"masks": _masks, "model": _model, "layer": _layer}[mode]()
    for fn in fns.values():
        fn().numpy()  # compile
    seconds = {name: [] for name in fns}
    names = list(fns)
    for r in range(4):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.process_time()
            for _ in range(3):
                fns[name]().numpy()
            seconds[name].append((time.process_time() - start) / 3)
    for name in names:
        print(f"| {name} | {1000 * np.median(seconds[name]):.1f} |")


if __name__ == "__main__":
    main()
