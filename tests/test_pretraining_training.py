"""Pretraining runs: the MLM loss falls; MirroredStrategy (two logical CPUs) and MultiWorkerMirroredStrategy (two
worker processes) give the losses of one device; a run killed mid-way resumes from its backup and ends with the
weights of an uninterrupted run. Distributed and killed runs happen in subprocesses."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from helpers import SHARED_DATA, minilm_folder

SAMPLE = os.path.join(SHARED_DATA, "text", "bert_sample_text.txt")
pytestmark = [pytest.mark.skipif(not os.path.exists(SAMPLE), reason="shared sample text absent"),
              pytest.mark.slow]  # pretraining runs in subprocesses, with strategies and a resumed run
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One training run: argv[1] is a JSON dict (see `_run`); writes <strategy>_<worker>.npz (losses + weights).
WORKER = textwrap.dedent('''
    import json, os, signal, sys
    cfg = json.loads(sys.argv[1])
    import numpy as np
    import tensorflow as tf
    if cfg["devices"] > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cfg["devices"])
    import keras
    import keras_bert_suite as kbs
    from keras_bert_suite import distribute, pretraining as pt
    from keras_bert_suite.tokenizers import TFBertTokenizer

    # A multi-worker strategy must exist before any other TensorFlow op runs.
    auto = distribute.strategy() if "auto" in cfg["strategies"] else None

    vocab = pt.Vocabulary(cfg["tokens"])
    tokenizer = TFBertTokenizer(vocab.tokens)

    def make(skip_batches):
        return pt.pretraining_dataset(cfg["corpus"], tokenizer, vocab, batch_size=8, max_length=32, seed=3,
                                      max_predictions_per_seq=5, skip_batches=skip_batches)

    class Kill(keras.callbacks.Callback):
        def __init__(self, at, first):
            super().__init__()
            self.at, self.first = at, first

        def on_train_batch_end(self, batch, logs=None):
            if self.first + batch + 1 == self.at:
                os.kill(os.getpid(), signal.SIGKILL)

    for name in cfg["strategies"]:
        strategy = {"default": tf.distribute.get_strategy,
                    "mirrored": lambda: tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
                    "auto": lambda: auto}[name]()
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = kbs.BertForPreTraining(kbs.BertConfig(
                vocab_size=vocab.size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=37, max_position_embeddings=32, hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0))
            optimizer = pt.create_optimizer(1e-3, total_steps=cfg["steps"], warmup_steps=2,
                                            gradient_accumulation_steps=cfg.get("accumulate"))
            pt.compile_for_pretraining(model, optimizer, jit_compile=False)
        backup = os.path.join(cfg["backup"], name)
        callbacks = [Kill(cfg["kill_at"], pt.restored_step(model, backup))] if cfg.get("kill_at") else []
        curve = pt.train(model, make, max_steps=cfg["steps"], backup_dir=backup, checkpoint_every=cfg["every"],
                         log_every=1, callbacks=callbacks)
        np.savez(os.path.join(cfg["out"], "%s_%d.npz" % (name, distribute.worker_id(strategy))),
                 losses=np.array([r["loss"] for r in curve.history]), *[v.numpy() for v in model.weights])
''')

STEPS, EVERY = 10, 4


@pytest.fixture(scope="module")
def tokens():
    from keras_bert_suite.pretraining import reduced_vocabulary

    return reduced_vocabulary(os.path.join(minilm_folder(), "vocab.txt"), [SAMPLE])


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow", PYTHONHASHSEED="0",
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _start(folder, tokens, strategies, devices=1, env=None, **cfg):
    script = folder / "worker.py"
    script.write_text(WORKER)
    (folder / "out").mkdir(exist_ok=True)
    cfg = dict(tokens=tokens, corpus=SAMPLE, steps=STEPS, every=EVERY, backup=str(folder / "backup"),
               out=str(folder / "out"), devices=devices, strategies=strategies, **cfg)
    return subprocess.Popen([sys.executable, str(script), json.dumps(cfg)], env=env or _env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc, timeout=240):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def _load(path):
    with np.load(path) as f:
        return f["losses"], [f[k] for k in f.files if k.startswith("arr_")]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def launched(tmp_path_factory, tokens):
    """Starts every subprocess at once (they mostly wait on imports and tracing): the reference runs (one
    device, then MirroredStrategy over two logical CPUs, in one process), the run killed mid-way, and the two
    MultiWorkerMirroredStrategy workers."""
    procs = {}
    folder = tmp_path_factory.mktemp("reference")
    procs["reference"] = (folder, _start(folder, tokens, ["default", "mirrored"], devices=2))
    folder = tmp_path_factory.mktemp("killed")
    procs["killed"] = (folder, _start(folder, tokens, ["default"], kill_at=EVERY * 2 + 1))
    workers = [f"localhost:{p}" for p in _free_ports(2)]
    for index in range(2):
        folder = tmp_path_factory.mktemp(f"worker{index}")
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs[f"worker{index}"] = (folder, _start(folder, tokens, ["auto"], env=_env(TF_CONFIG=tf_config)))
    yield procs
    for _, proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def runs(launched):
    """Uninterrupted runs: {"default": (losses, weights), "mirrored": ...}."""
    folder, proc = launched["reference"]
    code, out = _finish(proc)
    assert code == 0, out[-3000:]
    return {name: _load(folder / "out" / f"{name}_0.npz") for name in ("default", "mirrored")}


@pytest.fixture(scope="module")
def single_device(runs):
    return runs["default"]


def _assert_same_run(a, b, loss_rtol, weight_atol):
    np.testing.assert_allclose(a[0], b[0], rtol=loss_rtol)
    assert len(a[1]) == len(b[1])
    assert max(float(np.max(np.abs(x - y))) for x, y in zip(a[1], b[1])) <= weight_atol


def test_mlm_loss_falls(launched, tokens, tmp_path):  # `launched`: the subprocesses run meanwhile
    import keras

    import keras_bert_suite as kbs
    from keras_bert_suite import pretraining as pt
    from keras_bert_suite.tokenizers import TFBertTokenizer

    vocab = pt.Vocabulary(tokens)
    tokenizer = TFBertTokenizer(vocab.tokens)
    keras.utils.set_random_seed(0)
    model = kbs.BertForPreTraining(kbs.BertConfig(vocab_size=vocab.size, hidden_size=32, num_hidden_layers=2,
                                                  num_attention_heads=4, intermediate_size=37,
                                                  max_position_embeddings=64))
    pt.compile_for_pretraining(model, pt.create_optimizer(3e-3, total_steps=60, warmup_steps=6))
    curve = pt.train(model, lambda skip: pt.pretraining_dataset(SAMPLE, tokenizer, vocab, batch_size=16,
                                                                max_length=64, seed=0, skip_batches=skip,
                                                                masked_lm_positions=True),
                     max_steps=60, backup_dir=str(tmp_path / "backup"), log_every=10,
                     log_dir=str(tmp_path / "logs"))
    mlm = [r["mlm_loss"] for r in curve.history]
    assert len(mlm) == 6 and mlm[-1] < mlm[0] - 0.5 and mlm[-1] < min(mlm[:3]), mlm  # ln(vocab) = 6.2
    assert os.listdir(tmp_path / "logs" / "train"), "no TensorBoard events"
    assert not os.path.exists(tmp_path / "backup"), "the backup of a finished run is removed"


def test_mirrored_strategy_matches_one_device(runs):
    one, two = runs["default"], runs["mirrored"]
    assert len(one[0]) == STEPS
    np.testing.assert_allclose(two[0][0], one[0][0], rtol=1e-6)   # the first step: the same loss
    # Adam turns float noise in gradients near zero into +-lr steps, so later steps agree less closely.
    _assert_same_run(two, one, 5e-4, 5e-3)


def test_multi_worker_mirrored_strategy_matches_one_device(launched, single_device):
    runs = []
    for index in range(2):
        folder, proc = launched[f"worker{index}"]
        code, out = _finish(proc)
        assert code == 0, out[-3000:]
        runs.append(_load(folder / "out" / f"auto_{index}.npz"))
    _assert_same_run(runs[0], runs[1], 0, 0)               # the workers hold the same model
    np.testing.assert_allclose(runs[0][0][0], single_device[0][0], rtol=1e-6)
    _assert_same_run(runs[0], single_device, 5e-4, 5e-3)


def test_killed_run_resumes_without_lost_steps(launched, tokens, single_device):
    folder, proc = launched["killed"]
    code, out = _finish(proc)
    assert code == -9, out[-3000:]
    assert os.path.exists(folder / "backup" / "default" / "latest.weights.h5")
    assert not os.path.exists(folder / "out" / "default_0.npz")
    code, out = _finish(_start(folder, tokens, ["default"]))
    assert code == 0, out[-3000:]
    losses, weights = _load(folder / "out" / "default_0.npz")
    assert len(losses) == STEPS - EVERY * 2                # only the steps after the backup ran again
    np.testing.assert_allclose(losses, single_device[0][EVERY * 2:], rtol=1e-6)
    _assert_same_run((losses, weights), (losses, single_device[1]), 0, 1e-6)
