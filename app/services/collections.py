"""The OGC API - Features collections, each declared once as data.

A collection names its source (a FROM clause), its feature id (a unique, sortable key:
pages follow it, so that page 1,000 costs what page 1 costs), its Lambert-93 geometry, its
properties and the properties a request may filter on. The same declaration feeds the
items (app.services.features), the vector tiles (app.services.tiles), the TileJSON, the
queryables and schemas (app.presentation.schemas) and the OpenAPI description.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.services.cql2 import Queryable
from geo.crs import WGS84
from geo.db.bbox import bbox_l93_sql, bbox_sql
from geo.db.partitions import KNOWN_PARCELS_SQL
from geo.db.sql import compose, literal
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
    # features (zoning, buildings) by their key too. The profile is a constant of the
    # collection's declaration, quoted as a literal (a source takes no bound parameter).
    return compose(
        "parcel p LEFT JOIN parcel_score s ON s.parcel_id = p.id "
        "AND s.profile = {profile} AND s.departement_code = p.departement_code "
        "LEFT JOIN parcel_features f ON f.parcel_id = p.id "
        "AND f.departement_code = p.departement_code",
        profile=literal(profile),
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


def _economic_sites(
    id: str, title: str, description: str, labelled: bool, tile_properties: tuple[str, ...]
) -> Collection:
    """The economic sites (CNIG SITE-ECO) that are sites clés en main (``labelled``), or
    the others."""
    kinds = "= 'site_cle_en_main'" if labelled else "<> 'site_cle_en_main'"
    return Collection(
        id=id,
        title=title,
        description=description,
        source=f"(SELECT * FROM economic_site WHERE kind {kinds}) t",
        key="t.site_id",
        geom="t.geom",
        properties={
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
        },
        queryables=("kind", "epci", "commune", "departement", "name", "surf_brute_ha"),
        property_types={
            "surf_brute_ha": "number",
            "surf_utile_ha": "number",
            "declared_vacancy_rate": "number",
            "area_m2": "number",
        },
        tile_properties=tile_properties,
    )


_ECONOMIC_ZONES = _economic_sites(
    "economic-zones",
    "Economic zones (ZAE and commercial zones)",
    "Economic activity zones (CNIG SITE-ECO) and commercial zones; kind tells which.",
    False,
    ("name", "kind", "vocadomi", "surf_brute_ha"),
)

_SITES = _economic_sites(
    "sites",
    "Sites clés en main",
    "Labelled industrial sites ready for a project (sites clés en main). Candidate sites "
    "assembled from parcels are a search, at /sites/search.",
    True,
    ("name", "surf_brute_ha"),
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
