"""The backend interface every cache store implements.

A backend stores :class:`~cacheward.core.entry.Entry` values under a
:class:`~cacheward.core.cachekey.CacheKey` and keeps purge generations: a counter for
everything, one per scope token and one per tag. An entry remembers the generations it
was stored under and is served only while they are all current, so a purge is O(1).

The guard calls a backend only through this interface and treats any exception from it
as "no cache" (invariant 7): a backend never needs to swallow its own errors.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..core.cachekey import CacheKey
from ..core.entry import Entry

GLOBAL = "global"


def tag_generation_name(tag: str) -> str:
    return "tag:" + tag


@dataclass
class Lookup:
    """The result of one lookup: the entry if it is fresh and current, and the current
    generations ``(global, scope, *tags)`` to stamp a new entry with on a miss."""

    entry: Entry | None
    generation: tuple[int, ...]


@dataclass
class Stats:
    """Counters every backend keeps; the guard adds its own."""

    hits: int = 0
    misses: int = 0
    stores: int = 0
    evictions: int = 0
    rejected: int = 0
    errors: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hits": self.hits,
            "misses": self.misses,
            "stores": self.stores,
            "evictions": self.evictions,
            "rejected": self.rejected,
            "errors": self.errors,
        }
        out.update(self.extra)
        return out


#: Seconds since the epoch, as ``time.time`` gives them: what entries' ``created`` and
#: expiry are measured in.
Clock = Callable[[], float]


class Backend(abc.ABC):
    """A cache store.

    :param clock: the epoch-seconds clock entry expiry is judged by (``time.time``);
        the guard stamps the entries it builds for this store with the same clock, so a
        test can replace it with one it advances.

    .. versionadded:: 0.1
    """

    #: URL scheme(s) this backend is chosen by.
    name: str = ""
    #: The clock (a subclass that does not pass one to ``__init__`` keeps ``time.time``).
    clock: Clock = time.time

    def __init__(self, clock: Clock = time.time) -> None:
        self.stats = Stats()
        self.clock = clock

    @abc.abstractmethod
    def lookup(self, key: CacheKey, tags: tuple[str, ...] = ()) -> Lookup:
        """The current entry for ``key`` (or ``None``), with the current generations."""

    @abc.abstractmethod
    def store(self, key: CacheKey, entry: Entry) -> None:
        """Store ``entry`` (stamped with the generations of a previous lookup)."""

    @abc.abstractmethod
    def purge(self, *, scope: str | None = None, tag: str | None = None) -> None:
        """Invalidate a scope's entries, a tag's entries, or (neither) everything."""

    def delete(self, key: CacheKey) -> None:
        """Remove the entry stored under ``key``, if any.

        The default invalidates the whole scope of ``key`` (every entry of its principal,
        tenant, or every shared entry): more than asked, never less, for a backend that
        cannot delete one entry.
        """
        self.purge(scope=key.scope)

    def single_flight(self, key: CacheKey, timeout: float = 5.0) -> AbstractContextManager[bool]:
        """Hold ``key`` while its view runs on a miss.

        Enters when this caller should compute the response: at once if no one else is
        computing it (``False``), or when the one who was has finished or after
        ``timeout`` seconds (``True``: the caller waited, and looks up again). The default
        does not coordinate.
        """
        return _no_flight()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the backend is not used afterwards."""


@contextmanager
def _no_flight() -> Iterator[bool]:
    yield False
