"""OGC API - Features collections, each described once as data and served by PostGIS.

A collection names its source (a FROM clause), its feature id (a
unique, sortable key: pages follow it, so that page 1,000 costs what page 1 costs), its
Lambert-93 geometry, its properties and the properties a request may filter on. The same
description feeds the items, the vector tiles (app.services.tiles) and the TileJSON.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from app.presentation.geojson import feature_sql, geometry_sql
from app.services.cql2 import Queryable, SqlFilter
from app.services.crs import DEFAULT, Crs
from geo.crs import GEOJSON_DECIMALS, LAMBERT93, WGS84
from geo.db.bbox import bbox_l93_sql, bbox_params, bbox_sql
from geo.db.count import COUNT_BUDGET_MS, Matched, count_matches, count_within
from geo.db.partitions import KNOWN_PARCELS_SQL
from geo.land.buildings import land_use_sql
from geo.ledger.statuses import PUBLIC
from geo.scoring.profiles import DEFAULT_PROFILE, get_profile


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    source: str
    key: str
    geom: str
    properties: dict[str, str]
    # the properties a request may filter on (?name=value, CQL2 filters), by their SQL
    queryables: tuple[str, ...] = ()
    # JSON Schema type of the properties that are not strings (number, integer, boolean,
    # date, date-time, array): the collection's schema, its queryables, the typing of
    # ?name=value filters and of CQL2 literals all read it
    property_types: dict[str, str] = field(default_factory=dict)
    # the JSON Schema format of the geometry (OGC API - Features, Part 5)
    geometry_format: str = "geometry-multipolygon"
    # SQL of the date or timestamp the `datetime` parameter filters on (None: no time)
    temporal: str | None = None
    key_is_int: bool = False
    # SQL of the exact number of features when nothing filters them, kept by the loaders
    # (NULL when not kept): for a collection too large to count per request
    known_count: str | None = None
    # properties carried by vector tiles (small: tiles are drawn, not read)
    tile_properties: tuple[str, ...] = ()
    # SQL of the tiles' numeric feature id (MVT ids are unsigned integers; MapLibre's
    # feature-state needs one): the key when it is a number, an exact encoding when the key
    # has a known shape, else a 63-bit hash of the key; the key itself is the "id" property
    tile_id: str | None = None
    min_zoom: int = 0
    # Every write to what the tiles show bumps the generations of its communes
    # (geo.db.tile_generation): the tiles may be cached (app.services.tile_cache)
    tiles_versioned: bool = False
    # The table whose geometry column ``geom`` the collection shows, when it may be large:
    # its extent then comes from the planner's statistics (extent_wgs84)
    extent_table: str | None = None
    # A computed geometry would be computed for every row a box is tested against:
    # such collections test a cheaper, indexed expression instead (given the box's SRID
    # and densification step, as bbox_sql).
    bbox_filter: Callable[[int, float], str] | None = None

    def box_clause(self, srid: int = WGS84, segment: float = 0.01) -> str:
        if self.bbox_filter:
            return self.bbox_filter(srid, segment)
        return bbox_sql(self.geom, srid, segment)

    def filterables(self) -> dict[str, Queryable]:
        """What a CQL2 filter may name: the queryables, and the geometry."""
        return {
            **{
                name: Queryable(self.properties[name], self.type_of(name))
                for name in self.queryables
            },
            "geometry": Queryable(self.geom, "geometry"),
        }

    def type_of(self, name: str) -> str:
        """The JSON Schema type of property ``name`` (or its format: date, date-time)."""
        return self.property_types.get(name, "string")

    def tile_id_sql(self) -> str:
        if self.tile_id is not None:
            return self.tile_id
        if self.key_is_int:
            return self.key
        return f"(hashtextextended({self.key}::text, 0) & {2**63 - 1})"

    def properties_sql(self, names: tuple[str, ...] | None = None) -> str:
        chosen = self.properties if names is None else {n: self.properties[n] for n in names}
        pairs = ", ".join(f"'{name}', {expr}" for name, expr in chosen.items())
        return f"json_build_object({pairs})"


def _parcel_score_join(profile: str) -> str:
    # the whole key: the score and the exclusion are read from it (migration 0017); the
    # features (zoning, buildings) by their key too
    return (
        "parcel p LEFT JOIN parcel_score s ON s.parcel_id = p.id "
        f"AND s.profile = '{profile}' AND s.departement_code = p.departement_code "
        "LEFT JOIN parcel_features f ON f.parcel_id = p.id "
        "AND f.departement_code = p.departement_code"
    )


_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _commune_number(code: str) -> str:
    """SQL: a commune code (2 digits or 2A/2B, then 3 digits) as 0..119,999, one to one."""
    return (
        f"(((ascii(substr({code}, 1, 1)) - 48) * 12 "
        f"+ strpos('0123456789AB', substr({code}, 2, 1)) - 1) * 1000 "
        f"+ substr({code}, 3, 3)::int)::bigint"
    )


def parcel_number_sql(parcel_id: str) -> str:
    """SQL: a cadastre parcel id (commune 5, prefixe 3 digits, section 2 of [0-9A-Z], numero
    4 digits) as an integer below 2^53, one to one: the tiles' feature id of a parcel."""
    return (
        f"(({_commune_number(parcel_id)} * 1000 + substr({parcel_id}, 6, 3)::int) * 1296 "
        f"+ (strpos('{_BASE36}', substr({parcel_id}, 9, 1)) - 1) * 36 "
        f"+ strpos('{_BASE36}', substr({parcel_id}, 10, 1)) - 1) * 10000 "
        f"+ substr({parcel_id}, 11, 4)::int"
    )


_DEFAULT_LAND_USE = land_use_sql("f", get_profile(DEFAULT_PROFILE).underused_built_share)


_PARCELS = Collection(
    id="parcels",
    title="Cadastre parcels",
    description=(
        "Etalab cadastre parcels, with their score for industrial reconversion under the "
        f"default profile ({DEFAULT_PROFILE}); the breakdown is at /parcels/{{id}}/score."
    ),
    source=_parcel_score_join(DEFAULT_PROFILE),
    extent_table="parcel",
    known_count=KNOWN_PARCELS_SQL,
    key="p.id",
    geom="p.geom",
    properties={
        "commune": "p.commune_insee",
        "departement": "p.departement_code",
        "prefixe": "p.prefixe",
        "section": "p.section",
        "numero": "p.numero",
        "contenance_m2": "p.contenance",
        "area_m2": "round(p.area_m2 * 10) / 10",
        "score": "round(s.score * 10) / 10",
        "excluded": "s.excluded",
        "reliability": "round(s.reliability * 100) / 100",
        "profile": "s.profile",
        # vacant / underused / built under the default profile (geo.land.buildings), and the
        # zoning class of the planning document (geo.land.zoning)
        "land_use": _DEFAULT_LAND_USE,
        "zoning": "f.zoning_class",
    },
    queryables=(
        "commune",
        "departement",
        "section",
        "prefixe",
        "numero",
        "contenance_m2",
        "area_m2",
        "score",
        "excluded",
        "land_use",
        "zoning",
    ),
    property_types={
        "contenance_m2": "integer",
        "area_m2": "number",
        "score": "number",
        "excluded": "boolean",
        "reliability": "number",
    },
    tile_properties=(
        "commune",
        "section",
        "numero",
        "area_m2",
        "score",
        "excluded",
        "land_use",
        "zoning",
    ),
    tile_id=parcel_number_sql("p.id"),
    min_zoom=13,
    # cadastre imports, score refreshes (geo.ingest.cadastre, geo.scoring.refresh)
    tiles_versioned=True,
)

_FRICHES = Collection(
    id="friches",
    title="Friches (brownfields)",
    description="Brownfields in the CNIG Standard Friches, outline or point when no outline.",
    source="friche t",
    key="t.site_id",
    geom="coalesce(t.geom, t.geom_point)",
    properties={
        "name": "t.name",
        "site_type": "t.site_type",
        "site_statut": "t.site_statut",
        "sol_pollution_existe": "t.sol_pollution_existe",
        "activite_libelle": "t.activite_libelle",
        "commune": "t.commune_insee",
        "departement": "t.departement_code",
        "area_m2": "round(t.area_m2 * 10) / 10",
        "unite_fonciere_surface_m2": "t.unite_fonciere_surface_m2",
        "source_producteur": "t.source_producteur",
        "updated_on": "t.updated_on",
    },
    queryables=(
        "commune",
        "departement",
        "site_type",
        "site_statut",
        "name",
        "area_m2",
        "updated_on",
    ),
    property_types={
        "area_m2": "number",
        "unite_fonciere_surface_m2": "number",
        "updated_on": "date",
    },
    geometry_format="geometry-any",
    tile_properties=("name", "site_type", "site_statut", "area_m2"),
    bbox_filter=lambda srid, segment: (
        f"({bbox_sql('t.geom', srid, segment)} OR t.geom IS NULL "
        f"AND ST_Intersects(t.geom_point, {bbox_l93_sql(srid, segment)}))"
    ),
    temporal="t.updated_on",
)

_ECONOMIC_PROPERTIES = {
    "name": "t.name",
    "kind": "t.kind",
    "site_type": "t.site_type",
    "vocadomi": "t.vocadomi",
    "etat": "t.etat",
    "surf_brute_ha": "t.surf_brute_ha",
    "surf_utile_ha": "t.surf_utile_ha",
    "declared_vacancy_rate": "t.declared_vacancy_rate",
    "epci": "t.epci_siren",
    "commune": "t.commune_insee",
    "departement": "t.departement_code",
    "area_m2": "round(t.area_m2 * 10) / 10",
}
_ECONOMIC_QUERYABLES = ("kind", "epci", "commune", "departement", "name", "surf_brute_ha")
_ECONOMIC_TYPES = {
    "surf_brute_ha": "number",
    "surf_utile_ha": "number",
    "declared_vacancy_rate": "number",
    "area_m2": "number",
}

_ECONOMIC_ZONES = Collection(
    id="economic-zones",
    title="Economic zones (ZAE and commercial zones)",
    description="Economic activity zones (CNIG SITE-ECO) and commercial zones; kind tells which.",
    source="(SELECT * FROM economic_site WHERE kind <> 'site_cle_en_main') t",
    key="t.site_id",
    geom="t.geom",
    properties=_ECONOMIC_PROPERTIES,
    queryables=_ECONOMIC_QUERYABLES,
    property_types=_ECONOMIC_TYPES,
    tile_properties=("name", "kind", "vocadomi", "surf_brute_ha"),
)

_SITES = Collection(
    id="sites",
    title="Sites clés en main",
    description=(
        "Labelled industrial sites ready for a project (sites clés en main). Candidate sites "
        "assembled from parcels are a search, at /sites/search."
    ),
    source="(SELECT * FROM economic_site WHERE kind = 'site_cle_en_main') t",
    key="t.site_id",
    geom="t.geom",
    properties=_ECONOMIC_PROPERTIES,
    queryables=_ECONOMIC_QUERYABLES,
    property_types=_ECONOMIC_TYPES,
    tile_properties=("name", "surf_brute_ha"),
)

_COMMUNES = Collection(
    id="communes",
    title="Communes",
    description="Communes and arrondissements municipaux; geometry null where not loaded.",
    source="commune t",
    key="t.insee",
    geom="t.geom",
    properties={
        "name": "t.name",
        "kind": "t.kind",
        "departement": "t.departement_code",
        "region": "t.region_code",
        "epci": "t.epci_siren",
        "population": "t.population",
    },
    queryables=("departement", "region", "epci", "kind", "name", "population"),
    property_types={"population": "integer"},
    tile_properties=("name", "epci"),
    tile_id=_commune_number("t.insee"),
    min_zoom=6,
)

_EPCI = Collection(
    id="epci",
    title="EPCI (intercommunalités)",
    description="EPCI outlined by their member communes' boundaries, where these are loaded.",
    source="epci t LEFT JOIN epci_outline o ON o.siren = t.siren",
    key="t.siren",
    geom="o.geom",
    properties={
        "name": "t.name",
        "type": "t.type",
        "population": "t.population",
        "territoire_industrie": "t.territoire_industrie_id",
        "geometry_complete": "o.geometry_complete",
    },
    queryables=("type", "territoire_industrie"),
    property_types={"population": "integer", "geometry_complete": "boolean"},
    tile_properties=("name", "type"),
    tile_id="t.siren::bigint",
)

_TERRITOIRES = Collection(
    id="territoires-industrie",
    title="Territoires d'industrie",
    description="Territoires d'industrie: the outline the ANCT publishes, else the union of "
    "their member communes' boundaries; member SIRENs as published (unknown ones kept).",
    source="territoire_industrie t LEFT JOIN territoire_industrie_outline o ON o.id = t.id",
    key="t.id",
    geom="o.geom",
    properties={
        "name": "t.name",
        "region": "t.region_code",
        "geometry_complete": "o.geometry_complete",
        "members": "(SELECT coalesce(json_agg(json_build_object('siren', m.siren, 'name', "
        "m.name, 'resolved_as', m.resolved_as) ORDER BY m.siren), '[]'::json) "
        "FROM territoire_industrie_member m WHERE m.territoire_industrie_id = t.id)",
    },
    queryables=("region",),
    property_types={"geometry_complete": "boolean", "members": "array"},
    tile_properties=("name",),
)

_PROJECTS = Collection(
    id="projects",
    title="Industrial projects (envelope ledger)",
    description=(
        "Projects recorded against the artificialisation envelope, with their current status "
        "and NAF consumption, once authorised (a planned project is not public); the ledger "
        "is at /projects/{id}."
    ),
    source=f"""project t CROSS JOIN LATERAL (
        SELECT (array_agg(e.status ORDER BY e.id DESC)
                    FILTER (WHERE e.status IS NOT NULL))[1] AS status
        FROM envelope_entry e WHERE e.project_id = t.id) st
        JOIN (VALUES {", ".join(f"('{s}')" for s in PUBLIC)}) public (status)
          ON public.status = st.status""",
    key="t.id",
    key_is_int=True,
    geom="t.geom",
    properties={
        "name": "t.name",
        "kind": "t.kind",
        "status": "st.status",
        "ruleset": "t.ruleset_id",
        "epci": "t.epci_siren",
        "commune": "t.commune_insee",
        "departement": "t.departement_code",
        "region": "t.region_code",
        # numeric(14,4) in the ledger: a number in tiles too (ST_AsMVT writes numeric as text)
        "area_ha": "t.area_ha::float8",
        "naf_ha": "t.naf_ha::float8",
        "created_at": "t.created_at",
    },
    queryables=("kind", "status", "epci", "departement", "region", "naf_ha", "created_at"),
    property_types={
        "area_ha": "number",
        "naf_ha": "number",
        "created_at": "date-time",
    },
    temporal="t.created_at",
    tile_properties=("name", "kind", "status", "naf_ha"),
    # a project never changes; its status is a ledger entry (geo.ledger.write)
    tiles_versioned=True,
)

COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in (
        _PARCELS,
        _FRICHES,
        _ECONOMIC_ZONES,
        _SITES,
        _COMMUNES,
        _EPCI,
        _TERRITOIRES,
        _PROJECTS,
    )
}


@dataclass(frozen=True)
class ItemsQuery:
    """What selects the features of one items request (every value bound, never in SQL).

    ``bbox`` is in ``bbox_crs``, easting or longitude first; ``properties`` are typed
    values of queryables; ``filter`` a translated CQL2 filter; ``interval`` the datetime
    parameter's (start, end), either open (None), tested on the collection's temporal
    property when it has one."""

    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: Crs = DEFAULT
    properties: dict[str, object] = field(default_factory=dict)
    # the last feature id of the previous page (keyset paging)
    after: str | int | None = None
    filter: SqlFilter | None = None
    interval: tuple[object, object] | None = None

    def selects_all(self, collection: Collection) -> bool:
        """Whether every feature of ``collection`` matches (nothing filters them)."""
        return (
            self.bbox is None
            and not self.properties
            and self.filter is None
            and (self.interval is None or collection.temporal is None)
        )

    def where(self, collection: Collection) -> tuple[str, dict[str, object]]:
        clauses: list[str] = ["TRUE"]
        params: dict[str, object] = {}
        if self.bbox:
            clauses.append(collection.box_clause(self.bbox_crs.srid, self.bbox_crs.segment))
            params.update(bbox_params(self.bbox))
        for i, (name, value) in enumerate(sorted(self.properties.items())):
            clauses.append(f"{collection.properties[name]} = :q{i}")
            params[f"q{i}"] = value
        if self.filter is not None:
            clauses.append(self.filter.clause)
            params.update(self.filter.params)
        if self.interval is not None and collection.temporal:
            start, end = self.interval
            if start is not None:
                clauses.append(f"{collection.temporal} >= :t_start")
                params["t_start"] = start
            if end is not None:
                clauses.append(f"{collection.temporal} <= :t_end")
                params["t_end"] = end
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class ItemsPage:
    features: list[str]
    number_matched: Matched
    last_key: str | int | None
    has_more: bool


def _feature(collection: Collection, crs: Crs) -> str:
    geometry = geometry_sql(collection.geom, crs.srid, crs.decimals, crs.lat_first)
    return feature_sql(collection.key, collection.geom, collection.properties_sql(), geometry)


def count_items(conn: Connection, collection: Collection, query: ItemsQuery, up_to: int) -> Matched:
    """How many features match: exact up to ``up_to``, "more than" beyond (geo.db.count)."""
    clause, params = query.where(collection)
    return count_matches(conn, f"FROM {collection.source} WHERE {clause}", params, up_to)


def matched_items(
    conn: Connection, collection: Collection, query: ItemsQuery, budget_ms: int = COUNT_BUDGET_MS
) -> Matched:
    """numberMatched: kept by the loaders when nothing filters a large collection, else
    counted within ``budget_ms``, else unknown (geo.db.count)."""
    clause, params = query.where(collection)
    known = collection.known_count if query.selects_all(collection) else None
    return count_within(
        conn, f"FROM {collection.source} WHERE {clause}", params, budget_ms, known=known
    )


def items_page(
    conn: Connection,
    collection: Collection,
    query: ItemsQuery,
    limit: int,
    crs: Crs = DEFAULT,
    count_budget_ms: int = COUNT_BUDGET_MS,
) -> ItemsPage:
    """One page of features as GeoJSON strings built by PostGIS, in feature id order.

    A first page that holds every match is its own count: no count is run (a map's small
    boxes are most requests, and the count was two thirds of their time, bench/README.md)."""
    clause, params = query.where(collection)
    after = ""
    if query.after is not None:
        after = f" AND {collection.key} > :after"
        params["after"] = query.after
    feature = _feature(collection, crs)
    rows = conn.execute(
        text(
            f"""SELECT {collection.key} AS k, {feature}::text
                FROM {collection.source} WHERE {clause}{after}
                ORDER BY {collection.key} LIMIT :limit"""
        ),
        {**params, "limit": limit + 1},
    ).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    if query.after is None and not has_more:
        matched = Matched(len(rows))
    else:
        matched = matched_items(conn, collection, query, count_budget_ms)
    return ItemsPage(
        features=[r[1] for r in rows],
        number_matched=matched,
        last_key=rows[-1][0] if rows else None,
        has_more=has_more,
    )


def item_pages(
    conn: Connection,
    collection: Collection,
    query: ItemsQuery,
    size: int,
    crs: Crs = DEFAULT,
    geometry: bool = True,
    points: bool = False,
) -> Iterator[list[str]]:
    """Every feature matching ``query``, in feature id order, as pages of ``size`` GeoJSON
    strings: one query read through a server-side cursor (an export), not a query a page.
    Without ``geometry``, theirs is null; with ``points``, a point on its surface (what a
    CSV's x and y need, not the whole outline)."""
    clause, params = query.where(collection)
    if not geometry:
        feature = feature_sql(collection.key, collection.geom, collection.properties_sql(), "NULL")
    elif points:
        surface = f"ST_PointOnSurface({collection.geom})"
        feature = feature_sql(
            collection.key,
            collection.geom,
            collection.properties_sql(),
            geometry_sql(surface, crs.srid, crs.decimals, crs.lat_first),
        )
    else:
        feature = _feature(collection, crs)
    result = conn.execution_options(stream_results=True, yield_per=size).execute(
        text(
            f"""SELECT {feature}::text
                FROM {collection.source} WHERE {clause} ORDER BY {collection.key}"""
        ),
        params,
    )
    for rows in result.partitions(size):
        yield [r[0] for r in rows]


def item(
    conn: Connection, collection: Collection, feature_id: str | int, crs: Crs = DEFAULT
) -> str | None:
    feature = _feature(collection, crs)
    return conn.execute(
        text(f"SELECT {feature}::text FROM {collection.source} WHERE {collection.key} = :id"),
        {"id": feature_id},
    ).scalar_one_or_none()


# Below this many rows (the planner's count) an exact extent is cheap enough.
ESTIMATE_FROM_ROWS = 100_000


def extent_wgs84(conn: Connection, collection: Collection) -> list[float] | None:
    """The collection's bounding box in WGS84, taken from the geometries once transformed
    (in Lambert-93, a conic projection, a box's edges are not meridians and parallels: the
    middle of its top edge lies further north than its corners), rounded outward to the
    GeoJSON's 6 decimals. Exact for most collections (the extent of every transformed
    geometry); for a large table, the Lambert-93 box of each of its partitions from the
    planner's statistics, densified before it is transformed (90 million parcels cannot be
    transformed within a request)."""
    table = collection.extent_table
    if table is not None and _planned_rows(conn, table) >= ESTIMATE_FROM_ROWS:
        box = estimated_box(conn, table)
        if box is None:
            return None
        row = conn.execute(
            text(
                f"""SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (
                    SELECT ST_Transform(ST_Segmentize(
                        ST_MakeEnvelope(:x0, :y0, :x1, :y1, {LAMBERT93}), :step), {WGS84}) AS b
                ) e"""
            ),
            {**dict(zip(("x0", "y0", "x1", "y1"), box, strict=True)), "step": DENSIFY_M},
        ).first()
    else:
        row = conn.execute(
            text(
                f"""SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (
                      SELECT ST_Extent(ST_Transform({collection.geom}, {WGS84}))::geometry AS b
                      FROM {collection.source}) e WHERE b IS NOT NULL"""
            )
        ).first()
    return round_outward(row) if row else None


# Edges of an estimated Lambert-93 box are cut every 100 m before their transformation: a
# 100 m chord of those curves strays from them by far less than the 6th decimal's 0.1 m.
DENSIFY_M = 100.0


def round_outward(box: tuple[float, float, float, float] | Any) -> list[float]:
    """A WGS84 box to 6 decimals, minima down and maxima up: it still holds every
    coordinate the GeoJSON writes (rounded to the nearest 6th decimal)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    scale = 10**GEOJSON_DECIMALS
    return [
        math.floor(x0 * scale) / scale,
        math.floor(y0 * scale) / scale,
        math.ceil(x1 * scale) / scale,
        math.ceil(y1 * scale) / scale,
    ]


def _planned_rows(conn: Connection, table: str) -> float:
    return conn.execute(
        text(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_class c "
            "WHERE c.oid = CAST(:t AS regclass) "
            "OR c.oid IN (SELECT relid FROM pg_partition_tree(CAST(:t AS regclass)))"
        ),
        {"t": table},
    ).scalar_one()


def estimated_box(conn: Connection, table: str) -> tuple[float, float, float, float] | None:
    """The Lambert-93 box of ``table``'s ``geom`` from the statistics of each of its leaf
    tables (ST_EstimatedExtent, rounded outward to float4; it cannot read a partitioned
    parent's), or exactly for a leaf never analysed."""
    leaves = conn.execute(
        text(
            "SELECT c.relname FROM pg_partition_tree(CAST(:t AS regclass)) p "
            "JOIN pg_class c ON c.oid = p.relid WHERE p.isleaf"
        ),
        {"t": table},
    ).scalars().all() or [table]
    boxes = []
    for leaf in leaves:
        for box_sql in (
            "ST_EstimatedExtent(current_schema(), :leaf, 'geom')::geometry",
            f'(SELECT ST_Extent(geom)::geometry FROM "{leaf}")',  # never analysed
        ):
            box = conn.execute(
                text(
                    "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) "
                    f"FROM (SELECT {box_sql} AS b) x WHERE b IS NOT NULL"
                ),
                {"leaf": leaf},
            ).first()
            if box is not None:
                boxes.append(box)
                break
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


class ExtentCache:
    """Collection extents, recomputed at most every ``ttl`` seconds."""

    def __init__(self, ttl: float = 600.0) -> None:
        self.ttl = ttl
        self._values: dict[str, tuple[float, list[float] | None]] = {}

    def get(self, conn: Connection, collection: Collection) -> list[float] | None:
        now = time.monotonic()
        cached = self._values.get(collection.id)
        if cached is None or now - cached[0] > self.ttl:
            cached = (now, extent_wgs84(conn, collection))
            self._values[collection.id] = cached
        return cached[1]
