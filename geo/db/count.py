"""How many rows a search matches: exact up to a cap, "more than the cap" beyond it.

An exact count reads every matching row. Over a large EPCI (312,182 parcels in the 10 M
benchmark) it cost more than the page itself, and over France (90 M parcels) it would
outlast the statement timeout (bench/README.md). So every paged answer counts
at most ``COUNT_CAP`` rows, or as many as its page reaches, and says "more than" past that:
the cost of a count grows with the cap, never with the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

COUNT_CAP = 10_000


@dataclass(frozen=True)
class Matched:
    """``count`` rows exactly, or, when not ``exact``, more than ``count``."""

    count: int
    exact: bool = True

    def exceeds(self, n: int) -> bool:
        """Whether more than ``n`` rows match (a page ending at ``n`` has a next one)."""
        return self.count > n or (not self.exact and self.count >= n)

    def members(self) -> dict[str, int]:
        """The FeatureCollection's count members: ``numberMatched`` only when it is known
        (OGC API Features, Part 1, §7.15.7 allows leaving it out), else the lower bound."""
        if self.exact:
            return {"numberMatched": self.count}
        return {"numberMatchedMoreThan": self.count}

    def __str__(self) -> str:
        return str(self.count) if self.exact else f"more than {self.count:,}"


def page_reach(offset: int, limit: int) -> int:
    """How far a paged answer counts: the cap, or the end of its page when that is further
    (so that whether a next page exists is always known)."""
    return max(COUNT_CAP, offset + limit)


def count_matches(
    conn: Connection, from_where: str, params: dict[str, Any], up_to: int = COUNT_CAP
) -> Matched:
    """Count the rows of ``FROM … WHERE …`` (SQL text), reading at most ``up_to`` + 1."""
    found = conn.execute(
        text(f"SELECT count(*) FROM (SELECT 1 {from_where} LIMIT :count_up_to) counted"),
        {**params, "count_up_to": up_to + 1},
    ).scalar_one()
    return Matched(up_to, exact=False) if found > up_to else Matched(found)
