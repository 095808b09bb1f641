"""The reference BERT normalization and pre-tokenization in pure Python, with character offsets.

It reproduces transformers' Python `BertTokenizer.tokenize` (special tokens in text kept whole, per-character
lower-casing, clean-up, CJK spacing, NFC, whitespace split, `never_split`, lower-casing and accent stripping,
punctuation split, WordPiece with `max_input_chars_per_word=100`) while remembering, for every output character,
the span of input characters it came from. The in-graph version (graph.py) follows the same steps on flat tensors,
so both give the same tokens and the same offsets.

Steps on one text, as lists of units `[text, start, end]` (start/end: character offsets into the input):
  1. special tokens found in the input (leftmost, longest first) become single units;
  2. stage A per character (tables.stage_a_string): lower-case when asked, delete control characters, map
     whitespace to " ";
  3. NFC, only when accents are not stripped (NFD after NFC equals NFD), per cluster of characters between safe
     starters; a cluster that NFC changes gives every output character the span of the whole cluster;
  4. whitespace-delimited words equal to a `never_split` entry or a special token are kept whole and untouched;
  5. stage B per character (tables.stage_b_string): lower-case and strip accents when asked;
  6. words: split on whitespace, every punctuation and CJK character alone.

Known gap: accent stripping is per character, so NFD's canonical reordering of two adjacent non-Mn combining
characters (25 rare code points, e.g. U+1D165 followed by U+1D16D) is not reproduced.

Example:
    >>> cfg = NormalizerConfig(do_lower_case=True, strip_accents=None, specials=("[MASK]",))
    >>> [(w.text, w.start, w.end) for w in pre_tokenize("Héllo[MASK]!", cfg)]
    [('hello', 0, 5), ('[MASK]', 5, 11), ('!', 11, 12)]
"""

import dataclasses
import unicodedata

from keras_bert_suite.tokenizers import tables

WORD = 0
SPECIAL = 1  # a special token found in the input text, looked up directly
KEPT = 2  # a whitespace word equal to a special token (after clean-up): kept whole, then WordPiece
NEVER_SPLIT = 3  # a whitespace word equal to a user `never_split` entry: looked up directly


@dataclasses.dataclass(frozen=True)
class NormalizerConfig:
    """Settings of the reference normalization (the transformers `BertTokenizer` arguments)."""

    do_lower_case: bool = True
    strip_accents: object = None
    tokenize_chinese_chars: bool = True
    specials: tuple = ()
    never_split: frozenset = frozenset()

    @property
    def strip(self) -> bool:
        return tables.strip_active(self.do_lower_case, self.strip_accents)

    @property
    def nfc(self) -> bool:
        return not self.strip

    @property
    def specials_by_length(self) -> tuple:
        return tuple(sorted(set(self.specials), key=lambda s: (-len(s), s)))


@dataclasses.dataclass
class Word:
    """One pre-token: its text, its kind (WORD/SPECIAL/KEPT/NEVER_SPLIT), and per-character spans."""

    text: str
    kind: int
    starts: list
    ends: list

    @property
    def start(self) -> int:
        return self.starts[0]

    @property
    def end(self) -> int:
        return self.ends[-1]


def find_specials(text: str, specials_by_length: tuple) -> list:
    """[(start, end, token)] of special tokens in `text`, leftmost first, longest first at one position."""
    found = []
    if not specials_by_length:
        return found
    first_chars = {s[0] for s in specials_by_length if s}
    i, n = 0, len(text)
    while i < n:
        if text[i] in first_chars:
            for token in specials_by_length:
                if token and text.startswith(token, i):
                    found.append((i, i + len(token), token))
                    i += len(token)
                    break
            else:
                i += 1
        else:
            i += 1
    return found


def _stage_a(text: str, cfg: NormalizerConfig) -> list:
    """Units [char, start, end, is_special] after special-token matching and stage A."""
    units = []
    specials = find_specials(text, cfg.specials_by_length)
    pos = 0
    for start, end, token in specials + [(len(text), len(text), None)]:
        for i in range(pos, start):
            out = tables.stage_a_string(text[i], cfg.do_lower_case)
            for c in out:
                units.append([c, i, i + 1, False])
        if token is not None:
            units.append([token, start, end, True])
        pos = end
    return units


def _is_class(ch: str, bits: int) -> bool:
    return bool(tables.char_class(ch) & bits)


def _nfc(units: list, cjk: bool) -> list:
    """NFC per cluster; a changed cluster's characters all get the cluster's span."""
    if all(u[3] or not _is_class(u[0], tables.UNSTABLE) for u in units):
        return units
    out = []
    cluster = []

    def flush():
        if not cluster:
            return
        if not cluster[0][3] and any(_is_class(u[0], tables.UNSTABLE) for u in cluster):
            before = "".join(u[0] for u in cluster)
            after = unicodedata.normalize("NFC", before)
            if after != before:
                start = min(u[1] for u in cluster)
                end = max(u[2] for u in cluster)
                out.extend([c, start, end, False] for c in after)
                cluster.clear()
                return
        out.extend(cluster)
        cluster.clear()

    prev = None
    for u in units:
        boundary = (
            prev is None
            or u[3]
            or prev[3]
            or not _is_class(u[0], tables.UNSTABLE)
            or (cjk and (_is_class(u[0], tables.CJK) or _is_class(prev[0], tables.CJK)))
        )
        if boundary:
            flush()
        cluster.append(u)
        prev = u
    flush()
    return out


def _is_word_break(u, prev, cjk: bool) -> bool:
    """True when a new whitespace word starts at unit `u` (CJK characters stand alone when `cjk`)."""
    if prev is None or u[3] or prev[3]:
        return True
    if _is_class(prev[0], tables.SPACE):
        return True
    return cjk and (_is_class(u[0], tables.CJK) or _is_class(prev[0], tables.CJK))


def pre_tokenize(text: str, cfg: NormalizerConfig) -> list:
    """The reference normalization and splitting of `text` into `Word`s with character spans."""
    units = _stage_a(text, cfg)
    cjk = cfg.tokenize_chinese_chars
    if cfg.nfc:
        units = _nfc(units, cjk)
    # Whitespace words (between spaces, special tokens, and CJK characters when isolated).
    groups = []
    prev = None
    for u in units:
        if not u[3] and _is_class(u[0], tables.SPACE):
            prev = u
            continue
        if _is_word_break(u, prev, cjk) or not groups:
            groups.append([])
        groups[-1].append(u)
        prev = u
    never = cfg.never_split
    kept_specials = set(cfg.specials)
    words = []
    for group in groups:
        if group[0][3]:
            u = group[0]
            words.append(Word(u[0], SPECIAL, [u[1]], [u[2]]))
            continue
        raw = "".join(u[0] for u in group)
        if raw in never or raw in kept_specials:
            kind = NEVER_SPLIT if raw in never else KEPT
            words.append(Word(raw, kind, [u[1] for u in group], [u[2] for u in group]))
            continue
        current = None
        for u in group:
            for c in tables.stage_b_string(u[0], cfg.do_lower_case, cfg.strip):
                cls = tables.char_class(c)
                if cls & tables.SPACE:
                    current = None
                    continue
                alone = bool(cls & tables.PUNCT) or (cjk and _is_class(u[0], tables.CJK))
                if alone or current is None:
                    current = Word(c, WORD, [u[1]], [u[2]])
                    words.append(current)
                    if alone:
                        current = None
                    continue
                current.text += c
                current.starts.append(u[1])
                current.ends.append(u[2])
    return words
