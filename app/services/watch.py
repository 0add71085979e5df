"""Saved searches and alerts as the API (and any other caller) uses them: whose they are,
what the audit log keeps. Nothing here knows HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from app.security import audit
from geo.access import Principal, owner_of, searches_of
from geo.scoring import watch
from geo.scoring.query import SearchArea
from geo.scoring.webhook import WebhookPolicy


def save(
    conn: Connection,
    principal: Principal,
    *,
    name: str,
    kind: str,
    query: SearchArea,
    webhook_url: str | None,
    budget_s: float,
    quota: int,
    webhook_policy: WebhookPolicy,
) -> dict[str, Any]:
    """The search saved with its baseline, audited (without the webhook's secret)."""
    with conn.begin():
        saved = watch.save_search(
            conn,
            name=name,
            kind=kind,
            query=query,
            owner=owner_of(principal),
            webhook_url=webhook_url,
            budget_s=budget_s,
            quota=quota,
            webhook_policy=webhook_policy,
        )
        public = {k: v for k, v in saved.items() if k != "webhook_secret"}
        audit.record(conn, principal, "search.save", "saved_search", saved["id"], after=public)
    return saved


def searches(conn: Connection, principal: Principal) -> list[dict[str, Any]]:
    return watch.list_searches(conn, searches_of(principal))


def delete(conn: Connection, principal: Principal, search_id: int) -> None:
    """NotFound unless the search exists and is the principal's (an administrator: any)."""
    with conn.begin():
        watch.delete_search(conn, search_id, searches_of(principal))
        audit.record(conn, principal, "search.delete", "saved_search", search_id)


def alerts(
    conn: Connection, principal: Principal, *, after_id: int, limit: int
) -> list[dict[str, Any]]:
    """The principal's alerts after ``after_id``, oldest first."""
    return watch.list_alerts(conn, searches_of(principal), after_id=after_id, limit=limit)
