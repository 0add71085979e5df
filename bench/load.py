"""Load test (issue 7): concurrent clients on searches and ledger writes, then reconcile.

    ./dev db && .venv/bin/python -m bench.load [--clients 32] [--seconds 30] [--workers 2]

Builds its own database (foncier_bench_load: administrative reference, the 91216 cadastre,
scores), creates an EPCI-editor token and a prefecture token, and serves it with uvicorn
on loopback. N client threads (httpx, keep-alive) then run a closed loop for a fixed time,
each request drawn at random: ranked search for the EPCI (40 %), OGC items in a box
(20 %), a vector tile (15 %), and ledger writes (25 %): an EPCI editor records a project
on one random parcel, and the prefecture authorises half of them, which reserves their
NAF hectares in the envelope. Every non-2xx answer or transport error counts as an error.

Afterwards the ledger is reconciled with what the clients were told: every project
acknowledged (201) exists exactly once, every acknowledged status change is one entry,
the reserved total equals the authorised projects' NAF hectares, the audit log holds one
entry per acknowledged write, and /envelope reports the same total.
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import psycopg
from psycopg import sql
from sqlalchemy import create_engine, text

from app.db import migrate
from app.security.tokens import create_token
from app.settings import get_settings
from bench.features import percentile, start
from geo.ingest.admin import load_admin
from geo.ingest.cadastre import load_cadastre
from geo.scoring.refresh import refresh_scores

DB = "foncier_bench_load"
EPCI = "200056232"


def build_database() -> str:
    settings = get_settings()
    admin_url = settings.url_for("postgres").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
    url = settings.url_for(DB)
    migrate(url=url)
    engine = create_engine(url)
    load_admin(engine, settings.data_dir / "admin")
    load_cadastre(engine, settings.data_dir / "cadastre" / "cadastre-91216-parcelles.json")
    refresh_scores(engine)
    engine.dispose()
    return url


def tokens(url: str) -> tuple[str, str, list[str]]:
    engine = create_engine(url)
    with engine.begin() as conn:
        _, editor = create_token(
            conn, name="bench EPCI", role="epci_editor", territory=f"epci:{EPCI}",
            created_by="bench",
        )  # fmt: skip
        _, prefecture = create_token(
            conn, name="bench DDT 91", role="prefecture", territory="departement:91",
            created_by="bench",
        )  # fmt: skip
        parcels = list(conn.execute(text("SELECT id FROM parcel ORDER BY id")).scalars())
    engine.dispose()
    return editor, prefecture, parcels


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    created: dict[int, float] = field(default_factory=dict)  # project id -> naf_ha
    authorised: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def run_clients(base: str, clients: int, seconds: float, editor: str, prefecture: str,
                parcels: list[str]) -> Tally:  # fmt: skip
    tally = Tally()
    stop_at = time.perf_counter() + seconds
    boxes = [(2.30 + 0.004 * i, 48.66 + 0.003 * j) for i in range(8) for j in range(8)]
    tiles = [(14, 8297, 5648), (15, 16594, 11296), (15, 16595, 11297), (16, 33190, 22595)]

    def client(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[int] = []  # projects this client recorded, waiting for authorisation
        with httpx.Client(base_url=base, timeout=60) as http:
            while time.perf_counter() < stop_at:
                r = rng.random()
                if r < 0.40:
                    kind, call = (
                        "search",
                        lambda: http.get("/parcels/search", params={"epci": EPCI, "limit": 20}),
                    )
                elif r < 0.60:
                    x, y = rng.choice(boxes)
                    kind, call = (
                        "items",
                        lambda x=x, y=y: http.get(
                            "/collections/parcels/items",
                            params={"limit": 100, "bbox": f"{x},{y},{x + 0.004},{y + 0.003}"},
                        ),
                    )
                elif r < 0.75:
                    z, tx, ty = rng.choice(tiles)
                    kind, call = (
                        "tile",
                        lambda z=z, tx=tx, ty=ty: http.get(f"/tiles/parcels/{z}/{tx}/{ty}.mvt"),
                    )
                elif mine and rng.random() < 0.5:
                    pid = mine.pop()
                    kind, call = (
                        "authorise",
                        lambda pid=pid: http.post(
                            f"/projects/{pid}/status",
                            json={
                                "status": "authorised",
                                "reason": "load test",
                                "act": "arrêté n° load",
                                "occurred_on": datetime.date.today().isoformat(),
                            },  # fmt: skip
                            headers={"Authorization": f"Bearer {prefecture}"},
                        ),
                    )
                else:
                    parcel = rng.choice(parcels)
                    kind, call = (
                        "create",
                        lambda parcel=parcel: http.post(
                            "/projects",
                            json={"name": "load", "epci_siren": EPCI, "parcel_ids": [parcel]},
                            headers={"Authorization": f"Bearer {editor}"},
                        ),
                    )
                t0 = time.perf_counter()
                try:
                    response = call()
                    ok = response.status_code < 300
                except httpx.HTTPError as exc:
                    response, ok = None, False
                    detail = repr(exc)
                elapsed = time.perf_counter() - t0
                with tally.lock:
                    tally.latencies[kind].append(elapsed)
                    if not ok:
                        tally.errors[kind] += 1
                        if len(tally.error_samples) < 5:
                            tally.error_samples.append(
                                f"{kind}: {response.status_code} {response.text[:200]}"
                                if response is not None else f"{kind}: {detail}"
                            )  # fmt: skip
                    elif kind == "create":
                        body = response.json()
                        tally.created[body["id"]] = body["naf_ha"]
                        mine.append(body["id"])
                    elif kind == "authorise":
                        tally.authorised.add(response.json()["id"])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def reconcile(url: str, base: str, tally: Tally) -> list[str]:
    problems = []
    engine = create_engine(url)
    with engine.connect() as conn:
        ids = list(conn.execute(text("SELECT id FROM project ORDER BY id")).scalars())
        entries = conn.execute(
            text("SELECT status, count(*) FROM envelope_entry GROUP BY status")
        ).all()
        reserved = conn.execute(
            text("SELECT coalesce(sum(reserved_delta_ha), 0) FROM envelope_entry")
        ).scalar_one()
        audit = dict(
            conn.execute(text("SELECT action, count(*) FROM audit_log GROUP BY action")).all()
        )
    engine.dispose()
    by_status = dict(entries)
    if sorted(ids) != sorted(tally.created) or len(ids) != len(set(ids)):
        problems.append(f"projects: {len(ids)} in the ledger, {len(tally.created)} acknowledged")
    if by_status.get("planned", 0) != len(tally.created):
        problems.append(f"planned entries {by_status.get('planned')} != {len(tally.created)}")
    if by_status.get("authorised", 0) != len(tally.authorised):
        problems.append(f"authorised entries {by_status.get('authorised')} != acknowledged")
    expected = sum(tally.created[p] for p in tally.authorised)
    if abs(float(reserved) - expected) > 1e-6:
        problems.append(f"reserved {reserved} ha != {expected} ha acknowledged")
    if audit.get("project.create", 0) != len(tally.created):
        problems.append(f"audit creates {audit.get('project.create')} != {len(tally.created)}")
    if audit.get("project.status", 0) != len(tally.authorised):
        problems.append("audit status changes != acknowledged")
    report = httpx.get(f"{base}/envelope").json()["national"]
    if abs(report["reserved_ha"] - expected) > 1e-3:
        problems.append(f"/envelope reserved {report['reserved_ha']} != {expected}")
    print(
        f"reconciled: {len(ids)} projects, {len(tally.authorised)} authorised, "
        f"{float(reserved):.4f} ha reserved (clients were told {expected:.4f} ha), "
        f"audit {audit}, /envelope reserved {report['reserved_ha']} ha"
    )
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    url = build_database()
    editor, prefecture, parcels = tokens(url)
    server = start(
        "foncier", sys.executable, "app.api.main:app", {"FONCIER_DATABASE_URL": url},
        workers=args.workers,
    )  # fmt: skip
    base = server.base
    try:
        tally = run_clients(base, args.clients, args.seconds, editor, prefecture, parcels)
        total = sum(len(v) for v in tally.latencies.values())
        errors = sum(tally.errors.values())
        print(
            f"{args.clients} clients, {args.seconds:.0f} s, uvicorn {args.workers} workers: "
            f"{total} requests, {total / args.seconds:.1f} req/s, {errors} errors"
        )
        print(f"{'kind':<11}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}")
        for kind, lat in sorted(tally.latencies.items()):
            print(
                f"{kind:<11}{len(lat):>9}{len(lat) / args.seconds:>8.1f}"
                f"{1000 * statistics.median(lat):>9.1f}{1000 * percentile(lat, 0.95):>9.1f}"
                f"{tally.errors.get(kind, 0):>8}"
            )
        for sample in tally.error_samples:
            print("  error:", sample)
        problems = reconcile(url, base, tally)
        for p in problems:
            print("  MISMATCH:", p)
        print("ledger reconciled: OK" if not problems else "ledger reconciled: MISMATCH")
        if errors or problems:
            raise SystemExit(1)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
