"""Five SGD steps of a tiny classifier on one device, then under `DataParallel` and under `ModelParallel` with
`bert_layout_map`, on 8 virtual CPU devices; and five steps of pretraining (`compile_for_pretraining`, masked
tokens spread unevenly over the rows) on one device and under `DataParallel`. Prints {"single": [...],
"data": [...], "model": [...], "sharded": bool, "pretraining_single": [...], "pretraining_data": [...]} as JSON.
Run by tests/test_jax_distribution.py in its own process (the device count is fixed when JAX starts)."""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.layout import bert_layout_map  # noqa: E402
from keras_bert_suite.pretraining import compile_for_pretraining  # noqa: E402

STEPS, BATCH = 5, 16
CONFIG = dict(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def batches():
    rng = np.random.RandomState(0)
    ids = rng.randint(5, 96, (STEPS, BATCH, 12)).astype("int32")
    return [{"input_ids": ids[s], "attention_mask": np.ones_like(ids[s]), "labels": (ids[s, :, 1] % 2)}
            for s in range(STEPS)]


def run(initial):
    model = kbs.BertForSequenceClassification(kbs.BertConfig(**CONFIG))
    data = batches()
    model(data[0])
    if initial is not None:
        model.set_weights(initial)
    start = [np.asarray(w) for w in model.get_weights()]
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9))
    losses = [float(model.train_on_batch(x)) for x in data]
    return model, start, losses


def pretraining_batches():
    """(features, (mlm labels, nsp labels)) batches; row r has r % 4 masked tokens, so the shards differ."""
    rng = np.random.RandomState(1)
    out = []
    for _ in range(STEPS):
        ids = rng.randint(5, 96, (BATCH, 12)).astype("int32")
        labels = np.full_like(ids, -100)
        for row in range(BATCH):
            labels[row, 1:1 + row % 4] = ids[row, 1:1 + row % 4]
        out.append(({"input_ids": ids, "attention_mask": np.ones_like(ids)}, (labels, ids[:, 2] % 2)))
    return out


def run_pretraining(initial):
    model = kbs.BertForPreTraining(kbs.BertConfig(**CONFIG))
    data = pretraining_batches()
    model(data[0][0])
    if initial is not None:
        model.set_weights(initial)
    start = [np.asarray(w) for w in model.get_weights()]
    compile_for_pretraining(model, keras.optimizers.SGD(learning_rate=0.1, momentum=0.9))
    return start, [float(model.train_on_batch(x, y)[0]) for x, y in data]


def main():
    assert len(jax.devices()) == 8, jax.devices()
    keras.utils.set_random_seed(0)
    _, initial, single = run(None)
    pretraining_initial, pretraining_single = run_pretraining(None)
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
    _, _, data = run(initial)
    _, pretraining_data = run_pretraining(pretraining_initial)
    mesh = keras.distribution.DeviceMesh((2, 4), ["batch", "model"], jax.devices())
    keras.distribution.set_distribution(
        keras.distribution.ModelParallel(layout_map=bert_layout_map(mesh), batch_dim_name="batch"))
    model, _, model_parallel = run(initial)
    query = next(v for v in model.weights if v.path.endswith("layer_0/attention/self/query/kernel"))
    sharded = "model" in str(query.value.sharding.spec)
    print(json.dumps({"single": single, "data": data, "model": model_parallel, "sharded": sharded,
                      "pretraining_single": pretraining_single, "pretraining_data": pretraining_data}))


if __name__ == "__main__":
    main()
