"""A second multilingual text set for the tokenizer benchmarks and tests: the localized names of the Unicode
CLDR data shipped inside the `babel` package (pip install babel==2.17.0).

Source and licence: Babel (BSD-3-Clause) ships the Unicode Common Locale Data Repository (CLDR, Unicode License
v3). For every language-only locale (`de`, `ja`, `hi`, ... no territory variants), its names of languages,
territories, scripts, currencies, months and weekdays, in that locale's own language and script, are joined in a
fixed order into rows of `per_row` names separated by ", " and ended by ".". The set covers far more scripts
than UDHR (hundreds of locales), with short words, punctuation every few words and many capitals. Deterministic:
same babel version, same rows.

Example:
    >>> from tools.bench.cldr_text import cldr_rows
    >>> rows = cldr_rows(max_rows=2000)      # evenly sampled across locales
    >>> rows[0][:40]
"""

import functools


def _names(locale):
    """The localized names of one babel Locale, in a fixed order."""
    out = []
    for mapping in (locale.languages, locale.territories, locale.scripts, locale.currencies):
        out.extend(mapping[k] for k in sorted(mapping))
    for context in ("format",):
        for width in ("wide",):
            for mapping in (locale.months[context][width], locale.days[context][width]):
                out.extend(mapping[k] for k in sorted(mapping))
    return [n for n in out if n]


@functools.lru_cache(maxsize=4)
def _all_rows(per_row):
    from babel import Locale, localedata

    rows = []
    for ident in sorted(localedata.locale_identifiers()):
        if "_" in ident or ident == "root":
            continue
        names = _names(Locale.parse(ident))
        rows.extend(", ".join(names[i : i + per_row]) + "." for i in range(0, len(names), per_row))
    return tuple(rows)


def cldr_rows(max_rows=None, per_row=12):
    """Rows of localized CLDR names (see the module docstring).

    Args:
        max_rows: at most this many rows, taken at an even stride over all rows (so every part of the locale
            list is represented); None: all rows (tens of thousands).
        per_row: names per row.

    Returns:
        list of str.
    """
    import importlib.util

    if importlib.util.find_spec("babel") is None:
        raise ImportError("the CLDR text set needs the babel package: pip install babel==2.17.0")
    rows = _all_rows(per_row)
    if max_rows is None or max_rows >= len(rows):
        return list(rows)
    step = len(rows) / max_rows
    return [rows[int(i * step)] for i in range(max_rows)]
