"""Reading a sentence-transformers folder: which modules it chains and their settings.

A sentence-transformers model folder lists its modules in `modules.json`, in order. The ones read here:

    Transformer  (path: its folder, often the model folder itself) a BERT checkpoint with its tokenizer files
                 and `sentence_bert_config.json` (max_seq_length, do_lower_case; sentence-transformers 5.x
                 keeps max_seq_length as the tokenizer's model_max_length and do_lower_case as a Lowercase
                 step in tokenizer.json's normalizer)
    Pooling      (path/config.json) the pooling modes, old boolean keys (`pooling_mode_mean_tokens`, ...) or
                 the newer `pooling_mode` (a name or a list of names)
    Normalize    no settings: the sentence embedding is scaled to unit length

They must come as Transformer, Pooling, then optionally Normalize. Any other module (Dense, LayerNorm,
WordEmbeddings, a Router, a custom class ...) is refused at once, naming its type and path, rather than
giving embeddings that differ from sentence-transformers'.

Example:
    >>> import json
    >>> def write(path, data):
    ...     os.makedirs(os.path.dirname(path), exist_ok=True)
    ...     with open(path, "w") as f:
    ...         json.dump(data, f)
    >>> write("all-MiniLM-L6-v2/modules.json", [         # the folder's JSON files (its weights are not read here)
    ...     {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    ...     {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ...     {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    >>> write("all-MiniLM-L6-v2/sentence_bert_config.json", {"max_seq_length": 256, "do_lower_case": False})
    >>> write("all-MiniLM-L6-v2/1_Pooling/config.json", {"word_embedding_dimension": 384,
    ...                                                  "pooling_mode_mean_tokens": True})
    >>> spec = read_sentence_folder("all-MiniLM-L6-v2/")
    >>> spec.pooling_modes, spec.normalize, spec.max_seq_length
    (('mean',), True, 256)
"""

import dataclasses
import os

from keras_bert_suite.checkpoints.errors import CheckpointError, load_json
from keras_bert_suite.layers.sentence_pooling import check_modes

MODULES_FILE = "modules.json"
SENTENCE_CONFIG_FILE = "sentence_bert_config.json"
POOLING_CONFIG_FILE = "config.json"
#: the sentence-transformers files a Hub download needs beside the checkpoint and tokenizer files.
SENTENCE_FILES = (MODULES_FILE, SENTENCE_CONFIG_FILE, "config_sentence_transformers.json", "config.json",
                  "*/config.json", "*/" + SENTENCE_CONFIG_FILE)

# The legacy boolean keys, in the order sentence-transformers concatenates their vectors.
_LEGACY_KEYS = (
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
    ("pooling_mode_weightedmean_tokens", "weightedmean"),
    ("pooling_mode_lasttoken", "lasttoken"),
)


def _type_names(cls, lower):
    """Every module path under which sentence-transformers versions have saved class `cls`."""
    return {f"sentence_transformers.{package}{suffix}.{cls}"
            for package in ("models", "sentence_transformer.modules", "base.modules")
            for suffix in ("", "." + lower)}


_KINDS = {
    **{name: "Transformer" for name in _type_names("Transformer", "transformer")},
    **{name: "Pooling" for name in _type_names("Pooling", "pooling")},
    **{name: "Normalize" for name in _type_names("Normalize", "normalize")},
}
_ORDER = ("Transformer", "Pooling", "Normalize")


class UnsupportedModuleError(CheckpointError):
    """`modules.json` names a module this package does not run (its type and path are in the message)."""


@dataclasses.dataclass(frozen=True)
class SentenceFolder:
    """What a sentence-transformers folder asks for.

    Attributes:
        folder: the model folder (holding modules.json).
        transformer_folder: the Transformer module's folder (checkpoint, tokenizer files).
        max_seq_length: tokens per text, [CLS] and [SEP] included; None: the tokenizer's model_max_length
            capped at the checkpoint's max_position_embeddings (as `SentenceTransformer` resolves it).
        do_lower_case: lowercase the text before the tokenizer (whatever the tokenizer does).
        pooling_modes: tuple of `sentence_pooling.POOLING_MODES` names, concatenated in this order.
        embedding_dimension: the hidden size the Pooling config expects, or None if it does not say.
        normalize: a Normalize module follows the pooling.
    """

    folder: str
    transformer_folder: str
    max_seq_length: int
    do_lower_case: bool
    pooling_modes: tuple
    embedding_dimension: int
    normalize: bool


def pooling_modes(config):
    """The pooling modes of a Pooling `config.json` dict, in concatenation order (default: mean)."""
    if config.get("pooling_mode") is not None:
        return check_modes(config["pooling_mode"])
    modes = tuple(mode for key, mode in _LEGACY_KEYS if config.get(key))
    return modes or ("mean",)


def _lowercase_step(folder):
    """Whether tokenizer.json's normalizer is a Sequence with a Lowercase step (how sentence-transformers 5.x saves
    do_lower_case=True for a cased tokenizer)."""
    path = os.path.join(folder, "tokenizer.json")
    if not os.path.isfile(path):
        return False
    normalizer = load_json(path).get("normalizer") or {}
    steps = normalizer.get("normalizers") or [] if normalizer.get("type") == "Sequence" else []
    return any(step.get("type") == "Lowercase" for step in steps)


def _module_list(folder):
    path = os.path.join(folder, MODULES_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {MODULES_FILE} in {folder!r}: not a sentence-transformers model folder")
    modules = load_json(path)
    if not isinstance(modules, list) or not all(isinstance(m, dict) and "type" in m for m in modules):
        raise CheckpointError("expected a list of modules, each with a 'type' and a 'path'", path=path)
    if all("idx" in m for m in modules):
        modules = sorted(modules, key=lambda m: m["idx"])
    kinds = []
    for module in modules:
        kind = _KINDS.get(module["type"])
        if kind is None:
            raise UnsupportedModuleError(
                f"module {module['type']!r} at path {module.get('path', '')!r} is not supported; this package runs "
                f"{' -> '.join(_ORDER)} (Normalize optional) only",
                path=path,
            )
        kinds.append(kind)
    if tuple(kinds) not in (_ORDER, _ORDER[:2]):
        raise UnsupportedModuleError(
            f"modules {kinds} in this order are not supported; expected Transformer, Pooling, then optionally "
            "Normalize", path=path)
    return path, modules


def read_sentence_folder(folder):
    """`SentenceFolder` of a local sentence-transformers folder; errors name the file at fault.

    Raises:
        FileNotFoundError: no modules.json (or no Pooling config.json).
        UnsupportedModuleError: a module other than Transformer, Pooling, Normalize, or another order; a
            Transformer that is not a BERT checkpoint (config.json's model_type).
        CheckpointError: a file that is not valid JSON, or a setting of the wrong kind.
    """
    folder = os.fspath(folder)
    modules_path, modules = _module_list(folder)
    transformer_folder = os.path.join(folder, modules[0].get("path") or "")
    config_path = os.path.join(transformer_folder, "config.json")
    model_type = load_json(config_path).get("model_type", "bert") if os.path.isfile(config_path) else "bert"
    if model_type != "bert":
        raise UnsupportedModuleError(
            f"the Transformer module is a {model_type!r} model; this package runs BERT checkpoints only",
            path=config_path)
    settings = {}
    settings_path = os.path.join(transformer_folder, SENTENCE_CONFIG_FILE)
    if os.path.isfile(settings_path):
        settings = load_json(settings_path)
    if settings.get("transformer_task", "feature-extraction") != "feature-extraction":
        raise UnsupportedModuleError(
            f"transformer_task {settings['transformer_task']!r} is not supported (only 'feature-extraction')",
            path=settings_path)
    # sentence-transformers 5.x: processing_kwargs["text"]["max_length"] (per-call tokenizer arguments) wins over
    # the tokenizer's model_max_length; 2.x-4.x: max_seq_length.
    text_kwargs = (settings.get("processing_kwargs") or {}).get("text") or {}
    max_seq_length = text_kwargs.get("max_length") or settings.get("max_seq_length")
    if max_seq_length is not None and (not isinstance(max_seq_length, int) or max_seq_length < 2):
        raise CheckpointError(f"max_seq_length must be an integer >= 2, got {max_seq_length!r}", path=settings_path)
    pooling_path = os.path.join(folder, modules[1].get("path") or "", POOLING_CONFIG_FILE)
    if not os.path.isfile(pooling_path):
        raise FileNotFoundError(f"no Pooling config at {pooling_path!r} (named in {modules_path!r})")
    pooling = load_json(pooling_path)
    try:
        modes = pooling_modes(pooling)
    except ValueError as exc:
        raise CheckpointError(str(exc), path=pooling_path) from None
    return SentenceFolder(
        folder=folder,
        transformer_folder=transformer_folder,
        max_seq_length=max_seq_length,
        do_lower_case=bool(settings.get("do_lower_case", False)) or _lowercase_step(transformer_folder),
        pooling_modes=modes,
        embedding_dimension=pooling.get("embedding_dimension", pooling.get("word_embedding_dimension")),
        normalize=len(modules) == 3,
    )
