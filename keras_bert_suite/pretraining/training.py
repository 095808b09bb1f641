"""Pretraining with `model.fit`: the losses, a loss-curve logger and a run that resumes with no lost steps.

`compile_for_pretraining` gives `BertForPreTraining` its two losses as compiled Keras losses (`mlm` and `nsp`):
the masked-LM loss is the mean over every predicted token of the global batch, also when the batch is split
over replicas (the count of predicted tokens is summed across replicas), so a step under `MirroredStrategy`,
`MultiWorkerMirroredStrategy` or `TPUStrategy` computes what one device computes. Under the JAX backend one
program computes the whole global batch (a `keras.distribution` shards it), so the plain mean is already global.

`train` runs `max_steps` steps and backs up the whole training state (weights, optimizer, step) every
`checkpoint_every` steps with `keras.callbacks.BackupAndRestore(save_freq=checkpoint_every)`. Started again
after a kill, it restores the backup, asks the data function for the stream from the next batch on
(`skip_batches`), and ends with the weights an uninterrupted run would have (with deterministic data and no
dropout randomness).

Example:
    >>> import keras_bert_suite as kbs
    >>> from keras_bert_suite import distribute
    >>> from keras_bert_suite.pretraining import create_optimizer, pretraining_dataset
    >>> config = kbs.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    ...                         intermediate_size=37)
    >>> with distribute.strategy().scope():
    ...     model = kbs.BertForPreTraining(config)
    ...     _ = compile_for_pretraining(model, create_optimizer(1e-4, total_steps=1000))
    >>> # files, tokenizer, vocab: a corpus and its vocabulary, as in keras_bert_suite.pretraining.data
    >>> make = lambda skip_batches: pretraining_dataset(files, tokenizer, vocab, batch_size=32,
    ...                                                 skip_batches=skip_batches)
    >>> curve = train(model, make, max_steps=1000, backup_dir="run/backup", checkpoint_every=100,
    ...               log_dir="run/logs")  # doctest: +SKIP
"""

import contextlib
import json
import os

import keras
import tensorflow as tf

from keras_bert_suite import losses
from keras_bert_suite.distribute import distribute_batches, is_chief, worker_id

FEATURES = ("input_ids", "attention_mask", "token_type_ids")


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class MaskedLMLoss(keras.losses.Loss):
    """Cross-entropy over tokens whose label is not -100, averaged over all such tokens of the global batch.

    y_true: [batch, length] ids (-100: not predicted); y_pred: [batch, length, vocab] logits (or
    [batch, predictions] and [batch, predictions, vocab] with `masked_lm_positions`).
    """

    def __init__(self, name="mlm", reduction="sum", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        if keras.backend.backend() != "tensorflow":
            return losses.sparse_cross_entropy(y_pred, y_true)
        logits = tf.cast(y_pred, tf.float32)
        labels = tf.cast(y_true, tf.int32)
        valid = tf.not_equal(labels, losses.IGNORE_INDEX)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.where(valid, labels, 0), logits=logits)
        total = tf.reduce_sum(tf.where(valid, nll, 0.0))
        count = tf.reduce_sum(tf.cast(valid, tf.float32))
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            # Keras sums the replicas' gradients: each replica divides by the global count.
            count = tf.reshape(context.all_reduce(tf.distribute.ReduceOp.SUM, count), [])
        return tf.reshape(tf.math.divide_no_nan(total, count), [])


def _strategy(model):
    """The `tf.distribute` strategy that holds `model` (the default one under the JAX backend, where Keras's own
    `keras.distribution` places the variables)."""
    return getattr(model, "distribute_strategy", None) or tf.distribute.get_strategy()


def compile_for_pretraining(model, optimizer, **compile_kwargs):
    """Compile `BertForPreTraining` with the `mlm` (`MaskedLMLoss`) and `nsp` losses (logged as mlm_loss,
    nsp_loss); the data must come as `features_and_targets` gives it."""
    with _strategy(model).scope():
        model.compile(
            optimizer=optimizer,
            loss=[MaskedLMLoss(), keras.losses.SparseCategoricalCrossentropy(from_logits=True, name="nsp")],
            **compile_kwargs,
        )
    return model


def features_and_targets(example):
    """A pipeline dict -> (features, (labels, next_sentence_label)) for a model compiled with
    `compile_for_pretraining`; `masked_lm_positions`, when the pipeline gives them, go with the features."""
    features = {k: example[k] for k in FEATURES + ("masked_lm_positions",) if k in example}
    return features, (example["labels"], example["next_sentence_label"])


class LossCurve(keras.callbacks.Callback):
    """Records the losses every `every` steps (means over the window) and the learning rate, in `history`
    (a list of dicts with `step`), a JSON file and TensorBoard scalars under `log_dir/train`.

    Keras reports running means since the start of `fit`; the window means are recovered from them.
    """

    def __init__(self, every=10, log_dir=None, initial_step=0):
        super().__init__()
        self.every = int(every)
        self.log_dir = log_dir
        self.initial_step = int(initial_step)
        self.history = []
        self._writer = None
        self._last = (0, {})

    def on_train_begin(self, logs=None):
        if self.log_dir:
            os.makedirs(self.log_dir, exist_ok=True)
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "train"))
            path = os.path.join(self.log_dir, "loss_curve.json")
            if os.path.exists(path):
                with open(path) as f:
                    self.history = [r for r in json.load(f) if r["step"] <= self.initial_step]
        self._last = (0, {})

    def on_train_batch_end(self, batch, logs=None):
        seen = batch + 1
        if seen % self.every:
            return
        prev_seen, prev = self._last
        row = {"step": self.initial_step + seen}
        for key, mean in (logs or {}).items():
            if key.endswith("loss"):
                total = float(mean) * seen - prev.get(key, 0.0) * prev_seen
                row[key] = total / (seen - prev_seen)
        row["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self._last = (seen, {k: float(v) for k, v in (logs or {}).items() if k.endswith("loss")})
        self.history.append(row)
        if self._writer is not None:
            with self._writer.as_default():
                for key, value in row.items():
                    if key != "step":
                        _write_scalar(key, value, row["step"])
            self._writer.flush()
            self.save(os.path.join(self.log_dir, "loss_curve.json"))

    def save(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.history, f)
        os.replace(tmp, path)


def _write_scalar(name, value, step):
    """A TensorBoard scalar event written with TensorFlow alone (the tensorboard package may be absent)."""
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    tf.summary.write(name, tf.constant(value, tf.float32), step=step, metadata=metadata.SerializeToString())


def restored_step(model, backup_dir):
    """Load the backup in `backup_dir` (if any) into the compiled `model`; return the number of batches it had
    trained on (0 without a backup)."""
    path = os.path.join(backup_dir, "latest.weights.h5")
    optimizer = model.optimizer
    if not os.path.exists(path):
        return 0
    if not optimizer.built:
        with _strategy(model).scope():
            optimizer.build(model.trainable_variables)
    model.load_weights(path)
    batches = getattr(optimizer, "_iterations", optimizer.iterations)
    return int(keras.ops.convert_to_numpy(batches))


def _prebuild_for_multi_worker(model, make_dataset):
    """Keras 3 builds the compiled losses and metrics before `fit` from the first batch reduced across replicas,
    a reduction `MultiWorkerMirroredStrategy` cannot do on dict inputs; build them here from a local batch and
    skip that step."""
    strategy = _strategy(model)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    x, y = features_and_targets(next(iter(make_dataset(0).take(1))))
    with strategy.scope():
        model._symbolic_build(data_batch=(x, y, None))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


@contextlib.contextmanager
def _scalar_logs_across_workers(strategy):
    """While active, Keras reduces scalar logs across workers with `axis=None` (Keras 3 asks for `axis=0`,
    which fails on the scalar losses and metrics under `MultiWorkerMirroredStrategy`)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strat, reduction):
        if reduction in ("auto", "mean") and isinstance(strat, tf.distribute.MultiWorkerMirroredStrategy):
            def one(v):
                local = strat.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v
                if getattr(local, "shape", None) is not None and local.shape.rank == 0:
                    return strat.reduce("MEAN", v, axis=None)
                return original(v, strat, reduction)

            return tf.nest.map_structure(one, values)
        return original(values, strat, reduction)

    tf_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = original


def train(model, make_dataset, *, max_steps, backup_dir, checkpoint_every=100, log_dir=None, log_every=10,
          callbacks=(), verbose=0):
    """Train a compiled model for `max_steps` batches, resuming from `backup_dir` when a backup is there.

    Args:
        model: built and compiled (see `compile_for_pretraining`) under the strategy that should run it.
        make_dataset: `skip_batches -> tf.data.Dataset` of pipeline dicts with global batches (e.g. a
            `pretraining_dataset` partial); it is split over the strategy's replicas here.
        checkpoint_every: steps between backups (`BackupAndRestore(save_freq=...)`).
        log_dir: where `LossCurve` writes TensorBoard scalars and loss_curve.json (None: no files).

    Returns:
        The `LossCurve` callback (its `history` holds the curve of this and the earlier, resumed, runs).
    """
    strategy = _strategy(model)
    if not is_chief(strategy):
        # Every worker backs up (the same) state, each in its own folder; only the chief writes logs.
        backup_dir, log_dir = os.path.join(backup_dir, f"worker{worker_id(strategy)}"), None
    done = restored_step(model, backup_dir)
    curve = LossCurve(every=log_every, log_dir=log_dir, initial_step=done)
    if done >= max_steps:
        return curve
    dataset = distribute_batches(strategy, lambda: make_dataset(done).map(features_and_targets))
    _prebuild_for_multi_worker(model, make_dataset)
    with _scalar_logs_across_workers(strategy):
        model.fit(
            dataset,
            epochs=1,
            steps_per_epoch=max_steps - done,
            callbacks=[keras.callbacks.BackupAndRestore(backup_dir, save_freq=int(checkpoint_every)), curve,
                       *callbacks],
            verbose=verbose,
        )
    return curve
