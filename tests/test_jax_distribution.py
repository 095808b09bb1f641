"""`keras.distribution` on JAX over 8 virtual CPU devices: five SGD steps under `DataParallel` and under
`ModelParallel` with `bert_layout_map` give the single-device losses within 1e-4, and the encoder's kernels are
really sharded; pretraining steps (`compile_for_pretraining`'s losses) under `DataParallel` give the single-device
losses too. The steps run in their own process (tests/distributed_steps.py): JAX fixes its device count when
it starts."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = [pytest.mark.jax, pytest.mark.jax_only]

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_steps.py")


@pytest.mark.slow  # its own JAX process on 8 devices
def test_data_and_model_parallel_losses_equal_single_device():
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    done = subprocess.run([sys.executable, SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    single = np.array(result["single"])
    assert len(single) == 5 and np.all(np.isfinite(single))
    np.testing.assert_allclose(result["data"], single, atol=1e-4, rtol=0)
    np.testing.assert_allclose(result["model"], single, atol=1e-4, rtol=0)
    assert result["sharded"], "the query kernel is not sharded over the model axis"
    pretraining = np.array(result["pretraining_single"])
    assert len(pretraining) == 5 and np.all(np.isfinite(pretraining)) and pretraining[-1] < pretraining[0]
    np.testing.assert_allclose(result["pretraining_data"], pretraining, atol=1e-4, rtol=0)


def test_layout_map_needs_a_model_axis():
    import keras

    from keras_bert_suite.layout import bert_layout_map

    mesh = keras.distribution.DeviceMesh((1,), ["batch"], keras.distribution.list_devices()[:1])
    with pytest.raises(ValueError, match="axes \\['batch'\\], not 'model'"):
        bert_layout_map(mesh)
