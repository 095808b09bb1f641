"""Readers for local files, in plain Python, returning columns (dict of lists) that the loaders turn into
`tf.data` pipelines.

- `read_table(path)`: GLUE TSV (header row), CSV, JSON lines, or a JSON list / {"data": [...]} of records.
- `read_conll(path)`: CoNLL column files (a token per line, blank lines between sentences, -DOCSTART- skipped).
- `read_squad(path)`: SQuAD v1.1 / v2.0 JSON, flattened to one record per question.

Example:
    >>> with open("dev.tsv", "w") as f:
    ...     _ = f.write("sentence\\tlabel\\na great film .\\t1\\na dull plot .\\t0\\n")
    >>> read_table("dev.tsv")
    {'sentence': ['a great film .', 'a dull plot .'], 'label': ['1', '0']}
    >>> with open("valid.txt", "w") as f:
    ...     _ = f.write("-DOCSTART- -X- -X- O\\n\\nEU NNP B-NP B-ORG\\nrejects VBZ B-VP O\\n\\nPeter NNP B-NP B-PER\\n")
    >>> read_conll("valid.txt")
    {'tokens': [['EU', 'rejects'], ['Peter']], 'tags': [['B-ORG', 'O'], ['B-PER']]}
"""

import csv
import json
import os
import sys


def _open(path):
    return open(os.fspath(path), encoding="utf-8", newline="")


def _records_to_columns(records):
    columns = {}
    for i, record in enumerate(records):
        for key in record:
            if key not in columns:
                columns[key] = [None] * i
        for key in columns:
            columns[key].append(record.get(key))
    return columns


def read_table(path, delimiter=None, limit=None):
    """Columns of a table file, by its extension: .tsv (tab), .csv (comma), .jsonl/.json.

    TSV and CSV need a header row; GLUE TSV files are read without quoting rules (as GLUE's own code does).
    A .json file that is not a list of records (nor {"data": [...]}) is read as JSON lines.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".jsonl", ".json"):
        return _records_to_columns(read_records(path, limit=limit))
    delimiter = delimiter or ("\t" if ext in (".tsv", ".txt") else ",")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with _open(path) as f:
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        rows = csv.reader(f, delimiter=delimiter, quoting=quoting)
        header = next(rows)
        columns = {name: [] for name in header}
        for n, row in enumerate(rows):
            if limit is not None and n >= limit:
                break
            if not row:
                continue
            for name, value in zip(header, row + [""] * (len(header) - len(row))):
                columns[name].append(value)
    return columns


def read_records(path, limit=None):
    """A list of dicts from JSON lines, a JSON list, or a JSON object with a "data" list."""
    with _open(path) as f:
        text = f.read()
    stripped = text.lstrip()
    records = None
    if stripped.startswith("["):
        records = json.loads(text)
    elif stripped.startswith("{"):
        try:
            whole = json.loads(text)
            if isinstance(whole, dict) and isinstance(whole.get("data"), list):
                records = whole["data"]
        except json.JSONDecodeError:
            pass
    if records is None:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return records[:limit] if limit is not None else records


def read_lines(path, limit=None):
    """Stripped lines of a text file (no empty lines)."""
    with _open(path) as f:
        lines = [line.strip() for line in f]
    lines = [line for line in lines if line]
    return lines[:limit] if limit is not None else lines


def read_conll(path, token_column=0, tag_column=-1, limit=None):
    """Sentences of a CoNLL column file: {"tokens": [[str]], "tags": [[str]]}.

    Columns are split on whitespace; `token_column` / `tag_column` pick the word and the tag (CoNLL-2003:
    0 and -1, i.e. word and NER tag). Lines starting with -DOCSTART- are skipped.
    """
    tokens, tags, words, labels = [], [], [], []

    def close():
        if words:
            tokens.append(list(words))
            tags.append(list(labels))
            words.clear()
            labels.clear()

    with _open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("-DOCSTART-"):
                close()
                if limit is not None and len(tokens) >= limit:
                    break
                continue
            parts = line.split()
            words.append(parts[token_column])
            labels.append(parts[tag_column])
    close()
    if limit is not None:
        tokens, tags = tokens[:limit], tags[:limit]
    return {"tokens": tokens, "tags": tags}


def conll_labels(tags):
    """The tag names of sentences' tags, "O" first, then sorted by entity type with B- before I-."""
    names = {t for sentence in tags for t in sentence} - {"O"}
    return ["O"] + sorted(names, key=lambda t: (t[2:] if t[1:2] == "-" else t, t))


def read_squad(path, limit=None):
    """SQuAD JSON (v1.1 or v2.0) flattened to columns: id, title, question, context, answers (list of texts),
    answer_starts (list of character offsets) and is_impossible (v2.0; False for v1.1)."""
    with _open(path) as f:
        data = json.load(f)["data"]
    out = {k: [] for k in ("id", "title", "question", "context", "answers", "answer_starts", "is_impossible")}
    for article in data:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if limit is not None and len(out["id"]) >= limit:
                    return out
                out["id"].append(qa["id"])
                out["title"].append(article.get("title", ""))
                out["question"].append(qa["question"])
                out["context"].append(paragraph["context"])
                out["answers"].append([a["text"] for a in qa.get("answers", [])])
                out["answer_starts"].append([int(a["answer_start"]) for a in qa.get("answers", [])])
                out["is_impossible"].append(bool(qa.get("is_impossible", False)))
    return out
