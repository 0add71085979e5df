"""The shard key: every large table carries the département in its primary key, so that the
schema maps onto a deployment sharded by ``departement_code`` (docs/scale.md).

Large: a table with a ``parcel_id`` or a geometry column (a per-parcel table or a layer
drawn over the land), except the territories' reference tables and the national ledger.
The tables not there yet are listed with the reason; the list must stay exact, so that a
new large table without the key fails here, and so does one fixed but still listed.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

# replicated to every node, or national by nature
REFERENCE = {
    "region", "departement", "commune", "epci", "territoire_industrie", "spatial_ref_sys",
    # one national envelope: its ledger lives on the coordinator (docs/scale.md)
    "project",
    # one row per commune, like the communes (the tile cache's generations and extents)
    "tile_generation",
}  # fmt: skip

# not keyed by département yet, and why
KNOWN_GAPS = {
    "friche_parcel": "keyed by the site; a site's parcels may lie in two départements",
    "polluted_site_parcel": "keyed by the site; a site's parcels may lie in two départements",
    "economic_land_unit_parcel": "keyed by the land unit; same as the sites' links",
    "plu_zone": "national GPU ids merged on their own (ON CONFLICT gpu_id); PLUi span départements",
    "plu_prescription": "ids built from the document; a PLUi may span départements",
    "friche": "national site ids merged on their own; the département may be unknown",
    "risk_zone": "a risk plan may span départements (PPRI of a river)",
    "economic_site": "national site ids merged on their own",
    "economic_land_unit": "national ids merged on their own",
    "polluted_site": "national BASOL ids; the département may be unknown",
    "artificialised_land": "no département column (OCS GE tiles)",
}


def _large_tables_without_the_key(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT c.relname,
                          bool_or(a.attname = 'parcel_id'
                                  OR format_type(a.atttypid, a.atttypmod) LIKE 'geometry%'),
                          EXISTS (SELECT 1 FROM pg_constraint k
                                  JOIN pg_attribute ka ON ka.attrelid = k.conrelid
                                   AND ka.attnum = ANY(k.conkey)
                                  WHERE k.conrelid = c.oid AND k.contype = 'p'
                                    AND ka.attname = 'departement_code')
                   FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
                   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                    AND NOT a.attisdropped
                   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                   GROUP BY c.oid, c.relname"""
            )
        ).all()
    large = {name for name, is_large, _ in rows if is_large} - REFERENCE
    assert {"parcel", "parcel_score", "parcel_features", "building"} <= large  # the rule sees them
    return {name for name, is_large, keyed in rows if name in large and not keyed}


def test_every_large_table_is_keyed_by_departement_or_a_known_gap(fresh_engine: Engine) -> None:
    missing = _large_tables_without_the_key(fresh_engine)
    assert missing - KNOWN_GAPS.keys() == set(), (
        "large tables without departement_code in their key"
    )
    assert KNOWN_GAPS.keys() - missing == set(), "keyed now: remove them from KNOWN_GAPS"
