"""`BertTokenizer`: the reference BERT tokenizer in pure Python, with the transformers API.

Gives exactly the ids of transformers' Python `BertTokenizer` for every setting (`do_lower_case`,
`strip_accents`, `tokenize_chinese_chars`, `never_split`, special tokens found in text kept whole), and also
character offsets into the input (`return_offsets_mapping`), which the transformers Python tokenizer lacks.

Inputs: a text (str), a pair of texts, or lists of them. Outputs: a `BatchEncoding` (dict with attribute access):
`input_ids`, `token_type_ids`, `attention_mask` (+ `special_tokens_mask`, `offset_mapping`, `overflowing_tokens`,
`num_truncated_tokens`, `length` when asked), lists or arrays [batch, length] with `return_tensors`.

Edge cases: empty strings give `[CLS] [SEP]`; NUL, U+FFFD and control characters are deleted as in the reference;
lone surrogates are deleted (category Cs); bytes are decoded as UTF-8 and invalid UTF-8 raises `ValueError`.

Example:
    >>> tok = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "hi"])  # or BertTokenizer.from_pretrained(folder or Hub id)
    >>> tok("Hello world!").input_ids
    [2, 5, 6, 7, 3]
"""

import os

from keras_bert_suite.hub import pop_hub_kwargs, resolve_pretrained
from keras_bert_suite.tokenizers import encoding as enc
from keras_bert_suite.tokenizers import normalize, vocab as vocab_io

MAX_INPUT_CHARS_PER_WORD = 100


def wordpiece(word: str, vocab: dict, unk_token: str, max_chars: int = MAX_INPUT_CHARS_PER_WORD):
    """Greedy longest-match-first WordPiece of one word: [(token, char_start, char_end)] within the word."""
    n = len(word)
    if n > max_chars:
        return [(unk_token, 0, n)]
    pieces = []
    start = 0
    while start < n:
        end = n
        found = None
        while start < end:
            piece = word[start:end]
            if start > 0:
                piece = "##" + piece
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return [(unk_token, 0, n)]
        pieces.append((found, start, end))
        start = end
    return pieces


def _as_text(text) -> str:
    if isinstance(text, bytes):
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"Input is not valid UTF-8: {e}") from None
    if not isinstance(text, str):
        raise TypeError(f"Expected a string, got {type(text).__name__}")
    return text


class BertTokenizer:
    """BERT WordPiece tokenizer with the transformers `BertTokenizer` API (pure Python, reference behaviour).

    Args:
        vocab_file: path to vocab.txt (one token per line; the line number is the id). Or give `vocab`.
        do_lower_case: lower-case and (unless `strip_accents=False`) strip accents.
        do_basic_tokenize: must be True (whitespace and punctuation splitting before word pieces).
        never_split: words the basic tokenizer leaves whole.
        unk_token, sep_token, pad_token, cls_token, mask_token: the special tokens.
        tokenize_chinese_chars: put spaces around CJK characters.
        strip_accents: None (follow `do_lower_case`), True or False.
        clean_up_tokenization_spaces: `decode` removes spaces before punctuation.
        model_max_length: the longest sequence the model takes (`max_length` default when truncating).
        padding_side, truncation_side: "right" or "left".
        additional_special_tokens: more tokens kept whole.
        vocab: the vocabulary as a list of tokens or a {token: id} dict, instead of `vocab_file`.
        **kwargs: other tokenizer_config.json keys, ignored.

    Example:
        >>> tok = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "##s"])
        >>> tok("Hello worlds!")["input_ids"]
        [2, 5, 6, 8, 7, 3]
        >>> tok.convert_ids_to_tokens([6, 8])
        ['world', '##s']
    """

    vocab_files_names = {"vocab_file": vocab_io.VOCAB_FILE}
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file=None,
        do_lower_case=True,
        do_basic_tokenize=True,
        never_split=None,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        tokenize_chinese_chars=True,
        strip_accents=None,
        clean_up_tokenization_spaces=True,
        model_max_length=None,
        padding_side="right",
        truncation_side="right",
        additional_special_tokens=None,
        vocab=None,
        **kwargs,
    ):
        if not do_basic_tokenize:
            raise NotImplementedError("do_basic_tokenize=False is not supported")
        if vocab is None:
            if vocab_file is None:
                raise ValueError("Give vocab_file (a path to vocab.txt) or vocab (a list or dict of tokens)")
            vocab = vocab_io.load_vocab(vocab_file)
        elif not isinstance(vocab, dict):
            vocab = {t: i for i, t in enumerate(vocab)}
        self.vocab = dict(vocab)
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self.do_lower_case = bool(do_lower_case)
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.never_split = list(never_split or [])
        self.unk_token = unk_token
        self.sep_token = sep_token
        self.pad_token = pad_token
        self.cls_token = cls_token
        self.mask_token = mask_token
        self.additional_special_tokens = list(additional_special_tokens or [])
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        self.model_max_length = vocab_io.VERY_LARGE_INTEGER if model_max_length is None else int(model_max_length)
        if padding_side not in ("right", "left") or truncation_side not in ("right", "left"):
            raise ValueError("padding_side and truncation_side must be 'right' or 'left'")
        self.padding_side = padding_side
        self.truncation_side = truncation_side
        self.name_or_path = kwargs.pop("name_or_path", "")
        self._normalizer_config = normalize.NormalizerConfig(
            do_lower_case=self.do_lower_case,
            strip_accents=self.strip_accents,
            tokenize_chinese_chars=self.tokenize_chinese_chars,
            specials=tuple(t for t in self.all_special_tokens if t),
            never_split=frozenset(self.never_split),
        )

    # ----------------------------------------------------------------- construction and files
    @classmethod
    def from_pretrained(cls, path, **kwargs):
        """Load from a folder with vocab.txt (+ tokenizer_config.json, special_tokens_map.json, tokenizer.json),
        or from a KerasHub BERT preset folder (assets/tokenizer/vocabulary.txt + tokenizer.json)."""
        # A Hugging Face Hub id is fetched into the Hub cache; revision, cache_dir, token, local_files_only,
        # force_download and subfolder go to `hub.resolve_pretrained`, the other arguments are settings.
        name = os.fspath(path)
        path = resolve_pretrained(name, kind="tokenizer", **pop_hub_kwargs(kwargs))
        if os.path.isfile(path):
            folder, vocab_file = os.path.dirname(path), path
        else:
            folder, vocab_file = path, vocab_io.find_vocab_file(path) or os.path.join(path, vocab_io.VOCAB_FILE)
        if not os.path.isfile(vocab_file):
            raise FileNotFoundError(f"No {vocab_io.VOCAB_FILE} (or KerasHub preset vocabulary) in {path!r}")
        settings = vocab_io.read_settings(folder) if os.path.isdir(folder) else {}
        settings.update(kwargs)
        settings.setdefault("name_or_path", name)
        return cls(vocab_file=vocab_file, **settings)

    def _config_dict(self) -> dict:
        config = {
            "do_lower_case": self.do_lower_case,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "never_split": self.never_split or None,
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
            "padding_side": self.padding_side,
            "truncation_side": self.truncation_side,
            "tokenizer_class": "BertTokenizer",
        }
        if self.model_max_length < vocab_io.VERY_LARGE_INTEGER:
            config["model_max_length"] = self.model_max_length
        config.update(self.special_tokens_map)
        return config

    @property
    def special_tokens_map(self) -> dict:
        out = {name: getattr(self, name) for name in vocab_io.SPECIAL_TOKEN_NAMES if getattr(self, name)}
        if self.additional_special_tokens:
            out["additional_special_tokens"] = list(self.additional_special_tokens)
        return out

    def save_vocabulary(self, save_directory, filename_prefix=None):
        """Write vocab.txt into `save_directory` (or to that file path); returns (path,)."""
        name = (filename_prefix + "-" if filename_prefix else "") + vocab_io.VOCAB_FILE
        if os.path.isdir(save_directory):
            path = os.path.join(save_directory, name)
        else:
            path = (filename_prefix + "-" if filename_prefix else "") + os.fspath(save_directory)
        vocab_io.save_vocab(vocab_io.vocab_to_list(self.vocab), path)
        return (path,)

    def save_pretrained(self, save_directory, **kwargs):
        """Write vocab.txt, tokenizer_config.json and special_tokens_map.json; returns their paths."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained needs a folder, {save_directory!r} is a file")
        os.makedirs(save_directory, exist_ok=True)
        written = vocab_io.write_settings(save_directory, self._config_dict(), self.special_tokens_map)
        return tuple(written) + self.save_vocabulary(save_directory)

    # ----------------------------------------------------------------- vocabulary
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict:
        return dict(self.vocab)

    @property
    def all_special_tokens(self) -> list:
        return vocab_io.all_special_tokens(self)

    @property
    def all_special_ids(self) -> list:
        return self.convert_tokens_to_ids(self.all_special_tokens)

    def _token_id(self, token):
        return None if token is None else self.vocab.get(token, self.vocab.get(self.unk_token))

    unk_token_id = property(lambda self: self._token_id(self.unk_token))
    sep_token_id = property(lambda self: self._token_id(self.sep_token))
    pad_token_id = property(lambda self: self._token_id(self.pad_token))
    cls_token_id = property(lambda self: self._token_id(self.cls_token))
    mask_token_id = property(lambda self: self._token_id(self.mask_token))
    pad_token_type_id = 0

    def convert_tokens_to_ids(self, tokens):
        if tokens is None:
            return None
        if isinstance(tokens, str):
            return self._token_id(tokens)
        return [self._token_id(t) for t in tokens]

    def convert_ids_to_tokens(self, ids, skip_special_tokens=False):
        if isinstance(ids, int):
            return self.ids_to_tokens.get(ids, self.unk_token)
        special = set(self.all_special_ids) if skip_special_tokens else ()
        return [self.ids_to_tokens.get(int(i), self.unk_token) for i in ids if int(i) not in special]

    def convert_tokens_to_string(self, tokens) -> str:
        return " ".join(tokens).replace(" ##", "").strip()

    # ----------------------------------------------------------------- tokenization
    def _tokenize_with_offsets(self, text):
        """[(token, start, end)] of one text (no special tokens added)."""
        words = normalize.pre_tokenize(_as_text(text), self._normalizer_config)
        out = []
        for word in words:
            if word.kind in (normalize.SPECIAL, normalize.NEVER_SPLIT):
                out.append((word.text, word.start, word.end))
                continue
            for piece, i, j in wordpiece(word.text, self.vocab, self.unk_token):
                out.append((piece, word.starts[i], word.ends[j - 1]))
        return out

    def tokenize(self, text, **kwargs):
        """Tokens (strings) of one text, without special tokens added."""
        return [t for t, _, _ in self._tokenize_with_offsets(text)]

    def _encode_texts(self, texts, with_offsets):
        """[(ids, offsets or None)] for a list of texts (overridden by the batched fast tokenizer)."""
        out = []
        for text in texts:
            toks = self._tokenize_with_offsets(text)
            ids = [self._token_id(t) for t, _, _ in toks]
            out.append((ids, [(s, e) for _, s, e in toks] if with_offsets else None))
        return out

    # ----------------------------------------------------------------- model inputs
    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        if token_ids_1 is None:
            return [self.cls_token_id] + list(token_ids_0) + [self.sep_token_id]
        return [self.cls_token_id] + list(token_ids_0) + [self.sep_token_id] + list(token_ids_1) + [self.sep_token_id]

    def create_token_type_ids_from_sequences(self, token_ids_0, token_ids_1=None):
        first = [0] * (len(token_ids_0) + 2)
        return first if token_ids_1 is None else first + [1] * (len(token_ids_1) + 1)

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("token_ids_1 must be None when already_has_special_tokens=True")
            special = set(self.all_special_ids)
            return [1 if t in special else 0 for t in token_ids_0]
        if token_ids_1 is None:
            return [1] + [0] * len(token_ids_0) + [1]
        return [1] + [0] * len(token_ids_0) + [1] + [0] * len(token_ids_1) + [1]

    def num_special_tokens_to_add(self, pair=False) -> int:
        return 3 if pair else 2

    def __call__(
        self,
        text=None,
        text_pair=None,
        add_special_tokens=True,
        padding=False,
        truncation=None,
        max_length=None,
        stride=0,
        is_split_into_words=False,
        pad_to_multiple_of=None,
        padding_side=None,
        return_tensors=None,
        return_token_type_ids=None,
        return_attention_mask=None,
        return_overflowing_tokens=False,
        return_special_tokens_mask=False,
        return_offsets_mapping=False,
        return_length=False,
        verbose=True,
        **kwargs,
    ):
        """Encode a text, a pair, or a batch of texts/pairs (see the module docstring)."""
        if is_split_into_words:
            raise NotImplementedError("is_split_into_words=True is not supported")
        batched, texts, pairs = enc.text_rows(text, text_pair)
        padding_strategy, truncation_strategy, max_length = enc.resolve_strategies(
            padding, truncation, max_length, pad_to_multiple_of, self.model_max_length, self.pad_token_id
        )
        encoded = self._encode_texts(texts + (pairs or []), return_offsets_mapping)
        firsts, seconds = encoded[: len(texts)], encoded[len(texts) :]
        settings = dict(
            cls_id=self.cls_token_id,
            sep_id=self.sep_token_id,
            add_special_tokens=add_special_tokens,
            truncation_strategy=truncation_strategy,
            max_length=max_length,
            stride=stride,
            truncation_side=self.truncation_side,
            return_overflowing_tokens=return_overflowing_tokens,
            return_special_tokens_mask=return_special_tokens_mask,
            return_offsets_mapping=return_offsets_mapping,
            return_token_type_ids=True if return_token_type_ids is None else return_token_type_ids,
        )
        items = []
        for i, (ids, offs) in enumerate(firsts):
            pair_ids, pair_offs = seconds[i] if pairs is not None else (None, None)
            items.append(enc.prepare_one(ids, offs, pair_ids, pair_offs, **settings))
        padding_args = (padding_strategy, max_length, pad_to_multiple_of, padding_side or self.padding_side,
                        True if return_attention_mask is None else return_attention_mask, self.pad_token_id)
        if batched:
            enc.pad_batch(items, *padding_args)
        else:
            enc.pad_one(items[0], *padding_args)
        if return_length:
            for it in items:
                it["length"] = len(it["input_ids"])
        data = enc.collate(items) if batched else items[0]
        return enc.BatchEncoding(data, tensor_type=return_tensors, prepend_batch_axis=not batched)

    def encode_plus(self, text, text_pair=None, **kwargs):
        return self(text, text_pair, **kwargs)

    def batch_encode_plus(self, batch_text_or_text_pairs, **kwargs):
        firsts, seconds = [], []
        for item in batch_text_or_text_pairs:
            if isinstance(item, (list, tuple)):
                firsts.append(item[0])
                seconds.append(item[1])
            else:
                firsts.append(item)
        if seconds and len(seconds) != len(firsts):
            raise ValueError("Mixing single texts and pairs in one batch is not supported")
        return self(firsts, seconds or None, **kwargs)

    def pad(self, encoded_inputs, padding=True, max_length=None, pad_to_multiple_of=None, padding_side=None,
            return_attention_mask=None, return_tensors=None, verbose=True):
        """Pad encoded examples to one length, as transformers' `pad` (what its data collators call).

        Args:
            encoded_inputs: one example (dict of id lists), a batch as a dict of lists of lists (or arrays /
                tensors [batch, length]), or a list of per-example dicts (a collator's features).
            padding: True / "longest", "max_length" (to `max_length`, else model_max_length), False.
            max_length, pad_to_multiple_of, padding_side: as in `__call__`.
            return_attention_mask: add `attention_mask` (default True).
            return_tensors: None (lists), "np", "tf" or "jax" (arrays [batch, length]); anything else is a
                ValueError.

        Example:
            >>> tok = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "hi"])
            >>> tok.pad([{"input_ids": [2, 3]}, {"input_ids": [2, 5, 3]}], return_tensors="np").input_ids
            array([[2, 3, 0],
                   [2, 5, 3]])
        """
        if return_tensors is not None and return_tensors not in enc.TENSOR_TYPES:
            raise ValueError(f"return_tensors must be None or one of {enc.TENSOR_TYPES}, got {return_tensors!r}")
        items, batched = enc.split_examples(encoded_inputs)
        padding_strategy, _, max_length = enc.resolve_strategies(
            padding, False, max_length, pad_to_multiple_of, self.model_max_length, self.pad_token_id
        )
        enc.pad_batch(items, padding_strategy, max_length, pad_to_multiple_of, padding_side or self.padding_side,
                      return_attention_mask is not False, self.pad_token_id)
        return enc.BatchEncoding(enc.collate(items) if batched else items[0], tensor_type=return_tensors)

    def encode(self, text, text_pair=None, add_special_tokens=True, **kwargs):
        """Token ids of one text (or pair), with special tokens by default."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    def decode(self, token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=None, **kwargs):
        """Text from ids: WordPiece pieces joined, `##` removed (the reference's `decode`)."""
        if hasattr(token_ids, "numpy"):
            token_ids = token_ids.numpy()
        if hasattr(token_ids, "tolist"):
            token_ids = token_ids.tolist()
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        tokens = self.convert_ids_to_tokens(token_ids)
        if skip_special_tokens:
            special = set(self.all_special_tokens)
            tokens = [t for t in tokens if t not in special]
        text = self.convert_tokens_to_string(tokens)
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        if clean_up_tokenization_spaces:
            text = clean_up_tokenization(text)
        return text

    def batch_decode(self, sequences, **kwargs):
        if hasattr(sequences, "numpy"):
            sequences = sequences.numpy()
        return [self.decode(seq, **kwargs) for seq in sequences]


def clean_up_tokenization(text: str) -> str:
    """Remove spaces before punctuation and English contractions (the reference's clean-up)."""
    return (
        text.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
    )
