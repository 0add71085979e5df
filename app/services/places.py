"""Find a place by name or code: communes, EPCI, départements, régions and Territoires
d'industrie, for the page's search box (GET /places).

Names are compared folded by ``place_fold`` (lower case, no accents, every run of
punctuation a space: "paray" and "PARAY-vieille" both find Paray-Vieille-Poste), through
the GIN trigram indexes of migration 0011d; codes by prefix on their primary keys.
Each suggestion carries its WGS84 bounding box (null when no boundary is loaded) so that
choosing it frames the map without another request.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, text

from geo.crs import WGS84
from geo.errors import Invalid

MIN_CHARS = 2
MIN_NAME_CHARS = 3
MAX_CHARS = 80
MAX_SUGGESTIONS = 20

# level: (table, code column, outline of its boundary, label)
_LEVELS = {
    "region": ("region", "code", "SELECT geom FROM region WHERE code = t.code", "région"),
    "departement": (
        "departement",
        "code",
        "SELECT geom FROM departement WHERE code = t.code",
        "département",
    ),
    "territoire_industrie": (
        "territoire_industrie",
        "id",
        "SELECT geom FROM territoire_industrie_outline WHERE id = t.code",
        "Territoire d'industrie",
    ),
    "epci": ("epci", "siren", "SELECT geom FROM epci_outline WHERE siren = t.code", "EPCI"),
    "commune": ("commune", "insee", "SELECT geom FROM commune WHERE insee = t.code", "commune"),
}
# Larger territories first when names tie ("Essonne" the département before any commune).
_RANK = {level: n for n, level in enumerate(_LEVELS)}


def _candidates(level: str, by_code: bool) -> str:
    table, key, _, _ = _LEVELS[level]
    extra = "AND kind = 'commune-actuelle'" if level == "commune" else ""
    # a code prefix as a range: the primary key's btree, whatever its collation
    match = f"{key} >= :q AND {key} < :q || '~'" if by_code else "name_folded LIKE :pattern"
    population = "population" if level in ("commune", "epci") else "NULL::int"
    return (
        f"(SELECT '{level}' AS level, {key}::text AS code, name, name_folded AS folded, "
        f"{population} AS population FROM {table} WHERE {match} {extra} "
        f"ORDER BY name_folded LIKE :prefix DESC, {population} DESC NULLS FIRST, "
        f"length(name), {key} LIMIT :limit)"
    )


def search_places(conn: Connection, q: str, limit: int = 10) -> list[dict[str, Any]]:
    """The best ``limit`` places for what was typed: exact names, then names starting with
    it, then words starting with it, then the rest; within each, larger territories first
    (levels without a population, then by population)."""
    q = q.strip()
    if not MIN_CHARS <= len(q) <= MAX_CHARS:
        raise Invalid(f"q must have {MIN_CHARS} to {MAX_CHARS} characters")
    if not 1 <= limit <= MAX_SUGGESTIONS:
        raise Invalid(f"limit must be between 1 and {MAX_SUGGESTIONS}")
    by_code = bool(re.fullmatch(r"[0-9][0-9AB]?[0-9]*|[0-9A-Z-]+[0-9]", q.upper()))
    folded = conn.execute(text("SELECT place_fold(:q)"), {"q": q}).scalar_one().strip()
    if not by_code and len(folded) < MIN_NAME_CHARS:
        # under three characters a trigram index cannot help: every name would be read
        raise Invalid(f"a name needs at least {MIN_NAME_CHARS} letters (codes: 2 characters)")
    pattern = "%" + folded.replace("\\", "").replace("%", "").replace("_", "\\_") + "%"
    union = " UNION ALL ".join(_candidates(level, by_code) for level in _LEVELS)
    outline = " ".join(
        f"WHEN '{level}' THEN ({geom})" for level, (_, _, geom, _) in _LEVELS.items()
    )
    rank = " ".join(f"WHEN '{level}' THEN {n}" for level, n in _RANK.items())
    rows = conn.execute(
        text(
            f"""WITH found AS ({union}),
                best AS (
                    SELECT * FROM found t
                    ORDER BY (t.folded = :folded OR t.code = :q) DESC,
                             t.folded LIKE :prefix DESC,
                             (' ' || t.folded) LIKE :word DESC,
                             t.population DESC NULLS FIRST, CASE t.level {rank} END,
                             length(t.name), t.name
                    LIMIT :limit
                )
                SELECT t.level, t.code, t.name, box.bbox
                FROM best t
                LEFT JOIN LATERAL (
                    SELECT ST_Extent(ST_Transform(ST_Envelope(g), {WGS84})) AS bbox
                    FROM (SELECT CASE t.level {outline} END AS g) o
                ) box ON TRUE"""
        ),
        {
            "q": q.upper() if by_code else q,
            "folded": folded,
            "pattern": pattern,
            "prefix": folded.replace("%", "").replace("_", "\\_") + "%",
            "word": "% " + folded.replace("%", "").replace("_", "\\_") + "%",
            "limit": limit,
        },
    ).mappings()
    places = []
    for row in rows:
        box = row["bbox"]
        bbox = None
        if box is not None:
            numbers = [float(n) for n in re.findall(r"-?[0-9.]+", str(box))]
            bbox = [round(n, 6) for n in numbers]
        places.append(
            {
                "level": row["level"],
                "code": row["code"],
                "name": row["name"],
                "label": _LEVELS[row["level"]][3],
                "bbox": bbox,
            }
        )
    return places
