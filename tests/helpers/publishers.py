"""A local stand-in for the publishers `foncier sync` talks to (no internet in tests).

It serves recorded real files under the publishers' own paths and query shapes (the host
is replaced by FONCIER_SYNC_MIRROR), with ETag / Last-Modified, conditional requests (304)
and byte ranges (206), and plays the faults a publisher has on a bad day, one per request
as queued: ``503``, ``timeout`` (answers after the client gave up), ``truncate`` (announces
the whole length, sends half, hangs up), ``html`` (an HTML error page with 200); and
redirects (``redirect``). It also receives webhook calls (POST /hooks/…).

It is quiet (tests.helpers.servers): a connection the client dropped (a timeout played) is
recorded in ``errors``, never printed on stderr, which the tests read for the command's own
messages.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler

from tests.helpers.servers import QuietHandler, QuietHTTPServer


@dataclass
class Route:
    body: bytes
    content_type: str
    validators: bool = True  # ETag and Last-Modified sent, conditional requests honoured
    modified: float = field(default_factory=lambda: time.time() - 86400)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class Publishers:
    def __init__(self, fault_delay_s: float = 1.0) -> None:
        self.routes: dict[str, Route] = {}
        self.faults: dict[str, list[str]] = {}
        self.log: list[tuple[str, str, int]] = []  # (method, path?query, status)
        self.hooks: list[tuple[str, dict[str, str], bytes]] = []
        self.fault_delay_s = fault_delay_s
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        self.redirects: dict[str, tuple[int, str]] = {}
        self.server = QuietHTTPServer(self._handler())
        self.errors = self.server.errors
        self.url = f"http://127.0.0.1:{self.server.port}"

    def start(self) -> Publishers:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def serve(self, path: str, body: bytes, content_type: str, validators: bool = True) -> None:
        with self.lock:
            self.routes[path] = Route(body, content_type, validators)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        with self.lock:
            self.redirects[path] = (status, location)

    def fault(self, path: str, *faults: str) -> None:
        with self.lock:
            self.faults.setdefault(path, []).extend(faults)

    def statuses(self, path: str) -> list[int]:
        return [status for _, p, status in self.log if p == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        publishers = self

        class Handler(QuietHandler):
            def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
                publishers.log.append((self.command, self.path, status))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                publishers.hooks.append((self.path, dict(self.headers), body))
                self._send(204, {})

            def do_GET(self) -> None:  # noqa: N802
                # In flight while the request is being served, up to its answer: counted
                # down before the answer is written, since a client that has read it may
                # send its next request before this thread would otherwise get there.
                with publishers.lock:
                    publishers.in_flight += 1
                    publishers.most_in_flight = max(publishers.most_in_flight, publishers.in_flight)
                try:
                    time.sleep(0.01)  # long enough for concurrent requests to overlap
                finally:
                    with publishers.lock:
                        publishers.in_flight -= 1
                self._get()

            def _get(self) -> None:
                with publishers.lock:
                    moved = publishers.redirects.get(self.path)
                if moved is not None:
                    return self._send(moved[0], {"Location": moved[1], "Content-Length": "0"})
                with publishers.lock:
                    route = publishers.routes.get(self.path)
                    queue = publishers.faults.get(self.path, [])
                    fault = queue.pop(0) if queue else None
                if fault == "503":
                    return self._send(503, {"Retry-After": "0", "Content-Length": "0"})
                if fault == "timeout":
                    time.sleep(publishers.fault_delay_s)
                if fault == "html":
                    page = b"<!DOCTYPE html><html><body>Maintenance</body></html>"
                    headers = {"Content-Type": "text/html", "Content-Length": str(len(page))}
                    return self._send(200, headers, page)
                if route is None:
                    return self._send(404, {"Content-Length": "0"})
                headers = {"Content-Type": route.content_type, "Accept-Ranges": "bytes"}
                if route.validators:
                    headers["ETag"] = route.etag
                    headers["Last-Modified"] = formatdate(route.modified, usegmt=True)
                    if self.headers.get("If-None-Match") == route.etag:
                        return self._send(304, {"ETag": route.etag})
                body, status = route.body, 200
                wanted = self.headers.get("Range", "")
                if wanted.startswith("bytes=") and self.headers.get("If-Range") in (
                    route.etag,
                    headers.get("Last-Modified"),
                ):
                    start = int(wanted[6:].split("-")[0])
                    headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
                    body, status = body[start:], 206
                headers["Content-Length"] = str(len(body))
                if fault == "truncate":
                    publishers.log.append((self.command, self.path, -status))
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                return self._send(status, headers, body)

        return Handler
