"""Reads from PostgreSQL's own streaming replicas (hot standbys), writes to the primary.

The web service reads searches, parcels, territories, tiles, trajectories and reports from
a standby when ``FONCIER_READ_REPLICA_URLS`` lists some, in turn, and writes (ledger,
tokens, audit, saved searches) to the primary. A token holder reads their own writes at
once: after a write, the primary's WAL position is kept for that bearer token, and its
reads go only to a standby that has replayed up to it (``pg_last_wal_replay_lsn``), else
to the primary. A standby that cannot be reached is left aside for ``RETRY_AFTER_S`` and
its reads go elsewhere: a replica failing never fails a request.

The position is also given to the client, so that any process or instance behind one
address honours it: a successful write answers with the header ``Foncier-Consistency:
<lsn>`` and the cookie ``foncier_consistency`` (for browsers); a read that sends either back
goes only to a standby that has replayed up to it, else to the primary. The position kept
in the process's memory per bearer still serves clients that send neither, when their next
read reaches the same process.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
import time
from collections import OrderedDict

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from app.db import make_engine
from geo.errors import Invalid

RETRY_AFTER_S = 30.0
# bearers whose last write position is kept (the oldest forgotten first)
MAX_WRITERS = 10_000


CONSISTENCY_HEADER = "Foncier-Consistency"
CONSISTENCY_COOKIE = "foncier_consistency"
# A WAL position as PostgreSQL writes it (pg_lsn): two hexadecimal halves.
_LSN = re.compile(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}")


def lsn_value(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def consistency_token(header: str | None, cookie: str | None) -> str | None:
    """The WAL position a read must see, from the request's header (a malformed one is
    refused) or else its cookie (a malformed one is ignored: the browser keeps sending it)."""
    if header is not None:
        if not _LSN.fullmatch(header.strip().upper()):
            raise Invalid(f"{CONSISTENCY_HEADER}: not a position given by a write: {header!r}")
        return header.strip().upper()
    if cookie is not None and _LSN.fullmatch(cookie.strip('"').upper()):
        return cookie.strip('"').upper()
    return None


def bearer_key(authorization: str | None) -> str | None:
    """A key for the bearer of a request (a digest: the secret itself is not kept)."""
    if not authorization:
        return None
    return hashlib.sha256(authorization.encode()).hexdigest()


class Replicas:
    """The standbys of the primary, and the WAL position each writer must see."""

    def __init__(
        self,
        urls: list[str],
        statement_timeout_ms: int | None = None,
        pool_timeout_s: float = 30,
        pooler: bool = False,
        pool_size: int = 10,
        max_overflow: int = 10,
    ) -> None:
        self.engines: list[Engine] = [
            make_engine(
                u,
                statement_timeout_ms,
                pool_timeout_s=pool_timeout_s,
                pooler=pooler,
                pool_size=pool_size,
                max_overflow=max_overflow,
            )
            for u in urls
        ]
        self._down_until = [0.0] * len(self.engines)
        self._turn = itertools.count()
        self._written: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def record_write(self, primary: Engine, bearer: str | None) -> str | None:
        """After a write that has committed: the position its author's reads must reach,
        kept for the bearer and returned for the client."""
        if not self.engines:
            return None
        with primary.connect() as conn:
            lsn = conn.execute(text("SELECT CAST(pg_current_wal_lsn() AS text)")).scalar_one()
        if bearer is None:
            return lsn
        with self._lock:
            self._written[bearer] = lsn
            self._written.move_to_end(bearer)
            while len(self._written) > MAX_WRITERS:
                self._written.popitem(last=False)
        return lsn

    def connect(self, primary: Engine, bearer: str | None, token: str | None = None) -> Connection:
        """A connection to a standby that is up and has replayed the bearer's last write
        known here and the client's consistency token, in turn; else to the primary."""
        with self._lock:
            known = self._written.get(bearer) if bearer else None
        must_see = max((p for p in (known, token) if p), key=lsn_value, default=None)
        start = next(self._turn)
        for i in range(len(self.engines)):
            n = (start + i) % len(self.engines)
            if self._down_until[n] > time.monotonic():
                continue
            conn = None
            try:
                conn = self.engines[n].connect()
                if (
                    must_see is None
                    or conn.execute(
                        text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"),
                        {"lsn": must_see},
                    ).scalar_one()
                ):
                    return conn
            except DBAPIError:
                self._down_until[n] = time.monotonic() + RETRY_AFTER_S
            if conn is not None:
                conn.close()  # behind this writer's last write, or failing: the next one
        return primary.connect()

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()
