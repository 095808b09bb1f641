"""TPU readiness without a TPU: the fine-tuning and pretraining steps compile whole into one XLA program with
static shapes and no host round-trips, under a distribution strategy, from pipelines batched with
`drop_remainder`.

A TPU runs only what XLA compiles, needs every shape known at compile time (a new shape is a new compile), and
stalls on anything that goes back to the host inside a step (a py_function, a print, outside compilation). The
CPU's XLA sees the same program, so these properties can be checked here: each step is lowered to HLO with
`experimental_get_compiler_ir`, which fails on any op XLA cannot compile, and the HLO is searched for dynamic
dimensions and for host transfers. What this cannot prove is written in docs/tpu.md.
"""

import re

import numpy as np
import pytest
import tensorflow as tf
import keras

import keras_bert_suite as kbs
from keras_bert_suite.data.bucketing import batch_examples
from keras_bert_suite.pretraining.training import compile_for_pretraining, features_and_targets

CONFIG = dict(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
              max_position_embeddings=32)
BATCH, LENGTH, PREDICTIONS = 4, 16, 3

# Host transfers and callbacks as they appear in HLO text; a TPU step holding any of them waits on the host.
HOST_OPS = re.compile(r"\b(send|recv|send-done|recv-done|infeed|outfeed)\(|custom_call_target=\"[^\"]*"
                      r"(callback|Callback|host|Host)")
DYNAMIC_DIM = re.compile(r"\[[^\]]*<=")
HOST_GRAPH_OPS = {"PyFunc", "EagerPyFunc", "PyFuncStateless", "Print", "PrintV2", "OutsideCompilation"}


def _examples(n, seed=0):
    """Ragged rows of ids as a tokenizer pipeline gives them (lengths 5..LENGTH)."""
    rng = np.random.RandomState(seed)
    rows = []
    for _ in range(n):
        length = rng.randint(5, LENGTH + 1)
        ids = rng.randint(5, CONFIG["vocab_size"], length).astype("int32")
        rows.append({"input_ids": ids, "attention_mask": np.ones(length, "int32"),
                     "token_type_ids": np.zeros(length, "int32"), "labels": np.int32(ids[1] % 2)})
    return tf.data.Dataset.from_generator(
        lambda: iter(rows),
        output_signature={"input_ids": tf.TensorSpec([None], tf.int32),
                          "attention_mask": tf.TensorSpec([None], tf.int32),
                          "token_type_ids": tf.TensorSpec([None], tf.int32),
                          "labels": tf.TensorSpec([], tf.int32)},
    )


def _pretraining_examples(n, seed=0):
    rng = np.random.RandomState(seed)
    ids = rng.randint(5, CONFIG["vocab_size"], (n, LENGTH)).astype("int32")
    positions = np.sort(rng.choice(np.arange(1, LENGTH), (n, PREDICTIONS)), axis=1).astype("int32")
    labels = np.take_along_axis(ids, positions, axis=1)
    return tf.data.Dataset.from_tensor_slices({
        "input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids),
        "masked_lm_positions": positions, "labels": labels,
        "next_sentence_label": rng.randint(0, 2, n).astype("int32"),
    }).batch(BATCH, drop_remainder=True)


def _assert_static(spec):
    for path, leaf in zip(range(len(tf.nest.flatten(spec))), tf.nest.flatten(spec)):
        assert leaf.shape.is_fully_defined(), f"element {path} of the dataset has a dynamic shape {leaf.shape}"


def _compiled_step_hlo(model, strategy, batch):
    """The HLO of one training step (forward, loss, gradients, optimizer update) as XLA compiles it."""

    @tf.function(jit_compile=True)
    def step(data):
        return strategy.run(model.train_step, args=(data,))

    graph = step.get_concrete_function(batch).graph
    found = {op.type for op in graph.get_operations()} & HOST_GRAPH_OPS
    assert not found, f"host ops inside the compiled step: {sorted(found)}"
    return step.experimental_get_compiler_ir(batch)(stage="hlo")


def _check_hlo(hlo):
    assert "ENTRY" in hlo
    assert not DYNAMIC_DIM.search(hlo), "the compiled step has dynamic (bounded) dimensions"
    host = HOST_OPS.search(hlo)
    assert host is None, f"the compiled step sends data to the host: {host.group(0)}"


@pytest.fixture(scope="module")
def strategy():
    return tf.distribute.MirroredStrategy(["/cpu:0"])


def test_fine_tuning_step_is_one_static_xla_program(strategy):
    ds = batch_examples(_examples(4 * BATCH), BATCH, max_length=LENGTH, pad_to_max_length=True,
                        drop_remainder=True)
    _assert_static(ds.element_spec)
    with strategy.scope():
        model = kbs.BertForSequenceClassification(kbs.BertConfig(**CONFIG, num_labels=2))
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=True, steps_per_execution=2)
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    _check_hlo(_compiled_step_hlo(model, strategy, next(iter(ds))))


def test_pretraining_step_is_one_static_xla_program(strategy):
    ds = _pretraining_examples(4 * BATCH).map(features_and_targets)
    _assert_static(ds.element_spec)
    with strategy.scope():
        model = kbs.BertForPreTraining(kbs.BertConfig(**CONFIG))
        compile_for_pretraining(model, keras.optimizers.AdamW(1e-3), jit_compile=True, steps_per_execution=2)
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    _check_hlo(_compiled_step_hlo(model, strategy, next(iter(ds))))


def test_the_check_sees_a_dynamic_shape_and_a_host_call():
    """The searches are not vacuous: a bounded dynamic dimension and a host callback are both caught."""

    @tf.function(jit_compile=True)
    def dynamic(x):
        return tf.boolean_mask(x, x > 0)

    hlo = dynamic.experimental_get_compiler_ir(tf.constant([1.0, -1.0, 2.0]))(stage="hlo")
    assert DYNAMIC_DIM.search(hlo)

    @tf.function
    def host(x):
        return tf.py_function(lambda v: v * 2, [x], tf.float32)

    ops = {op.type for op in host.get_concrete_function(tf.constant(1.0)).graph.get_operations()}
    assert ops & HOST_GRAPH_OPS
