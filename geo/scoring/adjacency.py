"""Which parcels share a boundary, computed once per commune for the candidate-site search.

A site is built of parcels that share a stretch of boundary (a corner is not enough to
build across, and 9 % of touching cadastre parcels meet only at a point) or overlap.
Testing that for the 20,000-40,000 parcels of an EPCI took seconds at each search; the
pairs are stored instead (``parcel_adjacency``, each pair once, a < b), by commune:

- the score refresh computes the pairs of the communes in its scope that are not current
  (:func:`refresh_adjacency`), each commune's parcels against every parcel of its
  département, its neighbours across the commune's border included;
- the cadastre loader forgets the pairs of the communes it writes (:func:`forget`), in the
  import's transaction: a commune is current (``parcel_adjacency_commune``) only while its
  parcels are those its pairs were computed from;
- the search reads the pairs when every commune of its eligible parcels is current
  (:func:`pairs_of`), and tests the geometries itself otherwise.

Parcels of two départements are never neighbours (their partitions are apart), as in the
search's own test.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo.crs import departement_of

# The rule, for parcels ``p`` and ``q`` whose boxes meet: interiors meet (1st cell of the
# DE-9IM matrix) or boundaries share a line (5th cell).
SHARE_BOUNDARY_SQL = (
    "ST_Intersects(q.geom, p.geom) AND (SELECT left(m, 1) <> 'F' OR substr(m, 5, 1) = '1' "
    "FROM ST_Relate(q.geom, p.geom) m)"
)

# The pairs of the parcels of :communes (one département): within them, from the smaller
# id; across their border, from their side. Pairs already stored by a concurrent refresh
# of a neighbouring commune are kept.
_COMPUTE = f"""
INSERT INTO parcel_adjacency (departement_code, a, b, commune_a, commune_b)
SELECT p.departement_code,
       least(p.id, q.id), greatest(p.id, q.id),
       CASE WHEN p.id < q.id THEN p.commune_insee ELSE q.commune_insee END,
       CASE WHEN p.id < q.id THEN q.commune_insee ELSE p.commune_insee END
FROM parcel p
JOIN parcel q ON q.departement_code = p.departement_code AND q.id <> p.id
             AND q.geom && p.geom
             AND (q.id > p.id OR NOT q.commune_insee = ANY(:communes))
             AND {SHARE_BOUNDARY_SQL}
WHERE p.departement_code = :dep AND p.commune_insee = ANY(:communes)
ON CONFLICT DO NOTHING
"""


_LOCK = 0x5A0D  # advisory lock key (with the département's hash)


@dataclass(frozen=True)
class AdjacencyReport:
    communes: int
    pairs: int
    seconds: float


def _lock(conn: Connection, departements: Iterable[str]) -> None:
    """The départements' pairs written by one transaction at a time, until it ends: a
    refresh that read the parcels before an import committed would otherwise mark its
    pairs current after the import forgot them (sorted: no deadlock between two)."""
    for dep in sorted(set(departements)):
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:key, hashtext(:dep))"),
            {"key": _LOCK, "dep": dep},
        )


def forget(conn: Connection, communes: Iterable[str]) -> None:
    """The communes' pairs are no longer current (their parcels are being rewritten)."""
    codes = sorted(set(communes))
    if not codes:
        return
    _lock(conn, (departement_of(code) for code in codes))
    conn.execute(
        text("DELETE FROM parcel_adjacency_commune WHERE commune_insee = ANY(:c)"), {"c": codes}
    )
    conn.execute(
        text("DELETE FROM parcel_adjacency WHERE commune_a = ANY(:c) OR commune_b = ANY(:c)"),
        {"c": codes},
    )


def refresh_adjacency(
    engine: Engine,
    communes: Iterable[tuple[str, str]] | None = None,
    *,
    workers: int = 1,
) -> AdjacencyReport:
    """Compute the pairs of the communes ((département, commune) pairs; default: every
    commune holding parcels) that are not current, one département per transaction,
    ``workers`` départements at once (two computations in one département would wait on
    each other's pairs along their common border)."""
    started = time.perf_counter()
    with engine.connect() as conn:
        if communes is None:
            communes = conn.execute(
                text("SELECT DISTINCT departement_code, commune_insee FROM parcel")
            ).all()
        scope = sorted({(dep, code) for dep, code in communes})
        current = {
            (dep, code)
            for dep, code in conn.execute(
                text(
                    "SELECT departement_code, commune_insee FROM parcel_adjacency_commune c "
                    "JOIN unnest(CAST(:deps AS text[]), CAST(:codes AS text[])) AS t(dep, code) "
                    "ON c.departement_code = t.dep AND c.commune_insee = t.code"
                ),
                {"deps": [d for d, _ in scope], "codes": [c for _, c in scope]},
            )
        }
    stale = [pair for pair in scope if pair not in current]
    by_departement: dict[str, list[str]] = defaultdict(list)
    for dep, code in stale:
        by_departement[dep].append(code)

    def compute(item: tuple[str, list[str]]) -> int:
        dep, codes = item
        with engine.begin() as conn:
            _lock(conn, [dep])
            forget(conn, codes)  # pairs left by an interrupted computation
            inserted = conn.execute(text(_COMPUTE), {"dep": dep, "communes": codes}).rowcount
            conn.execute(
                text(
                    "INSERT INTO parcel_adjacency_commune (departement_code, commune_insee) "
                    "SELECT :dep, unnest(CAST(:communes AS text[])) ON CONFLICT DO NOTHING"
                ),
                {"dep": dep, "communes": codes},
            )
            return inserted

    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        pairs = sum(pool.map(compute, sorted(by_departement.items())))
    return AdjacencyReport(len(stale), pairs, time.perf_counter() - started)


def pairs_of(
    query: Callable[[str, dict[str, Any]], Sequence[Any]], communes: set[tuple[str, str]]
) -> Sequence[Any] | None:
    """The stored pairs (a, b) with a parcel in ``communes`` ((département, commune)
    pairs), read through ``query`` (sql, params) -> rows; None when one of those communes
    is not current."""
    if not communes:
        return []
    deps = [dep for dep, _ in sorted(communes)]
    codes = [code for _, code in sorted(communes)]
    current = query(
        "SELECT count(*) FROM parcel_adjacency_commune c JOIN unnest("
        "CAST(:deps AS text[]), CAST(:codes AS text[])) AS t(dep, code) "
        "ON c.departement_code = t.dep AND c.commune_insee = t.code",
        {"deps": deps, "codes": codes},
    )[0][0]
    if current < len(communes):
        return None
    # a pair whose two parcels are in scope has ``a`` in one of its communes
    return query(
        "SELECT a, b FROM parcel_adjacency "
        "WHERE departement_code = ANY(:deps) AND commune_a = ANY(:codes)",
        {"deps": sorted(set(deps)), "codes": codes},
    )
