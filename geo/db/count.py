"""How many rows a search matches: exact whenever it is affordable, else not said.

OGC clients size a layer by ``numberMatched`` (QGIS reports it as the feature count; GDAL
walks every page without it), so an answer says it exactly or not at all: OGC API -
Features, Part 1, §7.15.7 lets it be left out, and no other member stands in for it.

- An unfiltered count of a large table is read from counts kept when its data are written
  (``parcel_count``, geo.db.partitions.recount): a sum over the partitions, never a scan.
- Any other count runs under a time budget (``statement_timeout`` local to a savepoint):
  an EPCI of 312,182 parcels at 10 M counted in 63 ms (docs/scale.md); a count that
  outlasts the budget (a filter over France) is cancelled and left out of the answer.

An offset-paged answer still needs to know whether a next page exists when the count is
left out: it then counts as far as its page reaches (``page_reach``), for itself only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg.errors import QueryCanceled
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

COUNT_CAP = 10_000
# What an exact count may cost an answer, in milliseconds (FONCIER_COUNT_BUDGET_MS).
COUNT_BUDGET_MS = 300


@dataclass(frozen=True)
class Matched:
    """``count`` rows exactly, or, when not ``exact``, more than ``count`` (a lower bound that
    tells a pager whether there is a next page, or an export that it is too large: it is
    never published)."""

    count: int
    exact: bool = True

    def exceeds(self, n: int) -> bool:
        """Whether more than ``n`` rows match (a page ending at ``n`` has a next one)."""
        return self.count > n or (not self.exact and self.count >= n)

    def members(self) -> dict[str, int]:
        """The FeatureCollection's count member: ``numberMatched`` when it is known,
        nothing otherwise."""
        return {"numberMatched": self.count} if self.exact else {}

    def __str__(self) -> str:
        return str(self.count) if self.exact else f"more than {self.count:,}"


def page_reach(offset: int, limit: int) -> int:
    """How far an offset-paged answer counts when its exact count is not affordable: to
    the end of its page, so that whether a next page exists is always known."""
    return offset + limit


def count_matches(
    conn: Connection, from_where: str, params: dict[str, Any], up_to: int = COUNT_CAP
) -> Matched:
    """Count the rows of ``FROM … WHERE …`` (SQL text), reading at most ``up_to`` + 1:
    exact up to ``up_to``, a lower bound beyond (an export's own limit)."""
    found = conn.execute(
        text(f"SELECT count(*) FROM (SELECT 1 {from_where} LIMIT :count_up_to) counted"),
        {**params, "count_up_to": up_to + 1},
    ).scalar_one()
    return Matched(up_to, exact=False) if found > up_to else Matched(found)


def count_within(
    conn: Connection,
    from_where: str,
    params: dict[str, Any],
    budget_ms: int = COUNT_BUDGET_MS,
    *,
    reach: int = 0,
    known: str | None = None,
) -> Matched:
    """The exact number of rows of ``FROM … WHERE …``: from ``known`` (SQL giving a count
    kept elsewhere, or NULL when it is not kept) when given, else counted within
    ``budget_ms``. Past the budget: not exact, a lower bound counted up to ``reach`` (more
    than 0 when no ``reach`` is given: unknown)."""
    if known is not None:
        kept = conn.execute(text(known)).scalar()
        if kept is not None:
            return Matched(int(kept))
    try:
        with conn.begin_nested() as counting:
            conn.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(int(budget_ms))},
            )
            found = conn.execute(text(f"SELECT count(*) {from_where}"), params).scalar_one()
            # Rolled back, not released: that restores the caller's statement_timeout (a
            # local setting outlives a released savepoint), and the count wrote nothing.
            # Two round trips fewer than reading the setting and writing it back.
            counting.rollback()
        return Matched(found)
    except DBAPIError as exc:
        # The savepoint's rollback has restored the caller's statement_timeout.
        if not isinstance(exc.orig, QueryCanceled):
            raise
    if reach <= 0:
        return Matched(0, exact=False)
    return count_matches(conn, from_where, params, reach)
