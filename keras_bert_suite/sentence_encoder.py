"""`SentenceTransformer`: sentence-transformers models (BERT + pooling + optional normalization) in TensorFlow.

Loads a sentence-transformers folder or Hub id (modules.json: Transformer, Pooling, Normalize; see
`sentence_folder.py`) into this package's `BertModel` and in-graph `TFBertTokenizer`, and encodes text as
`sentence_transformers.SentenceTransformer.encode` does: the same embeddings within 1e-5 (float32).

Like sentence-transformers, `encode` sorts the texts by length (longest first) and runs them `batch_size` at a
time, each batch padded to its own longest text; the results come back in the input's order. The encoder, the
pooling and the normalization run as one `tf.function` traced once for every batch shape (XLA-compiled with
`jit_compile=True`: then batches are padded to multiples of 8 to bound the shapes compiled); the tokenizer
runs in its own `tf.function` on the host.

Shapes: `encode(list of n str)` -> float32 [n, dim]; `encode(str)` -> [dim]; dim = len(pooling modes) * hidden.

Example:
    >>> model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")   # or a local folder
    >>> model.encode(["A man is eating food.", "A man rides a horse."]).shape
    (2, 384)
    >>> export_saved_model(model, export_dir="savedmodels/minilm-embed")      # same vectors from raw strings
"""

import logging
import os

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.checkpoints.errors import CheckpointError
from keras_bert_suite.hub import TOKENIZER_FILES, resolve_pretrained
from keras_bert_suite.layers.sentence_pooling import pool_tokens
from keras_bert_suite.models import BertModel
from keras_bert_suite.sentence_folder import SENTENCE_FILES, read_sentence_folder

logger = logging.getLogger("keras_bert_suite")

OUTPUT_VALUES = ("sentence_embedding", "token_embeddings")
_IDS = tf.TensorSpec([None, None], tf.int32)


def _local_folders(name_or_path, hub):
    """(model folder, Transformer module folder) of a local path or Hub id, fetching only what is needed."""
    root = resolve_pretrained(name_or_path, kind=None, extra_files=SENTENCE_FILES, **hub)
    spec = read_sentence_folder(root)
    subfolder = os.path.relpath(spec.transformer_folder, root).replace(os.sep, "/")
    resolve_pretrained(name_or_path, kind="model", subfolder="" if subfolder == "." else subfolder,
                       extra_files=TOKENIZER_FILES, **hub)
    return spec


def _texts(sentences):
    if isinstance(sentences, np.ndarray):
        sentences = sentences.tolist()
    texts = list(sentences)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"encode takes strings; item {i} is a {type(text).__name__}: {text!r:.80}")
    return texts


class _Progress:
    """A progress bar over `total` batches: tqdm when installed, else keras' Progbar; nothing when not `show`."""

    def __init__(self, total, show):
        self.bar = self.tqdm = None
        if not show:
            return
        try:
            from tqdm.auto import tqdm

            self.bar = self.tqdm = tqdm(total=total, desc="Batches")
        except ImportError:
            import keras

            self.bar = keras.utils.Progbar(total, unit_name="batch")

    def step(self):
        if self.tqdm is not None:
            self.tqdm.update(1)
        elif self.bar is not None:
            self.bar.add(1)

    def close(self):
        if self.tqdm is not None:
            self.tqdm.close()


class SentenceTransformer:
    """A sentence-transformers model on this package's BERT and in-graph tokenizer.

    Args:
        model_name_or_path: a local sentence-transformers folder, or a Hugging Face Hub id (fetched through
            `hub.resolve_pretrained` into the Hub cache; offline with HF_HUB_OFFLINE=1 from the cache).
        revision, cache_dir, token, local_files_only: as in `hub.resolve_pretrained`.
        device: accepted for sentence-transformers compatibility and ignored (TensorFlow places the ops).
        jit_compile: XLA-compile the encoder + pooling (batches then padded to multiples of 8).

    Attributes:
        model: the `BertModel`. tokenizer: the `TFBertTokenizer` (truncates at `max_seq_length`).
        pooling_modes: tuple of pooling mode names; normalize: whether a Normalize module follows.
        max_seq_length: settable, as in sentence-transformers.

    Example:
        >>> st = SentenceTransformer("path/to/all-MiniLM-L6-v2")
        >>> st.encode("A sentence.").shape
        (384,)
    """

    def __init__(self, model_name_or_path, *, revision=None, cache_dir=None, token=None, local_files_only=False,
                 device=None, jit_compile=False):
        # tensorflow-text loads on first use: `import keras_bert_suite` imports this module (tf_names.py)
        from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer

        del device  # TensorFlow places the ops
        if jit_compile and keras.backend.backend() != "tensorflow":
            raise ValueError(
                f"SentenceTransformer(jit_compile=True) XLA-compiles a tf.function, which runs the model on the "
                f"TensorFlow backend only; Keras runs on {keras.backend.backend()!r} here: leave jit_compile off "
                f"(the model then runs eagerly), or set KERAS_BACKEND=tensorflow"
            )
        hub = dict(revision=revision, cache_dir=cache_dir, token=token, local_files_only=local_files_only)
        spec = _local_folders(model_name_or_path, hub)
        self.folder = spec.folder
        self.pooling_modes = spec.pooling_modes
        self.normalize = spec.normalize
        self.jit_compile = bool(jit_compile)
        self.model = BertModel.from_pretrained(spec.transformer_folder)
        hidden = self.model.config.hidden_size
        if spec.embedding_dimension is not None and spec.embedding_dimension != hidden:
            raise CheckpointError(
                f"the Pooling module expects embeddings of size {spec.embedding_dimension} but the checkpoint in "
                f"{spec.transformer_folder!r} has hidden_size {hidden}", path=spec.folder)
        python = BertTokenizer.from_pretrained(spec.transformer_folder)
        settings = {}
        if spec.do_lower_case and not python.do_lower_case:
            # sentence-transformers puts a Lowercase normalizer before the tokenizer's own: accents stay
            # unless the tokenizer strips them.
            settings = {"do_lower_case": True, "strip_accents": bool(python.strip_accents)}
        self._base_tokenizer = TFBertTokenizer.from_tokenizer(python, **settings)
        max_seq_length = spec.max_seq_length
        if max_seq_length is None:
            max_seq_length = min(python.model_max_length, self.model.config.max_position_embeddings)
        self.max_seq_length = max_seq_length

        def pool(tokens, attention_mask):
            sentence = pool_tokens(tokens, attention_mask, self.pooling_modes)
            if self.normalize:
                sentence = tf.math.l2_normalize(sentence, axis=-1)
            return tokens, sentence

        @tf.function(input_signature=[_IDS, _IDS, _IDS], jit_compile=self.jit_compile)
        def forward(input_ids, attention_mask, token_type_ids):
            out = self.model({"input_ids": input_ids, "attention_mask": attention_mask,
                              "token_type_ids": token_type_ids}, training=False)
            return pool(out["last_hidden_state"], attention_mask)

        def forward_eagerly(input_ids, attention_mask, token_type_ids):  # JAX: the model eagerly, pooling in TF
            out = self.model({"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy(),
                              "token_type_ids": token_type_ids.numpy()}, training=False)
            return pool(tf.constant(np.asarray(out["last_hidden_state"])), attention_mask)

        self._forward = forward if keras.backend.backend() == "tensorflow" else forward_eagerly

    # ----- settings -----
    @property
    def max_seq_length(self):
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value):
        limit = self.model.config.max_position_embeddings
        if not isinstance(value, int) or not 2 <= value <= limit:
            raise ValueError(f"max_seq_length must be an integer in [2, {limit}] (max_position_embeddings of "
                             f"{self.folder!r}), got {value!r}")
        self._max_seq_length = value
        self.tokenizer = self._base_tokenizer.with_settings(
            max_length=value, truncation=True, padding="longest",
            pad_to_multiple_of=8 if self.jit_compile else None)
        self._tokenize = tf.function(self.tokenizer, input_signature=[tf.TensorSpec([None], tf.string)])

    def get_sentence_embedding_dimension(self):
        """Size of the sentence embeddings: the hidden size times the number of pooling modes."""
        return self.model.config.hidden_size * len(self.pooling_modes)

    def __repr__(self):
        return (f"SentenceTransformer({self.folder!r}, max_seq_length={self.max_seq_length}, "
                f"pooling={self.pooling_modes}, normalize={self.normalize})")

    # ----- encoding -----
    def encode(self, sentences, batch_size=32, normalize_embeddings=None, convert_to_numpy=True,
               convert_to_tensor=False, show_progress_bar=None, output_value="sentence_embedding"):
        """Embed `sentences` as sentence-transformers' `encode` does.

        Args:
            sentences: a str (one vector back) or a sequence of str (a 2-D array back).
            batch_size: texts per forward pass (sorted by length, longest first).
            normalize_embeddings: True: scale each vector to unit length (even without a Normalize module).
            convert_to_numpy: a numpy array (default); False: a list of tf.Tensor vectors.
            convert_to_tensor: one tf.Tensor [n, dim] (takes precedence over convert_to_numpy).
            show_progress_bar: a progress bar over batches (tqdm, else keras' Progbar); None: when the
                "keras_bert_suite" logger shows INFO.
            output_value: "sentence_embedding", or "token_embeddings": per text a tf.Tensor [tokens, hidden]
                of its real tokens ([CLS] and [SEP] included), as sentence-transformers returns them.

        Returns:
            float32 [n, dim] (numpy or tf.Tensor), [dim] for a single str; a list for token_embeddings. No texts:
            an empty [0, dim] array.
        """
        if output_value not in OUTPUT_VALUES:
            raise ValueError(f"output_value must be one of {OUTPUT_VALUES}, got {output_value!r}")
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() <= logging.INFO
        single = isinstance(sentences, str)
        texts = [sentences] if single else _texts(sentences)
        order = np.argsort([-len(text) for text in texts], kind="stable")
        progress = _Progress((len(texts) + batch_size - 1) // batch_size, show_progress_bar and texts)
        pieces = []
        for start in range(0, len(texts), batch_size):
            batch = tf.constant([texts[i] for i in order[start:start + batch_size]], dtype=tf.string)
            enc = self._tokenize(batch)
            tokens, sentence = self._forward(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
            if output_value == "token_embeddings":
                lengths = tf.reduce_sum(enc["attention_mask"], axis=1).numpy()
                pieces.extend(tokens[i, :n] for i, n in enumerate(lengths))
            else:
                if normalize_embeddings:
                    sentence = tf.math.l2_normalize(sentence, axis=-1)
                pieces.append(sentence.numpy())
            progress.step()
        progress.close()
        inverse = np.argsort(order, kind="stable")
        if output_value == "token_embeddings":
            result = [pieces[i] for i in inverse]
            return result[0] if single else result
        dim = self.get_sentence_embedding_dimension()
        embeddings = np.concatenate(pieces, axis=0)[inverse] if pieces else np.zeros((0, dim), np.float32)
        if convert_to_tensor:
            embeddings = tf.convert_to_tensor(embeddings)
        elif not convert_to_numpy:
            embeddings = [tf.convert_to_tensor(row) for row in embeddings]
        return embeddings[0] if single else embeddings

    # ----- export -----
    def export_arguments(self, tokenizer=None, max_length=None, options=None):
        """(model, tokenizer, max_length, options) for `export.export_saved_model`: the encoder, this
        tokenizer, `max_seq_length` and the folder's pooling and normalization, unless given."""
        options = dict(options or {})
        options.setdefault("pooling", self.pooling_modes)
        options.setdefault("normalize_embeddings", self.normalize)
        return (self.model, self._base_tokenizer if tokenizer is None else tokenizer,
                self.max_seq_length if max_length is None else max_length, options)
