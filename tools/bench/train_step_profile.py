"""Where a fine-tuning step's time goes: our BertForSequenceClassification's training step split into its
parts, each an XLA-compiled function on the same batch, timed in one process, interleaved over rounds.

Parts (each includes the ones above it):
- `forward + loss`: the model in training mode (dropout on) and its own cross-entropy loss;
- `+ gradients`: the same with the gradients of the loss for every trainable weight;
- `+ AdamW update`: the whole step (what `fit` runs), the optimizer's update in the same compiled function;
- `Keras train_on_batch`: the model compiled with `jit_compile=True` and stepped by Keras (its own step function);
- the same three parts of a model with both dropout rates 0 (what dropout costs).

Usage:
    python -m tools.bench.train_step_profile                    # MiniLM shape, batch 32 x 128, cpu time
    python -m tools.bench.train_step_profile --shape tiny --batch 2 --length 16 --rounds 1 --steps 1   # smoke
"""

import argparse

from tools.bench.common import CLOCKS, SHAPES, add_clock_argument, fetched, machine, table, time_rounds


def _steps(shape, batch, length, dropout):
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_bert_suite as kbs

    rates = {} if dropout else dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    keras.utils.set_random_seed(0)
    model = kbs.BertForSequenceClassification(kbs.BertConfig(vocab_size=30522, **SHAPES[shape], **rates))
    rng = np.random.RandomState(0)
    ids = rng.randint(1000, 30522, (batch, length)).astype("int32")
    x = {"input_ids": tf.constant(ids), "attention_mask": tf.ones_like(ids), "token_type_ids": tf.zeros_like(ids),
         "labels": tf.constant(rng.randint(0, 2, (batch,)).astype("int32"))}
    model(x)
    optimizer = keras.optimizers.AdamW(2e-5)
    optimizer.build(model.trainable_variables)

    def loss_and_grads():
        with tf.GradientTape() as tape:
            loss = model(x, training=True).loss
        return loss, tape.gradient(loss, model.trainable_variables)

    @tf.function(jit_compile=True)
    def forward():
        return model(x, training=True).loss

    @tf.function(jit_compile=True)
    def gradients():
        loss, grads = loss_and_grads()
        return loss, tf.add_n([tf.reduce_sum(g) for g in grads])

    @tf.function(jit_compile=True)
    def full_step():
        loss, grads = loss_and_grads()
        optimizer.apply(grads, model.trainable_variables)
        return loss

    suffix = "" if dropout else ", no dropout"
    steps = {f"forward + loss{suffix}": forward, f"+ gradients{suffix}": gradients,
             f"+ AdamW update (whole step){suffix}": full_step}
    if dropout:
        keras_model = kbs.BertForSequenceClassification(kbs.BertConfig(vocab_size=30522, **SHAPES[shape]))
        keras_model.compile(optimizer=keras.optimizers.AdamW(2e-5), jit_compile=True)
        arrays = {k: v.numpy() for k, v in x.items()}
        steps["Keras train_on_batch (jit_compile=True)"] = lambda: keras_model.train_on_batch(arrays)
    return steps


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="minilm", choices=sorted(SHAPES))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--length", type=int, default=128)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--steps", type=int, default=1)
    add_clock_argument(p, default="cpu")
    args = p.parse_args(argv)

    fns = {**_steps(args.shape, args.batch, args.length, True), **_steps(args.shape, args.batch, args.length, False)}
    seconds = time_rounds({name: fetched(fn) for name, fn in fns.items()}, args.rounds, args.steps,
                          CLOCKS[args.clock])  # the warmup call compiles
    ms = {name: 1000 * s for name, s in seconds.items()}
    names = list(fns)
    whole = ms["+ AdamW update (whole step)"]
    rows = [[name, f"{ms[name]:.0f}", f"{100 * ms[name] / whole:.0f}%"] for name in names]
    print(f"machine: {machine()}; {args.shape}, batch {args.batch} x {args.length}, XLA, fp32, AdamW; "
          f"median of {args.rounds} rounds x {args.steps} steps; {args.clock} time")
    print(table(rows, ["part", f"{args.clock} ms per step", "vs the whole step"]))
    nodrop = ms["+ AdamW update (whole step), no dropout"]
    print(f"backward: {ms['+ gradients'] - ms['forward + loss']:.0f} ms; AdamW update: "
          f"{whole - ms['+ gradients']:.0f} ms; dropout: {whole - nodrop:.0f} ms "
          f"({100 * (whole - nodrop) / whole:.0f}% of the step)")


if __name__ == "__main__":
    main()
