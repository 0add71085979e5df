"""What a cached tile is valid for: the generations of the communes under it.

Every write that changes what tiles show (a cadastre import, a score refresh, a ledger
entry) bumps the generation of the communes it touched, in its own transaction, and grows
their extent to cover what it wrote. A tile's version is the sum of the generations of the
communes whose extent meets the tile: rows are never deleted, extents only grow and
generations only rise, so any committed write under a tile raises that sum, for every
process reading the database, and a write elsewhere leaves it alone. A cache keyed by it
needs no purge and never serves a tile made before a write it covers.

The extents are Lambert-93 boxes of the commune's parcels (and of the projects recorded
there), not its administrative outline: a parcel drawn a few metres past its commune's
border, or a commune missing from the reference, is still covered.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text

from geo.crs import LAMBERT93, departement_of

# The commune's parcels' box, by its partition; with :around (a geometry, or NULL) added.
_EXTENT = f"""
    SELECT ST_Envelope(ST_Collect(g)) FROM (VALUES
        ((SELECT ST_SetSRID(ST_Extent(p.geom)::geometry, {LAMBERT93}) FROM parcel p
          WHERE p.departement_code = d.dep AND p.commune_insee = d.code)),
        (CAST(:around AS geometry))) v(g)
"""

_BUMP = f"""
INSERT INTO tile_generation AS t (commune_insee, generation, extent)
SELECT d.code, 1, coalesce(({_EXTENT}),
                           ST_GeomFromText('POLYGON EMPTY', {LAMBERT93}))
FROM unnest(CAST(:codes AS text[]), CAST(:deps AS text[])) AS d(code, dep)
ORDER BY d.code  -- one lock order for concurrent writers
ON CONFLICT (commune_insee) DO UPDATE
SET generation = t.generation + 1,
    extent = CASE WHEN :redrawn OR CAST(:around AS geometry) IS NOT NULL
                  THEN ST_Envelope(ST_Collect(t.extent, EXCLUDED.extent))
                  ELSE t.extent END
"""

# The rows are locked in code order first: two writers bumping overlapping communes (an
# import and a full refresh) wait for each other instead of deadlocking.
_BUMP_KEEPING_EXTENTS = """
WITH locked AS MATERIALIZED (
    SELECT t.commune_insee FROM tile_generation t
    WHERE t.commune_insee IN (SELECT unnest(CAST(:codes AS text[])))
    ORDER BY t.commune_insee FOR UPDATE OF t
), bumped AS (
    UPDATE tile_generation t SET generation = t.generation + 1
    FROM locked l WHERE t.commune_insee = l.commune_insee
    RETURNING t.commune_insee
)
SELECT code, dep FROM unnest(CAST(:codes AS text[]), CAST(:deps AS text[])) AS d(code, dep)
WHERE code NOT IN (SELECT commune_insee FROM bumped)
"""


def bump(
    conn: Connection,
    communes: Iterable[str],
    *,
    redrawn: bool = False,
    around: bytes | None = None,
) -> None:
    """A new generation for the tiles over ``communes``, in the caller's transaction.

    ``redrawn``: the communes' parcels may have moved (an import), their extent is grown
    to their parcels' box; ``around``: a geometry (EWKB) the write put there (a project).
    Otherwise (scores, features, statuses) the extent stays, read once the first time."""
    codes = sorted(set(communes))
    if not codes:
        return
    deps = [departement_of(c) if c else "" for c in codes]
    if not redrawn and around is None:
        # the common case of a refresh: the rows exist, one UPDATE; new ones get an extent
        missing = conn.execute(text(_BUMP_KEEPING_EXTENTS), {"codes": codes, "deps": deps}).all()
        if not missing:
            return
        codes, deps = [m[0] for m in missing], [m[1] for m in missing]
    conn.execute(
        text(_BUMP),
        {"codes": codes, "deps": deps, "redrawn": redrawn, "around": around},
    )


def tile_version_sql(box: str) -> str:
    """SQL of the version of a tile whose Lambert-93 box is the expression ``box``."""
    return f"SELECT coalesce(sum(generation), 0) FROM tile_generation WHERE extent && ({box})"
