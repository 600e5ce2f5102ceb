"""Treatment and study labels in R's order (``sort()`` under an ``en_US.UTF-8`` locale).

netmeta orders treatments with R's ``sort()``, which collates by the locale: letters compare
case-insensitively first (``"Salmeterol" < "SFC"``), punctuation and spaces come before digits
and letters, in the ISO 14651 order that glibc 2.28+ uses (``":" < "+"``, so
``"Placebo:Fluticasone:..." < "Placebo:Fluticasone+Salmeterol"``). Ties are broken by case
(lower case first) and finally by code point, so that the order is total. The matrices of a
network meta-analysis are in this order, so it decides which treatment of a pair is the first
one (``treat1``) and how every table is laid out.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable

#: punctuation in the ISO 14651 order (glibc's ``iso14651_t1_common``), before digits and letters
_PUNCTUATION = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"
_PUNCT_RANK = {c: i for i, c in enumerate(_PUNCTUATION)}


def _primary(ch: str) -> tuple[int, int]:
    if ch.isspace():
        return (0, 0)
    if ch in _PUNCT_RANK:
        return (0, _PUNCT_RANK[ch])
    base = unicodedata.normalize("NFKD", ch)[0].casefold()
    if base.isdigit():
        return (1, ord(base))
    if base.isalpha():
        return (2, ord(base))
    return (0, len(_PUNCTUATION) + ord(ch))


def r_sort_key(label: str) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...], str]:
    """Sort key that orders strings as R's ``sort()`` does in an English UTF-8 locale.

    Examples
    --------
    >>> sorted(["SFC", "Salmeterol", "Placebo", "Fluticasone"], key=r_sort_key)
    ['Fluticasone', 'Placebo', 'Salmeterol', 'SFC']
    >>> sorted(["Aspirin+Clopidogrel:VKAs", "Aspirin:VKAs"], key=r_sort_key)
    ['Aspirin:VKAs', 'Aspirin+Clopidogrel:VKAs']
    """
    primary = tuple(_primary(c) for c in label)
    case = tuple(1 if c.isupper() else 0 for c in label)
    return (primary, case, label)


def r_sorted(labels: Iterable[str]) -> list[str]:
    """The distinct ``labels`` in R's order (see :func:`r_sort_key`)."""
    return sorted(set(labels), key=r_sort_key)


def r_less(a: str, b: str) -> bool:
    """``a < b`` as R compares strings (the test netmeta uses to orient a comparison)."""
    return r_sort_key(a) < r_sort_key(b)
