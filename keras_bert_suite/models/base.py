"""`BertPreTrainedModel`: what every BERT model shares: the config, input handling, Hugging Face loading and
saving, and Keras training with the model's own loss.

Inputs come as in transformers: a dict (`model({"input_ids": ids, "attention_mask": mask})`), keywords
(`model(input_ids=ids)`), or a bare `input_ids` tensor; ids may be int32 or int64.

Example:
    >>> import os, tempfile
    >>> from keras_bert_suite import BertConfig, BertModel
    >>> folder = tempfile.mkdtemp()
    >>> model = BertModel(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4))
    >>> model.save_pretrained(folder)      # config.json + model.safetensors with transformers' names
    >>> sorted(os.listdir(folder))
    ['config.json', 'model.safetensors']
    >>> BertModel.from_pretrained(folder).config.hidden_size
    32
"""

import logging
import os

import keras

from keras_bert_suite.checkpoints.configs import read_config
from keras_bert_suite.checkpoints.formats import read_state_dict
from keras_bert_suite.checkpoints.mapping import load_state_dict, model_state_dict
from keras_bert_suite.checkpoints.safetensors_io import write_safetensors
from keras_bert_suite.config import BertConfig
from keras_bert_suite.hub import pop_hub_kwargs, resolve_pretrained
from keras_bert_suite.io import atomic_path
from keras_bert_suite.models.call_docs import CALL_ARGUMENTS

logger = logging.getLogger("keras_bert_suite")

WEIGHTS_NAME = "model.safetensors"

MODEL_INPUTS = (
    "input_ids", "attention_mask", "token_type_ids", "position_ids", "head_mask", "inputs_embeds",
    "encoder_hidden_states", "encoder_attention_mask", "past_key_values", "use_cache",
    "output_attentions", "output_hidden_states", "return_dict",
)


def _is_text(value):
    """True for a string, a (nested) list of strings, or an array or tensor of strings/bytes/objects."""
    while isinstance(value, (list, tuple)) and value:
        value = value[0]
    if isinstance(value, (str, bytes)):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and (getattr(dtype, "name", None) == "string" or getattr(dtype, "kind", None) in ("O", "S", "U"))


def _scale_for_replicas(loss):
    """Divide by the replicas in sync, as Keras does for compiled losses, so summed gradients are a mean (a
    `tf.distribute` strategy; JAX's `keras.distribution` averages the sharded batch itself)."""
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss / tf.cast(replicas, loss.dtype)


class BertPreTrainedModel(keras.Model):
    """Base class: subclasses build their layers in `__init__` and compute in `forward(**inputs)`.

    Args:
        config: a `BertConfig` (or its dict).
        **kwargs: `keras.Model` arguments (`name`, `trainable`, `dtype`: a dtype policy, kept by `get_config`).

    The call arguments of every model are `call`'s docstring (`models/call_docs.py`).
    """

    base_model_prefix = "bert"
    #: names this model accepts beyond `MODEL_INPUTS` (labels of the heads).
    label_names = ()
    #: inputs beyond `MODEL_INPUTS` that are not labels (e.g. `masked_lm_positions`).
    extra_inputs = ()
    #: transformers names stored in checkpoints that are the same variable as another name here.
    tied_weights = {}
    #: the export task (one of `export.signatures.TASKS`) that `export_saved_model` serves by default.
    serving_task = None

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
        self.loading_info = None

    # ----- inputs -----
    def _gather_inputs(self, inputs, kwargs):
        args = {}
        if isinstance(inputs, dict):
            args.update(inputs)
        elif inputs is not None:
            args["input_ids"] = inputs
        for key, value in kwargs.items():
            if value is not None:
                args[key] = value
        allowed = set(MODEL_INPUTS) | set(self.label_names) | set(self.extra_inputs)
        unknown = sorted(set(args) - allowed)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected inputs {unknown}; it accepts {sorted(allowed)}")
        self._refuse_text(args)
        args.pop("return_dict", None)
        return args

    def _refuse_text(self, inputs):
        """Raise a `TypeError` saying how to tokenize when any value of the dict `inputs` holds strings."""
        text = sorted(name for name, value in inputs.items() if _is_text(value))
        if text:
            raise TypeError(
                f"{type(self).__name__} takes token ids, not text: {text} hold strings. Tokenize first, e.g. "
                f"BertTokenizer.from_pretrained(path)(texts, padding=True, return_tensors='np'), or "
                f"TFBertTokenizer.from_pretrained(path)(texts)"
            )

    def __call__(self, *args, **kwargs):
        # A tokenizer's BatchEncoding (a dict subclass) is passed on as a plain dict: Keras takes only plain
        # containers positionally, and `model(tokenizer(text, return_tensors="tf"))` is transformers' idiom.
        if args and isinstance(args[0], dict) and type(args[0]) is not dict:
            args = (dict(args[0]),) + args[1:]
        if args:  # before Keras, which refuses strings positionally without saying what to do
            self._refuse_text(args[0] if isinstance(args[0], dict) else {"input_ids": args[0]})
        self._refuse_text(kwargs)
        return super().__call__(*args, **kwargs)

    def call(self, inputs=None, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
             head_mask=None, inputs_embeds=None, encoder_hidden_states=None, encoder_attention_mask=None,
             past_key_values=None, use_cache=None, output_attentions=None, output_hidden_states=None,
             return_dict=None, labels=None, next_sentence_label=None, start_positions=None, end_positions=None,
             masked_lm_positions=None, training=None):
        # Keras wants every call argument named in the signature; `_gather_inputs` checks which apply here.
        kwargs = dict(locals())
        for name in ("self", "inputs", "training", "__class__"):
            kwargs.pop(name, None)
        return self.forward(training=training, **self._gather_inputs(inputs, kwargs))

    call.__doc__ = CALL_ARGUMENTS

    def forward(self, training=None, **inputs):
        raise NotImplementedError

    # ----- training -----
    #: output keys that compiled losses and metrics see (one key: a tensor; several: a tuple).
    prediction_keys = ("logits",)

    def head_loss(self, outputs, labels):
        """The model's own loss from its outputs and a dict of labels (names as in `label_names`)."""
        raise NotImplementedError(f"{type(self).__name__} has no loss of its own; compile it with loss=...")

    def _predictions(self, y_pred):
        if not isinstance(y_pred, dict):
            return y_pred
        keys = self.prediction_keys
        return y_pred[keys[0]] if len(keys) == 1 else tuple(y_pred[k] for k in keys)

    def _labels(self, y):
        if y is None or isinstance(y, dict):
            return y
        if isinstance(y, (tuple, list)):
            return dict(zip(self.label_names, y))
        return {self.label_names[0]: y}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """With a compiled loss: that loss on the logits. Without: the model's own loss, from labels given
        in the inputs (`x["labels"]`, ...) or as `y`."""
        if self._compile_loss is not None:
            return super().compute_loss(x, y, self._predictions(y_pred), sample_weight, training)
        if isinstance(y_pred, dict) and "loss" in y_pred:
            loss = y_pred["loss"]
        elif y is not None:
            loss = self.head_loss(y_pred, self._labels(y))
        else:
            raise ValueError(
                f"{type(self).__name__} was compiled without a loss and got no labels: put "
                f"{list(self.label_names)} in the input dict, pass y, or compile with loss=..."
            )
        if self.losses:
            loss = loss + keras.ops.sum(keras.ops.stack(self.losses))
        return _scale_for_replicas(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if y is None and isinstance(x, dict) and self.label_names:
            labels = [x[k] for k in self.label_names if k in x]
            y = labels[0] if len(labels) == 1 else (tuple(labels) or None)
        return super().compute_metrics(x, y, self._predictions(y_pred), sample_weight)

    # ----- weights -----
    def hf_weights(self):
        """transformers name -> `HFWeight` for every weight (see `layers/hf_names.py`)."""
        raise NotImplementedError

    def get_input_embeddings(self):
        return self.bert.embeddings.word_embeddings

    @classmethod
    def from_pretrained(cls, path, *, config=None, output_loading_info=False, ignore_mismatched_sizes=False,
                        **config_overrides):
        """Build the model from a local checkpoint folder (any format `checkpoints.formats` reads) or a Hugging
        Face Hub id (config.json and one weights format are fetched into the Hub cache, see `hub.py`).

        `config_overrides` replace config.json values (e.g. `num_labels=3`); the Hub arguments revision,
        cache_dir, token, local_files_only, force_download and subfolder go to `hub.resolve_pretrained`.
        Weights the checkpoint lacks (a new head) are initialised and named in a warning; with
        `output_loading_info=True` the call returns `(model, LoadingInfo)`.

        Example:
            >>> model = BertForSequenceClassification.from_pretrained(  # doctest: +SKIP
            ...     "google-bert/bert-base-uncased", num_labels=2)
        """
        path = resolve_pretrained(path, kind="model", **pop_hub_kwargs(config_overrides))
        for name in ("from_pt", "from_tf"):  # transformers' choice of weights file: here every format is read
            config_overrides.pop(name, None)
        if not os.path.exists(path) and not os.path.exists(path + ".index"):
            raise FileNotFoundError(f"no checkpoint at {path!r}")
        if config is None:
            config = read_config(path, **config_overrides)
        elif config_overrides:
            config = config.copy(**config_overrides)
        model = cls(config)
        state_dict, _, source = read_state_dict(path)
        info = load_state_dict(model, state_dict, source, ignore_mismatched_sizes=ignore_mismatched_sizes)
        model.loading_info = info
        message = info.report(cls.__name__)
        if message:
            logger.warning(message)
        return (model, info) if output_loading_info else model

    def save_pretrained(self, path):
        """Write `config.json` and `model.safetensors` (transformers' PyTorch names) into folder `path`."""
        os.makedirs(path, exist_ok=True)
        config = self.config.copy(architectures=[type(self).__name__])
        write_safetensors(model_state_dict(self), os.path.join(path, WEIGHTS_NAME))
        config.save_pretrained(path)

    def save(self, filepath, overwrite=True, **kwargs):
        """`keras.Model.save`, written atomically for `.keras` files: an interrupted save leaves the previous
        file in place."""
        filepath = os.fspath(filepath)
        if not filepath.endswith(".keras"):
            return super().save(filepath, overwrite=overwrite, **kwargs)
        if os.path.exists(filepath) and not overwrite:
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        with atomic_path(filepath, suffix=".keras") as tmp:
            super().save(tmp, overwrite=True, **kwargs)
        return None

    # ----- Keras serialization -----
    def get_config(self):
        """The BERT config, name, trainable flag and dtype policy (e.g. "mixed_bfloat16"): `from_config` builds
        the same model whatever the global policy is then."""
        return {
            "config": self.config.to_dict(),
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config):
        """The model `get_config` describes; configs without "dtype" (older files) take the global policy."""
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(BertConfig.from_dict(config.pop("config")), **config)
