"""Shared test helpers: tiny configs, random batches, the PyTorch reference with the same weights, the real
MiniLM folder, and the harness every layer, tokenizer and model passes through.

The harness (after KerasHub's `TestCase`), plain functions usable from any pytest test:
- `run_layer_test`: build, trainable weight count, symbolic and eager calls with output shapes, config round
  trip, and (by default) the precision test;
- `run_serialization_test`: `get_config` / `from_config` and `serialize_keras_object` round trips give the same
  JSON config;
- `run_precision_test`: under `mixed_bfloat16` and `mixed_float16` given as the layer's `dtype` (the global
  policy untouched), floating outputs have the compute dtype, variables stay float32, every sublayer has the
  policy;
- `run_model_saving_test`: a `.keras` file round trip (safe mode) gives the same class and the same outputs.

Example:
    >>> from helpers import TINY, batch, run_layer_test
    >>> run_layer_test(BertPooler, {"config": BertConfig(**TINY)}, np.ones([2, 5, 32], "float32"),
    ...                expected_output_shape=(2, 32), expected_num_trainable_weights=2)
"""

import functools
import json
import os

import keras
import numpy as np
import pytest

from tools.bench.common import minilm_folder  # noqa: F401  (the real MiniLM folder; tests import it from here)

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")

TINY = dict(
    vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
    max_position_embeddings=64, type_vocab_size=2,
)

PRECISION_POLICIES = ("mixed_bfloat16", "mixed_float16")

#: marks a test of TensorFlow-only machinery (tf.function, GradientTape) in a module that also runs under JAX.
TF_ONLY = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow-only machinery")




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


def task_models(config, ner_labels, class_labels=None):
    """One model constructor per export task (the keys `export_saved_model` serves), for the export tests.

    Args:
        config: a function of keyword arguments returning the test's `BertConfig` (its own size and length);
            called with `id2label=...` for the two classifiers and `is_decoder=True` for the causal LM.
        ner_labels: `{id: label}` of the token classifier (BIO tags).
        class_labels: `{id: label}` of the sequence classifier (default `{0: "neg", 1: "pos"}`).

    Returns:
        `{task: make}` in a fixed order; each `make()` builds a fresh, unbuilt model (seed Keras first for the
        same weights every run).

    Example:
        >>> models = task_models(lambda **kw: kbs.BertConfig(vocab_size=30522, hidden_size=32,
        ...                      num_hidden_layers=1, num_attention_heads=4, intermediate_size=37, **kw),
        ...                      {0: "O", 1: "B-PER", 2: "I-PER"})
        >>> keras.utils.set_random_seed(0)
        >>> classifier = models["sequence_classification"]()
    """
    import keras_bert_suite as kbs

    return {
        "sequence_classification": lambda: kbs.BertForSequenceClassification(
            config(id2label=class_labels or {0: "neg", 1: "pos"})),
        "token_classification": lambda: kbs.BertForTokenClassification(config(id2label=ner_labels)),
        "question_answering": lambda: kbs.BertForQuestionAnswering(config()),
        "masked_lm": lambda: kbs.BertForMaskedLM(config()),
        "next_sentence_prediction": lambda: kbs.BertForNextSentencePrediction(config()),
        "multiple_choice": lambda: kbs.BertForMultipleChoice(config()),
        "feature_extraction": lambda: kbs.BertModel(config()),
        "causal_lm": lambda: kbs.BertLMHeadModel(config(is_decoder=True)),
    }


class TinyExports:
    """Raw-text SavedModels of tiny models (MiniLM's vocabulary, 2 layers, hidden 32, seed 0), each exported once
    per test process and set of options: the serving tests share them through the session fixture
    `tiny_export` (conftest.py) instead of exporting their own.

    Example:
        >>> model, path = tiny_export("sequence_classification", max_length=32)   # labels negative / positive
        >>> tf.saved_model.load(path).signatures["serving_default"](text=tf.constant(["a fine film"]))
    """

    CONFIG = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
    NER_LABELS = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}
    CLASS_LABELS = {0: "negative", 1: "positive"}

    def __init__(self, root):
        self.root = root
        self._models = {}
        self._exports = {}

    @functools.cached_property
    def tokenizer(self):
        """MiniLM's vocabulary and settings (BertTokenizer)."""
        from keras_bert_suite.tokenizers import BertTokenizer

        return BertTokenizer.from_pretrained(minilm_folder())

    def model(self, task):
        """The tiny model of `task` (one per process: the same weights in every export of it)."""
        import keras_bert_suite as kbs

        if task not in self._models:
            keras.utils.set_random_seed(0)
            make = task_models(lambda **kw: kbs.BertConfig(**self.CONFIG, **kw), self.NER_LABELS,
                               self.CLASS_LABELS)[task]
            self._models[task] = make()
        return self._models[task]

    def __call__(self, task, **options):
        """(model, SavedModel version path) of `task` exported with `options` (those of export_saved_model)."""
        from keras_bert_suite.export import export_saved_model

        key = (task, tuple(sorted(options.items())))
        if key not in self._exports:
            folder = os.path.join(self.root, f"{task}-{len(self._exports)}")
            self._exports[key] = self.model(task), export_saved_model(self.model(task), self.tokenizer, folder,
                                                                      **options)
        return self._exports[key]


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


# ----------------------------------------------------------------------------------------------- harness
def _call(layer, input_data, call_kwargs=None):
    """`layer(**input_data)` for a dict of named inputs, else `layer(input_data)`; models take the dict whole."""
    call_kwargs = call_kwargs or {}
    if isinstance(input_data, dict) and not isinstance(layer, keras.Model):
        return layer(**input_data, **call_kwargs)
    return layer(input_data, **call_kwargs)


def _shapes(output):
    return keras.tree.map_structure(lambda x: None if x is None else tuple(x.shape), output)


def _symbolic(input_data):
    return keras.tree.map_structure(
        lambda x: keras.KerasTensor(tuple(np.shape(x)), dtype=keras.backend.standardize_dtype(x.dtype)), input_data
    )


def _is_float(dtype):
    return "float" in keras.backend.standardize_dtype(dtype)


def _config_json(instance):
    return json.dumps(instance.get_config(), sort_keys=True, default=str)


def run_serialization_test(instance):
    """`get_config` -> `from_config` and `serialize_keras_object` -> JSON -> `deserialize_keras_object` give an
    object of the same class with the same config.

    Args:
        instance: a layer or model of this package.
    Returns:
        the object revived through JSON.
    """
    cls = type(instance)
    expected = _config_json(instance)
    revived = cls.from_config(instance.get_config())
    assert type(revived) is cls
    assert _config_json(revived) == expected, f"{cls.__name__}: from_config(get_config()) changed the config"
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(instance)))
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is cls
    assert _config_json(revived) == expected, f"{cls.__name__}: the serialized JSON changed the config"
    return revived


def run_precision_test(cls, init_kwargs, input_data, call_kwargs=None, policies=PRECISION_POLICIES):
    """Under each mixed policy, passed as `dtype` (the global policy is left float32): floating outputs have
    the policy's compute dtype, floating variables are float32, and every sublayer carries the policy.

    Args:
        cls: the layer or model class. init_kwargs: its constructor arguments (without dtype).
        input_data: an array, or a dict of named arrays (a layer is called with them as keywords).
        call_kwargs: further call keywords. policies: the policy names to check.
    """
    assert keras.config.dtype_policy().name == "float32", "the precision test expects the float32 global policy"
    for name in policies:
        policy = keras.dtype_policies.get(name)
        layer = cls(**init_kwargs, dtype=policy)
        output = _call(layer, input_data, call_kwargs)
        for tensor in keras.tree.flatten(output):
            if tensor is not None and _is_float(tensor.dtype):
                assert keras.backend.standardize_dtype(tensor.dtype) == policy.compute_dtype, (
                    f"{cls.__name__} under {name}: an output is {tensor.dtype}, expected {policy.compute_dtype}"
                )
        for weight in layer.weights:
            if _is_float(weight.dtype):
                assert weight.dtype == policy.variable_dtype, (
                    f"{cls.__name__} under {name}: {weight.path} is {weight.dtype}"
                )
        for sublayer in layer._flatten_layers():
            assert sublayer.dtype_policy.name == name, (
                f"{cls.__name__} under {name}: sublayer {sublayer.path or sublayer.name} has policy "
                f"{sublayer.dtype_policy.name}"
            )
        assert keras.config.dtype_policy().name == "float32", f"{cls.__name__} changed the global policy"


def run_layer_test(cls, init_kwargs, input_data, expected_output_shape, expected_num_trainable_weights=0,
                   expected_num_non_trainable_weights=0, call_kwargs=None, run_symbolic=True,
                   run_precision=True):
    """Build, call (symbolically and eagerly) and round-trip the config of a layer.

    Args:
        cls: the layer class. init_kwargs: its constructor arguments.
        input_data: an array, or a dict of named arrays passed as keywords.
        expected_output_shape: the eager output's shapes, as a structure of tuples (None for absent values).
        expected_num_trainable_weights, expected_num_non_trainable_weights: counts after `build()`.
        call_kwargs: further call keywords (e.g. `training=True`).
        run_symbolic: also call on `keras.KerasTensor`s and check that the rank of each output is right.
        run_precision: also run `run_precision_test`.
    Returns:
        the eager output.
    """
    run_serialization_test(cls(**init_kwargs))

    layer = cls(**init_kwargs)
    layer.build(None if isinstance(input_data, dict) else tuple(np.shape(input_data)))
    assert layer.built, f"{cls.__name__}.build() left the layer unbuilt"
    assert len(layer.trainable_weights) == expected_num_trainable_weights, (
        f"{cls.__name__}: {len(layer.trainable_weights)} trainable weights, expected {expected_num_trainable_weights}"
    )
    assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights, (
        f"{cls.__name__}: {len(layer.non_trainable_weights)} non-trainable weights, expected "
        f"{expected_num_non_trainable_weights}"
    )

    output = _call(layer, input_data, call_kwargs)
    assert _shapes(output) == expected_output_shape, f"{cls.__name__}: output shapes {_shapes(output)}"

    if run_symbolic:
        symbolic = keras.tree.flatten(_call(cls(**init_kwargs), _symbolic(input_data), call_kwargs))
        eager = keras.tree.flatten(output)
        assert len(symbolic) == len(eager), f"{cls.__name__}: {len(symbolic)} symbolic outputs, {len(eager)} eager"
        for s, e in zip(symbolic, eager):
            assert len(s.shape) == len(e.shape) and all(a in (None, b) for a, b in zip(s.shape, e.shape)), (
                f"{cls.__name__}: symbolic output shape {s.shape}, eager {tuple(e.shape)}"
            )
    if run_precision:
        run_precision_test(cls, init_kwargs, input_data, call_kwargs)
    return output


def run_model_saving_test(instance, input_data, folder, call_kwargs=None, atol=1e-6, input_specs=None):
    """Save to `folder/model.keras`, load in safe mode, and compare outputs.

    Args:
        instance: a model, or a layer (wrapped in a functional model over `input_specs`, a structure of
            `keras.Input`s, for saving).
        input_data: what the model is called with. folder: a temporary folder (pytest's `tmp_path`).
        atol: tolerance on floating outputs (integer outputs must be equal).
    Returns:
        the loaded model.
    """
    model = instance
    if not isinstance(instance, keras.Model):
        model = keras.Model(input_specs, _call(instance, input_specs, call_kwargs))
        call_kwargs = None
    path = os.path.join(os.fspath(folder), "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model), f"loaded a {type(loaded).__name__}, saved a {type(model).__name__}"
    want = keras.tree.flatten(_call(model, input_data, call_kwargs))
    got = keras.tree.flatten(_call(loaded, input_data, call_kwargs))
    assert len(got) == len(want)
    for a, b in zip(want, got):
        a, b = keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        if _is_float(a.dtype):
            np.testing.assert_allclose(b.astype("float32"), a.astype("float32"), atol=atol)
        else:
            np.testing.assert_array_equal(b, a)
    return loaded
