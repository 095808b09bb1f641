"""Texts and settings for the tokenizer tests: UDHR paragraphs, the naughty strings, and a hand-made list."""

import functools
import os
import random

from helpers import SHARED_DATA, minilm_folder

UDHR = os.path.join(SHARED_DATA, "multilingual", "udhr_paragraphs.tsv")
BLNS = os.path.join(SHARED_DATA, "multilingual", "blns.txt")
CASED = os.path.join(SHARED_DATA, "vocab", "bert-base-cased")
MULTILINGUAL = os.path.join(SHARED_DATA, "vocab", "bert-base-multilingual-cased")

# (name, folder, extra settings)
SETTINGS = [
    ("uncased", "minilm", {}),
    ("cased", CASED, {}),
    ("multilingual_cased", MULTILINGUAL, {}),
    ("lower_keep_accents", "minilm", {"strip_accents": False}),
]

HANDMADE = [
    "Café naïve résumé Ångström façade jalapeño Øresund Łódź",
    "Ελληνικά: Καλημέρα ΣΟΦΙΑ, ΟΔΥΣΣΕΥΣ σοφός",
    "Русский текст: Ёлка, ЁЖИК; Україна",
    "中文分词测试，包括标点。日本語のテキスト、カタカナ。",
    "한국어 문장입니다. 한글 자모 한",
    "العربية: مرحبا بالعالم، كيف حالك؟",
    "עברית: שלום עולם",
    "हिन्दी: नमस्ते दुनिया। क़ ख़",
    "ภาษาไทย สวัสดีครับ",
    "emoji 😀👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️",
    "control\x00chars\x01here\x7f and\ttabs\nnew\rlines\x0b\x0c\x1c\x1d\x85",
    "zero\u200bwidth\u200cjoin\u200dmarks\ufeffbom\u2060wj",
    "ligatures: ﬁne ﬂow ﬀ ﬃ ﬆ",
    "German: Straße STRASSE ß ẞ",
    "Full-width: ＡＢＣ ａｂｃ １２３ ！？",
    "symbols: ™ © ® ℃ № ½ ² ℌ ℍ Ω K Å",
    "compat: ① ⒜ ㍻ ㎏ ﹏ ｶﾀｶﾅ ﾞ",
    "[MASK] x[MASK]y [mask] [Mask] [CLS][SEP] [PAD][UNK] [MA\x00SK] [ MASK ]",
    "İstanbul Iİıi ǅ ǈ ǋ ΐ ΰ",
    "combining: e\u0301 a\u0300\u0301 o\u0308\u0304 \u0301alone n\u0303",
    "decomposed Hangul: \u1100\u1161\u11a8 and 가",
    "a" * 99 + " " + "b" * 100 + " " + "c" * 101 + " " + "é" * 101,
    "supercalifragilisticexpialidocious" * 4,
    "\u2028line\u2029para\u00a0nbsp\u3000ideo\u2000enquad\u205fmmsp",
    "CJK compat \uf900\ufa6a \U0002f800 ext-b \U00020000 \U0002a700",
    "",
    " ",
    "   \t\n ",
    "\ufffd\ufffd replacement",
    "surrogate-free: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝",
    "apostrophes ’ ‘ “quotes” «guillemets» — dashes – ‐",
    "math ∑∫√∞≠≤ ±×÷ arrows →⇒",
    "Tibetan ༀ ཀྵ Myanmar ကျွန်ုပ်",
    "Musical \U0001d165\U0001d16d",
    "'s n't 're U.S.A. e.g. $1,000.50 50% #hash @user",
]


def udhr_sample(per_language=3, seed=0):
    """A few paragraphs per language of the UDHR file (72 languages)."""
    by_lang = {}
    with open(UDHR, encoding="utf-8") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                by_lang.setdefault(parts[0], []).append(parts[2])
    rng = random.Random(seed)
    out = []
    for lang in sorted(by_lang):
        paras = by_lang[lang]
        out.extend(rng.sample(paras, min(per_language, len(paras))))
    return out


def blns():
    with open(BLNS, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if not line.startswith("#")]


@functools.lru_cache(maxsize=1)
def corpus():
    return tuple(HANDMADE + udhr_sample() + blns())


def folder(name):
    return minilm_folder() if name == "minilm" else name
