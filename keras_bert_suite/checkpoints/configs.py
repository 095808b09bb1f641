"""Finding the `BertConfig` of a checkpoint: `config.json` (Hugging Face or a KerasHub preset's) or
`bert_config.json` (Google).

Example:
    >>> read_config("uncased_L-12_H-768_A-12/", num_labels=3).hidden_size
    768
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
