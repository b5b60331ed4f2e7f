"""One Kiwi morphological analyzer per process, built on first use.

Kiwi (``kiwipiepy``, model from the ``kiwipiepy-model`` wheel, nothing downloaded) takes about a
second to load and its first call is slow; after that a question takes well under a millisecond.
So a process builds it once and shares it: the intent parser and the morpheme keyword index both
call :func:`kiwi`. Kiwi's ``tokenize`` is safe to call from several threads.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiwipiepy import Kiwi, Token

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _build() -> Kiwi:
    from kiwipiepy import Kiwi

    analyzer = Kiwi()
    analyzer.tokenize("정기예금 금리 비교")  # the first call builds internal tables: pay it here
    return analyzer


def kiwi() -> Kiwi:
    """The process's analyzer (built once, under a lock so two threads never build two)."""
    with _lock:
        return _build()


def tokens(text: str) -> list[Token]:
    """Kiwi tokens of ``text`` (form, tag, start, len)."""
    return kiwi().tokenize(text)
