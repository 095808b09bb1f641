"""Keras on JAX: MiniLM-shaped encoder forward (8 x 128) and fine-tuning step (32 x 128, sequence classifier,
Adam, dropout 0.1), ours under JAX against KerasHub's BertBackbone / BertTextClassifier under JAX and against
ours on TensorFlow (XLA), each in its own process (Keras's backend is per process), interleaved over rounds,
medians; prints milliseconds and the ratios. Random weights, same shapes.

JAX runs time `jax.jit` over `stateless_call` (forward) and `train_on_batch` (the compiled JAX train step); the
TensorFlow runs time a `tf.function(jit_compile=True)` forward and `train_on_batch` compiled with XLA.

Usage:
    python -m tools.bench.jax_backend                          # 3 rounds
    python -m tools.bench.jax_backend --rounds 1 --repeats 2   # quick
"""

import argparse
import time

from tools.bench.common import (
    SHAPES, add_run_arguments, emit, interleaved, machine, median_of, report_error, table, time_calls)

MODULE = "tools.bench.jax_backend"
IMPLS = {"ours-jax": "jax", "kerashub-jax": "jax", "ours-tf-xla": "tensorflow"}
TASKS = {"forward": (8, 128), "train": (32, 128)}


def _inputs(batch, length, vocab=30522, seed=0):
    import numpy as np

    rng = np.random.RandomState(seed)
    ids = rng.randint(1000, vocab, (batch, length)).astype("int32")
    return ids, np.ones_like(ids), np.zeros_like(ids), (ids[:, 1] % 2).astype("int32")


def _model(impl, task):
    """The model to time and its input dict (ours: transformers' names; KerasHub: its own)."""
    import keras

    shape = SHAPES["minilm"]
    batch, length = TASKS[task]
    ids, mask, types, labels = _inputs(batch, length)
    keras.utils.set_random_seed(0)
    if impl.startswith("ours"):
        import keras_bert_suite as kbs

        config = kbs.BertConfig(vocab_size=30522, max_position_embeddings=512, **shape)
        model = kbs.BertModel(config) if task == "forward" else kbs.BertForSequenceClassification(config)
        return model, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}, labels
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30522, num_layers=shape["num_hidden_layers"], num_heads=shape["num_attention_heads"],
        hidden_dim=shape["hidden_size"], intermediate_dim=shape["intermediate_size"], max_sequence_length=512)
    model = backbone if task == "forward" else keras_hub.models.BertTextClassifier(
        backbone, num_classes=2, preprocessor=None, activation=None)
    return model, {"token_ids": ids, "padding_mask": mask, "segment_ids": types}, labels


def _forward(impl, model, x):
    import keras

    model(x)  # build
    if keras.backend.backend() == "jax":
        import jax

        key = "last_hidden_state" if impl.startswith("ours") else "sequence_output"
        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]
        step = jax.jit(lambda t, n, inputs: model.stateless_call(t, n, inputs)[0][key])
        return lambda: step(trainable, frozen, x).block_until_ready()
    import tensorflow as tf

    tensors = {k: tf.constant(v) for k, v in x.items()}
    step = tf.function(lambda inputs: model(inputs).last_hidden_state, jit_compile=True)
    return lambda: step(tensors).numpy()


def _train(impl, model, x, labels):
    import keras
    import numpy as np

    if impl.startswith("ours"):
        model.compile(optimizer=keras.optimizers.Adam(2e-5), jit_compile=True)
        data = {**x, "labels": labels}
        return lambda: float(model.train_on_batch(data))
    model.compile(optimizer=keras.optimizers.Adam(2e-5), jit_compile=True,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return lambda: float(np.ravel(model.train_on_batch(x, labels))[0])  # KerasHub's task returns [loss, ...]


def worker(impl, task, repeats):
    model, x, labels = _model(impl, task)
    fn = _forward(impl, model, x) if task == "forward" else _train(impl, model, x, labels)
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    emit({"impl": impl, "task": task, "ms": 1000 * time_calls(fn, repeats), "first_s": first})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "TASK", "REPEATS"))
    add_run_arguments(parser, rounds=3, repeats=5)
    args = parser.parse_args()
    if args.worker:
        impl, task, repeats = args.worker
        return worker(impl, task, int(repeats))
    print(f"machine: {machine()}")
    rows = []
    for task, (batch, length) in TASKS.items():
        jobs = {impl: (MODULE, [impl, task, args.repeats], {"KERAS_BACKEND": backend})
                for impl, backend in IMPLS.items()}
        samples = interleaved(jobs, args.rounds)
        ms = {impl: median_of(samples[impl], "ms") for impl in IMPLS if not report_error(impl, samples[impl])}
        ours = ms.get("ours-jax")
        for impl, value in ms.items():
            ratio = "" if ours is None or value is None else f"{value / ours:.2f}x"
            rows.append([f"{task} {batch}x{length}", impl, f"{value:.1f}", ratio])
    print(table(rows, ["case", "implementation", "ms (median)", "its time / ours-jax"]))


if __name__ == "__main__":
    main()
