"""Outlines of EPCI and Territoires d'industrie, dissolved once instead of per request.

They are materialized views (migration 0006) over the communes' boundaries: maps and
OGC collections read them through a spatial index. Every loader that changes communes,
their EPCI or the Territoires d'industrie refreshes them in its own transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo.db.sql import compose, ident

OUTLINE_VIEWS = ("epci_outline", "territoire_industrie_outline")


def refresh_outlines(conn: Connection) -> None:
    for view in OUTLINE_VIEWS:
        conn.execute(text(compose("REFRESH MATERIALIZED VIEW {view}", view=ident(view))))
