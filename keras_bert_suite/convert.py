"""Converting a checkpoint in any format this package reads into a Hugging Face folder and a `.keras` file.

`convert(src, dst)` reads `src` (Hugging Face folder: safetensors, sharded, pytorch_model.bin, tf_model.h5; or
Google's release folder / checkpoint prefix), picks the model class from the config's `architectures` or from
the weights present, and writes `dst/` (config.json, model.safetensors, vocab.txt, tokenizer_config.json,
special_tokens_map.json) and `dst/model.keras`. The folder appears whole or not at all.

Example:
    >>> convert("uncased_L-12_H-768_A-12", "bert-base-uncased-hf")
"""

import os

import keras

import keras_bert_suite as kbs
from keras_bert_suite.checkpoints.configs import read_config
from keras_bert_suite.checkpoints.formats import detect_format, read_state_dict
from keras_bert_suite.checkpoints.mapping import load_state_dict
from keras_bert_suite.io import atomic_directory

MODEL_CLASSES = (
    "BertModel", "BertForPreTraining", "BertLMHeadModel", "BertForMaskedLM", "BertForNextSentencePrediction",
    "BertForSequenceClassification", "BertForMultipleChoice", "BertForTokenClassification",
    "BertForQuestionAnswering",
)


def guess_model_class(config, names):
    """The model class named in config.json's `architectures`, else the one the weight names imply."""
    for arch in config.architectures or ():
        if arch in MODEL_CLASSES:
            return arch
    names = set(names)
    has = lambda prefix: any(n.startswith(prefix) for n in names)  # noqa: E731
    if has("cls.predictions") and has("cls.seq_relationship"):
        return "BertForPreTraining"
    if has("cls.predictions"):
        return "BertLMHeadModel" if config.is_decoder else "BertForMaskedLM"
    if has("cls.seq_relationship"):
        return "BertForNextSentencePrediction"
    if has("qa_outputs"):
        return "BertForQuestionAnswering"
    if has("classifier"):
        return "BertForSequenceClassification"
    return "BertModel"


def _tokenizer_for(src, do_lower_case=None):
    from keras_bert_suite.tokenizers import BertTokenizer

    folder = src if os.path.isdir(src) else os.path.dirname(os.path.abspath(src))
    if not os.path.exists(os.path.join(folder, "vocab.txt")):
        return None
    kwargs = {}
    if do_lower_case is None and not os.path.exists(os.path.join(folder, "tokenizer_config.json")):
        # Google's releases say their casing only in the folder name (uncased_L-12_H-768_A-12).
        do_lower_case = "cased" not in os.path.basename(os.path.normpath(folder)).replace("uncased", "")
    if do_lower_case is not None:
        kwargs["do_lower_case"] = do_lower_case
    return BertTokenizer.from_pretrained(folder, **kwargs)


def convert(src, dst, model_class=None, do_lower_case=None, keras_file=True, verbose=1):
    """Convert `src` into the Hugging Face folder `dst` (+ `dst/model.keras`); returns the model."""
    src, dst = os.fspath(src), os.fspath(dst)
    steps = keras.utils.Progbar(5, verbose=verbose, unit_name="step")
    fmt = detect_format(src)
    state_dict, _, source = read_state_dict(src)
    config = read_config(src)
    steps.update(1)
    name = model_class or guess_model_class(config, state_dict)
    if name not in MODEL_CLASSES:
        raise ValueError(f"unknown model class {name!r}; choose one of {MODEL_CLASSES}")
    model = getattr(kbs, name)(config)
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
