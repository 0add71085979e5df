"""Reads from PostgreSQL's own streaming replicas (hot standbys), writes to the primary.

The web service reads searches, parcels, territories, tiles, trajectories and reports from
a standby when ``FONCIER_READ_REPLICA_URLS`` lists some, in turn, and writes (ledger,
tokens, audit, saved searches) to the primary. A token holder reads their own writes at
once: after a write, the primary's WAL position is kept for that bearer token, and its
reads go only to a standby that has replayed up to it (``pg_last_wal_replay_lsn``), else
to the primary. A standby that cannot be reached is left aside for ``RETRY_AFTER_S`` and
its reads go elsewhere: a replica failing never fails a request.

Kept in this process's memory: with several service processes behind one address, a
client's next read may reach a process that did not see its write; such a deployment
pins a bearer to a process (sticky sessions) or reads ledger pages from the primary.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections import OrderedDict

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from app.db import make_engine

RETRY_AFTER_S = 30.0
# bearers whose last write position is kept (the oldest forgotten first)
MAX_WRITERS = 10_000


def bearer_key(authorization: str | None) -> str | None:
    """A key for the bearer of a request (a digest: the secret itself is not kept)."""
    if not authorization:
        return None
    return hashlib.sha256(authorization.encode()).hexdigest()


class Replicas:
    """The standbys of the primary, and the WAL position each writer must see."""

    def __init__(
        self, urls: list[str], statement_timeout_ms: int | None = None, pool_timeout_s: float = 30
    ) -> None:
        self.engines: list[Engine] = [
            make_engine(u, statement_timeout_ms, pool_timeout_s=pool_timeout_s) for u in urls
        ]
        self._down_until = [0.0] * len(self.engines)
        self._turn = itertools.count()
        self._written: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def record_write(self, primary: Engine, bearer: str | None) -> None:
        """After a write that has committed: the position its author's reads must reach."""
        if bearer is None or not self.engines:
            return
        with primary.connect() as conn:
            lsn = conn.execute(text("SELECT CAST(pg_current_wal_lsn() AS text)")).scalar_one()
        with self._lock:
            self._written[bearer] = lsn
            self._written.move_to_end(bearer)
            while len(self._written) > MAX_WRITERS:
                self._written.popitem(last=False)

    def connect(self, primary: Engine, bearer: str | None) -> Connection:
        """A connection to a standby that is up and has replayed the bearer's last write,
        in turn; else to the primary."""
        with self._lock:
            must_see = self._written.get(bearer) if bearer else None
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
