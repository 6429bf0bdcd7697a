"""Names and passport numbers folded for search: what a coordinator types finds the patient
whatever the script or accents (`José Núñez`, `jose nunez`; `王伟`, `Wang Wei`, `wangwei`;
`Иван`, `ivan`), and a passport number however it is spaced.

`anyascii` (PyPI) transliterates every script to ASCII (Chinese to pinyin without tones); the
folded text keeps only lower-case letters and digits. The key is identifying, like the name it
comes from: it lives in the case store's `patients` row only, and erasure clears it.
"""

from __future__ import annotations

import unicodedata

from anyascii import anyascii


def fold(text: str) -> str:
    """Lower-case ASCII letters and digits of `text`, transliterated (`Wáng Wěi` → `wangwei`)."""
    ascii_text = anyascii(unicodedata.normalize("NFKC", text)).lower()
    return "".join(ch for ch in ascii_text if ch.isascii() and ch.isalnum())


def search_key(full_name: str | None, passport_number: str | None) -> str | None:
    """What search matches a patient by: the folded name and passport number."""
    parts = [fold(p) for p in (full_name, passport_number) if p]
    key = "|".join(p for p in parts if p)
    return f"|{key}|" if key else None
