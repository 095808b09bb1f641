"""Writing KerasHub BERT presets from our weights, through keras_hub itself (`kbs convert --to keras-hub`).

`write_preset` builds a `keras_hub.models.BertBackbone` and a `keras_hub.models.BertTokenizer` (and for a
classifier or MLM head a `BertTextClassifier` / `BertMaskedLM` task with its preprocessor), puts the weights into
them through the weight table of `checkpoints.keras_hub_preset` (the one table reading uses), and lets KerasHub
save them, so the files are exactly what the installed KerasHub loads; keras-hub is imported only then (an
optional dependency). `convert.save_keras_hub_preset` wraps it: any checkpoint or model in, the folder written
atomically. Reading presets stays with the checkpoint readers (`checkpoints.keras_hub_preset`) and the tokenizers
(`tokenizers.keras_hub_assets`); this module sits above both, beside `convert.py`.

Example:
    >>> from keras_bert_suite import BertConfig
    >>> backbone_kwargs(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    ...                            intermediate_size=37))["num_layers"]
    2
"""

import logging

import numpy as np

from keras_bert_suite.checkpoints.keras_hub_preset import POOLER, TASKS, to_keras, weight_table
from keras_bert_suite.tokenizers.vocab import vocab_to_list

logger = logging.getLogger("keras_bert_suite")


def backbone_kwargs(config) -> dict:
    """The `keras_hub.models.BertBackbone` arguments of a `BertConfig` (the inverse of
    `checkpoints.keras_hub_preset.read_preset_config`).

    Args:
        config: a `BertConfig`.

    Example:
        >>> from keras_bert_suite import BertConfig
        >>> backbone_kwargs(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        ...                            intermediate_size=37))["hidden_dim"]
        32
    """
    return {
        "vocabulary_size": config.vocab_size,
        "num_layers": config.num_hidden_layers,
        "num_heads": config.num_attention_heads,
        "hidden_dim": config.hidden_size,
        "intermediate_dim": config.intermediate_size,
        "dropout": config.hidden_dropout_prob,
        "max_sequence_length": config.max_position_embeddings,
        "num_segments": config.type_vocab_size,
    }


def _import_keras_hub():
    try:
        import keras_hub  # optional dependency: only writing presets needs it
    except ImportError as exc:
        raise ImportError("writing a KerasHub preset needs keras-hub: `pip install keras-hub`") from exc
    return keras_hub


def _check_expressible(config):
    problems = []
    if config.position_embedding_type != "absolute":
        problems.append(f"position_embedding_type={config.position_embedding_type!r}")
    if config.is_decoder or config.add_cross_attention:
        problems.append("a decoder (is_decoder / add_cross_attention)")
    if abs(config.layer_norm_eps - 1e-12) > 1e-15:
        problems.append(f"layer_norm_eps={config.layer_norm_eps}")
    if config.hidden_act not in ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        problems.append(f"hidden_act={config.hidden_act!r}")
    if problems:
        raise ValueError(f"a KerasHub BertBackbone cannot express {', '.join(problems)}")


def _assign(model, rows, state, what, optional=()):
    """Put the transformers-named `state` into the KerasHub `model`'s variables named by weight-table `rows`
    (those named in `optional` and absent from `state` keep their initial values)."""
    for layer, sub, _, attr, name, layout in rows:
        if name not in state and name in optional:
            continue
        if name not in state:
            raise ValueError(f"the weights lack {name!r}, needed by a KerasHub {what}")
        target = model.get_layer(layer)
        for part in sub:
            target = getattr(target, part)
        variable = getattr(target, attr)
        value = np.asarray(state[name], dtype=np.float32)
        if value.size != int(np.prod(variable.shape)):
            raise ValueError(f"weight {name!r} has shape {value.shape}; the KerasHub variable "
                             f"{layer}/{'/'.join(sub + (attr,))} has shape {tuple(variable.shape)}")
        variable.assign(to_keras(value, layout, tuple(variable.shape)))


def _keras_hub_tokenizer(keras_hub, tokenizer):
    vocab = tokenizer.vocab if hasattr(tokenizer, "vocab") else tokenizer.get_vocab()
    lower = bool(getattr(tokenizer, "do_lower_case", True))
    strip = getattr(tokenizer, "strip_accents", None)
    return keras_hub.models.BertTokenizer(
        vocabulary=list(vocab) if isinstance(vocab, (list, tuple)) else vocab_to_list(vocab),
        lowercase=lower,
        strip_accents=bool(lower if strip is None else strip),
        oov_token=str(tokenizer.unk_token),
        special_tokens_in_strings=True,  # "[MASK]" in a text is the mask token, as in BERT's tokenizers
    )


def task_of(state_dict):
    """The KerasHub task that holds the head in `state_dict`: "BertTextClassifier" (`classifier.*`),
    "BertMaskedLM" (`cls.predictions.*`), or None (the backbone alone)."""
    if "classifier.weight" in state_dict:
        return "BertTextClassifier"
    if "cls.predictions.transform.dense.weight" in state_dict:
        return "BertMaskedLM"
    return None


def write_preset(state_dict, config, tokenizer, folder):
    """Write a KerasHub BERT preset into `folder`; returns the transformers names it wrote.

    Always config.json, model.weights.h5 and metadata.json (the backbone); with a tokenizer tokenizer.json and
    assets/tokenizer/vocabulary.txt. Weights with a classifier head (`classifier.*`) are written as a
    `BertTextClassifier` task and weights with an MLM head (`cls.predictions.*`) as a `BertMaskedLM` task
    (task.json, task.weights.h5, and with a tokenizer preprocessor.json); other heads (NSP, token
    classification, QA, multiple choice) have no KerasHub BERT task and are not written.

    Args:
        state_dict: transformers-named weights, with or without `bert.`.
        config: the `BertConfig`. Only what KerasHub's BERT can express is accepted: absolute positions, no
            decoder or cross-attention, layer_norm_eps 1e-12; KerasHub computes GELU with the tanh approximation.
        tokenizer: a `BertTokenizer`/`BertTokenizerFast` (ours or transformers') or `TFBertTokenizer`: its
            vocabulary, lowercasing and accent stripping (BERT's rule made explicit); or None.
        folder: the preset folder (written in place; `convert.save_keras_hub_preset` makes it atomic).

    Example:
        >>> write_preset(model_state_dict(model), model.config, tokenizer, "out/preset")  # doctest: +SKIP
        {'embeddings.word_embeddings.weight', ..., 'classifier.weight', 'classifier.bias'}
    """
    _check_expressible(config)
    keras_hub = _import_keras_hub()
    state = {(k[len("bert."):] if k.startswith("bert.") else k): v for k, v in state_dict.items()}
    backbone = keras_hub.models.BertBackbone(**backbone_kwargs(config))
    rows = weight_table(config.num_hidden_layers)
    pooler = [name for *_, name, _ in POOLER]
    _assign(backbone, rows, state, "BertBackbone", optional=pooler)
    if not set(pooler) <= set(state):  # BertForMaskedLM, BertLMHeadModel have no pooler
        logger.warning(f"{pooler} are not in the weights: the KerasHub BertBackbone keeps its initial values "
                       "for them (its pooled_output is untrained)")
        rows = [row for row in rows if row[4] not in pooler]
    kh_tokenizer = None if tokenizer is None else _keras_hub_tokenizer(keras_hub, tokenizer)
    task_name = task_of(state)
    if task_name is None:
        backbone.save_to_preset(folder)
        if kh_tokenizer is not None:
            kh_tokenizer.save_to_preset(folder)
        return {name for *_, name, _ in rows}
    sequence_length = min(512, config.max_position_embeddings)
    if task_name == "BertTextClassifier":
        preprocessor = None if kh_tokenizer is None else keras_hub.models.BertTextClassifierPreprocessor(
            kh_tokenizer, sequence_length=sequence_length)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        task = keras_hub.models.BertTextClassifier(backbone, num_classes=int(state["classifier.weight"].shape[0]),
                                                   preprocessor=preprocessor, dropout=dropout)
    else:
        preprocessor = None if kh_tokenizer is None else keras_hub.models.BertMaskedLMPreprocessor(
            kh_tokenizer, sequence_length=sequence_length)
        task = keras_hub.models.BertMaskedLM(backbone, preprocessor=preprocessor)
    task_rows = TASKS[task_name][1]
    _assign(task, task_rows, state, task_name)
    task.save_to_preset(folder)
    written = {name for *_, name, _ in rows + list(task_rows)}
    if task_name == "BertMaskedLM":  # the decoder is the word embeddings in both libraries
        written |= {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}
    return written
