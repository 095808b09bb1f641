"""Writes are atomic: a failure or a kill in the middle of a save leaves the previous good files in place."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import keras

import keras_bert_suite as kbs
from helpers import batch

CONFIG = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)


def _no_temp_files(folder):
    return [n for n in os.listdir(folder) if n.startswith(".")] == []


def test_failed_save_pretrained_keeps_previous_weights(tmp_path, monkeypatch):
    import safetensors.numpy

    good = kbs.BertModel(kbs.BertConfig(**CONFIG))
    good.save_pretrained(tmp_path)
    before = (tmp_path / "model.safetensors").read_bytes()

    def half_then_fail(tensors, path, metadata=None):
        with open(path, "wb") as f:
            f.write(b"\x00" * 100)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.numpy, "save_file", half_then_fail)
    other = kbs.BertModel(kbs.BertConfig(**CONFIG))
    from keras_bert_suite.checkpoints.errors import CheckpointError

    with pytest.raises(CheckpointError, match="model.safetensors.*No space left"):
        other.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == before
    assert _no_temp_files(tmp_path)
    monkeypatch.undo()
    back = kbs.BertModel.from_pretrained(tmp_path)
    np.testing.assert_array_equal(back(batch()).last_hidden_state, good(batch()).last_hidden_state)


def test_failed_keras_save_keeps_previous_file(tmp_path, monkeypatch):
    model = kbs.BertForSequenceClassification(kbs.BertConfig(**CONFIG))
    path = tmp_path / "model.keras"
    model.save(path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before and _no_temp_files(tmp_path)
    monkeypatch.undo()
    keras.saving.load_model(path, safe_mode=True)


KILLED_SAVER = textwrap.dedent("""
    import sys
    import keras_bert_suite as kbs
    model = kbs.BertModel(kbs.BertConfig(vocab_size=30522, hidden_size=512, num_hidden_layers=8,
                                         num_attention_heads=8, intermediate_size=2048))
    print("ready", flush=True)
    while True:
        model.save_pretrained(sys.argv[1])
""")


@pytest.mark.slow
def test_killed_save_pretrained_leaves_a_loadable_checkpoint(tmp_path):
    good = kbs.BertModel(kbs.BertConfig(vocab_size=30522, hidden_size=512, num_hidden_layers=8,
                                        num_attention_heads=8, intermediate_size=2048))
    good.save_pretrained(tmp_path)
    reference = good({"input_ids": np.array([[101, 2023, 102]])}).last_hidden_state.numpy()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVER, str(tmp_path)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.time() + 120
    killed_mid_write = False
    while time.time() < deadline:  # wait until a temporary weights file is being written, then kill
        if any(n.startswith(".model.safetensors.") for n in os.listdir(tmp_path)):
            proc.send_signal(signal.SIGKILL)
            killed_mid_write = True
            break
        time.sleep(0.01)
    if not killed_mid_write:
        proc.kill()
    proc.wait()
    assert killed_mid_write
    config = kbs.BertConfig.from_pretrained(tmp_path)
    loaded = kbs.BertModel.from_pretrained(tmp_path)  # whichever complete file is in place loads
    assert loaded.config == config
    # the weights are a complete save: the first one, or a later full rewrite of other random weights
    out = loaded({"input_ids": np.array([[101, 2023, 102]])}).last_hidden_state.numpy()
    assert out.shape == reference.shape and np.isfinite(out).all()


def test_weight_with_wrong_dtype_is_named(tmp_path):
    from safetensors.numpy import load_file, save_file

    from keras_bert_suite.checkpoints.mapping import WeightDtypeError

    kbs.BertModel(kbs.BertConfig(**CONFIG)).save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    weights["pooler.dense.bias"] = weights["pooler.dense.bias"].astype("int32")
    save_file(weights, tmp_path / "model.safetensors")
    with pytest.raises(WeightDtypeError, match="pooler.dense.bias.*int32"):
        kbs.BertModel.from_pretrained(tmp_path)


def test_nan_loss_stops_training_and_names_the_step():
    from keras_bert_suite.callbacks import NonFiniteLossError, StopOnNonFiniteLoss

    model = kbs.BertForSequenceClassification(kbs.BertConfig(**CONFIG))
    model.compile(optimizer=keras.optimizers.SGD(1e30))
    x = batch(batch_size=32, length=8)
    x["labels"] = np.arange(32) % 2
    stop = StopOnNonFiniteLoss()
    history = model.fit(x, batch_size=4, epochs=3, verbose=0, callbacks=[stop])
    assert stop.stopped_at is not None and "global step" in stop.message
    assert len(history.history["loss"]) == stop.stopped_at[0] + 1
    model2 = kbs.BertForSequenceClassification(kbs.BertConfig(**CONFIG))
    model2.compile(optimizer=keras.optimizers.SGD(1e30))
    with pytest.raises(NonFiniteLossError, match="loss became"):
        model2.fit(x, batch_size=4, epochs=3, verbose=0, callbacks=[StopOnNonFiniteLoss(raise_error=True)])
