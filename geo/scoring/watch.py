"""Saved searches and their alerts.

A token holder saves a parcel search or a candidate-site search (its query as data, a name).
Its matches at that moment are the baseline. After each import or sync, every saved search
is run again; on the communes that changed, what matches now and did not before is an
``appeared`` alert, what matched and no longer does a ``disappeared`` alert, and the
baseline of those communes becomes the new matches. A search never raises alerts for a
commune no import touched: the rest of its baseline is kept as it was.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, text

from geo.db.schema import alert, saved_search, saved_search_match
from geo.errors import Invalid, NotFound
from geo.scoring.profiles import get_profile
from geo.scoring.search import (
    MAX_GAP_M,
    MAX_SITE_AREA_HA,
    Filters,
    count_parcels,
    search_parcels,
    search_sites,
)

KINDS = ("parcels", "sites")
# A saved search is a watch, not an export: past this many matches it is refused.
MAX_MATCHES = 2000
TERRITORY_KEYS = ("commune", "epci", "territoire_industrie", "departement", "bbox")
QUERY_KEYS = {
    "parcels": {
        *TERRITORY_KEYS,
        "min_area",
        "max_area",
        "zoning",
        "on_friche",
        "min_score",
        "include_excluded",
        "profile",
    },
    "sites": {*TERRITORY_KEYS, "min_area", "gap", "min_score", "profile", "limit"},
}


def _filters(kind: str, query: dict[str, Any]) -> Filters:
    bbox = query.get("bbox")
    # a sites search's min_area is the size a site must reach, not a parcel filter
    parcels = kind == "parcels"
    return Filters(
        commune=query.get("commune"),
        epci=query.get("epci"),
        territoire_industrie=query.get("territoire_industrie"),
        departement=query.get("departement"),
        bbox=tuple(bbox) if bbox else None,
        min_area_ha=query.get("min_area") if parcels else None,
        max_area_ha=query.get("max_area") if parcels else None,
        zoning=query.get("zoning"),
        on_friche=query.get("on_friche"),
        min_score=query.get("min_score"),
        include_excluded=bool(query.get("include_excluded", False)),
    )


def check_query(kind: str, query: dict[str, Any]) -> None:
    """Invalid unless ``query`` is a saved search of ``kind`` this module can run (the API
    checks the types; this checks the shape that matters here)."""
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}")
    unknown = set(query) - QUERY_KEYS[kind]
    if unknown:
        raise Invalid(f"unknown query members for a {kind} search: {', '.join(sorted(unknown))}")
    if not any(query.get(k) for k in TERRITORY_KEYS):
        raise Invalid("a saved search needs a territory (commune, epci, departement, bbox…)")
    if kind == "sites":
        area = query.get("min_area")
        if not isinstance(area, int | float) or not 0 < area <= MAX_SITE_AREA_HA:
            raise Invalid(f"a sites search needs min_area in ]0, {MAX_SITE_AREA_HA:g}] hectares")
        if not 0 <= query.get("gap", 0) <= MAX_GAP_M:
            raise Invalid(f"gap must be between 0 and {MAX_GAP_M:g} metres")
    get_profile(query.get("profile"))


def run_search(
    conn: Connection, kind: str, query: dict[str, Any], budget_s: float | None = None
) -> dict[str, dict[str, Any]]:
    """What the saved search matches now: item id -> {commune, communes, detail…}; a sites
    search gives up (Invalid) past ``budget_s``."""
    profile = get_profile(query.get("profile"))
    filters = _filters(kind, query)
    found: dict[str, dict[str, Any]] = {}
    if kind == "parcels":
        matched = count_parcels(conn, profile, filters, custom=False, up_to=MAX_MATCHES)
        if not matched.exact:
            raise Invalid(
                f"the search matches {matched} parcels: narrow it "
                "(min_score, min_area, a smaller territory) to watch it"
            )
        for parcel in search_parcels(conn, profile, filters, limit=MAX_MATCHES):
            row = parcel.row
            found[row["parcel_id"]] = {
                "commune": row["commune_insee"],
                "communes": [row["commune_insee"]],
                "score": parcel.explanation.get("score"),
                "area_ha": round(row["area_ha"], 4),
            }
        return found
    sites = search_sites(
        conn,
        profile,
        filters,
        min_area_ha=float(query["min_area"]),
        gap_m=float(query.get("gap", 0)),
        limit=int(query.get("limit", 20)),
        budget_s=budget_s,
    )
    for site in sites:
        parcels = site.parcel_ids
        # a site is its set of parcels: the same parcels, the same site
        digest = hashlib.sha256(" ".join(parcels).encode()).hexdigest()[:12]
        found[f"site-{digest}"] = {
            "commune": parcels[0][:5],
            "communes": sorted({pid[:5] for pid in parcels}),
            "score": round(site.score, 2) if site.score is not None else None,
            "area_ha": round(site.area_ha, 4),
            "parcels": parcels,
        }
    return found


def save_search(
    conn: Connection,
    *,
    name: str,
    kind: str,
    query: dict[str, Any],
    owner: str,
    webhook_url: str | None = None,
    budget_s: float | None = None,
) -> dict[str, Any]:
    """Save a search and its current matches (the baseline), in the caller's transaction;
    the webhook's secret is in the answer, once."""
    check_query(kind, query)
    secret = secrets.token_urlsafe(32) if webhook_url else None
    matches = run_search(conn, kind, query, budget_s)
    search_id = conn.execute(
        insert(saved_search)
        .values(
            name=name,
            kind=kind,
            query=query,
            owner=owner,
            webhook_url=webhook_url,
            webhook_secret=secret,
        )
        .returning(saved_search.c.id)
    ).scalar_one()
    _store(conn, search_id, matches)
    out = {"id": search_id, "name": name, "kind": kind, "query": query, "matches": len(matches)}
    if webhook_url:
        out |= {"webhook_url": webhook_url, "webhook_secret": secret}
    return out


def _store(conn: Connection, search_id: int, matches: dict[str, dict[str, Any]]) -> None:
    if matches:
        conn.execute(
            insert(saved_search_match),
            [
                {
                    "saved_search_id": search_id,
                    "item_id": item,
                    "commune_insee": m["commune"],
                    "detail": m,
                }
                for item, m in matches.items()
            ],
        )


def list_searches(conn: Connection, owner: str | None) -> list[dict[str, Any]]:
    stmt = select(
        saved_search.c.id,
        saved_search.c.name,
        saved_search.c.kind,
        saved_search.c.query,
        saved_search.c.owner,
        saved_search.c.webhook_url,
        saved_search.c.created_at,
    ).order_by(saved_search.c.id)
    if owner is not None:
        stmt = stmt.where(saved_search.c.owner == owner)
    return [
        {**row, "created_at": row["created_at"].isoformat()}
        for row in conn.execute(stmt).mappings()
    ]


def delete_search(conn: Connection, search_id: int, owner: str | None) -> None:
    stmt = delete(saved_search).where(saved_search.c.id == search_id)
    if owner is not None:
        stmt = stmt.where(saved_search.c.owner == owner)
    if conn.execute(stmt).rowcount == 0:
        raise NotFound(f"no saved search {search_id} of yours")


# A saved sites search re-run after an import gives up past this (its baseline kept).
RERUN_BUDGET_S = 30.0


def rerun(
    engine: Engine, communes: Iterable[str] | None, cause: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every saved search run again; alerts for the items of ``communes`` (None: all) that
    appeared or disappeared. Returns the new alerts (with their search's webhook) and the
    searches that could not run (their baseline kept), each with its reason."""
    changed = None if communes is None else set(communes)
    new_alerts: list[dict[str, Any]] = []
    problems: list[str] = []
    with engine.connect() as conn:
        searches = conn.execute(select(saved_search)).mappings().all()
    for search in searches:
        with engine.begin() as conn:
            try:
                current = run_search(conn, search["kind"], search["query"], RERUN_BUDGET_S)
            except Invalid as exc:  # grew past MAX_MATCHES, or a profile removed since
                problems.append(f"saved search {search['id']} ({search['name']}): {exc}")
                continue
            previous = {
                row.item_id: row.detail
                for row in conn.execute(
                    select(saved_search_match.c.item_id, saved_search_match.c.detail).where(
                        saved_search_match.c.saved_search_id == search["id"]
                    )
                )
            }

            def in_scope(detail: dict[str, Any]) -> bool:
                return changed is None or bool(changed & set(detail.get("communes", [])))

            now = {k: v for k, v in current.items() if in_scope(v)}
            before = {k: v for k, v in previous.items() if in_scope(v)}
            rows = [
                _alert_row(search["id"], "appeared", item, now[item], cause)
                for item in sorted(now.keys() - before.keys())
            ] + [
                _alert_row(search["id"], "disappeared", item, before[item], cause)
                for item in sorted(before.keys() - now.keys())
            ]
            if before:
                conn.execute(
                    delete(saved_search_match).where(
                        saved_search_match.c.saved_search_id == search["id"],
                        saved_search_match.c.item_id.in_(list(before)),
                    )
                )
            _store(conn, search["id"], now)
            if rows:
                ids = conn.execute(insert(alert).returning(alert.c.id), rows).scalars().all()
                for alert_id, row in zip(ids, rows, strict=True):
                    new_alerts.append(
                        {
                            "id": alert_id,
                            **row,
                            "saved_search_name": search["name"],
                            "webhook_url": search["webhook_url"],
                            "webhook_secret": search["webhook_secret"],
                        }
                    )
    return new_alerts, problems


def _alert_row(
    search_id: int, change: str, item: str, detail: dict[str, Any], cause: str
) -> dict[str, Any]:
    return {
        "saved_search_id": search_id,
        "change": change,
        "item_id": item,
        "commune_insee": detail["commune"],
        "detail": detail,
        "cause": cause,
    }


def list_alerts(
    conn: Connection, owner: str | None, *, after_id: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    """Alerts of ``owner``'s saved searches (None: every search), newest first."""
    rows = conn.execute(
        text(
            """SELECT a.id, a.at, a.change, a.item_id, a.commune_insee, a.detail, a.cause,
                      a.webhook_state, s.id AS saved_search_id, s.name AS saved_search_name,
                      s.kind
               FROM alert a JOIN saved_search s ON s.id = a.saved_search_id
               WHERE a.id > :after AND (CAST(:owner AS text) IS NULL OR s.owner = :owner)
               ORDER BY a.id DESC LIMIT :limit"""
        ),
        {"after": after_id, "owner": owner, "limit": limit},
    ).mappings()
    return [{**row, "at": row["at"].isoformat()} for row in rows]
