"""Pick the `tf.distribute` strategy for the machine, and split global batches over its replicas.

Under Keras's TensorFlow backend, `strategy()` returns, in this order of preference:

* `TPUStrategy` when a TPU answers (a Colab or Cloud TPU VM, `TPU_NAME`, `COLAB_TPU_ADDR`);
* `MultiWorkerMirroredStrategy` when `TF_CONFIG` names more than one worker;
* `MirroredStrategy` when the machine has several GPUs;
* the default strategy otherwise (one CPU or GPU).

Training code is the same under each: build and compile the model inside `strategy.scope()` and give `fit` the
dataset from `distribute_batches`, which hands replica r of step t rows [r * b, (r + 1) * b) of global batch t
(b = global batch / replicas), so a step sees the same examples however many replicas share it.

Under Keras's JAX backend, `jax_data_parallel()` is the counterpart: JAX finds the TPU cores or GPUs itself, and
a `keras.distribution.DataParallel` over them splits each global batch, so the dataset stays as it is.

Example:
    >>> import keras_bert_suite as kbs
    >>> s = strategy()
    >>> s.num_replicas_in_sync              # one CPU here: the default strategy
    1
    >>> config = kbs.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    ...                         intermediate_size=37)
    >>> with s.scope():
    ...     model = kbs.BertForPreTraining(config)
    >>> batches = lambda: tf.data.Dataset.from_tensors({"input_ids": tf.ones([8, 16], tf.int32)}).repeat()
    >>> ds = distribute_batches(s, batches)      # e.g. batches of `pretraining.pretraining_dataset`
"""

import glob
import json
import logging
import os

import keras
import tensorflow as tf

logger = logging.getLogger("keras_bert_suite")


def _tpu_candidates(tpu):
    if tpu:
        return [tpu]
    found = []
    if os.environ.get("TPU_NAME"):
        found.append(os.environ["TPU_NAME"])
    if os.environ.get("COLAB_TPU_ADDR"):
        found.append("grpc://" + os.environ["COLAB_TPU_ADDR"])
    if glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*") or os.environ.get("TPU_ACCELERATOR_TYPE"):
        found.append("local")
    return found


def tpu_strategy(tpu=None):
    """`TPUStrategy` on the first TPU that answers, or None. Looks only where a TPU is announced (arguments,
    environment, TPU device files), so it returns at once on other machines."""
    for name in _tpu_candidates(tpu):
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
            if name != "local":
                tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as error:
            logger.info("no TPU at %r: %s", name, error)
    return None


def num_workers_in_tf_config():
    """How many workers (chief included) TF_CONFIG names; 0 without TF_CONFIG."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    cluster = json.loads(raw).get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def strategy(tpu=None):
    """The best strategy for this machine (see the module docstring)."""
    found = tpu_strategy(tpu)
    if found is not None:
        return found
    if num_workers_in_tf_config() > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def jax_data_parallel():
    """Under the JAX backend: the devices JAX sees (TPU cores, else GPUs, else the CPU), with a
    `keras.distribution.DataParallel` over them set for the process when there are several.

    TensorFlow is kept off the GPUs (it only tokenizes and feeds batches on the host), so that it does not take the
    memory JAX needs. Call it before building the model.

    Returns:
        The list of `jax.Device`s the model runs on; `len(...)` is the number of replicas.

    Example:
        >>> devices = jax_data_parallel()  # doctest: +SKIP
        >>> devices[0].platform  # doctest: +SKIP
        'tpu'
    """
    if keras.backend.backend() != "jax":
        raise RuntimeError(f"jax_data_parallel() is for the JAX backend; this process runs Keras on "
                           f"{keras.backend.backend()!r} (use strategy() there)")
    import jax  # only under the JAX backend

    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError as error:  # TensorFlow already started on its devices
        logger.info("TensorFlow keeps its GPUs: %s", error)
    devices = jax.devices()
    if len(devices) > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return devices


def is_chief(strat=None):
    """True on the worker that should write logs and final files (the only worker outside multi-worker runs)."""
    strat = strat or tf.distribute.get_strategy()
    resolver = getattr(strat, "cluster_resolver", None)
    if resolver is None or not isinstance(strat, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type in (None, "worker") and task_id == 0
                                    and "chief" not in resolver.cluster_spec().as_dict())


def worker_id(strat=None):
    """This worker's index among the input pipelines (0 outside multi-worker runs)."""
    strat = strat or tf.distribute.get_strategy()
    resolver = getattr(strat, "cluster_resolver", None)
    if not isinstance(strat, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return 0
    return int(resolver.task_id or 0)


def _replica_slice(batch, replica, num_replicas):
    def one(t):
        per = t.shape[0] // num_replicas
        return tf.reshape(t, [num_replicas, per, *t.shape[1:]])[replica]

    return tf.nest.map_structure(one, batch)


def distribute_batches(strat, make_dataset):
    """`make_dataset()` gives global batches of static size; the result gives each replica its share.

    With one replica this is `make_dataset()` itself. Otherwise every input pipeline (one per worker) builds the
    global batches and keeps its replicas' rows, through `distribute_datasets_from_function`.
    """
    replicas = strat.num_replicas_in_sync
    if replicas == 1:
        return make_dataset()

    def per_pipeline(context):
        ds = make_dataset()
        batch = tf.nest.flatten(ds.element_spec)[0].shape[0]
        if batch is None or batch % replicas:
            raise ValueError(f"the global batch ({batch}) must be static and divisible by {replicas} replicas")
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local

        def split(*element):
            element = element[0] if len(element) == 1 else element
            parts = [_replica_slice(element, first + r, replicas) for r in range(local)]
            return tf.data.Dataset.from_tensors(parts[0]) if local == 1 else _stacked(parts)

        return ds.flat_map(split)

    return strat.distribute_datasets_from_function(per_pipeline)


def _stacked(parts):
    stacked = tf.nest.map_structure(lambda *xs: tf.stack(xs), *parts)
    return tf.data.Dataset.from_tensor_slices(stacked)
