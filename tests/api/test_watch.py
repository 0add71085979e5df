"""Saved searches, alerts and webhooks under attack: webhook URLs that reach inside (refused
when saved, checked again at delivery, the checked address connected to), revoked tokens,
re-runs scoped to the communes that changed and bounded in time, a quota per owner, the
alerts' paging and Atom links, names that would break the feed, malformed codes."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.settings import Settings
from tests.helpers.servers import QuietHandler, QuietHTTPServer

ADMIN = "t" * 32
ATOM = "{http://www.w3.org/2005/Atom}"
DEMO_EPCI = "200056232"  # CA Communauté Paris-Saclay, 91216 among its communes
PUBLIC_IP = "93.184.215.14"


# -- helpers ---------------------------------------------------------------------------


@pytest.fixture
def make_api(base_settings: Settings, fresh_engine: Engine) -> Iterator[Callable[..., TestClient]]:
    """An API on a fresh database, the administrator's token sent, ``settings`` changed."""
    from app.api.main import create_app

    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        url = fresh_engine.url.render_as_string(hide_password=False)
        app = create_app(
            base_settings.model_copy(update={"database_url": url, "admin_token": ADMIN, **settings})
        )
        client = TestClient(app, headers={"Authorization": f"Bearer {ADMIN}"})
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
        client.app.state.engine.dispose()  # type: ignore[attr-defined]


def add_search(
    engine: Engine,
    query: dict[str, Any],
    *,
    owner: str = "admin",
    name: str = "w",
    webhook_url: str | None = None,
    baseline: str | None = None,
) -> int:
    """A saved search stored as it is (as an older version would have), with ``baseline``
    the one item it matched (in 91216): re-run on an empty base, that item disappears."""
    with engine.begin() as conn:
        search_id = conn.execute(
            text(
                """INSERT INTO saved_search (name, kind, query, owner, webhook_url,
                                             webhook_secret)
                   VALUES (:name, 'parcels', :query, :owner, :url, 's3cret') RETURNING id"""
            ),
            {"name": name, "query": json.dumps(query), "owner": owner, "url": webhook_url},
        ).scalar_one()
        if baseline:
            detail = {"commune": "91216", "communes": ["91216"], "score": 50, "area_ha": 1}
            conn.execute(
                text(
                    """INSERT INTO saved_search_match (saved_search_id, item_id, commune_insee,
                                                       detail)
                       VALUES (:s, :item, '91216', :detail)"""
                ),
                {"s": search_id, "item": baseline, "detail": json.dumps(detail)},
            )
    return search_id


def add_alerts(engine: Engine, search_id: int, count: int) -> list[int]:
    with engine.begin() as conn:
        return list(
            conn.execute(
                text(
                    """INSERT INTO alert (saved_search_id, change, item_id, commune_insee,
                                          detail, cause)
                       SELECT :s, 'appeared', '91216000AB' || lpad(i::text, 4, '0'), '91216',
                              '{"score": 50}', 'test'
                       FROM generate_series(1, :n) i RETURNING id"""
                ),
                {"s": search_id, "n": count},
            ).scalars()
        )


def states(engine: Engine) -> dict[int, str | None]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, webhook_state FROM alert")).all())  # type: ignore[arg-type]


def alert_of(search_id: int, alert_id: int, url: str) -> dict[str, Any]:
    return {
        "id": alert_id,
        "saved_search_id": search_id,
        "saved_search_name": "w",
        "change": "appeared",
        "item_id": "91216000AB0001",
        "commune_insee": "91216",
        "detail": {},
        "cause": "test",
        "webhook_url": url,
        "webhook_secret": "s3cret",
    }


def deliver(engine: Engine, alerts: list[dict[str, Any]], policy: Any) -> None:
    from geo.scoring.webhook import deliver_in_background

    for thread in deliver_in_background(engine, alerts, policy):
        thread.join(timeout=10)
        assert not thread.is_alive()


class Receiver:
    """A webhook receiver on 127.0.0.1 (https with ``tls``): records each call (path,
    headers, TLS server name); answers ``status``, with ``location``, after ``delay``
    seconds, or drips a body forever with ``drip``."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.server_names: list[str | None] = []
        self.status = 204
        self.location: str | None = None
        self.drip = False
        self.delay = 0.0
        self.stop_event = threading.Event()
        receiver = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.calls.append((self.path, dict(self.headers)))
                if receiver.stop_event.wait(receiver.delay):
                    return
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                if receiver.drip:
                    self.send_header("Content-Length", str(10**9))
                    self.end_headers()
                    try:
                        while not receiver.stop_event.wait(0.02):
                            self.wfile.write(b"x" * 1024)
                            self.wfile.flush()
                    except OSError:
                        pass
                    return
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = QuietHTTPServer(Handler)
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: receiver.server_names.append(name)  # type: ignore[assignment]
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.port
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.server.start()

    def close(self) -> None:
        self.stop_event.set()
        self.server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for the name hooks.test (and its key)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj",
         "/CN=hooks.test", "-addext", "subjectAltName=DNS:hooks.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


# -- codes and names ---------------------------------------------------------------------


def test_saved_search_refuses_malformed_territory_codes(
    make_api: Callable[..., TestClient],
) -> None:
    from geo.errors import Invalid
    from geo.scoring.watch import check_query

    api = make_api()
    for query in ({"departement": "4A7"}, {"territoire_industrie": "*{Ï~"},
                  {"commune": "4A123"}, {"departement": "2C"}, {"epci": "20005623"}):  # fmt: skip
        answer = api.post("/saved-searches", json={"name": "x", "kind": "parcels", "query": query})
        assert answer.status_code in (400, 422), (query, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        with pytest.raises(Invalid):
            check_query("parcels", query)
    for query in ({"departement": "2A"}, {"departement": "974"}, {"commune": "2B033"},
                  {"territoire_industrie": "TI-91-001"}):  # fmt: skip
        answer = api.post("/saved-searches", json={"name": "x", "kind": "parcels", "query": query})
        assert answer.status_code == 201, (query, answer.text)
    assert [s["query"] for s in api.get("/saved-searches").json()][0] == {"departement": "2A"}


def test_saved_search_names_with_control_characters_are_refused(
    make_api: Callable[..., TestClient],
) -> None:
    api = make_api()
    for name in ("a\u0001b", "nul\u0000", "line\nbreak", "esc\u001b[31m", "c1\u0085x", "\ufffe"):
        answer = api.post(
            "/saved-searches", json={"name": name, "kind": "parcels", "query": {"commune": "91216"}}
        )
        assert answer.status_code in (400, 422), (name, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    # a lone surrogate, as JSON allows writing it
    raw = b'{"name": "x\\ud800", "kind": "parcels", "query": {"commune": "91216"}}'
    answer = api.post("/saved-searches", content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code in (400, 422), answer.text
    assert api.get("/saved-searches").json() == []
    ok = {"name": "Zones d'activité — Épinay", "kind": "parcels", "query": {"commune": "91216"}}
    assert api.post("/saved-searches", json=ok).status_code == 201


def test_atom_feed_stays_well_formed_whatever_a_name_holds(
    make_api: Callable[..., TestClient], fresh_engine: Engine
) -> None:
    api = make_api()
    # stored before names were checked
    search = add_search(fresh_engine, {"commune": "91216"}, name="bad\u0001na\u000bme\ufffe")
    add_alerts(fresh_engine, search, 1)
    feed = api.get("/alerts", params={"format": "atom"})
    assert feed.status_code == 200
    root = ET.fromstring(feed.content)  # well-formed
    title = root.find(f"{ATOM}entry").findtext(f"{ATOM}title")  # type: ignore[union-attr]
    assert title.startswith("badname: new match")


# -- the alerts' paging and links -------------------------------------------------------


def test_alerts_page_oldest_first_after_a_cursor(
    make_api: Callable[..., TestClient], fresh_engine: Engine
) -> None:
    api = make_api(public_url="https://foncier.example.fr/api")
    search = add_search(fresh_engine, {"commune": "91216"})
    ids = add_alerts(fresh_engine, search, 12)
    first = api.get("/alerts", params={"limit": 2}).json()
    assert [a["id"] for a in first["alerts"]] == ids[:2]
    # a poller asking after each page's last id reaches every alert, once
    seen: list[int] = []
    after = 0
    while True:
        page = api.get("/alerts", params={"after_id": after, "limit": 5}).json()
        seen += [a["id"] for a in page["alerts"]]
        assert page["next_after_id"] == (seen[-1] if seen else 0)
        nexts = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nexts:
            break
        (href,) = nexts
        assert href.startswith("https://foncier.example.fr/api/alerts?")
        assert parse_qs(urlsplit(href).query) == {"after_id": [str(seen[-1])], "limit": ["5"]}
        after = page["next_after_id"]
    assert seen == ids
    empty = api.get("/alerts", params={"after_id": ids[-1]}).json()
    assert empty["alerts"] == [] and empty["next_after_id"] == ids[-1]
    # the feed pages the same way
    feed = ET.fromstring(api.get("/alerts", params={"format": "atom", "limit": 5}).content)
    entries = [e.findtext(f"{ATOM}id", "").rsplit(":", 1)[1] for e in feed.findall(f"{ATOM}entry")]
    assert entries == [str(i) for i in ids[:5]]
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert (
        links["next"]
        == f"https://foncier.example.fr/api/alerts?format=atom&limit=5&after_id={ids[4]}"
    )


def test_a_poller_never_passes_an_alert_committed_after_a_later_one(
    fresh_engine: Engine,
) -> None:
    """Two re-runs at once (an import and a sync): the alert numbered first but committed
    last was below the cursor of a poller that read in between, and never reached it.
    Alerts are numbered and committed in one order."""
    from geo.scoring.watch import _rerun_one, list_alerts

    first, second = (
        add_search(fresh_engine, {"commune": "91216"}, name=name, baseline="91216000ZZ0001")
        for name in ("first", "second")
    )
    with fresh_engine.connect() as conn:
        search = {r["id"]: r for r in conn.execute(text("SELECT * FROM saved_search")).mappings()}
    done = threading.Event()

    def rerun_second() -> None:
        with fresh_engine.begin() as conn:
            _rerun_one(conn, search[second], {"91216"}, "sync", 10)
        done.set()

    with fresh_engine.connect() as conn, conn.begin() as transaction:
        assert len(_rerun_one(conn, search[first], {"91216"}, "import", 10)) == 1
        thread = threading.Thread(target=rerun_second)
        thread.start()
        deadline = time.monotonic() + 10  # the second re-run commits, or waits for the first
        while not done.is_set() and time.monotonic() < deadline:
            with fresh_engine.connect() as probe:
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"
                    )  # fmt: skip
                ).scalar_one()
            if waiting:
                break
            time.sleep(0.02)
        with fresh_engine.connect() as poller:
            seen = list_alerts(poller, None)
        transaction.commit()
    thread.join(timeout=10)
    assert done.is_set()
    cursor = seen[-1]["id"] if seen else 0
    with fresh_engine.connect() as poller:
        later = list_alerts(poller, None, after_id=cursor)
    assert sorted(a["saved_search_id"] for a in seen + later) == [first, second]


def test_alert_links_never_come_from_the_host_header(
    make_api: Callable[..., TestClient], fresh_engine: Engine
) -> None:
    api = make_api(public_url="https://foncier.example.fr")
    add_alerts(fresh_engine, add_search(fresh_engine, {"commune": "91216"}), 3)
    evil = {"Host": "evil.example.com", "X-Forwarded-Host": "evil.example.com"}
    feed = api.get("/alerts", params={"format": "atom", "limit": 2}, headers=evil)
    assert feed.status_code == 200 and b"evil.example.com" not in feed.content
    links = {
        link.get("rel"): link.get("href")
        for link in ET.fromstring(feed.content).findall(f"{ATOM}link")
    }
    assert links["self"] == "https://foncier.example.fr/alerts?format=atom&limit=2"
    listing = api.get("/alerts", params={"limit": 2}, headers=evil)
    assert "evil.example.com" not in listing.text
    assert listing.json()["links"][0]["href"] == "https://foncier.example.fr/alerts?limit=2"


# -- webhooks: where they may go ---------------------------------------------------------

INSIDE = [
    "https://127.0.0.1:8443/hook",
    "https://localhost:1/",
    "https://0x7f000001/",
    "https://2130706433/",
    "https://127.1/",
    "https://0177.0.0.1/",
    "https://u:p@127.0.0.2:8443/",
    f"https://u:p@{PUBLIC_IP}/",
    f"https://token@{PUBLIC_IP}/",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/",
    "https://172.16.5.4/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",
    "https://224.0.0.1/",
    "https://240.0.0.1/",
    "https://0.0.0.0/",
    "https://[::1]/",
    "https://[::]/",
    "https://[fd00::1]/",
    "https://[fe80::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:a9fe:a9fe]/",
    "https://[64:ff9b::7f00:1]/",
    "https://[2002:7f00:1::1]/",
    "https://[ff02::1]/",
    "https://[::1",
    f"https://{PUBLIC_IP}/\r\nX-Injected: 1",
    f"https://{PUBLIC_IP}/a b",
    f"https://{PUBLIC_IP}:99999/",
    f"http://{PUBLIC_IP}/",
    "ftp://example.org/",
    "https:///hook",
    "https://%31%32%37.0.0.1/",
    "https://no-such-host.invalid/",
]


def test_webhook_urls_that_reach_inside_are_refused_when_saved(
    make_api: Callable[..., TestClient],
) -> None:
    api = make_api()
    for url in INSIDE:
        answer = api.post(
            "/saved-searches",
            json={
                "name": "x",
                "kind": "parcels",
                "query": {"commune": "91216"},
                "webhook_url": url,
            },
        )
        assert answer.status_code in (400, 422), (url, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert api.get("/saved-searches").json() == []
    for url in (f"https://{PUBLIC_IP}/hook?x=1", "https://[2606:4700:4700::1111]:8443/h"):
        body = {"name": "x", "kind": "parcels", "query": {"commune": "91216"}, "webhook_url": url}
        answer = api.post("/saved-searches", json=body)
        assert answer.status_code == 201, (url, answer.text)
    # an operator allows an internal host by name, address or network
    for allowed in ("127.0.0.2", "127.0.0.0/8", "localhost"):
        api = make_api(webhook_allowed_hosts=f"hooks.intranet, {allowed}")
        url = "https://localhost:8443/h" if allowed == "localhost" else "https://127.0.0.2:8443/h"
        body = {"name": "y", "kind": "parcels", "query": {"commune": "91216"}, "webhook_url": url}
        assert api.post("/saved-searches", json=body).status_code == 201
    with pytest.raises(ValueError, match="webhook_allowed_hosts"):
        Settings(webhook_allowed_hosts="ok.example, bad host!")


def test_every_address_a_name_resolves_to_must_be_public() -> None:
    import ipaddress

    from geo.scoring.webhook import WebhookPolicy, WebhookRefused, check_webhook_url, is_public

    def resolver(*addresses: str) -> Callable[[str, int], list[str]]:
        return lambda _host, _port: list(addresses)

    url = "https://hooks.example.org/x"
    check_webhook_url(url, WebhookPolicy(resolve=resolver(PUBLIC_IP)))
    for inside in ("10.0.0.1", "127.0.0.1", "::1", "169.254.169.254", "fd12::1"):
        with pytest.raises(WebhookRefused, match="internal address"):
            check_webhook_url(url, WebhookPolicy(resolve=resolver(PUBLIC_IP, inside)))
    by_name = WebhookPolicy(resolve=resolver("10.0.0.1"), allowed_hosts=("hooks.example.org",))
    check_webhook_url(url, by_name)
    by_network = WebhookPolicy(resolve=resolver("10.0.0.1"), allowed_hosts=("10.0.0.0/8",))
    check_webhook_url(url, by_network)
    with pytest.raises(WebhookRefused, match="internal address"):
        check_webhook_url(url, WebhookPolicy(resolve=resolver("10.0.0.1"), allowed_hosts=("x",)))
    for address in ("93.184.215.14", "2606:4700::1111", "::ffff:93.184.215.14"):
        assert is_public(ipaddress.ip_address(address)), address
    for address in ("127.0.0.1", "10.1.2.3", "172.31.0.1", "192.168.0.1", "169.254.169.254",
                    "100.64.0.1", "100.127.255.254", "224.0.0.251", "240.0.0.1", "0.0.0.0",
                    "255.255.255.255", "192.0.2.1", "::1", "::", "fd00::1", "fe80::1",
                    "fec0::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                    "::ffff:169.254.169.254", "::7f00:1", "64:ff9b::a9fe:a9fe",
                    "2002:7f00:1::1", "2001:db8::1", "2001::1"):  # fmt: skip
        assert not is_public(ipaddress.ip_address(address)), address


# -- webhooks: at delivery ----------------------------------------------------------------


def test_delivery_checks_the_url_again_and_always_records_a_state(
    fresh_engine: Engine, receiver: Receiver
) -> None:
    from geo.scoring.webhook import WebhookPolicy

    policy = WebhookPolicy(allow_http=True, timeout_s=2, retries=0)
    hook = receiver.url + "/hook"
    # stored before the URLs were checked: the loopback receiver, and malformed URLs
    urls = [
        hook,
        "https://[::1",
        f"https://{PUBLIC_IP}/x\r\nX-Injected: 1",
        "https://u:p@127.0.0.2:1/",
    ]
    alerts = []
    for url in urls:
        search = add_search(fresh_engine, {"commune": "91216"}, webhook_url=url)
        alerts.append(alert_of(search, add_alerts(fresh_engine, search, 1)[0], url))
    deliver(fresh_engine, alerts, policy)
    assert set(states(fresh_engine).values()) == {"failed"}  # none left NULL
    assert receiver.calls == []  # the loopback was not called
    # the operator allows the test receiver's address: delivered
    deliver(fresh_engine, alerts[:1], WebhookPolicy(allow_http=True, allowed_hosts=("127.0.0.1",)))
    assert states(fresh_engine)[alerts[0]["id"]] == "delivered"
    assert [path for path, _ in receiver.calls] == ["/hook"]


def test_delivery_connects_to_the_checked_address_with_the_urls_host_for_tls(
    fresh_engine: Engine, certificate: tuple[Path, Path]
) -> None:
    from geo.scoring.webhook import WebhookPolicy

    cert, key = certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    receiver = Receiver(tls=server_tls)
    try:
        asked: list[str] = []

        def resolve(host: str, _port: int) -> list[str]:
            asked.append(host)  # the name resolves once; a second answer would go elsewhere
            return ["127.0.0.1"] if len(asked) == 1 else ["10.9.9.9"]

        trust = ssl.create_default_context(cafile=str(cert))
        policy = WebhookPolicy(
            allowed_hosts=("127.0.0.1",), resolve=resolve, verify=trust, retries=0, timeout_s=2
        )
        url = f"https://hooks.test:{receiver.port}/hook?x=1"
        search = add_search(fresh_engine, {"commune": "91216"}, webhook_url=url)
        alert_id = add_alerts(fresh_engine, search, 1)[0]
        deliver(fresh_engine, [alert_of(search, alert_id, url)], policy)
        assert states(fresh_engine)[alert_id] == "delivered"
        assert asked == ["hooks.test"]
        assert receiver.server_names == ["hooks.test"]  # SNI: the URL's host
        ((path, headers),) = receiver.calls
        assert path == "/hook?x=1" and headers["Host"] == f"hooks.test:{receiver.port}"
        assert "Authorization" not in headers
        # the certificate is checked against the URL's host: another name fails
        other = f"https://other.test:{receiver.port}/hook"
        asked.clear()
        deliver(fresh_engine, [alert_of(search, alert_id, other)], policy)
        assert states(fresh_engine)[alert_id] == "failed" and len(receiver.calls) == 1
    finally:
        receiver.close()


def test_delivery_follows_no_redirect_and_reads_no_body(
    fresh_engine: Engine, receiver: Receiver
) -> None:
    from geo.scoring.webhook import WebhookPolicy

    policy = WebhookPolicy(allow_http=True, allowed_hosts=("127.0.0.1",), retries=2,
                           backoff_s=0.01, timeout_s=1)  # fmt: skip
    url = receiver.url + "/hook"
    search = add_search(fresh_engine, {"commune": "91216"}, webhook_url=url)
    alert_id = add_alerts(fresh_engine, search, 1)[0]
    receiver.status, receiver.location = 307, receiver.url + "/elsewhere"
    deliver(fresh_engine, [alert_of(search, alert_id, url)], policy)
    assert states(fresh_engine)[alert_id] == "failed"
    assert [path for path, _ in receiver.calls] == ["/hook"]  # not followed, not retried
    # a receiver that answers 200 and then sends a body without end does not hold it
    receiver.status, receiver.location, receiver.drip = 200, None, True
    started = time.monotonic()
    deliver(fresh_engine, [alert_of(search, alert_id, url)], policy)
    assert states(fresh_engine)[alert_id] == "delivered"
    assert time.monotonic() - started < 3


def test_a_receiver_answering_a_byte_at_a_time_is_cut_at_the_timeout() -> None:
    """The timeout bounds each attempt's whole exchange: per read alone, a receiver that
    sends its status line a byte every half timeout held a delivery as long as it liked
    (16 KiB of headers at 5 s a byte: about a day)."""
    import socket

    from geo.scoring.webhook import WebhookPolicy, _attempts, resolve_target

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 16:
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # the client has gone
                time.sleep(0.25)

    server = threading.Thread(target=drip, daemon=True)
    server.start()
    policy = WebhookPolicy(allow_http=True, allowed_hosts=("127.0.0.1",), timeout_s=1, retries=0)
    target = resolve_target(f"http://127.0.0.1:{port}/hook", policy)
    started = time.monotonic()
    try:
        assert _attempts(target, b"{}", {}, policy) == "failed"
        assert time.monotonic() - started < 3  # the drip lasts 10 s
    finally:
        listener.close()
        server.join(timeout=15)


def test_a_process_that_exits_leaves_no_alert_without_a_state(
    fresh_engine: Engine, receiver: Receiver
) -> None:
    from geo.scoring.webhook import WebhookPolicy, deliver_and_wait

    policy = WebhookPolicy(allow_http=True, allowed_hosts=("127.0.0.1",), retries=0, timeout_s=5)
    url = receiver.url + "/slow"
    search = add_search(fresh_engine, {"commune": "91216"}, webhook_url=url)
    alert_id = add_alerts(fresh_engine, search, 1)[0]
    receiver.delay = 3  # answers after the caller stopped waiting
    started = time.monotonic()
    deliver_and_wait(fresh_engine, [alert_of(search, alert_id, url)], policy, wait_s=0.3)
    assert time.monotonic() - started < 1.5
    assert states(fresh_engine)[alert_id] == "failed"
    assert policy.patience_s == 5 and WebhookPolicy(timeout_s=5, retries=3).patience_s == 34
    # the delivery's thread ends before its database goes
    receiver.stop_event.set()
    for thread in threading.enumerate():
        if thread.name == f"webhook-{search}":
            thread.join(timeout=10)
    assert states(fresh_engine)[alert_id] == "failed"


# -- revoked tokens, scoped and bounded re-runs, quota -------------------------------------


def test_a_revoked_tokens_searches_are_neither_run_nor_delivered(
    fresh_engine: Engine, receiver: Receiver
) -> None:
    from app.security.tokens import create_token, revoke_token
    from geo.scoring.watch import rerun
    from geo.scoring.webhook import WebhookPolicy

    with fresh_engine.begin() as conn:
        kept, _ = create_token(conn, name="kept", role="epci_editor",
                               territory=f"epci:{DEMO_EPCI}", created_by="test")  # fmt: skip
        gone, _ = create_token(conn, name="gone", role="epci_editor",
                               territory=f"epci:{DEMO_EPCI}", created_by="test")  # fmt: skip
    hook = receiver.url + "/hook"
    active = add_search(fresh_engine, {"commune": "91216"}, owner=f"token:{kept}",
                        webhook_url=hook + "/kept", baseline="91216000ZZ0001")  # fmt: skip
    revoked = add_search(fresh_engine, {"commune": "91216"}, owner=f"token:{gone}",
                         webhook_url=hook + "/gone", baseline="91216000ZZ0001")  # fmt: skip
    with fresh_engine.begin() as conn:
        assert revoke_token(conn, gone)
    alerts, problems = rerun(fresh_engine, ["91216"], cause="test")
    assert problems == []
    assert [(a["saved_search_id"], a["change"]) for a in alerts] == [(active, "disappeared")]
    with fresh_engine.connect() as conn:
        kept_baseline = conn.execute(
            text("SELECT count(*) FROM saved_search_match WHERE saved_search_id = :s"),
            {"s": revoked},
        ).scalar_one()
    assert kept_baseline == 1  # not run: its baseline is as it was
    # revoked between the re-run and the delivery: not delivered either
    late = alert_of(revoked, add_alerts(fresh_engine, revoked, 1)[0], hook + "/gone")
    policy = WebhookPolicy(allow_http=True, allowed_hosts=("127.0.0.1",), retries=0)
    deliver(fresh_engine, [*alerts, late], policy)
    assert [path for path, _ in receiver.calls] == ["/hook/kept"]
    assert states(fresh_engine)[late["id"]] == "failed"


def test_rerun_runs_only_the_searches_whose_territory_holds_a_changed_commune(
    fresh_engine: Engine,
) -> None:
    from geo.scoring.watch import rerun

    territories = {
        "commune": {"commune": "91216"},
        "epci": {"epci": DEMO_EPCI},
        "departement": {"departement": "91"},
        "bbox around": {"bbox": [2.2, 48.6, 2.4, 48.75]},
        "other departement": {"departement": "17"},
        "other commune": {"commune": "91027"},
        "bbox elsewhere": {"bbox": [-3.0, 48.0, -2.9, 48.1]},
        "commune and other epci": {"commune": "91216", "epci": "200000172"},
    }
    for name, query in territories.items():
        add_search(fresh_engine, query, name=name, baseline="91216000ZZ0001")
    alerts, problems = rerun(fresh_engine, ["91216"], cause="test")
    assert problems == []
    ran = {a["saved_search_name"] for a in alerts}
    assert ran == {"commune", "epci", "departement", "bbox around"}
    # an import that does not say which communes it touched: all of them (those run
    # above have nothing left to lose)
    everything, _ = rerun(fresh_engine, None, cause="import")
    assert {a["saved_search_name"] for a in everything} == {
        "other departement", "other commune", "bbox elsewhere", "commune and other epci"
    }  # fmt: skip


def test_an_import_reruns_only_the_searches_of_the_departements_it_covered(
    fresh_engine: Engine,
) -> None:
    """``foncier import`` says which départements each file covered: only the saved searches
    whose territory lies there are re-run (a search elsewhere is not even considered), on
    the import's own path and within its budget."""
    import os
    import sys

    from tests.helpers import CADASTRE_91216

    here = add_search(fresh_engine, {"departement": "91"}, name="here")
    elsewhere = add_search(fresh_engine, {"departement": "17"}, name="elsewhere")
    env = {
        **os.environ,
        "FONCIER_DATABASE_URL": fresh_engine.url.render_as_string(hide_password=False),
        # no time for any re-run: each search considered is listed as not run
        "FONCIER_SAVED_SEARCH_RERUN_SECONDS": "1e-9",
    }
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "import", "cadastre", str(CADASTRE_91216)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"saved search not run: saved search {here} (here)" in result.stdout
    assert f"saved search {elsewhere} " not in result.stdout


def test_rerun_stops_at_its_total_time_budget(fresh_engine: Engine) -> None:
    from geo.scoring.watch import rerun

    for name in ("a", "b"):
        add_search(fresh_engine, {"commune": "91216"}, name=name, baseline="91216000ZZ0001")
    alerts, problems = rerun(fresh_engine, ["91216"], cause="test", budget_s=1e-9)
    assert alerts == [] and len(problems) == 2
    assert all("time budget (1e-09 s) is spent" in p for p in problems)
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM saved_search_match")).scalar_one() == 2
    alerts, problems = rerun(fresh_engine, ["91216"], cause="test", budget_s=30)
    assert len(alerts) == 2 and problems == []


def test_saved_searches_per_owner_have_a_quota(make_api: Callable[..., TestClient]) -> None:
    api = make_api(saved_search_quota=2)
    body = {"name": "x", "kind": "parcels", "query": {"commune": "91216"}}
    assert [api.post("/saved-searches", json=body).status_code for _ in range(2)] == [201, 201]
    third = api.post("/saved-searches", json=body)
    assert third.status_code == 409, third.text
    assert third.headers["content-type"] == "application/problem+json"
    assert "the most allowed is 2" in third.json()["detail"]
    first = api.get("/saved-searches").json()[0]["id"]
    assert api.delete(f"/saved-searches/{first}").status_code == 204
    assert api.post("/saved-searches", json=body).status_code == 201


# -- one search: what /parcels/search accepts, a saved search holds and re-runs ----------

# One value of each member of the parcel search, narrowing the parcels of 91216 of at
# least half a hectare (the territory members narrow it too); a member added to the search
# without a value here fails the test below.
PARCEL_SEARCH_VALUES: dict[str, Any] = {
    "commune": "91216",
    "epci": DEMO_EPCI,
    "territoire_industrie": "ti-none",
    "departement": "91",
    "bbox": [2.22, 48.69, 2.245, 48.71],
    "min_score": 60,
    "profile": "logistics",
    "min_area": 1,
    "max_area": 0.8,
    "zoning": "activity",
    "exclude_zoning": "housing",
    "on_friche": True,
    "include_excluded": True,
    "max_built_share": 0.5,
    "land_use": "vacant",
    "owner": "commune",
    "exclude_risk": "interdiction,prescription",
    "land_cover": "artificialised",
}


def _as_parameter(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_a_saved_search_holds_and_reruns_every_filter_of_the_parcel_search(
    make_api: Callable[..., TestClient], fresh_engine: Engine
) -> None:
    from geo.ingest.cadastre import load_cadastre
    from geo.scoring.query import ParcelSearch
    from geo.scoring.refresh import refresh_scores
    from geo.scoring.watch import check_query, run_search
    from tests.helpers import CADASTRE_91216

    assert set(PARCEL_SEARCH_VALUES) == set(ParcelSearch.model_fields)
    load_cadastre(fresh_engine, CADASTRE_91216)
    refresh_scores(fresh_engine, commune="91216")
    api = make_api(saved_search_quota=100)
    base = {"commune": "91216", "min_area": 0.5}
    with fresh_engine.connect() as conn:
        everything = run_search(conn, "parcels", base)
    assert everything
    unchanged: set[str] = set()
    for name, value in PARCEL_SEARCH_VALUES.items():
        query = {**base, name: value}
        saved = api.post("/saved-searches", json={"name": name, "kind": "parcels", "query": query})
        assert saved.status_code == 201, (name, saved.text)
        assert saved.json()["query"][name] == value
        stored = api.get("/saved-searches").json()[-1]["query"]
        with fresh_engine.connect() as conn:
            rerun = run_search(conn, "parcels", stored)
        page = api.get(
            "/parcels/search",
            params={**{k: _as_parameter(v) for k, v in query.items()}, "limit": 1000},
        ).json()
        route = {f["id"]: f["properties"]["score"] for f in page["features"]}
        assert {k: v["score"] for k, v in rerun.items()} == route, name
        if {k: v["score"] for k, v in rerun.items()} == {
            k: v["score"] for k, v in everything.items()
        }:
            unchanged.add(name)
        if name not in ("commune", "profile"):  # the base's commune; a profile scores
            assert (
                check_query("parcels", stored).filters() != check_query("parcels", base).filters()
            ), name
    # 91216 lies in its EPCI and département; no PLU is loaded, and a parcel whose zoning is
    # unknown is kept by exclude_zoning; no hazard layer is, and no parcel is excluded; no
    # risk plan is loaded either, and a parcel outside every plan is kept by exclude_risk
    assert unchanged == {
        "commune",
        "epci",
        "departement",
        "exclude_zoning",
        "include_excluded",
        "exclude_risk",
    }
