"""Tiles already made, kept in the process's memory and keyed by what they show.

A tile's key holds its version: the sum of the generations of the communes under it
(geo.db.tile_generation), read from the database with each request in one indexed query.
A write bumps its communes' generations in its own transaction, so after it commits every
process reads a new key for exactly the tiles over those communes, and makes them anew;
the stale entries are never read again and age out of the LRU. Nothing is purged and no
process has to be told: invalidation is exact across processes and instances by
construction.

Memory rather than a table of tiles or files: a hit is the version query plus a dict look
up (about a millisecond, bench/README.md), where a table would add a round trip carrying
the tile's bytes and disk a file read; each process warms its own copy, which a map's
pans warm fast.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar


class Sized(Protocol):
    @property
    def size(self) -> int: ...


V = TypeVar("V", bound=Sized)


class TileCache(Generic[V]):
    """A least-recently-used map bounded by the bytes of its values (their ``size``)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: V) -> None:
        if value.size > self.max_bytes // 8:
            return  # one tile never takes more than an eighth of the cache
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self.bytes -= previous.size
            self._entries[key] = value
            self.bytes += value.size
            while self.bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self.bytes -= dropped.size

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def __len__(self) -> int:
        return len(self._entries)
