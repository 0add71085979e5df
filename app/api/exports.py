"""What an export may take from the service: a small pool of database connections of its
own, a few exports at once in total and per client (429 beyond), and a temporary file
(app.presentation.export) from the moment it is written until it is sent or dropped.

An export is written at database speed on a connection of the export pool, which is
then returned, and only then sent at the client's pace: a slow or vanished client holds
a file, never a connection, and the rest of the service keeps its own pool.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from anyio import from_thread
from fastapi import Request
from sqlalchemy import Connection

from app.api.errors import ApiError
from app.db import make_engine
from app.presentation.export import Export, ExportFile, write_export
from app.settings import Settings

# Seconds a refused client is asked to wait: about what an export takes to be written.
RETRY_AFTER_S = 5


class TooManyExports(ApiError):
    status = 429

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(RETRY_AFTER_S)}


class Exports:
    """The exports of one service process: their engine and their limits.

    ``concurrency`` exports are written at once (one connection each, the export pool's
    size); a client (its address) has at most ``per_client`` exports under way, written
    or being sent; at most ``max_open`` exports are under way in total (a temporary file
    each)."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.concurrency = settings.export_concurrency
        self.per_client = settings.export_per_client
        self.max_open = settings.export_max_open
        self.stall_s = settings.export_stall_s
        self.engine = make_engine(
            url,
            settings.statement_timeout_ms,
            pool_size=self.concurrency,
            max_overflow=0,
            pooler=settings.transaction_pooler,
        )
        self._lock = threading.Lock()
        self._writing = 0
        self._clients: Counter[str] = Counter()

    def respond(
        self, request: Request, fmt: str, build: Callable[[Connection], Export]
    ) -> ExportFile:
        """The export that ``build`` describes on a connection of the export pool, written,
        then sent as ``fmt``: TooManyExports past the limits; ClientGone if the client
        leaves while it is written (checked before each page)."""
        client = request.client.host if request.client else ""
        self._admit(client)
        sent = False
        try:
            try:
                with self.engine.connect() as conn:
                    export = build(conn)
                    file = write_export(fmt, export, gone=_gone(request))
            finally:
                with self._lock:
                    self._writing -= 1
            response = ExportFile(
                file,
                fmt,
                export.name,
                lambda: self._done(client),
                stall_s=self.stall_s,
                crs=export.crs,
            )
            sent = True
            return response
        finally:
            if not sent:
                self._done(client)

    def _admit(self, client: str) -> None:
        with self._lock:
            if self._clients[client] >= self.per_client:
                raise TooManyExports(
                    f"{self.per_client} exports are already under way for this client: "
                    "retry when one has been received"
                )
            if self._writing >= self.concurrency or self._clients.total() >= self.max_open:
                raise TooManyExports("the service is writing as many exports as it can: retry")
            self._writing += 1
            self._clients[client] += 1

    def _done(self, client: str) -> None:
        with self._lock:
            self._clients[client] -= 1
            if self._clients[client] <= 0:
                del self._clients[client]

    def dispose(self) -> None:
        self.engine.dispose()


def _gone(request: Request) -> Callable[[], bool]:
    """Whether the client has closed its connection, asked from the worker thread that
    writes the export (the route is synchronous)."""
    return lambda: from_thread.run(request.is_disconnected)
