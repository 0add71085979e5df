"""Exports under hostile clients, over real HTTP (uvicorn): slow readers and clients that
drop hold no database connection, leave no temporary file, and never starve the rest of
the service; beyond the limits an export is a 429 problem.

Every client is on the loopback; uvicorn takes the client address from X-Forwarded-For
there (its default trusted proxy), which is how these tests play several clients.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.helpers import SERVERS, running_server

pytestmark = pytest.mark.slow

EXPORT = "/parcels/search?commune=91216&format="


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's temporary directory (TMPDIR): whatever an export leaves is found here."""
    return tmp_path_factory.mktemp("tmp")


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uvicorn") / "uvicorn.log"


@pytest.fixture(scope="module")
def server(scored_db_url: str, export_dir: Path, server_log: Path) -> Iterator[str]:
    env = {"TMPDIR": str(export_dir), "PYTHONUNBUFFERED": "1"}  # the access log as it comes
    with running_server(scored_db_url, server_log, **env) as base:
        yield base


@pytest.fixture(scope="module")
def database(scored_db_url: str) -> Iterator[psycopg.Connection]:
    url = make_url(scored_db_url)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as conn:
        yield conn


def sessions(database: psycopg.Connection) -> dict[str, int]:
    """The server's sessions on the database, by state (this one left out)."""
    rows = database.execute(
        "SELECT coalesce(state, '?'), count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1"
    ).fetchall()
    return dict(rows)


def leftovers(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("foncier-export-*") if p.is_file()]


def settle(check, seconds: float = 10.0):
    """``check()`` once it is truthy, or its last value after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


class Download:
    """An export requested on a raw socket with a small receive buffer: read as slowly
    as the test likes, or dropped."""

    def __init__(self, base: str, path: str, client: str) -> None:
        address = urlsplit(base)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(60)
        self.sock.connect((address.hostname, address.port))
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"X-Forwarded-For: {client}\r\nAccept-Encoding: identity\r\n\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, self.body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {
            k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if line)
        }

    def read(self, size: int) -> int:
        got = 0
        while got < size:
            chunk = self.sock.recv(min(4096, size - got))
            if not chunk:
                break
            got += len(chunk)
        return got

    def drop(self) -> None:
        self.sock.close()


def health_seconds(base: str) -> float:
    started = time.perf_counter()
    assert httpx.get(f"{base}/health", timeout=30).status_code == 200
    return time.perf_counter() - started


def test_a_slow_client_holds_no_connection_and_a_dropped_one_leaves_nothing(
    server, database, export_dir
) -> None:
    slow = Download(server, EXPORT + "geojson", "192.0.2.1")
    assert slow.status == 200
    assert slow.read(8192) == 8192
    assert sessions(database).get("idle in transaction", 0) == 0
    assert sessions(database).get("active", 0) == 0
    # the answer is larger than the kernel's largest send buffer (tcp_wmem's maximum) and
    # the client's receive buffer together: the server is waiting on the client
    largest_send_buffer = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    assert int(slow.headers["content-length"]) > largest_send_buffer + 8192
    assert health_seconds(server) < 1
    slow.drop()
    assert settle(lambda: not leftovers(export_dir)), leftovers(export_dir)
    # (a /health request's own transaction ends just after its answer: settle)
    assert settle(lambda: sessions(database).get("idle in transaction", 0) == 0)


# A GeoPackage written page by page (the OGC items'): a parcel search's is written in a
# fraction of a second here, too soon to be caught while written (that its writing stops
# at the next batch is test_export.py::test_a_table_export_stops_when_its_client_goes).
ITEMS_GPKG = "/collections/parcels/items?commune=91216&f=gpkg"


def test_a_geopackage_dropped_while_written_stops_and_leaves_nothing(
    server, database, export_dir
) -> None:
    """A GeoPackage is written by name (GDAL): the client leaving while it is written
    stops the writing at the next page (much sooner than the whole export takes), and the
    file goes."""
    started = time.perf_counter()
    whole = Download(server, ITEMS_GPKG, "192.0.2.5")  # the answer starts once written
    writing_s = time.perf_counter() - started
    assert whole.status == 200
    whole.drop()
    busy = ("active", "idle in transaction")
    assert settle(lambda: not any(sessions(database).get(state) for state in busy))

    address = urlsplit(server)
    dropped = socket.create_connection((address.hostname, address.port))
    dropped.sendall(
        f"GET {ITEMS_GPKG} HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 192.0.2.2\r\n\r\n".encode()
    )
    assert settle(lambda: leftovers(export_dir))  # being written
    dropped.close()
    left = time.perf_counter()
    assert settle(lambda: not any(sessions(database).get(state) for state in busy))
    assert time.perf_counter() - left < writing_s / 2, (time.perf_counter() - left, writing_s)
    assert settle(lambda: not leftovers(export_dir)), leftovers(export_dir)


def test_exports_beyond_a_clients_limit_are_429(server) -> None:
    first = Download(server, EXPORT + "geojson", "192.0.2.3")
    second = Download(server, EXPORT + "geojson", "192.0.2.3")
    try:
        assert (first.status, second.status) == (200, 200)
        third = httpx.get(
            server + EXPORT + "csv", headers={"X-Forwarded-For": "192.0.2.3"}, timeout=30
        )
        assert third.status_code == 429
        assert third.headers["content-type"] == "application/problem+json"
        assert int(third.headers["retry-after"]) > 0
        assert third.json()["status"] == 429
        # another client is not affected
        other = httpx.get(
            server + EXPORT + "csv", headers={"X-Forwarded-For": "192.0.2.4"}, timeout=30
        )
        assert other.status_code == 200
    finally:
        first.drop()
        second.drop()


def test_an_export_its_client_stops_reading_is_dropped(scored_db_url, tmp_path) -> None:
    """A client that stops reading held its export's file and its place under the limits
    for as long as it kept its socket open (a never-read GeoJSON of the demo: 167 MB of
    disk each). Past FONCIER_EXPORT_STALL_S without taking a part, the export is dropped."""
    env = {"TMPDIR": str(tmp_path), "FONCIER_EXPORT_STALL_S": "3", "FONCIER_EXPORT_PER_CLIENT": "1"}
    with running_server(scored_db_url, tmp_path / "uvicorn.log", **env) as base:
        stalled = Download(base, EXPORT + "geojson", "192.0.2.9")  # then never read
        try:
            assert stalled.status == 200

            def another() -> int:
                headers = {"X-Forwarded-For": "192.0.2.9"}
                return httpx.get(base + EXPORT + "csv", headers=headers, timeout=30).status_code

            assert another() == 429  # the stalled export holds the client's place
            assert settle(lambda: another() == 200, 15)
        finally:
            stalled.drop()


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM:"))) / 1024


def test_thirty_hostile_export_clients(server, database, export_dir) -> None:
    """30 export clients at once, no token, from 10 addresses: half read a few KB now and
    then, half drop after a second; a client refused (429) retries twice after Retry-After.
    /health stays fast, nothing is a 5xx, and nothing is left behind. The server's peak
    memory is printed (pytest -s)."""
    statuses: list[int] = []
    errors: list[BaseException] = []
    slowest_health = 0.0
    done = threading.Event()

    def client(n: int) -> None:
        fmt = ("csv", "geojson", "gpkg")[n % 3]
        try:
            download = Download(server, EXPORT + fmt, f"198.51.100.{n % 10}")
            statuses.append(download.status)
            for _ in range(2):  # a polite client: again after Retry-After
                if download.status != 429:
                    break
                download.drop()
                time.sleep(int(download.headers["retry-after"]) + 2 * random.random())
                download = Download(server, EXPORT + fmt, f"198.51.100.{n % 10}")
                statuses.append(download.status)
            if download.status == 200:
                if n % 2:
                    time.sleep(1)
                else:
                    for _ in range(8):  # a slow reader
                        download.read(4096)
                        time.sleep(0.5)
            download.drop()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    def probe() -> None:
        nonlocal slowest_health
        while not done.is_set():
            slowest_health = max(slowest_health, health_seconds(server))
            time.sleep(0.2)

    random.seed(30)
    threads = [threading.Thread(target=client, args=(n,)) for n in range(30)]
    prober = threading.Thread(target=probe)
    prober.start()
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    prober.join()
    assert not errors, errors
    assert len(statuses) >= 30
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) >= 4
    assert slowest_health < 1, slowest_health
    assert settle(lambda: not leftovers(export_dir)), leftovers(export_dir)
    busy = ("active", "idle in transaction")
    assert settle(lambda: not any(sessions(database).get(state) for state in busy))
    rss = peak_rss_mb(SERVERS[server].pid)
    print(
        json.dumps(
            {
                "seconds": round(time.monotonic() - started, 1),
                "ok": statuses.count(200),
                "refused_429": statuses.count(429),
                "slowest_health_s": round(slowest_health, 3),
                "server_peak_rss_mb": round(rss),
            }
        )
    )
    assert rss < 600
