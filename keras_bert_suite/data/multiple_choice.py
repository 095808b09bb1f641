"""Multiple choice (SWAG / PIQA style): a context and N candidate continuations -> N packed pairs per example.

Each choice is packed as `[CLS] first [SEP] second_i [SEP]` (SWAG: first = sent1, second_i = sent2 + " " +
ending_i; PIQA: first = goal, second_i = sol_i). Elements: input_ids, attention_mask, token_type_ids
[batch, choices, length] int32 and labels [batch] int32 (the index of the right choice), ready for
`BertForMultipleChoice` compiled without a loss.

Example:
    >>> from keras_bert_suite.tokenizers import BertTokenizer
    >>> tokenizer = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "she", "opens", "the", "door",
    ...                                  "walks", "in", "sings", "."])
    >>> with open("train.csv", "w") as f:        # SWAG columns
    ...     _ = f.write("sent1,sent2,ending0,ending1,ending2,ending3,label\\n"
    ...                 "she opens the door .,she,walks in .,sings .,opens in .,walks .,0\\n")
    >>> ds = load_multiple_choice_file("train.csv", tokenizer, batch_size=16)
    >>> next(iter(ds))["input_ids"].shape           # [batch, choices, length]
    TensorShape([1, 4, 12])
    >>> ds = load_multiple_choice_file("piqa/valid.jsonl", tokenizer, preset="piqa",
    ...                                labels_path="piqa/valid-labels.lst")  # doctest: +SKIP
"""

import tensorflow as tf

from keras_bert_suite.data import bucketing
from keras_bert_suite.data.files import read_lines, read_table
from keras_bert_suite.data.pipeline import as_dataset, encode_in_chunks, encoder, graph_tokenizer

#: column names of known layouts: (first, prefix of the second text or None, choices, label).
PRESETS = {
    "swag": ("sent1", "sent2", ("ending0", "ending1", "ending2", "ending3"), "label"),
    "piqa": ("goal", None, ("sol1", "sol2"), "label"),
}


def multiple_choice_examples(columns, *, preset="swag", first_column=None, prefix_column=None, choice_columns=None,
                             label_column=None, labels=None):
    """Columns of a file -> {"first": [str], "second": [[str] * choices], "labels"?: [int]}.

    The second text of choice i is `prefix + " " + choice_i` when a prefix column is given (SWAG's sent2).
    `labels` (e.g. read from PIQA's separate labels file) replaces the label column.
    """
    first_c, prefix_c, choice_c, label_c = PRESETS[preset] if preset else (None, None, None, None)
    first_c, prefix_c = first_column or first_c, prefix_column or prefix_c
    choice_c, label_c = tuple(choice_columns or choice_c), label_column or label_c
    missing = [c for c in (first_c, prefix_c, *choice_c) if c and c not in columns]
    if missing:
        raise ValueError(f"columns {missing} are missing; the file has {list(columns)}")
    n = len(columns[first_c])
    prefixes = columns[prefix_c] if prefix_c else [""] * n
    second = [[f"{p} {columns[c][i]}".strip() if p else str(columns[c][i]) for c in choice_c]
              for i, p in enumerate(prefixes)]
    out = {"first": [str(x) for x in columns[first_c]], "second": second}
    if labels is None and label_c in columns and all(v not in (None, "") for v in columns[label_c]):
        labels = columns[label_c]
    if labels is not None:
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for {n} examples")
        out["labels"] = [int(v) for v in labels]
    return out


def multiple_choice_dataset(examples, tokenizer, *, max_length=128, batch_size=16, chunk_size=128, **batching):
    """Tokenize {"first", "second" [choices], "labels"?} examples in the graph and batch them
    ([batch, choices, length]; each example is padded to its longest choice, then to the batch / bucket)."""
    tok = graph_tokenizer(tokenizer, max_length=max_length, truncation=True, padding="longest",
                          pad_to_multiple_of=None)
    ds = as_dataset(examples)
    tokenize = encoder(tok, pair=True)

    def encode(batch):
        second = batch["second"]
        if isinstance(second, tf.RaggedTensor):
            second = second.to_tensor("")
        choices = tf.shape(second)[1]
        first = tf.reshape(tf.repeat(batch["first"][:, None], choices, axis=1), [-1])
        enc = tokenize(first, tf.reshape(second, [-1]))
        lengths = tf.reshape(tf.reduce_sum(enc["attention_mask"], axis=1), [-1, choices])
        longest = tf.repeat(tf.reduce_max(lengths, axis=1), choices)
        out = {}
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            rows = tf.RaggedTensor.from_tensor(enc[key], lengths=tf.cast(longest, tf.int64))
            out[key] = tf.RaggedTensor.from_uniform_row_length(rows, tf.cast(choices, tf.int64))
        if "labels" in batch:
            out["labels"] = tf.cast(batch["labels"], tf.int32)
        return out

    ds = encode_in_chunks(ds, encode, chunk_size)
    return bucketing.finish(ds, batch_size=batch_size, max_length=max_length, **batching)


def load_multiple_choice_file(path, tokenizer, *, preset="swag", labels_path=None, limit=None, first_column=None,
                              prefix_column=None, choice_columns=None, label_column=None, **options):
    """A CSV / JSON lines / JSON file with named columns -> batched multiple-choice dataset.

    `labels_path`: a file with one label per line (PIQA's *-labels.lst)."""
    columns = read_table(path, limit=limit)
    labels = None
    if labels_path:
        labels = read_lines(labels_path)[:len(next(iter(columns.values())))]
    examples = multiple_choice_examples(columns, preset=preset, first_column=first_column,
                                        prefix_column=prefix_column, choice_columns=choice_columns,
                                        label_column=label_column, labels=labels)
    return multiple_choice_dataset(examples, tokenizer, **options)
