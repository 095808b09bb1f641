"""Finding the `BertConfig` of a checkpoint: `config.json` (Hugging Face or a KerasHub preset's) or
`bert_config.json` (Google).

Example:
    >>> import json
    >>> os.makedirs("uncased_L-2_H-128_A-2")
    >>> with open("uncased_L-2_H-128_A-2/bert_config.json", "w") as f:      # Google's release layout
    ...     json.dump({"vocab_size": 30522, "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
    ...                "intermediate_size": 512}, f)
    >>> config = read_config("uncased_L-2_H-128_A-2/", num_labels=3)
    >>> config.hidden_size, config.num_labels
    (128, 3)
"""

import os

from keras_bert_suite.checkpoints import keras_hub_preset
from keras_bert_suite.checkpoints.google_tf1 import read_google_config
from keras_bert_suite.config import CONFIG_NAME, BertConfig

GOOGLE_CONFIG_NAME = "bert_config.json"


def read_config(path, **overrides) -> BertConfig:
    """The config beside a checkpoint: a folder, a weights file in a folder, or a TF checkpoint prefix."""
    path = os.fspath(path)
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    hf = os.path.join(folder, CONFIG_NAME)
    if keras_hub_preset.is_keras_hub_preset(folder):
        return BertConfig.from_dict(keras_hub_preset.read_preset_config(folder), **overrides)
    if os.path.exists(hf):
        return BertConfig.from_json_file(hf, **overrides)
    google = os.path.join(folder, GOOGLE_CONFIG_NAME)
    if os.path.exists(google):
        return BertConfig.from_dict(read_google_config(google), **overrides)
    raise FileNotFoundError(f"no {CONFIG_NAME} or {GOOGLE_CONFIG_NAME} in {folder!r}")
