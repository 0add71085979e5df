"""Saved searches and their alerts.

A token holder saves a parcel search or a candidate-site search (its query as data, a name),
up to a quota per owner. Its matches at that moment are the baseline. After each import or
sync, the saved searches whose territory holds a commune that changed are run again (all of
them when the import does not say which communes it touched), within one time budget for
all; on the communes that changed, what matches now and did not before is an ``appeared``
alert, what matched and no longer does a ``disappeared`` alert, and the baseline of those
communes becomes the new matches. A search never raises alerts for a commune no import
touched: the rest of its baseline is kept as it was. A revoked token's searches are not run.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, delete, func, insert, select, text
from sqlalchemy.exc import OperationalError

from geo.db.bbox import bbox_params, bbox_sql
from geo.db.schema import alert, saved_search, saved_search_match
from geo.errors import Conflict, Invalid, NotFound
from geo.scoring.owners import ACTIVE_OWNER_SQL
from geo.scoring.profiles import get_profile
from geo.scoring.query import CODE_KEYS, SEARCHES, SearchArea, SiteSearch
from geo.scoring.search import count_parcels, search_parcels
from geo.scoring.sites import search_sites
from geo.scoring.webhook import WebhookPolicy, check_webhook_url
from geo.territories import LEVELS

KINDS = tuple(SEARCHES)
# A saved search is a watch, not an export: past this many matches it is refused.
MAX_MATCHES = 2000
# How many saved searches one owner may keep (each is re-run after imports).
DEFAULT_QUOTA = 20
# Characters a name may not hold: C0 and C1 controls (tab and newlines included), the
# UTF-16 surrogates, and the two non-characters XML 1.0 excludes (an Atom feed carries it).
_FORBIDDEN_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def check_query(kind: str, query: dict[str, Any] | SearchArea) -> SearchArea:
    """The saved search of ``kind`` that ``query`` (JSON, as stored) asks for: the search of
    its route (geo.scoring.query), with a territory; Invalid otherwise."""
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}")
    if isinstance(query, SearchArea):
        query = query.stored()
    try:
        search = SEARCHES[kind].model_validate(query)
    except ValidationError as exc:
        faults = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'query'}: {e['msg']}" for e in exc.errors()
        )
        raise Invalid(f"not a {kind} search: {faults}") from None
    if not search.has_territory():
        raise Invalid("a saved search needs a territory (commune, epci, departement, bbox…)")
    search.filters()
    get_profile(search.profile)
    return search


def run_search(
    conn: Connection, kind: str, query: dict[str, Any], budget_s: float | None = None
) -> dict[str, dict[str, Any]]:
    """What the saved search matches now: item id -> {commune, communes, detail…}; a sites
    search gives up (Invalid) past ``budget_s``."""
    search = check_query(kind, query)
    profile = get_profile(search.profile)
    filters = search.filters()
    found: dict[str, dict[str, Any]] = {}
    if not isinstance(search, SiteSearch):
        matched = count_parcels(conn, profile, filters, up_to=MAX_MATCHES)
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
        min_area_ha=search.min_area,
        gap_m=search.gap,
        limit=search.limit,
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


def check_name(name: str) -> None:
    """Invalid unless ``name`` is text a person reads: no control character (an XML feed
    cannot carry most of them)."""
    if not name or not name.strip():
        raise Invalid("a saved search needs a name")
    if _FORBIDDEN_IN_NAME.search(name):
        raise Invalid("a saved search's name must not contain control characters")


def save_search(
    conn: Connection,
    *,
    name: str,
    kind: str,
    query: dict[str, Any] | SearchArea,
    owner: str,
    webhook_url: str | None = None,
    budget_s: float | None = None,
    quota: int = DEFAULT_QUOTA,
    webhook_policy: WebhookPolicy | None = None,
) -> dict[str, Any]:
    """Save a search and its current matches (the baseline), in the caller's transaction;
    the webhook's secret is in the answer, once. Conflict past ``quota`` searches of
    ``owner``; Invalid for a webhook the service would not call (webhook.check_webhook_url)."""
    check_name(name)
    query = check_query(kind, query).stored()
    if webhook_url is not None:
        check_webhook_url(webhook_url, webhook_policy or WebhookPolicy())
    # one owner's saves queue here, so two at once cannot both pass the quota
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('saved_search:' || CAST(:o AS text)))"),
        {"o": owner},
    )
    held = conn.execute(
        select(func.count()).select_from(saved_search).where(saved_search.c.owner == owner)
    ).scalar_one()
    if held >= quota:
        raise Conflict(
            f"you keep {held} saved searches, the most allowed is {quota}: delete one first"
        )
    secret = secrets.token_urlsafe(32) if webhook_url else None
    matches = run_search(conn, kind, query, budget_s)
    row = {"name": name, "kind": kind, "query": query, "owner": owner}
    search_id = conn.execute(
        insert(saved_search)
        .values(**row, webhook_url=webhook_url, webhook_secret=secret)
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


# A saved search re-run after an import gives up past this (its baseline kept).
RERUN_BUDGET_S = 30.0
# All the re-runs after one import together stop past this: the searches left are said.
RERUN_TOTAL_BUDGET_S = 60.0


def territory_sql(search: SearchArea) -> tuple[str, dict[str, Any]]:
    """SQL over ``commune c``: the commune lies in the search's territory (each territory
    member narrows it, as the search's filters do), and its parameters."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for key in CODE_KEYS:
        if code := getattr(search, key):
            clauses.append(LEVELS[key].members.replace(":code", f":code_{key}"))
            params[f"code_{key}"] = code
    if box := search.box():
        # a commune without an outline might hold the box's parcels: counted in
        clauses.append(f"(c.geom IS NULL OR ({bbox_sql('c.geom')}))")
        params.update(bbox_params(box))
    return " AND ".join(clauses) or "TRUE", params


def _touches(conn: Connection, kind: str, query: dict[str, Any], communes: set[str]) -> bool:
    """Whether one of ``communes`` lies in the search's territory (a search that no longer
    reads is run, to say why)."""
    try:
        search = check_query(kind, query)
    except Invalid:
        return True
    where, params = territory_sql(search)
    return bool(
        conn.execute(
            text(
                f"SELECT EXISTS (SELECT 1 FROM commune c WHERE c.insee = ANY(:changed) AND {where})"
            ),
            {**params, "changed": sorted(communes)},
        ).scalar()
    )


def communes_of(conn: Connection, departements: Iterable[str]) -> list[str]:
    """The communes of ``departements``: what an import that says only which départements
    it covered (ImportReport.departements) may have changed."""
    return list(
        conn.execute(
            text("SELECT insee FROM commune WHERE departement_code = ANY(:d) ORDER BY insee"),
            {"d": sorted(set(departements))},
        ).scalars()
    )


def rerun(
    engine: Engine,
    communes: Iterable[str] | None,
    cause: str,
    *,
    budget_s: float = RERUN_TOTAL_BUDGET_S,
    search_budget_s: float = RERUN_BUDGET_S,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The saved searches of active owners whose territory holds one of ``communes`` (None:
    every one) run again, within ``budget_s`` for all (``search_budget_s`` each); alerts for
    the items of ``communes`` that appeared or disappeared. Returns the new alerts (with
    their search's webhook) and the searches that could not run (their baseline kept), each
    with its reason."""
    changed = None if communes is None else set(communes)
    deadline = time.monotonic() + budget_s
    new_alerts: list[dict[str, Any]] = []
    problems: list[str] = []
    with engine.connect() as conn:
        searches = [
            search
            for search in conn.execute(
                # owners in turn, each one's searches in a new order every time: when the
                # budget runs out, no owner and no search is always the one left out
                text(
                    f"SELECT * FROM saved_search s WHERE {ACTIVE_OWNER_SQL} ORDER BY "
                    "row_number() OVER (PARTITION BY s.owner ORDER BY random()), random()"
                )
            ).mappings()
            if changed is None or _touches(conn, search["kind"], search["query"], changed)
        ]
    for search in searches:
        label = f"saved search {search['id']} ({search['name']})"
        left = deadline - time.monotonic()
        if left <= 0:
            problems.append(f"{label}: not run, the re-runs' time budget ({budget_s:g} s) is spent")
            continue
        try:
            with engine.begin() as conn:
                new_alerts += _rerun_one(conn, search, changed, cause, min(left, search_budget_s))
        except Invalid as exc:  # grew past MAX_MATCHES, too slow, or a profile removed since
            problems.append(f"{label}: {exc}")
        except OperationalError as exc:  # its statement_timeout: the budget ran out
            problems.append(f"{label}: not run within its time budget ({exc.orig})")
    return new_alerts, problems


def _rerun_one(
    conn: Connection,
    search: Any,
    changed: set[str] | None,
    cause: str,
    budget_s: float,
) -> list[dict[str, Any]]:
    """One saved search run again in the caller's transaction, bounded by ``budget_s``:
    its new alerts."""
    conn.execute(text(f"SET LOCAL statement_timeout = {max(1, int(budget_s * 1000))}"))
    current = run_search(conn, search["kind"], search["query"], budget_s)
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
    if not rows:
        return []
    # Alerts are numbered and committed in one order (this lock is held until the commit,
    # which follows): a poller that asks after the last id it has seen would never reach
    # an alert numbered before it but committed after it by another re-run.
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('alert:numbering'))"))
    ids = conn.execute(insert(alert).returning(alert.c.id), rows).scalars().all()
    return [
        {
            "id": alert_id,
            **row,
            "saved_search_name": search["name"],
            "webhook_url": search["webhook_url"],
            "webhook_secret": search["webhook_secret"],
        }
        for alert_id, row in zip(ids, rows, strict=True)
    ]


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
    """Alerts of ``owner``'s saved searches (None: every search) after the alert
    ``after_id``, oldest first: a poller that asks again after the last id it has seen
    reaches every alert once."""
    rows = conn.execute(
        text(
            """SELECT a.id, a.at, a.change, a.item_id, a.commune_insee, a.detail, a.cause,
                      a.webhook_state, s.id AS saved_search_id, s.name AS saved_search_name,
                      s.kind
               FROM alert a JOIN saved_search s ON s.id = a.saved_search_id
               WHERE a.id > :after AND (CAST(:owner AS text) IS NULL OR s.owner = :owner)
               ORDER BY a.id LIMIT :limit"""
        ),
        {"after": after_id, "owner": owner, "limit": limit},
    ).mappings()
    return [{**row, "at": row["at"].isoformat()} for row in rows]
