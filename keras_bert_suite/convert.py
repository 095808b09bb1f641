"""Converting a checkpoint in any format this package reads into a Hugging Face folder and a `.keras` file.

`convert(src, dst)` reads `src` (Hugging Face folder: safetensors, sharded, pytorch_model.bin, tf_model.h5; or
Google's release folder / checkpoint prefix), picks the model class from the config's `architectures` or from
the weights present, and writes `dst/` (config.json, model.safetensors, vocab.txt, tokenizer_config.json,
special_tokens_map.json) and `dst/model.keras`. The folder appears whole or not at all.

`save_keras_hub_preset(model_or_path, tokenizer, dst)` writes the other way: a KerasHub BERT preset that
`keras_hub.models.BertBackbone.from_preset(dst)` and `keras_hub.models.BertTokenizer.from_preset(dst)` load.

Example:
    >>> convert("uncased_L-12_H-768_A-12", "bert-base-uncased-hf")  # doctest: +SKIP
    >>> save_keras_hub_preset("bert-base-uncased-hf", None, "bert-base-uncased-keras-hub")  # doctest: +SKIP
"""

import os

import keras

from keras_bert_suite import models
from keras_bert_suite.checkpoints.configs import read_config
from keras_bert_suite.checkpoints.formats import detect_format, read_state_dict
from keras_bert_suite.checkpoints.mapping import load_state_dict, model_state_dict
from keras_bert_suite.hub import TOKENIZER_FILES, resolve_pretrained
from keras_bert_suite.io import atomic_directory
from keras_bert_suite.keras_hub_writer import write_preset
from keras_bert_suite.tokenizers import BertTokenizer
from keras_bert_suite.tokenizers.vocab import find_vocab_file

#: the model classes a checkpoint converts into, by their names in config.json's `architectures`
MODEL_CLASSES = {cls.__name__: cls for cls in (
    models.BertModel, models.BertForPreTraining, models.BertLMHeadModel, models.BertForMaskedLM,
    models.BertForNextSentencePrediction, models.BertForSequenceClassification, models.BertForMultipleChoice,
    models.BertForTokenClassification, models.BertForQuestionAnswering,
)}


def model_class_of(config, names, model_class=None):
    """The model class to load a checkpoint into: `model_class` (a class or its name) checked against
    `MODEL_CLASSES`, else `guess_model_class(config, names)`.

    Args:
        config: the checkpoint's `BertConfig`.
        names: its weight names (a state dict or any iterable of names).
        model_class: None, one of `MODEL_CLASSES`' classes, or its name ("BertForPreTraining").

    Raises:
        ValueError: `model_class` is not one of `MODEL_CLASSES` (the message lists them).

    Example:
        >>> from keras_bert_suite import BertConfig
        >>> model_class_of(BertConfig(), ["classifier.weight"]).__name__
        'BertForSequenceClassification'
        >>> model_class_of(BertConfig(), [], "BertForMaskedLM").__name__
        'BertForMaskedLM'
    """
    if model_class is None:
        return guess_model_class(config, names)
    if isinstance(model_class, str):
        cls = MODEL_CLASSES.get(model_class)
    else:
        cls = model_class if model_class in MODEL_CLASSES.values() else None
    if cls is None:
        raise ValueError(f"unknown model class {model_class!r}; choose one of {list(MODEL_CLASSES)}")
    return cls


def guess_model_class(config, names):
    """The model class named in config.json's `architectures`, else the one the weight names imply.

    Example:
        >>> from keras_bert_suite import BertConfig
        >>> guess_model_class(BertConfig(architectures=["BertForQuestionAnswering"]), []).__name__
        'BertForQuestionAnswering'
    """
    for arch in config.architectures or ():
        if arch in MODEL_CLASSES:
            return MODEL_CLASSES[arch]
    names = set(names)
    has = lambda prefix: any(n.startswith(prefix) for n in names)  # noqa: E731
    if has("cls.predictions") and has("cls.seq_relationship"):
        return models.BertForPreTraining
    if has("cls.predictions"):
        return models.BertLMHeadModel if config.is_decoder else models.BertForMaskedLM
    if has("cls.seq_relationship"):
        return models.BertForNextSentencePrediction
    if has("qa_outputs"):
        return models.BertForQuestionAnswering
    if has("classifier"):
        return models.BertForSequenceClassification
    return models.BertModel


def _tokenizer_for(src, do_lower_case=None):
    folder = src if os.path.isdir(src) else os.path.dirname(os.path.abspath(src))
    if find_vocab_file(folder) is None:
        return None
    kwargs = {}
    settings_files = ("tokenizer_config.json", "tokenizer.json")
    if do_lower_case is None and not any(os.path.exists(os.path.join(folder, f)) for f in settings_files):
        # Google's releases say their casing only in the folder name (uncased_L-12_H-768_A-12).
        do_lower_case = "cased" not in os.path.basename(os.path.normpath(folder)).replace("uncased", "")
    if do_lower_case is not None:
        kwargs["do_lower_case"] = do_lower_case
    return BertTokenizer.from_pretrained(folder, **kwargs)


def convert(src, dst, model_class=None, do_lower_case=None, keras_file=True, verbose=1):
    """Convert `src` into the Hugging Face folder `dst` (+ `dst/model.keras`); returns the model.

    Args:
        src: a checkpoint folder, file or TF checkpoint prefix in any format `checkpoints.formats` reads, or a
            Hugging Face Hub id.
        dst: the output folder; it appears whole or not at all.
        model_class: one of `MODEL_CLASSES` or its name (default: from the checkpoint, `guess_model_class`).
        do_lower_case: the casing of a tokenizer found beside a Google checkpoint (default: from its folder name).
        keras_file: also write `dst/model.keras`.
        verbose: 0 for silence, 1 for a progress bar and a summary line.

    Example:
        >>> convert("uncased_L-12_H-768_A-12", "bert-base-uncased-hf")  # doctest: +SKIP
    """
    src, dst = os.fspath(src), os.fspath(dst)
    src = resolve_pretrained(src, extra_files=TOKENIZER_FILES)  # a Hugging Face Hub id: its files in the Hub cache
    steps = keras.utils.Progbar(5, verbose=verbose, unit_name="step")
    fmt = detect_format(src)
    state_dict, _, source = read_state_dict(src)
    config = read_config(src)
    steps.update(1)
    cls = model_class_of(config, state_dict, model_class)
    name = cls.__name__
    model = cls(config)
    info = load_state_dict(model, state_dict, source)
    if info.missing_keys:
        raise ValueError(f"{source} lacks weights of {name}: {info.missing_keys}; pass another model_class")
    steps.update(2)
    tokenizer = _tokenizer_for(src, do_lower_case)
    with atomic_directory(dst) as tmp:
        model.save_pretrained(tmp)
        steps.update(3)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        if keras_file:
            model.save(os.path.join(tmp, "model.keras"))
        steps.update(4)
    steps.update(5)
    if verbose:
        print(f"converted {fmt} checkpoint {src} -> {dst} as {name}"
              + (f" (not used: {info.unexpected_keys})" if info.unexpected_keys else ""))
    return model


def save_keras_hub_preset(model_or_path, tokenizer, dst, do_lower_case=None, verbose=1):
    """Write a KerasHub BERT preset folder `dst` (backbone + tokenizer), atomically; returns the path.

    The preset is written by KerasHub itself (a `keras_hub.models.BertBackbone` holding these weights and its
    `save_to_preset`), so it is exactly what the installed KerasHub loads; keras-hub must be installed. A
    sequence classifier is written as a `BertTextClassifier` task and an MLM head (BertForMaskedLM,
    BertForPreTraining) as a `BertMaskedLM` task; heads KerasHub's BERT has no task for (NSP, token
    classification, QA, multiple choice) are left out and named.
    KerasHub computes GELU with the tanh approximation, so its outputs differ from ours by that (on MiniLM's
    hidden states max 4e-3 to 1e-2, mean 4e-4); token ids are the same.

    Args:
        model_or_path: one of our models (`BertModel`, `BertForSequenceClassification`, ...) or a checkpoint
            path in any format `checkpoints.formats` reads.
        tokenizer: a `BertTokenizer`/`BertTokenizerFast` (ours or transformers'), a folder to load one from,
            or None: then the vocabulary beside `model_or_path` when it is a path (no tokenizer files otherwise).
        dst: the preset folder; it appears whole or not at all.
        do_lower_case: the casing of a tokenizer found beside a Google checkpoint (default: from its folder name).

    Example:
        >>> save_keras_hub_preset(model, tokenizer, "presets/minilm")  # doctest: +SKIP
        >>> keras_hub.models.BertBackbone.from_preset("presets/minilm")  # doctest: +SKIP
    """
    dst = os.fspath(dst)
    if isinstance(model_or_path, keras.Model):
        state_dict, config, source = model_state_dict(model_or_path), model_or_path.config, type(model_or_path).__name__
    else:
        source = resolve_pretrained(os.fspath(model_or_path), extra_files=TOKENIZER_FILES)  # or a Hub id
        state_dict, config = read_state_dict(source)[0], read_config(source)
        if tokenizer is None:
            tokenizer = _tokenizer_for(source, do_lower_case)
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = BertTokenizer.from_pretrained(tokenizer)
    with atomic_directory(dst) as tmp:
        written = write_preset(state_dict, config, tokenizer, tmp)
    left_out = sorted(k for k in state_dict if k.removeprefix("bert.") not in written)
    if verbose:
        print(f"wrote KerasHub BERT preset {dst} from {source}"
              + ("" if tokenizer is not None else " (no tokenizer)")
              + (f" (left out, no KerasHub BERT task holds them: {left_out})" if left_out else ""))
    return dst
