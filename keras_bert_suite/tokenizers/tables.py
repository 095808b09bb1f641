"""Character tables of the reference BERT normalization, built from Python's `unicodedata`.

The reference tokenizer (transformers' Python `BertTokenizer`) decides everything per character with Python's
`unicodedata` and `str.lower()`. To reproduce it exactly, in Python and in-graph, every per-character decision is
taken here from the same functions, and turned into dense tables indexed by code point (0..0x10FFFF) for the graph.

Per-character steps (each maps one character to zero or more characters):
  stage A: `str.lower()` when lower-casing (the reference lower-cases the text one character at a time, outside
           special tokens), then clean-up: NUL, U+FFFD and category C* characters (except \\t \\n \\r) are deleted,
           whitespace (\\t \\n \\r and category Zs) becomes " ".
  stage B: `str.lower()` again when lower-casing, then accent stripping when active (NFD, drop category Mn).
Between the two the reference applies NFC to the text; that is contextual and done on clusters (see normalize.py).

Character classes (bit flags, on the characters each step outputs): SPACE (`str.isspace`), PUNCT (the reference's
punctuation: ASCII 33-47, 58-64, 91-96, 123-126 and category P*), CJK (the reference's CJK ideograph ranges),
UNSTABLE (not a safe NFC starter: NFC may change it or merge it with the previous character).

Example:
    >>> stage_a_string("İ\\x00", lower=True)
    'i̇'
"""

import functools
import unicodedata

import numpy as np

MAX_CODE_POINT = 0x110000

SPACE = 1
PUNCT = 2
CJK = 4
UNSTABLE = 8

_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def is_cjk(cp: int) -> bool:
    """The reference's `_is_chinese_char`."""
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def is_whitespace(ch: str) -> bool:
    """The reference's `_is_whitespace`: \\t \\n \\r space and category Zs."""
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch: str) -> bool:
    """The reference's `_is_control`: category C* except \\t \\n \\r."""
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def is_punctuation(ch: str) -> bool:
    """The reference's `_is_punctuation`."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_deleted(ch: str) -> bool:
    """Characters the reference's clean-up deletes."""
    cp = ord(ch)
    return cp == 0 or cp == 0xFFFD or is_control(ch)


@functools.lru_cache(maxsize=None)
def stage_a_string(ch: str, lower: bool) -> str:
    """Stage A of one character: optional lower-casing, then clean-up."""
    text = ch.lower() if lower else ch
    out = []
    for c in text:
        if is_deleted(c):
            continue
        out.append(" " if is_whitespace(c) else c)
    return "".join(out)


def strip_accents(text: str) -> str:
    """The reference's `_run_strip_accents`: NFD, then drop category Mn."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


@functools.lru_cache(maxsize=None)
def stage_b_string(ch: str, lower: bool, strip: bool) -> str:
    """Stage B of one character: optional lower-casing, then optional accent stripping."""
    text = ch.lower() if lower else ch
    return strip_accents(text) if strip else text


@functools.lru_cache(maxsize=1)
def _compose_seconds() -> frozenset:
    """Characters that can be the second part of a canonical composition (NFC may merge them backwards)."""
    seconds = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul vowels and trailing consonants
    for cp in range(MAX_CODE_POINT):
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                seconds.add(int(parts[1], 16))
    return frozenset(seconds)


def is_safe_starter(ch: str) -> bool:
    """True when NFC never changes `ch` nor merges it with what comes before it."""
    return (
        unicodedata.combining(ch) == 0
        and unicodedata.normalize("NFC", ch) == ch
        and ord(ch) not in _compose_seconds()
    )


def _class_bits(ch: str) -> int:
    bits = 0
    if ch.isspace():
        bits |= SPACE
    if is_punctuation(ch):
        bits |= PUNCT
    if is_cjk(ord(ch)):
        bits |= CJK
    if not is_safe_starter(ch):
        bits |= UNSTABLE
    return bits


@functools.lru_cache(maxsize=None)
def char_class(ch: str) -> int:
    """Class bits of one character (SPACE, PUNCT, CJK, UNSTABLE)."""
    return _class_bits(ch)


def _assigned_code_points():
    """Code points whose category is not Cn/Co/Cs (the only ones whose mappings can differ from the defaults)."""
    for cp in range(MAX_CODE_POINT):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        if unicodedata.category(chr(cp)) not in ("Cn", "Co"):
            yield cp


@functools.lru_cache(maxsize=1)
def _assigned() -> tuple:
    return tuple(_assigned_code_points())


@functools.lru_cache(maxsize=1)
def class_table() -> np.ndarray:
    """uint8 [0x110000]: class bits of every assigned code point (0 for Cn/Co/Cs, which stage A deletes)."""
    table = np.zeros(MAX_CODE_POINT, dtype=np.uint8)
    for cp in _assigned():
        table[cp] = _class_bits(chr(cp))
    return table


class MappingTable:
    """A per-character mapping as dense arrays: `code[cp]` >= 0 is the single output character, -1 deletes the
    character, <= -2 points to the multi-character output `-code - 2`, whose characters are
    `multi_values[multi_splits[k]:multi_splits[k + 1]]`."""

    def __init__(self, code: np.ndarray, multi_values: np.ndarray, multi_splits: np.ndarray):
        self.code = code
        self.multi_values = multi_values
        self.multi_splits = multi_splits


def _build_mapping(func, default_delete_unassigned: bool) -> MappingTable:
    code = np.arange(MAX_CODE_POINT, dtype=np.int32)
    if default_delete_unassigned:
        keep = np.zeros(MAX_CODE_POINT, dtype=bool)
        keep[np.asarray(_assigned(), dtype=np.int64)] = True
        code[~keep] = -1
    multi_values, multi_splits = [], [0]
    for cp in _assigned():
        out = func(chr(cp))
        if len(out) == 1:
            code[cp] = ord(out)
        elif not out:
            code[cp] = -1
        else:
            code[cp] = -2 - (len(multi_splits) - 1)
            multi_values.extend(ord(c) for c in out)
            multi_splits.append(len(multi_values))
    return MappingTable(code, np.asarray(multi_values, dtype=np.int32), np.asarray(multi_splits, dtype=np.int64))


@functools.lru_cache(maxsize=None)
def stage_a_table(lower: bool) -> MappingTable:
    """Dense table of stage A (lower-casing when asked, then clean-up)."""
    return _build_mapping(lambda ch: stage_a_string(ch, lower), default_delete_unassigned=True)


@functools.lru_cache(maxsize=None)
def stage_b_table(lower: bool, strip: bool) -> MappingTable:
    """Dense table of stage B (lower-casing when asked, then accent stripping when asked)."""
    return _build_mapping(lambda ch: stage_b_string(ch, lower, strip), default_delete_unassigned=False)


def strip_active(do_lower_case: bool, strip_accents_setting) -> bool:
    """The reference strips accents when lower-casing unless `strip_accents=False`, else only if `strip_accents`."""
    if do_lower_case:
        return strip_accents_setting is not False
    return bool(strip_accents_setting)


@functools.lru_cache(maxsize=None)
def stage_ab_table(lower: bool, strip: bool) -> MappingTable:
    """Dense table of stage A then stage B on each output of stage A: both per-character steps in one look-up,
    for settings where nothing runs between them (no NFC, no whole-word entry that can match)."""
    return _build_mapping(
        lambda ch: "".join(stage_b_string(c, lower, strip) for c in stage_a_string(ch, lower)),
        default_delete_unassigned=True,
    )


def image(mapping: MappingTable) -> np.ndarray:
    """bool [0x110000]: the code points some input character maps to (one of its outputs)."""
    out = np.zeros(MAX_CODE_POINT, dtype=bool)
    out[mapping.code[mapping.code >= 0]] = True
    out[mapping.multi_values] = True
    return out


@functools.lru_cache(maxsize=None)
def stage_b_keeps_cjk(lower: bool, strip: bool) -> bool:
    """True when stage B maps every CJK character to CJK characters only and every other character to non-CJK
    ones: the CJK class of a character after stage B then equals that of the character it came from, so CJK
    splitting can be decided after both stages at once."""
    b = stage_b_table(lower, strip)
    cjk = (class_table() & CJK) > 0
    single = b.code >= 0
    if np.any(cjk[single] != cjk[b.code[single]]):
        return False
    for k, cp in zip(-b.code[b.code <= -2] - 2, np.nonzero(b.code <= -2)[0]):
        values = b.multi_values[b.multi_splits[k] : b.multi_splits[k + 1]]
        if np.any(cjk[values] != cjk[cp]):
            return False
    return True
