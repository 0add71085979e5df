"""Local HTTP servers the tests stand up (recorded publishers, webhook receivers, a basemap
stub): quiet by construction.

socketserver prints the traceback of a request that failed (a client that hung up, a TLS
handshake refused) on sys.stderr, from the server's thread, whenever it happens: into the
stderr of whatever runs at that moment, a CLI test's included. These servers record the
failure in ``errors`` instead, and their handlers log nothing.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not log each request on stderr."""

    def log_message(self, *_args: object) -> None:
        pass


class QuietHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server on loopback that records failed requests instead of
    printing them; ``start`` serves from a daemon thread, ``stop`` shuts it down."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def handle_error(self, request: object, client_address: object) -> None:
        self.errors.append(f"{client_address}: {sys.exc_info()[1]!r}")

    def start(self) -> QuietHTTPServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
