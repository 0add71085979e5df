"""The statements of the score refresh (geo.scoring.refresh runs them), in one templating
style: composed with ``psycopg.sql`` (names through :class:`~psycopg.sql.Identifier`,
constants through :class:`~psycopg.sql.Literal`, the model's expressions as trusted
:class:`~psycopg.sql.SQL` fragments), values bound by name (``:deps``) when run
(:func:`run`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, CursorResult, text
from sqlalchemy.util.typing import TupleAny

from geo.crs import LAMBERT93
from geo.scoring import land
from geo.scoring.model import (
    EXCLUDED_SQL,
    REMEDIATION_CLEAN_EUR_PER_HA,
    REMEDIATION_POLLUTED_EUR_PER_HA,
    Profile,
    points_lateral,
    score_expressions,
)

NEAR_M = 2000  # activity zones farther than this all score the same
# A risk zone or prescription over less than this share of a parcel is digitisation noise
# along its edge, not a constraint on it (docs/methode.md).
MIN_SHARE = 0.01

TRUE = sql.SQL("TRUE")


def run(
    conn: Connection, statement: sql.Composable, params: Mapping[str, Any] | None = None
) -> CursorResult[*TupleAny]:
    """Execute a composed statement, its ``:name`` values bound from ``params``."""
    return conn.execute(text(statement.as_string(None)), dict(params or {}))


def ident(*names: str) -> sql.Identifier:
    """A quoted name, qualified when several are given (``ident("z", "geom")``)."""
    return sql.Identifier(*names)


def names(columns: Iterable[str], prefix: str | None = None) -> sql.Composed:
    """A comma-separated list of quoted column names, each qualified by ``prefix``."""
    return sql.SQL(", ").join(ident(prefix, c) if prefix else ident(c) for c in columns)


def scope(alias: str) -> sql.Composed:
    """The refresh's scope (``:deps``, ``:communes``) on the parcels aliased ``alias``."""
    return sql.SQL(
        "{t}.departement_code = ANY(:deps) AND {t}.commune_insee = ANY(:communes)"
    ).format(t=ident(alias))


def parcels_under(feature: str, geom: str = "geom") -> sql.Composed:
    """A LATERAL of the parcels ``q`` (id, geom, commune) of the scope's départements whose
    box meets the feature's geometry, read through the parcels' GiST index alone. The fence
    (OFFSET 0) keeps the planner from ANDing that index with the commune index, which read
    every parcel of the scope once per feature (1.1 s for 594 economic sites over 10
    communes); the layer's query filters the communes itself."""
    return sql.SQL(
        "CROSS JOIN LATERAL (SELECT q.id, q.geom, q.commune_insee FROM parcel q "
        "WHERE q.departement_code = ANY(:deps) AND q.geom && {g} OFFSET 0) q"
    ).format(g=ident(feature, geom))


def _layer(select: str, feature: str = "", geom: str = "geom") -> sql.Composed:
    """A layer's select: ``{parcels_under}`` is :func:`parcels_under` of ``feature``'s
    ``geom``, ``{in_scope}`` what the layer's query filters beside it (the feature's box
    meets the scope's, ``:box``; the parcel is in one of the scope's communes), ``{q}`` the
    scope on the parcels ``q``."""
    if not feature:
        return sql.SQL(select).format(q=scope("q"))
    in_scope = sql.SQL("{g} && CAST(:box AS geometry) AND q.commune_insee = ANY(:communes)").format(
        g=ident(feature, geom)
    )
    return sql.SQL(select).format(
        parcels_under=parcels_under(feature, geom), in_scope=in_scope, q=scope("q")
    )


# Each layer is read from its own side: the features whose box meets the scope's box
# (``:box``) each probe the parcels' GiST index once, and the hits are aggregated per parcel
# into a temporary table ``refresh_<layer>``, analysed, then hash-joined in one pass over the
# parcels (FEATURES). A friche is one probe instead of one per parcel around it
# (bench/README.md). Only the distance to the nearest activity zone is searched per parcel
# (KNN). One département at a time, so that a probe reads one partition. A layer absent
# from a département leaves its criterion NULL (unknown).
LAYERS: dict[str, sql.Composable] = {
    # The PLU zone under the parcel's point on surface (the lowest id where zones overlap).
    # From the zones' side too, though zones cover the land: each zone's geometry then
    # stays the same over consecutive point tests, which PostGIS prepares once
    # (1.3 s instead of 2.3 s for 169,640 parcels, bench/README.md).
    "zone": _layer(
        """
        SELECT DISTINCT ON (q.id) q.id AS parcel_id, z.zoning_class, z.idurba
        FROM plu_zone z
        {parcels_under}
        WHERE {in_scope} AND ST_Intersects(z.geom, ST_PointOnSurface(q.geom))
        ORDER BY q.id, z.gpu_id""",
        "z",
    ),
    # The friche under the parcel's point on surface (the lowest site id where outlines
    # overlap), and the union of every friche outline over the parcel, as the ledger reads
    # them.
    "friche": _layer(
        """
        SELECT h.parcel_id, h.site_id, h.pollution,
               ST_Area(ST_Intersection(f.geom, q.geom)) AS overlap_m2,
               (SELECT ST_Union(ST_Intersection(o.geom, q.geom)) FROM friche o
                WHERE o.site_id = ANY(h.sites)) AS g
        FROM (
            SELECT q.id AS parcel_id, min(fl.site_id) FILTER (WHERE u.under) AS site_id,
                   (array_agg(fl.sol_pollution_existe ORDER BY fl.site_id)
                        FILTER (WHERE u.under))[1] AS pollution,
                   array_agg(fl.site_id) AS sites
            FROM friche fl
            {parcels_under}
            CROSS JOIN LATERAL (
                SELECT ST_Intersects(fl.geom, ST_PointOnSurface(q.geom)) AS under
            ) u
            WHERE {in_scope} AND ST_Intersects(fl.geom, q.geom)
            GROUP BY q.id
            -- outlines over the parcel matter only when one lies under its point on surface
            HAVING bool_or(u.under)
        ) h
        JOIN parcel q ON q.departement_code = ANY(:deps) AND q.id = h.parcel_id
        JOIN friche f ON f.site_id = h.site_id""",
        "fl",
    ),
    # or a friche naming the parcel in its land unit
    "friche_link": _layer(
        """
        SELECT DISTINCT ON (fp.parcel_id) fp.parcel_id, f.site_id,
               f.sol_pollution_existe AS pollution
        FROM friche_parcel fp JOIN friche f ON f.site_id = fp.site_id
        JOIN parcel q ON q.id = fp.parcel_id
        WHERE {q}
        ORDER BY fp.parcel_id, f.site_id"""
    ),
    # an economic site under the parcel's point on surface
    "economic": _layer(
        """
        SELECT DISTINCT q.id AS parcel_id FROM economic_site e
        {parcels_under}
        WHERE {in_scope} AND ST_Intersects(e.geom, ST_PointOnSurface(q.geom))""",
        "e",
    ),
    # a polluted site on the parcel, listed by it or by its point
    "polluted": _layer(
        """
        SELECT l.parcel_id FROM polluted_site_parcel l JOIN parcel q ON q.id = l.parcel_id
        WHERE {q}
        UNION
        SELECT q.id FROM polluted_site s
        {parcels_under}
        WHERE {in_scope} AND ST_Intersects(q.geom, s.geom_point)""",
        "s",
        "geom_point",
    ),
    "artificialised": _layer(
        """
        SELECT q.id AS parcel_id, ST_Union(ST_Intersection(a.geom, q.geom)) AS g
        FROM artificialised_land a
        {parcels_under}
        WHERE {in_scope} AND ST_Intersects(a.geom, q.geom)
        GROUP BY q.id""",
        "a",
    ),
    # the raster statistics of the scope's parcels: one key probe each, never a read of
    # the whole table
    "terrain": _layer(
        """
        SELECT t.parcel_id, t.slope_mean_pct
        FROM parcel q
        JOIN parcel_terrain t ON t.parcel_id = q.id AND t.departement_code = q.departement_code
        WHERE {q}"""
    ),
    "flood": _layer(
        """
        SELECT h.parcel_id, sum(h.share) FILTER (WHERE h.hazard_class >= 3) AS share
        FROM parcel_hazard h
        JOIN parcel q ON q.id = h.parcel_id AND q.departement_code = h.departement_code
        WHERE h.hazard = 'flood' AND {q}
        GROUP BY h.parcel_id"""
    ),
    # regulatory risk plans (geo.land.risks), and the zones over the parcel named (plan,
    # document, class, hazard)
    "risk": _layer(
        """
        SELECT q.id AS parcel_id,
               coalesce(ST_Area(ST_Union(ST_Intersection(z.geom, q.geom))
                        FILTER (WHERE z.regulatory_class = 'interdiction')), 0)
                   AS interdiction_m2,
               coalesce(ST_Area(ST_Union(ST_Intersection(z.geom, q.geom))
                        FILTER (WHERE z.regulatory_class = 'prescription')), 0)
                   AS prescription_m2,
               jsonb_agg(DISTINCT jsonb_build_object(
                   'document', z.document, 'plan', z.plan, 'class', z.regulatory_class,
                   'hazard', z.hazard_family, 'code', z.code, 'label', z.label,
                   'approved_on', z.approved_on))
                   FILTER (WHERE z.layer = 'zone_reg') AS zones
        FROM risk_zone z
        {parcels_under}
        WHERE z.layer IN ('zone_reg', 'perimetre') AND {in_scope}
          AND ST_Intersects(z.geom, q.geom)
        GROUP BY q.id""",
        "z",
    ),
    # PLU prescriptions (geo.land.prescriptions)
    "prescription": _layer(
        """
        SELECT q.id AS parcel_id,
               ST_Area(ST_Union(ST_Intersection(r.geom, q.geom))
                       FILTER (WHERE r.effect = 'exclude' AND r.kind = 'surf')) AS exclude_m2,
               ST_Area(ST_Union(ST_Intersection(r.geom, q.geom))
                       FILTER (WHERE r.effect = 'penalise' AND r.kind = 'surf'))
                   AS penalise_m2,
               coalesce(bool_or(r.effect = 'exclude' AND r.kind <> 'surf'), FALSE)
                   AS exclude_other,
               coalesce(bool_or(r.effect = 'penalise' AND r.kind <> 'surf'), FALSE)
                   AS penalise_other,
               jsonb_agg(DISTINCT jsonb_build_object(
                   'typepsc', r.typepsc, 'stypepsc', r.stypepsc, 'label', r.libelle,
                   'effect', r.effect, 'geometry', r.kind, 'document', r.idurba)) AS list
        FROM plu_prescription r
        {parcels_under}
        WHERE {in_scope} AND ST_Intersects(r.geom, q.geom)
        GROUP BY q.id""",
        "r",
    ),
} | {name: sql.SQL(select) for name, select in land.LAYERS.items()}


def layer_table(name: str) -> sql.Identifier:
    """The temporary table of a layer's hits (or of the activity zones, ``activity``)."""
    return ident("refresh_" + name)


def create_layer(name: str) -> sql.Composed:
    return sql.SQL("CREATE TEMPORARY TABLE {t} ON COMMIT DROP AS {select}").format(
        t=layer_table(name), select=LAYERS[name]
    )


def _name(table: str | sql.Identifier) -> sql.Identifier:
    return table if isinstance(table, sql.Identifier) else ident(table)


def analyse(table: str | sql.Identifier) -> sql.Composed:
    return sql.SQL("ANALYZE {}").format(_name(table))


def drop(table: str | sql.Identifier, *, if_exists: bool = False) -> sql.Composed:
    return sql.SQL("DROP TABLE {}{}").format(
        sql.SQL("IF EXISTS " if if_exists else ""), _name(table)
    )


# The box of one département's part of the scope, as EWKB (the layers' ``:box``)
SCOPE_BOX = sql.SQL(
    "SELECT ST_AsEWKB(ST_SetSRID(ST_Extent(p.geom), {srid})) FROM parcel p WHERE {scope}"
).format(srid=sql.Literal(LAMBERT93), scope=scope("p"))

# The activity zones within reach of the scope, economic sites and PLU activity zones
# together, in one small fresh index (ACTIVITY_INDEX): one KNN search per parcel instead of
# two, each in a smaller tree (21 µs a parcel less, bench/README.md).
ACTIVITY = sql.SQL("""
CREATE TEMPORARY TABLE refresh_activity ON COMMIT DROP AS
SELECT geom FROM economic_site WHERE geom && ST_Expand(CAST(:box AS geometry), {near})
UNION ALL
SELECT geom FROM plu_zone
WHERE zoning_class = 'activity' AND geom && ST_Expand(CAST(:box AS geometry), {near})
""").format(near=sql.Literal(NEAR_M))
ACTIVITY_INDEX = sql.SQL("CREATE INDEX ON refresh_activity USING gist (geom)")

_FEATURES = """
INSERT INTO {features_table} (
    parcel_id, departement_code, commune_insee, area_ha, compactness, zoning_class,
    on_friche, friche_site_id, in_economic_zone, activity_zone_distance_m, pollution,
    slope_mean_pct, flood_high_share, envelope_impact_ha, remediation_cost_eur,
    motorway_distance_m, rail_siding,
    risk_interdiction_share, risk_prescription_share, risk_regulation, risk_zones,
    prescription_exclude_share, prescription_penalise_share, prescription_effect,
    prescriptions, {land_columns})
SELECT p.id, p.departement_code, p.commune_insee, p.area_m2 / 10000,
       4 * pi() * p.area_m2 / nullif(ST_Perimeter(p.geom) ^ 2, 0),
       zone.zoning_class,
       CASE WHEN p.departement_code = ANY(:friche_deps)
            THEN coalesce(fr.site_id, link.site_id) IS NOT NULL END,
       coalesce(fr.site_id, link.site_id),
       CASE WHEN p.departement_code = ANY(:economic_deps) THEN eco.parcel_id IS NOT NULL END,
       CASE WHEN p.departement_code = ANY(:activity_deps)
            THEN CASE WHEN zone.zoning_class = 'activity' OR eco.parcel_id IS NOT NULL THEN 0
                      ELSE least(near.d, {near}) END END,
       CASE WHEN basol.parcel_id IS NOT NULL
              OR coalesce(fr.pollution, link.pollution)
                 IN ('pollution avérée', 'pollution supposée') THEN 'known'
            WHEN coalesce(fr.pollution, link.pollution) IN (
                 'pollution inexistante', 'pollution traitée', 'pollution peu probable')
            THEN 'ruled_out' END,
       terrain.slope_mean_pct,
       flood.share,
       -- the ledger's definition (geo.ledger.naf): the parcel less the union of its parts on
       -- friches and on artificialised land, so an overlap of the two counts once
       CASE WHEN link.site_id IS NOT NULL AND fr.site_id IS NULL THEN 0
            WHEN fr.site_id IS NULL AND art.g IS NULL THEN p.area_m2
            ELSE ST_Area(ST_Difference(p.geom, ST_Union(
                     coalesce(CASE WHEN fr.site_id IS NOT NULL THEN fr.g END,
                              'SRID=2154;POLYGON EMPTY'::geometry),
                     coalesce(art.g, 'SRID=2154;POLYGON EMPTY'::geometry))))
       END / 10000,
       CASE WHEN fr.site_id IS NOT NULL THEN fr.overlap_m2
            WHEN link.site_id IS NOT NULL THEN p.area_m2 ELSE 0 END / 10000
         * CASE WHEN basol.parcel_id IS NOT NULL OR coalesce(fr.pollution, link.pollution)
                     IN ('pollution avérée', 'pollution supposée')
                THEN {remediation_polluted}
                WHEN coalesce(fr.pollution, link.pollution) IN (
                     'pollution inexistante', 'pollution traitée', 'pollution peu probable')
                THEN {remediation_clean}
                -- pollution unknown: the cost is unknown (NULL), never a guessed 0 €
                ELSE NULL END,
       NULL, NULL,
       -- risk plans: known inside a loaded plan's perimeter
       risk.interdiction_m2 / nullif(p.area_m2, 0),
       risk.prescription_m2 / nullif(p.area_m2, 0),
       CASE WHEN risk.interdiction_m2 >= {min_share} * p.area_m2 THEN 'interdiction'
            WHEN risk.prescription_m2 >= {min_share} * p.area_m2 THEN 'prescription'
            WHEN risk.parcel_id IS NOT NULL THEN 'none' END,
       risk.zones,
       -- prescriptions: known where the zone under the parcel comes from a CNIG delivery
       -- (its document is in plu_document)
       CASE WHEN doc.idurba IS NOT NULL
            THEN coalesce(psc.exclude_m2, 0) / nullif(p.area_m2, 0) END,
       CASE WHEN doc.idurba IS NOT NULL
            THEN coalesce(psc.penalise_m2, 0) / nullif(p.area_m2, 0) END,
       CASE WHEN doc.idurba IS NULL THEN NULL
            WHEN psc.exclude_m2 >= {min_share} * p.area_m2 OR psc.exclude_other THEN 'exclude'
            WHEN psc.penalise_m2 >= {min_share} * p.area_m2 OR psc.penalise_other
            THEN 'penalise'
            ELSE 'none' END,
       CASE WHEN doc.idurba IS NOT NULL THEN psc.list END,{land_select}
FROM parcel p
{layer_joins}
LEFT JOIN plu_document doc ON doc.idurba = zone.idurba
-- The criterion only tells < 500 m, < 2 km and beyond: the nearest activity zone by an
-- index KNN search (for geometries <-> is the exact distance, rechecked on the boxes'
-- order), and "2 km" for anything farther when an activity layer exists. No box filter
-- beside it: with one, the planner sorted every zone within reach of each parcel, twice
-- the time (bench/README.md). Not searched for a parcel whose point on surface lies in an
-- activity zone or an economic site: its distance is 0.
LEFT JOIN LATERAL (
    SELECT a.geom <-> p.geom AS d FROM refresh_activity a
    WHERE zone.zoning_class IS DISTINCT FROM 'activity' AND eco.parcel_id IS NULL
    ORDER BY a.geom <-> p.geom LIMIT 1
) near ON TRUE
{land_joins}
WHERE {scope}
"""


# The alias of each layer's table (of LAYERS but the land layers, which land.JOINS joins)
# in FEATURES: at most one row a parcel each, joined on its parcel_id.
FEATURE_ALIASES = {
    "zone": "zone",
    "terrain": "terrain",
    "friche": "fr",
    "friche_link": "link",
    "economic": "eco",
    "polluted": "basol",
    "artificialised": "art",
    "flood": "flood",
    "risk": "risk",
    "prescription": "psc",
}


def features(target: str) -> sql.Composed:
    """Every criterion's value of the parcels in scope, from the layers' temporary
    tables, into ``target``."""
    layer_joins = sql.SQL("\n").join(
        sql.SQL("LEFT JOIN {table} {t} ON {t}.parcel_id = p.id").format(
            table=layer_table(name), t=ident(alias)
        )
        for name, alias in FEATURE_ALIASES.items()
    )
    return sql.SQL(_FEATURES).format(
        features_table=ident(target),
        layer_joins=layer_joins,
        land_columns=sql.SQL(land.COLUMNS),
        land_select=sql.SQL(land.SELECT),
        land_joins=sql.SQL(land.JOINS),
        near=sql.Literal(NEAR_M),
        min_share=sql.Literal(MIN_SHARE),
        remediation_polluted=sql.Literal(REMEDIATION_POLLUTED_EUR_PER_HA),
        remediation_clean=sql.Literal(REMEDIATION_CLEAN_EUR_PER_HA),
        scope=scope("p"),
    )


def covered(table: str, where: sql.Composable = TRUE) -> sql.Composed:
    """The départements of ``:deps`` where ``table`` has a feature (meeting ``where``):
    one probe of its département index each, whatever the size of the layer nationwide."""
    return sql.SQL(
        "SELECT d FROM unnest(CAST(:deps AS text[])) AS d WHERE EXISTS "
        "(SELECT 1 FROM {table} t WHERE t.departement_code = d AND {where})"
    ).format(table=ident(table), where=where)


SCORE_KEY = ("parcel_id", "profile", "departement_code")
SCORE_VALUES = (
    "commune_insee",
    "epci_siren",
    "model_version",
    "score",
    "reliability",
    "excluded",
    "area_ha",
)
FEATURE_KEY = ("parcel_id", "departement_code")


def scores(profiles: list[Profile], features_table: str) -> sql.Composed:
    """Every profile's score of the parcels in scope (``:version``): criteria points once,
    then one row per profile."""
    expressions = [(p, *score_expressions(p)) for p in profiles]
    rows = sql.SQL(", ").join(
        sql.SQL("({}, {}, {})").format(sql.Literal(p.id), sql.SQL(score), sql.SQL(reliability))
        for p, _, score, reliability in expressions
    )
    return sql.SQL(
        """SELECT f.parcel_id, v.profile, f.departement_code, f.commune_insee,
                  c.epci_siren, CAST(:version AS text) AS model_version, v.score,
                  v.reliability, {excluded} AS excluded, f.area_ha
           FROM {features} f LEFT JOIN commune c ON c.insee = f.commune_insee
           {points} {laterals}
           CROSS JOIN LATERAL (VALUES {rows}) v(profile, score, reliability)
           WHERE {scope}"""
    ).format(
        excluded=sql.SQL(EXCLUDED_SQL),
        features=ident(features_table),
        points=sql.SQL(points_lateral(profiles)),
        laterals=sql.SQL(" ").join(sql.SQL(lateral) for _, lateral, _, _ in expressions),
        rows=rows,
        scope=scope("f"),
    )


def insert(table: str, columns: Iterable[str], select: sql.Composable) -> sql.Composed:
    return sql.SQL("INSERT INTO {} ({}) {}").format(ident(table), names(columns), select)


def create_temporary(table: str, select: sql.Composable) -> sql.Composed:
    return sql.SQL("CREATE TEMPORARY TABLE {} ON COMMIT DROP AS {}").format(ident(table), select)


# The scope's parcels featured until now, whose rows a partial refresh's new ones replace
PREVIOUS = sql.SQL(
    "CREATE TEMPORARY TABLE refresh_previous ON COMMIT DROP AS "
    "SELECT f.parcel_id, f.departement_code FROM parcel_features f WHERE {scope}"
).format(scope=scope("f"))
NEW_FEATURES = sql.SQL(
    "CREATE TEMPORARY TABLE refresh_features (LIKE parcel_features INCLUDING DEFAULTS) "
    "ON COMMIT DROP"
)
FEATURES_IN_SCOPE = sql.SQL("SELECT * FROM parcel_features f WHERE {scope}").format(
    scope=scope("f")
)
PREVIOUS_SCORES = sql.SQL(
    "SELECT s.* FROM refresh_previous g JOIN parcel_score s "
    "ON s.parcel_id = g.parcel_id AND s.departement_code = g.departement_code"
)

# The columns of a table but its ``computed_at`` (:table a regclass name)
COLUMNS_OF = sql.SQL(
    "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
    "AND attnum > 0 AND NOT attisdropped AND attname <> 'computed_at' ORDER BY attnum"
)


def changed(
    fresh: str, key: tuple[str, ...], columns: list[str], previous: sql.Composable
) -> sql.Composed:
    """``refresh_changed``: the rows of ``previous`` and of the temporary table ``fresh``
    that differ, each with the previous row's key (``previous_<key>``), by one hash join.
    The keys are compared too, so that a row on one side only always differs."""
    return sql.SQL(
        "CREATE TEMPORARY TABLE refresh_changed ON COMMIT DROP AS SELECT {keys}, n.* "
        "FROM ({previous}) o FULL JOIN {fresh} n ON {on} "
        "WHERE ({old}) IS DISTINCT FROM ({new})"
    ).format(
        keys=sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(ident("o", c), ident("previous_" + c)) for c in key
        ),
        previous=previous,
        fresh=ident(fresh),
        on=sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(ident("o", c), ident("n", c)) for c in key
        ),
        old=names(columns, "o"),
        new=names(columns, "n"),
    )


def delete_changed(table: str, key: tuple[str, ...]) -> sql.Composed:
    return sql.SQL("DELETE FROM {} t USING refresh_changed c WHERE {}").format(
        ident(table),
        sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(ident("t", k), ident("c", "previous_" + k)) for k in key
        ),
    )


def insert_changed(table: str, key: tuple[str, ...], columns: list[str]) -> sql.Composed:
    return sql.SQL(
        "INSERT INTO {} ({}) SELECT {} FROM refresh_changed WHERE {} IS NOT NULL"
    ).format(ident(table), names(columns), names(columns), ident(key[0]))


# The (département, commune) pairs of a scope (``:dep``, ``:commune``, either NULL) with
# their parcels, by département then west to east
COMMUNES = sql.SQL(
    """SELECT departement_code, commune_insee, count(*) FROM parcel
       WHERE (CAST(:dep AS text) IS NULL OR departement_code = :dep)
         AND (CAST(:commune AS text) IS NULL OR commune_insee = :commune)
       GROUP BY 1, 2
       ORDER BY 1, ST_XMin(ST_Extent(geom)) + ST_XMax(ST_Extent(geom))"""
)

TRY_LOCK = sql.SQL("SELECT pg_try_advisory_lock(:key)")
UNLOCK = sql.SQL("SELECT pg_advisory_unlock(:key)")
NO_JIT = sql.SQL("SET LOCAL jit = off")
SORT_MEMORY = sql.SQL("SET LOCAL maintenance_work_mem = '512MB'")


def next_table(table: str) -> str:
    """The new table a full refresh fills before it takes ``table``'s place."""
    return table + "_next"


def create_next(table: str) -> sql.Composed:
    # No autovacuum on the new tables while they are filled and indexed: at 10 M parcels
    # it vacuumed the fresh features for a minute, on a core the index builds needed; they
    # are analysed once, after their indexes.
    return sql.SQL(
        "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS) WITH (autovacuum_enabled = false)"
    ).format(ident(next_table(table)), ident(table))


def take_place(table: str) -> list[sql.Composed]:
    """The new table replaces the live one, under its name."""
    return [
        sql.SQL("DROP TABLE {}").format(ident(table)),
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(ident(next_table(table)), ident(table)),
        sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(ident(table)),
    ]


PRIMARY_KEY_OF = sql.SQL(
    "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'p'"
)
INDEXES_OF = sql.SQL(
    "SELECT indexname, indexdef FROM pg_indexes "
    "WHERE schemaname = current_schema() AND tablename = :t"
)


def index_on_next(unique: bool, index: str, table: str, definition: str) -> sql.Composed:
    """The index ``index`` of ``table`` built on its new table under a ``_next`` name;
    ``definition`` is the rest of its catalog definition (``USING ...``), trusted."""
    return sql.SQL("CREATE {}INDEX {} ON {} {}").format(
        sql.SQL("UNIQUE " if unique else ""),
        ident(index + "_next"),
        ident(next_table(table)),
        sql.SQL(definition),
    )


def key_from_index(table: str, key: str) -> sql.Composed:
    # USING INDEX renames the index after the constraint
    return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}").format(
        ident(table), ident(key), ident(key + "_next")
    )


def rename_index(index: str) -> sql.Composed:
    return sql.SQL("ALTER INDEX {} RENAME TO {}").format(ident(index + "_next"), ident(index))
