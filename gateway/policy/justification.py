"""Whether a written justification says something: a break-glass reason or an alert review's note is
the record an IG officer reads later, a rejection's reason what the requester reads, so padding
("aaaaaaaaaaaaaaaaaaaa", "ok ok ok ok") is refused where a length check alone would let it through.
Words are runs of two or more letters in any script (so "Zoë" and "Mum’s" count); numbers and
punctuation may be there but do not count."""

from __future__ import annotations

import re
from collections import Counter

WORD = re.compile(r"[^\W\d_]{2,}")
# A break-glass reason: its length in characters, and the different words it must hold ("child
# disclosed injury at school" is four; padding is none). Shared by the API and the web form.
BREAK_GLASS_MIN, BREAK_GLASS_MAX = 20, 500
BREAK_GLASS_WORDS = 4
# An alert review's note, or an extract rejection's reason: the different words it must hold.
DECISION_NOTE_WORDS = 3


def justification_problem(text: str, *, min_words: int, what: str) -> str | None:
    """Why `text` is not a justification, as a sentence for the caller, or None if it is one."""
    words = [w.casefold() for w in WORD.findall(text)]
    distinct = set(words)
    if len(distinct) < min_words:
        return f"{what} must say in words why (at least {min_words} different words), not padding"
    letters = [c.casefold() for c in text if c.isalpha()]
    most = Counter(letters).most_common(1)[0][1] if letters else 0
    if letters and most > len(letters) / 2:
        return f"{what} must say in words why, not repeat one letter"
    return None
