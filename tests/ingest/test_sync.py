"""`foncier sync` against recorded publishers (tests/helpers/publishers.py): the HTTP client's
faults one by one, then end to end through the CLI and the API: a sync of the demo EPCI
(CA Communauté Paris-Saclay, 200056232: its commune 91216's cadastre is in data/), a second
sync that fetches nothing (304), a changed file whose new parcel raises a saved search's
alert (JSON, Atom, and a signed webhook)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.settings import Settings
from geo.ingest import bodies
from geo.ingest.catalogue import load_catalogue, mirrored
from geo.ingest.fetch import (
    Expect,
    Fetcher,
    FetchError,
    FetchSettings,
    check_body,
    sha256_file,
)
from geo.ingest.sync import loader_for
from tests.helpers import CADASTRE_91216, DATA
from tests.helpers.publishers import Publishers

CAD_PATH = "/data/etalab-cadastre/latest/geojson/communes/91/91216/cadastre-91216-parcelles.json.gz"
FRICHES_PATH = "/fr/datasets/r/sites-references-dans-cartofriches.csv"
GPU_PATH = "/api/gpu/zone-urba?partition=DU_17345"
DEMO_EPCI = "200056232"  # CA Communauté Paris-Saclay, 27 communes, 91216 among them
# The real cadastre of 91216, gzipped as cadastre.data.gouv.fr serves it (re-compressed here).
CAD_GZ = gzip.compress(CADASTRE_91216.read_bytes(), mtime=0)
GEOJSON = "application/json"
FAST = FetchSettings(
    timeout_s=0.5,
    retries=2,
    backoff_s=0.01,
    backoff_max_s=0.05,
    concurrency=3,
    max_bytes=2_000_000_000,
    max_expanded_bytes=4_000_000_000,
    max_ratio=500,
)


@pytest.fixture
def publishers() -> Iterator[Publishers]:
    server = Publishers(fault_delay_s=1.5).start()
    yield server
    server.stop()


def fetch(publishers: Publishers, path: str, dest: Path, check: str = "geojson"):
    expect = Expect(check, ("application/json", "application/gzip"))
    with Fetcher(FAST) as fetcher:
        return fetcher.fetch(publishers.url + path, dest, expect)


# -- the catalogue ----------------------------------------------------------------


def test_catalogue_lists_the_publishers_with_their_documentation() -> None:
    catalogue = load_catalogue()
    assert {"admin", "cadastre-parcelles", "cadastre-batiments", "gpu-zone-urba",
            "cartofriches", "georisques-ssp", "georisques-casias", "georisques-icpe",
            "georisques-ppr", "dgfip-personnes-morales", "cerema-conso-naf",
            "territoires-industrie"} <= set(catalogue)  # fmt: skip
    for source in catalogue.values():
        assert source.docs and all(d.startswith("https://") for d in source.docs), source.id
        assert source.producer and source.licence and source.rhythm
    url = catalogue["cadastre-parcelles"].url
    assert url is not None
    assert url.format(departement="91", commune="91027") == (
        "https://cadastre.data.gouv.fr/data/etalab-cadastre/latest/geojson/communes/91/91027/"
        "cadastre-91027-parcelles.json.gz"
    )
    assert mirrored("https://apicarto.ign.fr/api/gpu/zone-urba?partition=DU_1", "http://h:1") == (
        "http://h:1/api/gpu/zone-urba?partition=DU_1"
    )
    assert catalogue["cadastre-batiments"].loader == "buildings"
    assert catalogue["dgfip-personnes-morales"].loader == "owners"
    for name in ("cadastre", "buildings", "owners", "plu", "friches", "consumption", "admin"):
        assert loader_for(name)[0] is not None
    load, why = loader_for("georisques-ssp")
    assert load is None and "georisques-ssp" in why
    from click.testing import CliRunner

    from app.cli import main

    listing = CliRunner().invoke(main, ["sources"])
    assert listing.exit_code == 0
    # a catalogued source without a loader here is listed with the reason it is skipped
    assert "georisques-ssp" in listing.output
    assert "[skipped: no loader 'georisques-ssp'" in listing.output
    assert "dgfip-personnes-morales   departement DGFiP  [skipped" not in listing.output


# -- the HTTP client, fault by fault ------------------------------------------------


def test_503_then_success_is_retried(publishers: Publishers, tmp_path: Path) -> None:
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")
    publishers.fault(CAD_PATH, "503", "503")
    result = fetch(publishers, CAD_PATH, tmp_path / "c.json.gz")
    assert (result.outcome, result.attempts) == ("fetched", 3)
    assert publishers.statuses(CAD_PATH) == [503, 503, 200]
    assert result.sha256 == hashlib.sha256(CAD_GZ).hexdigest()


def test_503_for_good_fails_with_its_reason(publishers: Publishers, tmp_path: Path) -> None:
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")
    publishers.fault(CAD_PATH, "503", "503", "503")
    result = fetch(publishers, CAD_PATH, tmp_path / "c.json.gz")
    assert result.outcome == "failed"
    assert result.reason == "HTTP 503 (after 3 attempts)"
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_timeout_is_retried(publishers: Publishers, tmp_path: Path) -> None:
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")
    publishers.fault(CAD_PATH, "timeout")
    result = fetch(publishers, CAD_PATH, tmp_path / "c.json.gz")
    assert (result.outcome, result.attempts) == ("fetched", 2)


class Bars:
    """Records the progress bars the fetcher opens (one per download attempt)."""

    def __init__(self) -> None:
        self.opened: list[list] = []  # [name, total, counted, closed]

    def __call__(self, name: str, total: int | None) -> Bars:
        self.opened.append([name, total, 0, False])
        return self

    def update(self, n: int) -> None:
        self.opened[-1][2] += n

    def close(self) -> None:
        self.opened[-1][3] = True


def test_truncated_body_resumes_with_a_range(publishers: Publishers, tmp_path: Path) -> None:
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")
    publishers.fault(CAD_PATH, "truncate")
    bars = Bars()
    with Fetcher(FAST, progress=bars) as fetcher:
        result = fetcher.fetch(publishers.url + CAD_PATH, tmp_path / "c.json.gz", Expect("geojson"))
    assert (result.outcome, result.resumed) == ("fetched", True)
    # a bar per attempt, closed; the resumed one starts where the first stopped (what
    # reached the disk: the client may drop the last partial chunk of a cut body)
    size = len(CAD_GZ)
    (first, second) = bars.opened
    assert first[0] == second[0] == "c.json.gz" and first[1] == second[1] == size
    assert 0 < first[2] <= size // 2 and second[2] == size
    assert first[3] and second[3]
    assert publishers.statuses(CAD_PATH) == [-200, 206]
    result.swap_in()
    assert sha256_file(result.path) == hashlib.sha256(CAD_GZ).hexdigest()


def test_a_body_cut_for_good_resumes_at_the_next_run(
    publishers: Publishers, tmp_path: Path
) -> None:
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")
    publishers.fault(CAD_PATH, "truncate", "truncate", "truncate")
    dest = tmp_path / "c.json.gz"
    cut = fetch(publishers, CAD_PATH, dest)
    assert cut.outcome == "failed" and "cut short" in cut.reason
    kept = dest.with_name(dest.name + ".part").stat().st_size
    assert 0 < kept < len(CAD_GZ)
    # the next run (another process, a day later) asks for the rest only
    again = fetch(publishers, CAD_PATH, dest)
    assert (again.outcome, again.resumed) == ("fetched", True)
    assert publishers.statuses(CAD_PATH)[-1] == 206
    assert again.sha256 == hashlib.sha256(CAD_GZ).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json.gz.new"]


def test_html_instead_of_geojson_fails(publishers: Publishers, tmp_path: Path) -> None:
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")
    publishers.fault(CAD_PATH, "html")
    result = fetch(publishers, CAD_PATH, tmp_path / "c.json.gz")
    assert result.outcome == "failed"
    assert "Content-Type text/html" in result.reason
    # an HTML page served as JSON is caught by the parse
    page = tmp_path / "page.json"
    page.write_bytes(b"<!DOCTYPE html><html>Service indisponible</html>")
    with pytest.raises(Exception, match="HTML"):
        check_body(page, Expect("geojson"))
    not_collection = tmp_path / "x.json"
    not_collection.write_text('{"type": "Feature"}')
    with pytest.raises(Exception, match="FeatureCollection"):
        check_body(not_collection, Expect("geojson"))


def test_redirects_stay_on_the_publishers_host(publishers: Publishers, tmp_path: Path) -> None:
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")
    port = publishers.url.rsplit(":", 1)[1]
    publishers.redirect("/moved", CAD_PATH, 301)  # same host: followed
    publishers.redirect("/away", f"http://localhost:{port}{CAD_PATH}")  # same server, other name
    moved = fetch(publishers, "/moved", tmp_path / "a.json.gz")
    assert moved.outcome == "fetched" and publishers.statuses(CAD_PATH) == [200]
    away = fetch(publishers, "/away", tmp_path / "b.json.gz")
    assert away.outcome == "failed"
    assert away.reason.startswith("redirected to another host (localhost): refused")
    assert publishers.statuses(CAD_PATH) == [200]  # the other host was never asked
    assert not list(tmp_path.glob("b.json.gz*"))
    # a host the source declares (sources.toml redirect_hosts) is followed
    declared = Expect("geojson", redirect_hosts=("localhost",))
    with Fetcher(FAST) as fetcher:
        result = fetcher.fetch(publishers.url + "/away", tmp_path / "c.json.gz", declared)
    assert result.outcome == "fetched"
    # a loop ends
    publishers.redirect("/loop", "/loop")
    loop = fetch(publishers, "/loop", tmp_path / "d.json.gz")
    assert loop.outcome == "failed" and loop.reason == "more than 5 redirects"
    # never from https to http, nor to credentials
    from geo.ingest.fetch import redirect_refused

    assert "refused" in (redirect_refused("https://a.fr/x", "http://a.fr/y") or "")
    assert "credentials" in (redirect_refused("https://a.fr/x", "https://u:p@a.fr/y") or "")
    assert redirect_refused("https://a.fr/x", "https://a.fr:443/y") is None
    assert load_catalogue()["cartofriches"].redirect_hosts == ("static.data.gouv.fr",)


def test_the_publishers_server_keeps_its_errors_off_stderr(
    publishers: Publishers, capfd: pytest.CaptureFixture[str]
) -> None:
    """A request that fails in the server (here a bad Content-Length) is recorded, not
    printed: stderr is where the tests read the command's own one-line errors."""
    import socket

    host, port = publishers.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(b"POST /hooks/x HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        assert conn.recv(1) == b""  # the server closes the connection once it has failed
    assert len(publishers.errors) == 1 and "ValueError" in publishers.errors[0]
    assert "Exception occurred" not in capfd.readouterr().err


def gzip_bomb(path: Path, expanded: int) -> Path:
    """A well-formed GeoJSON whose one property is ``expanded`` zeros, gzipped (~1000:1)."""
    zeros = b"0" * (1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b'{"type": "FeatureCollection", "features": [{"type": "Feature", '
                  b'"geometry": null, "properties": {"p": "')  # fmt: skip
        for _ in range(expanded >> 20):
            out.write(zeros)
        out.write(b'"}}]}')
    return path


def test_a_gzip_bomb_is_refused_as_it_expands(
    publishers: Publishers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = gzip_bomb(tmp_path / "bomb.json.gz", 50 << 20)
    assert bomb.stat().st_size < 100_000
    publishers.serve(CAD_PATH, bomb.read_bytes(), "application/gzip")
    low = replace(FAST, max_expanded_bytes=10 << 20)
    with Fetcher(low) as fetcher:
        result = fetcher.fetch(publishers.url + CAD_PATH, tmp_path / "c.json.gz", Expect("geojson"))
    assert result.outcome == "failed"
    assert "expands to more than 10485760 bytes" in result.reason
    assert not list(tmp_path.glob("c.json.gz*"))
    # the default limits: the ratio stops it once past 16 MiB
    with pytest.raises(FetchError, match="expands more than 500 times"):
        check_body(bomb, Expect("geojson"))
    # a JSON value larger than the check holds in memory
    monkeypatch.setattr(bodies, "MAX_VALUE_BYTES", 1 << 20)
    with pytest.raises(FetchError, match="a value longer than"):
        check_body(bomb, Expect("geojson"), replace(FAST, max_ratio=10_000).limits)


def test_the_sync_reports_a_bomb_as_a_failed_part(
    fresh_engine: Engine, publishers: Publishers, tmp_path: Path
) -> None:
    """Through the command, with FONCIER_SYNC_MAX_EXPANDED_BYTES: the part fails with the
    reason, nothing is imported nor cached, the other source goes on."""
    publishers.serve(CAD_PATH, gzip_bomb(tmp_path / "bomb.json.gz", 20 << 20).read_bytes(),
                     "application/gzip")  # fmt: skip
    publishers.serve(FRICHES_PATH, (DATA / "friches" / "cartofriches-08.csv").read_bytes(),
                     "text/csv")  # fmt: skip
    cache = tmp_path / "cache"
    result = foncier(fresh_engine, publishers, cache, "--commune", "91216",
                     "--only", "cadastre-parcelles", "--only", "cartofriches",
                     settings={"FONCIER_SYNC_MAX_EXPANDED_BYTES": str(5 << 20)})  # fmt: skip
    assert result.returncode == 1
    assert "cadastre-91216-parcelles.json.gz expands to more than 5242880 bytes" in result.stdout
    assert "cartofriches: 1 fetched" in result.stdout
    assert not list((cache / "cadastre-parcelles").rglob("*.json.gz*"))
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"type": "FeatureCollection", "features": [{"a": 1}, {"b": [1, 2.5e3]}]}', None),
        (b'  {"features": [{"a": true}], "type": "FeatureCollection", "n": 12345}\n', None),
        (b'{"type": "FeatureCollection", "features": []}', "empty FeatureCollection"),
        (b'{"type": "FeatureCollection", "features": [{"a": 1}, {"b": 2}', "parse"),
        (b'{"type": "FeatureCollection", "features": [{"a": 1} {"b": 2}]}', "parse"),
        (b'{"type": "FeatureCollection", "features": [{"a": 1}]} x', "extra data"),
        (b'{"type": "Feature", "features": [{"a": 1}]}', "not a GeoJSON FeatureCollection"),
        (b'{"type": "FeatureCollection", "features": [{"a": "\xc3\xa9t\xc3\xa9"}]}', None),
        (b'{"type": "FeatureCollection", "features": [{"a": "\xe9t\xe9"}]}', "parse"),
    ],
)
def test_json_is_checked_as_a_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: bytes, error: str | None
) -> None:
    """Read in blocks of 7 bytes: every value is cut somewhere, and still parsed whole."""
    monkeypatch.setattr(bodies, "_READ", 7)
    path = tmp_path / "b.json"
    path.write_bytes(body)
    if error is None:
        check_body(path, Expect("geojson"))
    else:
        with pytest.raises(FetchError, match=error):
            check_body(path, Expect("geojson"))


def test_304_and_changed_checksum(publishers: Publishers, tmp_path: Path) -> None:
    dest = tmp_path / "c.json.gz"
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")
    first = fetch(publishers, CAD_PATH, dest)
    first.keep(first.swap_in())
    second = fetch(publishers, CAD_PATH, dest)
    assert second.outcome == "not-modified" and second.reason == "304 Not Modified"
    assert publishers.statuses(CAD_PATH) == [200, 304]
    # the publisher's next vintage: other bytes, another SHA-256
    changed = gzip.compress(CADASTRE_91216.read_bytes().replace(b'"91216', b'"91216'), mtime=1)
    publishers.serve(CAD_PATH, changed, "application/gzip")
    third = fetch(publishers, CAD_PATH, dest)
    assert third.outcome == "fetched"
    assert third.previous_sha256 == first.sha256 != third.sha256
    # a server without validators sending the same bytes: recognised by the checksum
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip", validators=False)
    dest2 = tmp_path / "d.json.gz"
    once = fetch(publishers, CAD_PATH, dest2)
    once.keep(once.swap_in())
    again = fetch(publishers, CAD_PATH, dest2)
    assert (again.outcome, again.reason) == ("not-modified", "same SHA-256 as the cached copy")


def test_a_run_killed_during_its_import_leaves_no_stale_metadata(
    publishers: Publishers, tmp_path: Path
) -> None:
    """Killed between the new body taking its name and the import's end: the cache never
    pairs that body with the previous copy's metadata; the next run fetches it afresh."""
    from geo.ingest.fetch import read_meta

    dest = tmp_path / "c.json.gz"
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")
    first = fetch(publishers, CAD_PATH, dest)
    first.keep(first.swap_in())
    changed = gzip.compress(CADASTRE_91216.read_bytes(), mtime=1)
    publishers.serve(CAD_PATH, changed, "application/gzip")
    second = fetch(publishers, CAD_PATH, dest)
    second.swap_in()  # … and the process is killed during the import
    meta = read_meta(dest)
    assert not meta or meta["sha256"] == sha256_file(dest)
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")  # the publisher went back
    third = fetch(publishers, CAD_PATH, dest)
    assert third.outcome == "fetched" and publishers.statuses(CAD_PATH)[-1] == 200


def test_404_is_missing(publishers: Publishers, tmp_path: Path) -> None:
    result = fetch(publishers, "/nothing.json", tmp_path / "n.json")
    assert result.outcome == "missing" and result.reason.startswith("404")


# -- end to end: CLI and API ----------------------------------------------------------


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def foncier(
    engine: Engine,
    publishers: Publishers,
    cache: Path,
    *args: str,
    real: bool = False,
    settings: dict[str, str] | None = None,
):
    """``foncier sync ARGS`` against the recorded publishers, with short timeouts and
    backoffs (and ``settings``); in-process through click's runner (a Python start each is
    slow), or with ``real`` as a separate process."""
    env = {
        **(settings or {}),
        "FONCIER_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "FONCIER_SYNC_MIRROR": publishers.url,
        "FONCIER_SYNC_CACHE_DIR": str(cache),
        "FONCIER_SYNC_TIMEOUT_S": "0.5",
        "FONCIER_SYNC_RETRIES": "2",
        "FONCIER_SYNC_BACKOFF_S": "0.01",
        "FONCIER_WEBHOOK_ALLOW_HTTP": "true",
        "FONCIER_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "FONCIER_WEBHOOK_BACKOFF_S": "0.01",
    }
    if real:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "sync", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        )
        return Ran(done.returncode, done.stdout, done.stderr)
    return invoke(env, "sync", *args)


def invoke(env: dict[str, str], *args: str) -> Ran:
    """``foncier ARGS`` in-process, with ``env`` for its settings."""
    from click.testing import CliRunner

    from app.cli import main
    from app.db import get_engine
    from app.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        result = CliRunner(env=env).invoke(main, list(args))
    finally:
        get_engine().dispose()
        get_engine.cache_clear()
        get_settings.cache_clear()
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def api(base_settings: Settings, fresh_engine: Engine) -> Iterator[TestClient]:
    from app.api.main import create_app

    url = fresh_engine.url.render_as_string(hide_password=False)
    settings = base_settings.model_copy(
        update={
            "database_url": url,
            "admin_token": "t" * 32,
            "webhook_allow_http": True,
            # the recorded publishers receive the webhooks, on the loopback
            "webhook_allowed_hosts": "127.0.0.1",
        }
    )
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": "Bearer " + "t" * 32}) as client:
        yield client
    app.state.engine.dispose()


@pytest.mark.slow
def test_sync_epci_then_304_then_changed_file_raises_an_alert(
    fresh_engine: Engine, publishers: Publishers, api: TestClient, tmp_path: Path
) -> None:
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")
    publishers.serve(FRICHES_PATH, (DATA / "friches" / "cartofriches-08.csv").read_bytes(),
                     "text/csv")  # fmt: skip
    publishers.fault(CAD_PATH, "503")  # a bad moment of the publisher, retried
    cache = tmp_path / "cache"
    only = (
        "--only",
        "cadastre-parcelles",
        "--only",
        "cartofriches",
        "--only",
        "cadastre-batiments",
    )

    first = foncier(fresh_engine, publishers, cache, "--epci", DEMO_EPCI, *only, real=True)
    print(first.stdout)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "sync of epci:200056232:" in first.stdout
    assert "cadastre-parcelles: 1 fetched, 26 missing" in first.stdout
    assert "cartofriches: 1 fetched" in first.stdout
    # the buildings loader is here; the recorded publisher has no buildings of these communes
    assert "cadastre-batiments: 27 missing" in first.stdout
    assert "rescored: 1 communes" in first.stdout
    assert 1 < publishers.most_in_flight <= 4  # the default FONCIER_SYNC_CONCURRENCY
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 4241
        assert conn.execute(text("SELECT count(*) FROM parcel_score")).scalar_one() > 0

    # a token holder watches the larger parcels of 91216, with a webhook
    saved = api.post(
        "/saved-searches",
        json={
            "name": "Grandes parcelles à Épinay",
            "kind": "parcels",
            "query": {"commune": "91216", "min_area": 0.5},
            "webhook_url": publishers.url + "/hooks/epinay",
        },
    )
    assert saved.status_code == 201, saved.text
    baseline = saved.json()["matches"]
    assert 0 < baseline < 2000
    secret = saved.json()["webhook_secret"]

    second = foncier(fresh_engine, publishers, cache, "--epci", DEMO_EPCI, *only)
    print(second.stdout)
    assert second.returncode == 0, second.stderr
    assert "cadastre-parcelles: 1 not-modified, 26 missing" in second.stdout
    assert "cartofriches: 1 not-modified" in second.stdout
    assert publishers.statuses(CAD_PATH)[-1] == 304
    assert publishers.statuses(FRICHES_PATH)[-1] == 304
    assert "alert:" not in second.stdout

    # the publisher's next vintage: a parcel divided off a watched one (synthetic change)
    with fresh_engine.connect() as conn:
        watched = conn.execute(
            text("SELECT item_id FROM saved_search_match ORDER BY item_id LIMIT 1")
        ).scalar_one()
    data = json.loads(CADASTRE_91216.read_bytes())
    feature = next(f for f in data["features"] if f["properties"]["id"] == watched)
    new = json.loads(json.dumps(feature))
    new["id"] = new["properties"]["id"] = "91216000ZZ0999"
    new["properties"].update(section="ZZ", numero="0999")
    data["features"].append(new)
    publishers.serve(CAD_PATH, gzip.compress(json.dumps(data).encode(), mtime=0),
                     "application/gzip")  # fmt: skip

    third = foncier(fresh_engine, publishers, cache, "--commune", "91216", *only)
    print(third.stdout)
    assert third.returncode == 0, third.stderr
    assert "cadastre-parcelles: 1 fetched" in third.stdout
    assert "commune:91216: changed: cadastre-91216-parcelles.json.gz sha256" in third.stdout
    assert "alert: appeared 91216000ZZ0999 in 91216" in third.stdout

    alerts = api.get("/alerts").json()["alerts"]
    assert [(a["change"], a["item_id"]) for a in alerts] == [("appeared", "91216000ZZ0999")]
    assert alerts[0]["cause"] == "sync commune:91216"
    assert alerts[0]["webhook_state"] == "delivered"
    feed = api.get("/alerts", params={"format": "atom"})
    assert feed.headers["content-type"].startswith("application/atom+xml")
    entries = ET.fromstring(feed.content).findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 1 and "91216000ZZ0999" in entries[0].findtext(
        "{http://www.w3.org/2005/Atom}title", ""
    )
    print(feed.text)
    # the webhook: one call, signed with the search's secret
    (path, headers, body) = publishers.hooks[-1]
    assert path == "/hooks/epinay"
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Foncier-Signature"] == expected
    assert json.loads(body)["alerts"][0]["item_id"] == "91216000ZZ0999"

    # freshness: vintage, last success, last error per part, lineage to the import
    sources = {s["id"]: s for s in api.get("/sources").json()["sources"]}
    parts = {p["part"]: p for p in sources["cadastre-parcelles"]["parts"]}
    assert parts["commune:91216"]["last_success_at"] and parts["commune:91216"]["import_run_id"]
    assert parts["commune:91216"]["last_error"] is None
    assert "404" in parts["commune:91122"]["last_error"]
    assert sources["cadastre-batiments"]["loader_available"] is True
    assert sources["georisques-ssp"]["loader_available"] is False
    # a parcel's answer points to the synced part that brought it
    lineage = api.get("/parcels/91216000ZZ0999").json()["properties"]["lineage"]
    assert lineage["part"] == "commune:91216"
    assert lineage["import_run"] == parts["commune:91216"]["import_run_id"]

    # --stale-after: what was synced within the period is not asked for again
    asked = len(publishers.log)
    fourth = foncier(fresh_engine, publishers, cache, "--commune", "91216",
                     "--only", "cadastre-parcelles", "--stale-after", "30d")  # fmt: skip
    assert fourth.returncode == 0, fourth.stderr
    assert "cadastre-parcelles: 1 skipped" in fourth.stdout
    assert len(publishers.log) == asked


def test_a_refused_import_leaves_nothing_and_the_others_go_on(
    fresh_engine: Engine, publishers: Publishers, tmp_path: Path
) -> None:
    data = json.loads(CADASTRE_91216.read_bytes())
    data["features"][3]["geometry"] = None  # the loader refuses the whole file
    publishers.serve(CAD_PATH, gzip.compress(json.dumps(data).encode()), "application/gzip")
    publishers.serve(FRICHES_PATH, (DATA / "friches" / "cartofriches-08.csv").read_bytes(),
                     "text/csv")  # fmt: skip
    publishers.fault(FRICHES_PATH, "html")  # and a maintenance page, then the file
    result = foncier(fresh_engine, publishers, tmp_path / "cache", "--commune", "91216",
                     "--only", "cadastre-parcelles", "--only", "cartofriches")  # fmt: skip
    print(result.stdout)
    assert result.returncode == 1
    assert "commune:91216: failed: import refused:" in result.stdout
    assert "feature without geometry" in result.stdout
    assert "cartofriches: 1 failed" in result.stdout and "text/html" in result.stdout
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 0
        row = conn.execute(
            text("SELECT last_error, last_success_at FROM sources WHERE part = 'commune:91216'")
        ).one()
    assert "feature without geometry" in row.last_error and row.last_success_at is None
    # the refused file is not cached as current: the next sync fetches it again, whole
    assert not list((tmp_path / "cache" / "cadastre-parcelles").rglob("*.meta.json"))
    # the friches go on once the publisher is back
    again = foncier(fresh_engine, publishers, tmp_path / "cache", "--commune", "91216",
                    "--only", "cartofriches")  # fmt: skip
    assert again.returncode == 0 and "cartofriches: 1 fetched" in again.stdout


DGFIP_PATH = ("/api/datasets/1.0/fichiers-des-locaux-et-des-parcelles-des-personnes-morales/"
              "attachments/pm_25_nb_910_zip")  # fmt: skip
OWNERS_CSV = (
    Path(os.environ.get("FONCIER_SHARED_DATA", "/work/shared/data"))
    / "proprietaires"
    / "PM_25_NB_910_part_006.csv"
)
needs_owners = pytest.mark.skipif(not OWNERS_CSV.is_file(), reason="shared real data not present")


def dgfip_zip(tmp_path: Path, parts: int = 2) -> bytes:
    """The publisher's zip of a département's parts: the real part 6 of the Essonne (2025),
    cut in ``parts`` members with the header each (the packaging is synthetic)."""
    import zipfile

    header, *rows = OWNERS_CSV.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "pm.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(parts):
            chunk = rows[i * len(rows) // parts : (i + 1) * len(rows) // parts]
            archive.writestr(f"PM_25_NB_910_part_00{i + 1}.csv", "\n".join([header, *chunk]))
    return path.read_bytes()


@needs_owners
def test_the_dgfip_zip_is_imported_as_published(
    fresh_engine: Engine, publishers: Publishers, tmp_path: Path
) -> None:
    publishers.serve(DGFIP_PATH, dgfip_zip(tmp_path), "application/zip")
    cache = tmp_path / "cache"
    result = foncier(fresh_engine, publishers, cache, "--departement", "91",
                     "--only", "dgfip-personnes-morales")  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert "dgfip-personnes-morales: 1 fetched" in result.stdout
    with fresh_engine.connect() as conn:
        owners = conn.execute(text("SELECT count(*) FROM parcel_owner")).scalar_one()
        vintage = conn.execute(
            text("SELECT vintage FROM import_run WHERE kind = 'proprietaires'")
        ).scalar_one()
    assert owners == 1439 and vintage == "situation 2025"  # as the part alone (test_land_use)
    cached = sorted(p.name for p in (cache / "dgfip-personnes-morales").rglob("*") if p.is_file())
    assert cached == ["pm_25_nb_910_zip.zip", "pm_25_nb_910_zip.zip.meta.json"]


@needs_owners
def test_a_loader_error_fails_its_part_only(
    fresh_engine: Engine, publishers: Publishers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a loader raises fails its part, with the reason; the other parts are
    imported and rescored, and the cache keeps no file without its metadata. An
    interruption is not swallowed: the cache is put back and the sync stops."""
    from geo.ingest import owners
    from geo.ingest.sync import SyncOptions, sync

    def broken(_engine: Engine, _path: Path) -> None:
        raise UnicodeDecodeError("utf-8", b"PK\x03", 2, 3, "invalid start byte")

    monkeypatch.setattr(owners, "load_owners", broken)
    publishers.serve(CAD_PATH, CAD_GZ, "application/gzip")
    publishers.serve(DGFIP_PATH, dgfip_zip(tmp_path), "application/zip")
    cache = tmp_path / "cache"
    only = ("--only", "cadastre-parcelles", "--only", "dgfip-personnes-morales")
    result = foncier(fresh_engine, publishers, cache, "--commune", "91216", *only)
    print(result.stdout)
    assert result.returncode == 1
    assert "cadastre-parcelles: 1 fetched" in result.stdout
    assert "dgfip-personnes-morales: 1 failed" in result.stdout
    assert "departement:91: failed: import failed: UnicodeDecodeError: 'utf-8' codec" in (
        result.stdout
    )
    assert "rescored: 1 communes" in result.stdout
    assert not [p for p in (cache / "dgfip-personnes-morales").rglob("*") if p.is_file()]
    with fresh_engine.connect() as conn:
        error = conn.execute(
            text("SELECT last_error FROM sources WHERE source_id = 'dgfip-personnes-morales'")
        ).scalar_one()
    assert error.startswith("import failed: UnicodeDecodeError")

    # the real loader imports it; then a new vintage interrupted by Ctrl-C: the cached copy
    # and its metadata are back as they were, and the interruption goes up
    monkeypatch.undo()
    options = SyncOptions(cache_dir=cache, fetch=FAST, mirror=publishers.url,
                          only=("dgfip-personnes-morales",), rescore=False)  # fmt: skip
    assert sync(fresh_engine, "commune", "91216", options).results[0].outcome == "fetched"
    zipped = cache / "dgfip-personnes-morales" / "departement-91" / "pm_25_nb_910_zip.zip"
    before = (zipped.read_bytes(), zipped.with_name(zipped.name + ".meta.json").read_bytes())

    def interrupted(_engine: Engine, _path: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(owners, "load_owners", interrupted)
    publishers.serve(DGFIP_PATH, dgfip_zip(tmp_path, parts=3), "application/zip")
    with pytest.raises(KeyboardInterrupt):
        sync(fresh_engine, "commune", "91216", options)
    after = (zipped.read_bytes(), zipped.with_name(zipped.name + ".meta.json").read_bytes())
    assert after == before
    assert sorted(p.name for p in zipped.parent.iterdir()) == [
        "pm_25_nb_910_zip.zip", "pm_25_nb_910_zip.zip.meta.json"
    ]  # fmt: skip


def test_gpu_zoning_of_a_commune(
    fresh_engine: Engine, publishers: Publishers, tmp_path: Path
) -> None:
    publishers.serve(GPU_PATH, (DATA / "plu" / "zone_urba_DU_17345.geojson").read_bytes(),
                     "application/json")  # fmt: skip
    publishers.fault(GPU_PATH, "timeout")
    result = foncier(fresh_engine, publishers, tmp_path / "cache", "--commune", "17345",
                     "--only", "gpu-zone-urba")  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert "gpu-zone-urba: 1 fetched" in result.stdout
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM plu_zone")).scalar_one() == 39
        epci = conn.execute(text("SELECT epci_siren FROM commune WHERE insee = '17345'")).scalar()
    # its EPCI has no PLUi: the API's empty collection is a missing part, not a failure
    empty = b'{"type": "FeatureCollection", "features": [], "totalFeatures": 0}'
    publishers.serve(f"/api/gpu/zone-urba?partition=DU_{epci}", empty, "application/json")
    plui = foncier(fresh_engine, publishers, tmp_path / "cache", "--commune", "17345",
                   "--only", "gpu-zone-urba-plui")  # fmt: skip
    assert plui.returncode == 0, plui.stderr + plui.stdout
    assert "gpu-zone-urba-plui: 1 missing" in plui.stdout
    assert f"missing (nothing at the publisher: 404, 410 or empty): {epci}" in plui.stdout


def test_bad_territory_and_source_are_one_line_errors(
    fresh_engine: Engine, publishers: Publishers, tmp_path: Path
) -> None:
    def run(*args: str) -> Ran:
        return foncier(fresh_engine, publishers, tmp_path, *args)

    unknown = run("--epci", "999999999")
    assert unknown.returncode == 1
    # the command's one error line (stderr is the test process's: read only its own lines)
    said = [line for line in unknown.stderr.splitlines() if line.startswith("error: ")]
    assert len(said) == 1 and said[0].startswith("error: no commune in epci 999999999")
    bad = run("--commune", "91216", "--only", "nope")
    assert bad.returncode == 1 and "unknown source nope" in bad.stderr
    none = run()
    assert none.returncode == 1 and "give one territory" in none.stderr
    ti = run("--territoire-industrie", "TI-00-000")
    assert ti.returncode == 1 and "no commune in territoire-industrie TI-00-000" in ti.stderr
    stale = run("--commune", "91216", "--stale-after", "x")
    assert stale.returncode == 1 and "--stale-after" in stale.stderr
    # nothing fetched but the administrative reference, synced first to resolve
    assert {p for _, p, _ in publishers.log} <= {
        f"/@etalab/decoupage-administratif@6.0.0/data/{n}.json"
        for n in ("communes", "epci", "departements")
    }


def test_saved_search_api_refuses_bad_input(api: TestClient) -> None:
    anonymous = api.post(
        "/saved-searches",
        json={"name": "x", "kind": "parcels", "query": {"commune": "91216"}},
        headers={"Authorization": ""},
    )
    assert anonymous.status_code in (401, 422)
    assert (
        api.get("/alerts", headers={"Authorization": "Bearer wrong-token-xxxxxx"}).status_code
        == 401
    )
    for query in ({"commune": "91216", "evil": 1}, {"commune": "9"}, {}, {"commune": "91216",
                  "min_area": "1"}, {"bbox": [1, 2, 3]}):  # fmt: skip
        response = api.post(
            "/saved-searches", json={"name": "x", "kind": "parcels", "query": query}
        )
        assert 400 <= response.status_code < 500, (query, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    sites = api.post(
        "/saved-searches", json={"name": "x", "kind": "sites", "query": {"commune": "91216"}}
    )
    assert sites.status_code == 422
    http_hook = api.app.state.settings.model_copy(update={"webhook_allow_http": False})
    api.app.state.settings = http_hook
    hook = api.post(
        "/saved-searches",
        json={"name": "x", "kind": "parcels", "query": {"commune": "91216"},
              "webhook_url": "http://127.0.0.1:1/x"},
    )  # fmt: skip
    assert hook.status_code == 422 and "https://" in hook.json()["detail"]
    assert api.delete("/saved-searches/12345").status_code == 404
    assert api.get("/alerts", params={"format": "rss"}).status_code == 422


@pytest.mark.slow
def test_rerun_alerts_only_on_changed_communes_and_lost_matches(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    from geo.ingest.cadastre import load_cadastre
    from geo.scoring.refresh import refresh_scores
    from geo.scoring.watch import rerun, save_search

    load_cadastre(fresh_engine, CADASTRE_91216)
    refresh_scores(fresh_engine, commune="91216")
    query = {"commune": "91216", "min_area": 0.5, "max_area": 5}
    with fresh_engine.begin() as conn:
        saved = save_search(conn, name="moyennes", kind="parcels", query=query, owner="t")
        watched = conn.execute(
            text("SELECT item_id FROM saved_search_match ORDER BY item_id LIMIT 1")
        ).scalar_one()
        largest_id, largest_ha = conn.execute(
            text("SELECT id, ST_Area(geom) / 1e4 FROM parcel ORDER BY ST_Area(geom) DESC LIMIT 1")
        ).one()
    assert saved["matches"] > 0 and largest_ha > 5
    # next vintage (synthetic change): the watched parcel absorbs the largest parcel's
    # outline, past the 5 ha the search allows
    data = json.loads(CADASTRE_91216.read_bytes())
    largest = next(f for f in data["features"] if f["properties"]["id"] == largest_id)
    for f in data["features"]:
        if f["properties"]["id"] == watched:
            f["geometry"] = largest["geometry"]
            f["properties"]["contenance"] = largest["properties"].get("contenance")
    path = tmp_path / "cadastre-91216-parcelles.json"
    path.write_text(json.dumps(data))
    load_cadastre(fresh_engine, path)
    # a commune nothing changed in: no alert, whatever the search finds there
    assert rerun(fresh_engine, ["91027"], cause="elsewhere") == ([], [])
    # rescoring the commune re-runs the saved searches on it
    url = fresh_engine.url.render_as_string(hide_password=False)
    ran = invoke({"FONCIER_DATABASE_URL": url}, "score", "refresh", "--commune", "91216")
    assert ran.returncode == 0, ran.stderr
    assert f"alert: disappeared {watched} in 91216 (saved search {saved['id']} 'moyennes')" in (
        ran.stdout
    )
    with fresh_engine.connect() as conn:
        cause = conn.execute(text("SELECT cause FROM alert")).scalar_one()
    assert cause == "score refresh"
    # the baseline moved on: the same run again finds nothing new
    assert rerun(fresh_engine, ["91216"], cause="again") == ([], [])


@pytest.mark.slow
def test_admin_reference_through_sync(
    fresh_engine: Engine, publishers: Publishers, tmp_path: Path
) -> None:
    """The administrative reference is a directory loader: its three files land side by side
    (the npm package's own files, as unpkg serves them), then one import."""
    base = "/@etalab/decoupage-administratif@6.0.0/data/"
    for name in ("communes.json", "epci.json", "departements.json"):
        publishers.serve(base + name, (DATA / "admin" / name).read_bytes(), "application/json")
    publishers.fault(base + "epci.json", "503")
    result = foncier(fresh_engine, publishers, tmp_path / "cache", "--commune", "91216",
                     "--only", "admin")  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert "admin: 1 fetched" in result.stdout
    cached = sorted(p.name for p in (tmp_path / "cache" / "admin" / "national").iterdir())
    assert cached == sorted(
        f"{n}{suffix}"
        for n in ("communes.json", "departements.json", "epci.json")
        for suffix in ("", ".meta.json")
    )
    with fresh_engine.connect() as conn:
        row = conn.execute(
            text("SELECT import_run_id, last_error FROM sources WHERE source_id = 'admin'")
        ).one()
    assert row.import_run_id is not None and row.last_error is None
    again = foncier(fresh_engine, publishers, tmp_path / "cache", "--commune", "91216",
                    "--only", "admin")  # fmt: skip
    assert "admin: 1 not-modified" in again.stdout


def test_sources_before_any_sync(api_client: TestClient) -> None:
    body = api_client.get("/sources").json()
    by_id = {s["id"]: s for s in body["sources"]}
    assert by_id["cadastre-parcelles"]["parts"] == []
    assert (
        by_id["cadastre-parcelles"]["docs"][0]
        == "https://cadastre.data.gouv.fr/datasets/cadastre-etalab"
    )
    assert by_id["dgfip-personnes-morales"]["loader_available"] is True
    assert by_id["georisques-ssp"]["loader_available"] is False
    assert "georisques-ssp" in by_id["georisques-ssp"]["loader_missing"]
    # the map page's panel
    assert api_client.get("/static/sources.js").status_code == 200
    assert '<script src="/static/sources.js">' in api_client.get("/", params={"f": "html"}).text


def test_a_site_is_named_by_its_parcels(scored_db_url: str) -> None:
    """Candidate sites are ranked afresh at each run: a saved sites search recognises a site
    by its set of parcels, not by its rank, so a re-run without change raises nothing."""
    from geo.scoring.watch import check_query, run_search
    from tests.helpers import engine_for

    query = {"commune": "91216", "min_area": 2.0, "gap": 5.0, "limit": 5}
    check_query("sites", query)
    engine = engine_for(scored_db_url)
    try:
        with engine.connect() as conn:
            first = run_search(conn, "sites", query, budget_s=20)
            second = run_search(conn, "sites", query, budget_s=20)
    finally:
        engine.dispose()
    assert first and first.keys() == second.keys()
    for item, site in first.items():
        assert item.startswith("site-") and site["area_ha"] >= 2.0
        assert site["communes"] == ["91216"] and len(site["parcels"]) >= 1


def test_a_failing_webhook_is_retried_in_the_background(
    fresh_engine: Engine, publishers: Publishers
) -> None:
    import time

    from geo.scoring.webhook import WebhookPolicy, deliver_in_background

    with fresh_engine.begin() as conn:
        search_id = conn.execute(
            text(
                """INSERT INTO saved_search (name, kind, query, owner, webhook_url,
                                             webhook_secret)
                   VALUES ('w', 'parcels', '{"commune": "91216"}', 't', :url, 's3cret')
                   RETURNING id"""
            ),
            {"url": publishers.url + "/down"},
        ).scalar_one()
        alert_id = conn.execute(
            text(
                """INSERT INTO alert (saved_search_id, change, item_id, commune_insee, detail,
                                      cause)
                   VALUES (:s, 'appeared', '91216000AB0001', '91216', '{}', 'test')
                   RETURNING id"""
            ),
            {"s": search_id},
        ).scalar_one()
    alert = {"id": alert_id, "saved_search_id": search_id, "saved_search_name": "w",
             "change": "appeared", "item_id": "91216000AB0001", "commune_insee": "91216",
             "detail": {}, "cause": "test", "webhook_secret": "s3cret"}  # fmt: skip
    # the receiver is down (nothing listens on port 1): retried, then recorded as failed
    started = time.monotonic()
    policy = WebhookPolicy(allow_http=True, allowed_hosts=("127.0.0.1",), timeout_s=0.5,
                           retries=2, backoff_s=0.2)  # fmt: skip
    threads = deliver_in_background(
        fresh_engine, [{**alert, "webhook_url": "http://127.0.0.1:1/down"}], policy
    )
    assert time.monotonic() - started < 0.2  # the caller does not wait for the receiver
    for thread in threads:
        thread.join(timeout=10)
    with fresh_engine.connect() as conn:
        state = conn.execute(text("SELECT webhook_state FROM alert")).scalar_one()
    assert state == "failed"


def test_sources_show_no_credentials_nor_server_paths(
    base_settings: Settings, fresh_engine: Engine, tmp_path: Path
) -> None:
    """GET /sources and a parcel's lineage are public: a mirror's user:password@ and the
    server's paths (a refused import names its file) are left out, whether the row was
    written by this version (cleaned when written) or an older one (cleaned when read)."""
    import datetime

    from app.api.main import create_app
    from geo.errors import DomainError
    from geo.ingest.sync import _record

    load_cadastre = loader_for("cadastre")[0]
    assert load_cadastre is not None
    load_cadastre(fresh_engine, CADASTRE_91216)
    cached = tmp_path / "cache" / "cadastre-parcelles" / "commune-91216"
    cached.mkdir(parents=True)
    data = json.loads(CADASTRE_91216.read_bytes())
    data["features"][3]["geometry"] = None
    refused = cached / "cadastre-91216-parcelles.json"
    refused.write_text(json.dumps(data))
    with pytest.raises(DomainError) as exc:
        load_cadastre(fresh_engine, refused)
    assert str(tmp_path) in str(exc.value)  # what the loader says names the server's path
    mirror = "https://sync-user:s3cret-pw@mirror.example" + CAD_PATH
    now = datetime.datetime.now(datetime.UTC)
    _record(fresh_engine, "cadastre-parcelles", "commune:91122", mirror, at=now,
            error=f"{mirror}: HTTP 404; {exc.value}")  # fmt: skip
    with fresh_engine.begin() as conn:
        stored = conn.execute(text("SELECT url || ' ' || last_error FROM sources")).scalar_one()
        # a row as an older version wrote it: the one the parcels' lineage reads
        conn.execute(
            text(
                "INSERT INTO sources (source_id, part, url, last_error, last_checked_at) "
                "VALUES ('cadastre-parcelles', 'commune:91216', :url, :error, now())"
            ),
            {"url": mirror, "error": f"import refused: {refused}: bad; {mirror}: HTTP 500"},
        )
    assert "s3cret" not in stored and str(tmp_path) not in stored, stored

    url = fresh_engine.url.render_as_string(hide_password=False)
    app = create_app(base_settings.model_copy(update={"database_url": url}))
    with TestClient(app) as client:
        answer = client.get("/sources")
        lineage = client.get("/parcels/91216000AB0037").json()["properties"]["lineage"]
    app.state.engine.dispose()
    parts = {
        p["part"]: p
        for s in answer.json()["sources"]
        if s["id"] == "cadastre-parcelles"
        for p in s["parts"]
    }
    for leak in ("s3cret", "sync-user", str(tmp_path), "/cache/"):
        assert leak not in answer.text, leak
        assert leak not in json.dumps(lineage), leak
    assert parts["commune:91122"]["url"] == "https://mirror.example" + CAD_PATH
    assert parts["commune:91122"]["last_error"].startswith("https://mirror.example/")
    assert "cadastre-91216-parcelles.json: " in parts["commune:91122"]["last_error"]
    assert parts["commune:91216"]["last_error"] == (
        f"import refused: cadastre-91216-parcelles.json: bad; https://mirror.example{CAD_PATH}: "
        "HTTP 500"
    )
    assert lineage["url"] == "https://mirror.example" + CAD_PATH


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("https://u:p@ss@127.0.0.2:8443/a/b.json: 404", "https://127.0.0.2:8443/a/b.json: 404"),
        ("HTTP://USER@h/x y", "HTTP://h/x y"),
        ("/var/cache/src/c.json.gz: bad; '/tmp/a/b.csv'", "c.json.gz: bad; 'b.csv'"),
        ("http://[::1]:8080/a/b and https://h/x/y?z=1/2", "http://[::1]:8080/a/b and https://h/x/y?z=1/2"),
        ("2024/01/02, 1/2, /tmp", "2024/01/02, 1/2, /tmp"),
        # a directory named with spaces (a home on macOS): the path still ends at its file
        ("/Users/Jean Dupont/foncier/.cache/sources/c.json.gz: bad", "c.json.gz: bad"),
        ("copy /srv/a b/c.zip to /srv/d e/f.zip failed", "copy c.zip to f.zip failed"),
    ],
)  # fmt: skip
def test_public_text(said: str, shown: str) -> None:
    from geo.ingest.redact import public_text

    assert public_text(said) == shown
