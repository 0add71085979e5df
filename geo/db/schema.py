"""The database schema, declared once for SQLAlchemy queries and checked against the migrations.

Geometries are stored in Lambert-93 (EPSG:2154) so that areas and distances are
metres; natural keys (INSEE codes, SIREN, cadastre ids) are primary keys. Large
tables carry ``departement_code`` so that they can be partitioned or distributed by it.
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from geo.crs import LAMBERT93

metadata = MetaData()


def _multipolygon(nullable: bool = True) -> Column:
    # Spatial indexes are declared explicitly (below) so that the migration and
    # this module name them the same way.
    return Column(
        "geom",
        Geometry("MULTIPOLYGON", srid=LAMBERT93, spatial_index=False),
        nullable=nullable,
    )


region = Table(
    "region",
    metadata,
    Column("code", String(3), primary_key=True),
    Column("name", Text, nullable=False),
    _multipolygon(),
)

departement = Table(
    "departement",
    metadata,
    Column("code", String(3), primary_key=True),
    Column("name", Text, nullable=False),
    Column("region_code", String(3), ForeignKey("region.code"), nullable=False),
    _multipolygon(),
)

territoire_industrie = Table(
    "territoire_industrie",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("name", Text, nullable=False),
    Column("region_code", String(3), ForeignKey("region.code"), nullable=False),
    # the outline as published by the ANCT (null when loaded from a list without outlines)
    _multipolygon(),
)

epci = Table(
    "epci",
    metadata,
    Column("siren", String(9), primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", String(8), nullable=False),
    Column("population", Integer),
    # An EPCI belongs to at most one Territoire d'industrie.
    Column("territoire_industrie_id", String(20), ForeignKey("territoire_industrie.id")),
    CheckConstraint("siren ~ '^[0-9]{9}$'", name="epci_siren_format"),
)

commune = Table(
    "commune",
    metadata,
    Column("insee", String(5), primary_key=True),
    Column("name", Text, nullable=False),
    # 'commune-actuelle' or 'arrondissement-municipal' (Paris, Lyon, Marseille:
    # the cadastre numbers their parcels by arrondissement).
    Column("kind", String(24), nullable=False),
    Column("parent_insee", String(5), ForeignKey("commune.insee")),
    Column("departement_code", String(3), ForeignKey("departement.code"), nullable=False),
    Column("region_code", String(3), ForeignKey("region.code"), nullable=False),
    Column("epci_siren", String(9), ForeignKey("epci.siren")),
    Column("siren", String(9)),
    Column("population", Integer),
    _multipolygon(),
    CheckConstraint("insee ~ '^[0-9][0-9AB][0-9]{3}$'", name="commune_insee_format"),
)
Index("commune_epci_siren_idx", commune.c.epci_siren)
Index("commune_departement_code_idx", commune.c.departement_code)

# The place search (app.services.places): every territory level's name folded (lower case,
# no accents, punctuation as spaces; place_fold is created by migration 0011d), with a
# trigram index.
for _table in (region, departement, territoire_industrie, epci, commune):
    _table.append_column(Column("name_folded", Text, Computed("place_fold(name)")))
    Index(
        f"{_table.name}_name_fold_idx",
        _table.c.name_folded,
        postgresql_using="gin",
        postgresql_ops={"name_folded": "gin_trgm_ops"},
    )

# Communes merge every year: an old code found in a source is mapped to its
# current commune through this table instead of being silently dropped.
commune_former_code = Table(
    "commune_former_code",
    metadata,
    Column("former_insee", String(5), primary_key=True),
    Column("insee", String(5), ForeignKey("commune.insee"), primary_key=True),
)

# Every member SIREN a Territoire d'industrie list names, kept as published: an EPCI of
# the reference, a commune (some territories list communes), or unknown to the reference
# (merged EPCI, EPT of the Métropole du Grand Paris): reported, never dropped.
territoire_industrie_member = Table(
    "territoire_industrie_member",
    metadata,
    Column(
        "territoire_industrie_id",
        String(20),
        ForeignKey("territoire_industrie.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("siren", String(9), primary_key=True),
    Column("name", Text),
    Column("resolved_as", String(8), nullable=False),  # epci, commune, unknown
)

# The communes of each territory (geo.ingest.territoires): through its member EPCI and
# communes; for a member unknown to the reference, the communes inside the published outline.
territoire_industrie_commune = Table(
    "territoire_industrie_commune",
    metadata,
    Column(
        "territoire_industrie_id",
        String(20),
        ForeignKey("territoire_industrie.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("insee", String(5), ForeignKey("commune.insee"), primary_key=True),
    Column("via", String(8), nullable=False),  # epci, commune, outline
)
Index("territoire_industrie_commune_insee_idx", territoire_industrie_commune.c.insee)

parcel = Table(
    "parcel",
    metadata,
    # Partitioned by département (geo.db.partitions): the key includes it.
    Column("id", String(14), primary_key=True),
    Column("departement_code", String(3), primary_key=True),
    # Not a foreign key: the cadastre vintage may name communes that have since
    # merged; the loader reports them instead of rejecting the parcels.
    Column("commune_insee", String(5), nullable=False),
    Column("prefixe", String(3), nullable=False),
    Column("section", String(2), nullable=False),
    Column("numero", String(4), nullable=False),
    Column("contenance", Integer),
    Column("area_m2", Float, nullable=False),
    Column("created", Date),
    Column("updated", Date),
    Column(
        "geom",
        Geometry("MULTIPOLYGON", srid=LAMBERT93, spatial_index=False),
        nullable=False,
    ),
    CheckConstraint(
        # Cheap enough for bulk COPY (a regex here costs more than the row itself);
        # the loaders check the format of each part.
        "id = commune_insee || prefixe || section || numero AND char_length(id) = 14",
        name="parcel_id_parts",
    ),
    postgresql_partition_by="LIST (departement_code)",
)
Index("parcel_commune_insee_idx", parcel.c.commune_insee)

# The exact number of parcels of each partition, written by the cadastre loader in the
# transaction that changed them (geo.db.partitions.recount): an unfiltered count of 90
# million parcels is then a sum of about 100 rows (geo.db.count).
parcel_count = Table(
    "parcel_count",
    metadata,
    Column("departement_code", String(3), primary_key=True),
    Column("parcels", BigInteger, nullable=False),
)

# Pairs of parcels that share a stretch of boundary (or overlap), each pair once (a < b),
# for the candidate-site search (geo.scoring.adjacency): computed by the score refresh for
# the communes not yet current, forgotten by the cadastre loader for the communes it
# writes. A commune listed in parcel_adjacency_commune has all the pairs of its parcels.
parcel_adjacency = Table(
    "parcel_adjacency",
    metadata,
    Column("departement_code", String(3), primary_key=True),
    Column("a", String(14), primary_key=True),
    Column("b", String(14), primary_key=True),
    Column("commune_a", String(5), nullable=False),
    Column("commune_b", String(5), nullable=False),
    CheckConstraint("a < b", name="parcel_adjacency_ordered"),
)
Index(
    "parcel_adjacency_commune_a_idx",
    parcel_adjacency.c.departement_code,
    parcel_adjacency.c.commune_a,
)
Index(
    "parcel_adjacency_commune_b_idx",
    parcel_adjacency.c.departement_code,
    parcel_adjacency.c.commune_b,
)
parcel_adjacency_commune = Table(
    "parcel_adjacency_commune",
    metadata,
    Column("departement_code", String(3), primary_key=True),
    Column("commune_insee", String(5), primary_key=True),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# A generation number per commune, bumped in the transaction of every write that changes
# what its tiles show, and the extent of what they show (only ever grown): a cached tile
# is keyed by the generations of the communes whose extent meets it (geo.db.tile_generation).
tile_generation = Table(
    "tile_generation",
    metadata,
    Column("commune_insee", String(5), primary_key=True),
    Column("generation", BigInteger, nullable=False),
    Column("extent", Geometry("GEOMETRY", srid=LAMBERT93, spatial_index=False), nullable=False),
)
Index("tile_generation_extent_idx", tile_generation.c.extent, postgresql_using="gist")

# -- land layers --------------------------------------------------------------


def _point() -> Column:
    return Column(
        "geom_point", Geometry("POINT", srid=LAMBERT93, spatial_index=False), nullable=True
    )


# Brownfields, CNIG Standard Friches fields in typed columns. Several sources may
# describe the same site_id (attributes in one file, outline in another).
friche = Table(
    "friche",
    metadata,
    Column("site_id", String(64), primary_key=True),
    Column("name", Text),
    Column("site_type", Text),
    Column("site_statut", Text),
    Column("sol_pollution_existe", Text),
    Column("proprio_type", Text),
    Column("proprio_personne", Text),
    Column("activite_libelle", Text),
    # commune as written by the source (normalised to 5 characters) and the current commune
    Column("commune_insee_source", String(5)),
    Column("commune_insee", String(5)),
    Column("departement_code", String(3)),
    Column("unite_fonciere_surface_m2", Float),
    Column("bati_surface_m2", Float),
    Column("urba_zone_type", Text),
    Column("urba_zone_lib", Text),
    Column("source_nom", Text),
    Column("source_producteur", Text),
    Column("identified_on", Date),
    Column("updated_on", Date),
    Column("area_m2", Float),
    _point(),
    _multipolygon(),
)
Index("friche_commune_insee_idx", friche.c.commune_insee)
# which départements a layer covers (geo.scoring.refresh), one probe each
Index("friche_departement_idx", friche.c.departement_code)


def _parcel_link(name: str, key: str, length: int, target: str) -> Table:
    """Which cadastre parcels a site covers, as its source lists them. ``parcel_id`` is not
    a foreign key: parcels of other communes may not be loaded."""
    return Table(
        name,
        metadata,
        Column(key, String(length), ForeignKey(target, ondelete="CASCADE"), primary_key=True),
        Column("parcel_id", String(14), primary_key=True),
    )


friche_parcel = _parcel_link("friche_parcel", "site_id", 64, "friche.site_id")
Index("friche_parcel_parcel_id_idx", friche_parcel.c.parcel_id)

# Polluted sites (BASOL: known pollution calling for action).
polluted_site = Table(
    "polluted_site",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("source", String(16), nullable=False),
    Column("name", Text),
    Column("commune_insee_source", String(5)),
    Column("commune_insee", String(5)),
    Column("departement_code", String(3)),
    Column("address", Text),
    Column("pollutants_soil", Text),
    Column("pollutants_groundwater", Text),
    _point(),
)
Index("polluted_site_commune_insee_idx", polluted_site.c.commune_insee)

polluted_site_parcel = _parcel_link("polluted_site_parcel", "site_id", 32, "polluted_site.id")
Index("polluted_site_parcel_parcel_id_idx", polluted_site_parcel.c.parcel_id)

# PLU zones (Géoportail de l'Urbanisme zone_urba), with Foncier's zoning class.
plu_zone = Table(
    "plu_zone",
    metadata,
    Column("gpu_id", String(32), primary_key=True),
    Column("idurba", Text),
    Column("partition", Text),
    Column("libelle", Text, nullable=False),
    Column("libelong", Text),
    Column("typezone", Text, nullable=False),
    Column("destdomi", Text),
    Column("datvalid", Date),
    # activity / housing / mixed / agricultural / natural / other (geo.land.zoning)
    Column("zoning_class", String(16), nullable=False),
    Column("commune_insee", String(5)),
    Column("departement_code", String(3)),
    Column("area_m2", Float),
    _multipolygon(nullable=False),
)
Index("plu_zone_commune_insee_idx", plu_zone.c.commune_insee)
Index("plu_zone_departement_idx", plu_zone.c.departement_code, plu_zone.c.zoning_class)
# The ranking's "nearest activity zone" search (geo.scoring.refresh) walks this index only.
Index(
    "plu_zone_activity_geom_idx",
    plu_zone.c.geom,
    postgresql_using="gist",
    postgresql_where=text("zoning_class = 'activity'"),
)

# DOC_URBA of a CNIG delivery: the planning document the zones and prescriptions belong to.
plu_document = Table(
    "plu_document",
    metadata,
    Column("idurba", Text, primary_key=True),
    Column("typedoc", Text),
    Column("etat", Text),
    Column("nomproc", Text),
    Column("datappro", Date),
    Column("datefin", Date),
    Column("cnig_version", Text),
    Column("source", Text, nullable=False),
)

# PRESCRIPTION_SURF/LIN/PCT of the CNIG PLU standard: what the plan imposes on top of the
# zone (espaces boisés classés, emplacements réservés…); ``effect`` from
# geo.land.prescriptions (exclude / penalise / inform).
plu_prescription = Table(
    "plu_prescription",
    metadata,
    Column("id", Text, primary_key=True),  # idurba/kind/n
    Column("idurba", Text),
    Column("kind", String(4), nullable=False),  # surf, lin, pct
    Column("typepsc", String(2), nullable=False),
    Column("stypepsc", String(2)),
    Column("libelle", Text),
    Column("txt", Text),
    Column("effect", String(8), nullable=False),
    Column("commune_insee", String(5)),
    Column("departement_code", String(3)),
    Column("geom", Geometry("GEOMETRY", srid=LAMBERT93, spatial_index=False), nullable=False),
)

# Regulatory risk zones in vector form: CNIG PPR standard (ZONE_REG, ZONE_ALEA,
# PERIMETRE) and PPRT servitudes (SUP PM3); ``regulatory_class`` from geo.land.risks.
risk_zone = Table(
    "risk_zone",
    metadata,
    Column("id", Text, primary_key=True),  # document/layer/n
    Column("document", Text, nullable=False),  # e.g. 38DDT20180003
    Column("plan", String(8), nullable=False),  # pprn, pprm, pprt
    Column("layer", String(16), nullable=False),  # zone_reg, zone_alea, perimetre, assiette…
    Column("code", Text),
    Column("label", Text),
    Column("hazard_family", String(16)),  # flood, technological, ground, other
    Column("hazard_level", Text),
    Column("regulatory_class", String(12)),  # interdiction, prescription, none (ZONE_REG)
    Column("departement_code", String(3)),
    Column("approved_on", Date),
    _multipolygon(nullable=False),
)


# -- economic zones (CNIG Sites économiques) -------------------------------------

# SITE-ECO: ZAE and other economic sites; commercial zones and labelled "sites clés
# en main" loaded from simpler files land here too, told apart by ``kind``.
economic_site = Table(
    "economic_site",
    metadata,
    Column("site_id", String(64), primary_key=True),
    Column("kind", String(24), nullable=False),  # zae, commercial_zone, site_cle_en_main
    Column("pole_id", String(64)),
    Column("name", Text),
    Column("site_type", Text),
    Column("vocadomi", Text),
    Column("etat", Text),
    Column("surf_brute_ha", Float),
    Column("surf_utile_ha", Float),
    Column("epci_siren", String(9)),
    Column("commune_insee_source", String(5)),
    Column("commune_insee", String(5)),
    Column("departement_code", String(3)),
    # vacancy as declared by the source; Foncier computes its own (geo.land.zae)
    Column("declared_vacancy_rate", Float),
    Column("label_cle_en_main", Boolean),
    Column("voca_industrielle", Boolean),
    Column("voca_commerciale", Boolean),
    Column("reseau_fret_ferroviaire", Boolean),
    Column("autoroute_echang_dist_km", Float),
    Column("gare_fret_dist_km", Float),
    Column("identified_on", Date),
    Column("updated_on", Date),
    Column("area_m2", Float),
    _multipolygon(),
)
Index("economic_site_commune_insee_idx", economic_site.c.commune_insee)
Index("economic_site_departement_idx", economic_site.c.departement_code)

# TERRAIN-ECO: the land units of a site, with their current state.
economic_land_unit = Table(
    "economic_land_unit",
    metadata,
    Column("terr_id", String(64), primary_key=True),
    # Not a foreign key: TERRAIN-ECO and SITE-ECO files may come in any order.
    Column("site_id", String(64), nullable=False),
    Column("surf_brute_ha", Float),
    Column("utile", Boolean),
    Column("maitrise_fonc", Text),
    Column("stade_amngt", Text),
    Column("stade_comm", Text),
    Column("etat_occup", Text),
    Column("usage", Text),
    Column("cle_en_main", Boolean),
    Column("identified_on", Date),
    Column("updated_on", Date),
    Column("departement_code", String(3)),
    Column("area_m2", Float),
    _multipolygon(),
)
Index("economic_land_unit_site_id_idx", economic_land_unit.c.site_id)

# Each import's occupation state of each unit at its update date: the history that
# art. L318-8-2's "unused for at least two years" needs.
economic_land_unit_state = Table(
    "economic_land_unit_state",
    metadata,
    Column("terr_id", String(64), primary_key=True),
    Column("observed_on", Date, primary_key=True),
    Column("etat_occup", Text, nullable=False),
)

economic_land_unit_parcel = _parcel_link(
    "economic_land_unit_parcel", "terr_id", 64, "economic_land_unit.terr_id"
)


# -- consumption of NAF land (Cerema) -----------------------------------------------

naf_consumption_vintage = Table(
    "naf_consumption_vintage",
    metadata,
    Column("vintage", Integer, primary_key=True),
    Column("first_year", Integer, nullable=False),
    Column("last_year", Integer, nullable=False),
    # The last year of a vintage is provisional (revised by the next one).
    Column("provisional_year", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row per commune and year: the flow from 1 January of ``year`` to 1 January of
# ``year + 1``, in m², by destination.
naf_consumption = Table(
    "naf_consumption",
    metadata,
    Column(
        "vintage",
        Integer,
        ForeignKey("naf_consumption_vintage.vintage", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("commune_insee_source", String(5), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("commune_insee", String(5)),
    Column("departement_code", String(3), nullable=False),
    Column("total_m2", Float, nullable=False),
    Column("activity_m2", Float),
    Column("housing_m2", Float),
    Column("mixed_m2", Float),
    Column("road_m2", Float),
    Column("rail_m2", Float),
    Column("unknown_m2", Float),
)
Index("naf_consumption_commune_idx", naf_consumption.c.commune_insee, naf_consumption.c.year)


# -- per-parcel raster statistics ----------------------------------------------------

parcel_terrain = Table(
    "parcel_terrain",
    metadata,
    Column("parcel_id", String(14), primary_key=True),
    Column("departement_code", String(3), primary_key=True),  # the shard key (docs/scale.md)
    Column("source", Text, nullable=False),
    Column("elevation_min_m", Float),
    Column("elevation_mean_m", Float),
    Column("elevation_max_m", Float),
    Column("slope_mean_pct", Float),
    Column("cells", Integer, nullable=False),
)

parcel_hazard = Table(
    "parcel_hazard",
    metadata,
    Column("parcel_id", String(14), primary_key=True),
    Column("hazard", String(32), primary_key=True),  # e.g. flood
    Column("hazard_class", Integer, primary_key=True),
    Column("departement_code", String(3), primary_key=True),  # the shard key (docs/scale.md)
    Column("share", Float, nullable=False),  # of the parcel's cells, 0..1
    Column("source", Text, nullable=False),
)


# -- industrial projects and envelopes (geo.ledger.write) -------------------------------

# Land already artificialised (e.g. from IGN's OCS GE): a project's part on it, as on a
# friche, consumes no NAF land.
artificialised_land = Table(
    "artificialised_land",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("source", Text, nullable=False),
    _multipolygon(nullable=False),
)

# A project is recorded once and never changed (a trigger refuses updates); what
# happens to it afterwards is the append-only ledger below.
project = Table(
    "project",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("kind", String(16), nullable=False),  # industrial, commercial, logistics, other
    Column("ruleset_id", String(64), nullable=False),  # the envelope it draws on
    Column("epci_siren", String(9), ForeignKey("epci.siren"), nullable=False),
    # the main commune (largest overlap) and every commune the project touches
    Column("commune_insee", String(5)),
    Column("communes", JSONB, nullable=False),
    Column("departement_code", String(3)),
    Column("region_code", String(3)),
    # hectares as exact decimals, four places (migration 0009, geo.ledger.naf.hectares)
    Column("area_ha", Numeric(14, 4), nullable=False),
    Column("naf_ha", Numeric(14, 4), nullable=False),
    Column("naf_computation", JSONB, nullable=False),
    Column("parcel_ids", JSONB),
    # the PENE of annex I this project is, if it is one: a PENE never draws on both the
    # PENE forfait and the industrial envelope
    Column("pene_id", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("created_by", Text, nullable=False),
    _multipolygon(nullable=False),
)
Index("project_epci_siren_idx", project.c.epci_siren)

envelope_account = Table(
    "envelope_account",
    metadata,
    # One row per envelope rule set: the row writers lock, so that two requests racing
    # for the last hectares are served one after the other.
    Column("ruleset_id", String(64), primary_key=True),
)

envelope_entry = Table(
    "envelope_entry",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ruleset_id", String(64), ForeignKey("envelope_account.ruleset_id"), nullable=False),
    Column("project_id", Integer, ForeignKey("project.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # status, correction
    Column("status", String(24)),  # the project's status after a status entry
    Column("reserved_delta_ha", Numeric(14, 4), nullable=False),
    Column("consumed_delta_ha", Numeric(14, 4), nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("recorded_by", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("overdraft", Boolean, nullable=False, server_default="false"),
    Column("corrects_entry_id", Integer, ForeignKey("envelope_entry.id")),
)
Index("envelope_entry_project_idx", envelope_entry.c.project_id)


# -- scores (geo.scoring) ------------------------------------------------------------

# Every criterion's value for every parcel, computed in bulk by geo.scoring.refresh;
# NULL means "no data" (the criterion is then skipped, never guessed).
parcel_features = Table(
    "parcel_features",
    metadata,
    Column("parcel_id", String(14), primary_key=True),
    Column("departement_code", String(3), primary_key=True),  # the shard key (docs/scale.md)
    Column("commune_insee", String(5), nullable=False),
    Column("area_ha", Float, nullable=False),
    Column("compactness", Float),
    Column("zoning_class", String(16)),
    Column("on_friche", Boolean),
    Column("friche_site_id", String(64)),
    Column("in_economic_zone", Boolean),
    Column("activity_zone_distance_m", Float),
    Column("pollution", String(16)),
    Column("slope_mean_pct", Float),
    Column("flood_high_share", Float),
    Column("envelope_impact_ha", Float, nullable=False),
    # NULL where the parcel's pollution is unknown: the cost is then unknown, never 0 €
    Column("remediation_cost_eur", Float),
    Column("motorway_distance_m", Float),
    Column("rail_siding", Boolean),
    # regulatory risk plans (PPR, PPRT) and PLU prescriptions (geo.land.risks, prescriptions)
    Column("risk_interdiction_share", Float),
    Column("risk_prescription_share", Float),
    Column("risk_regulation", String(12)),
    Column("risk_zones", JSONB),
    Column("prescription_exclude_share", Float),
    Column("prescription_penalise_share", Float),
    Column("prescription_effect", String(8)),
    Column("prescriptions", JSONB),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # what stands on the parcel (geo.land.buildings); NULL where no building layer covers
    # the commune
    Column("built_m2", Float),
    Column("built_share", Float),
    Column("building_count", Integer),
    Column("light_only", Boolean),
    Column("building_use", String(16)),
    # who owns it (geo.land.owners); NULL where no owner file covers the commune
    Column("owner_group", String(24)),
    Column("owner_siren", String(9)),
    Column("owner_name", Text),
)
Index("parcel_features_commune_idx", parcel_features.c.commune_insee)

parcel_score = Table(
    "parcel_score",
    metadata,
    Column("parcel_id", String(14), nullable=False),
    Column("profile", String(32), nullable=False),
    Column("departement_code", String(3), nullable=False),  # the shard key (docs/scale.md)
    Column("commune_insee", String(5), nullable=False),
    # the commune's EPCI at refresh time, so that an EPCI's best parcels are one index scan
    Column("epci_siren", String(9)),
    Column("model_version", String(32), nullable=False),
    Column("score", Float),
    Column("reliability", Float, nullable=False),
    Column("excluded", Boolean, nullable=False),
    Column("area_ha", Float, nullable=False),
    # Tiles and OGC items read the score and the exclusion from the key alone (migration 0017)
    PrimaryKeyConstraint(
        "parcel_id", "profile", "departement_code", postgresql_include=["score", "excluded"]
    ),
)
# Searches read the best scores of a profile in a commune, an EPCI or a département; their
# count reads the exclusion and the area from the index alone (migration 0017).
for _name, _column in (
    ("commune", parcel_score.c.commune_insee),
    ("epci", parcel_score.c.epci_siren),
    ("departement", parcel_score.c.departement_code),
):
    Index(
        f"parcel_score_{_name}_idx",
        parcel_score.c.profile,
        _column,
        parcel_score.c.score.desc().nulls_last(),
        postgresql_include=["excluded", "area_ha"],
    )


import_run = Table(
    "import_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("summary", JSONB, nullable=False),
    # lineage (geo.scoring.lineage): the départements and the communes where the file put
    # data (its coverage; NULL: not recorded, then it covers nothing) and the data's vintage
    # as the loader read it
    Column("departements", ARRAY(Text)),
    Column("vintage", Text),
    Column("communes", ARRAY(Text)),
    # made-up demonstration data (the file's name says SYNTHETIQUE): every figure computed
    # from it says so
    Column("synthetic", Boolean, nullable=False, server_default="false"),
)

for _table in (
    region,
    departement,
    commune,
    parcel,
    friche,
    plu_zone,
    economic_site,
    economic_land_unit,
    artificialised_land,
    project,
    territoire_industrie,
    plu_prescription,
    risk_zone,
):
    Index(f"{_table.name}_geom_idx", _table.c.geom, postgresql_using="gist")

# -- what stands on the land: buildings and owners (geo.land) -------------------------

# Building footprints: Etalab cadastre ``batiments`` or IGN BD TOPO ``BATIMENT``.
building = Table(
    "building",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),  # cadastre, bdtopo
    Column("source_id", String(64)),  # BD TOPO ID (the Etalab layer has none)
    Column("commune_insee", String(5), nullable=False),
    Column("departement_code", String(3), primary_key=True),  # the shard key (docs/scale.md)
    Column("hard", Boolean),  # Etalab type 01 (hard) / 02 (light); BD TOPO LEGER
    Column("nature", Text),
    Column("usage", String(16)),  # geo.land.buildings.USAGES (BD TOPO only)
    Column("updated_on", Date),
    Column("area_m2", Float, nullable=False),
    _multipolygon(nullable=False),
    # its point on surface: the parcel under it is the building's parcel (geo.land.buildings)
    Column("geom_point", Geometry("POINT", srid=LAMBERT93, spatial_index=False), nullable=False),
)
Index("building_commune_idx", building.c.commune_insee, building.c.source)
Index("building_geom_idx", building.c.geom, postgresql_using="gist")
Index("building_geom_point_idx", building.c.geom_point, postgresql_using="gist")

# Per-parcel statistics of the buildings standing on it (geo.land.buildings), computed when
# buildings or parcels of a commune are imported, as the raster statistics are: the score
# refresh joins them instead of searching buildings again.
parcel_building = Table(
    "parcel_building",
    metadata,
    Column("parcel_id", String(14), primary_key=True),
    Column("departement_code", String(3), primary_key=True),
    Column("commune_insee", String(5), nullable=False),
    Column("building_count", Integer, nullable=False),
    Column("built_m2", Float, nullable=False),
    Column("light_only", Boolean, nullable=False),
    Column("building_use", String(16)),  # of the largest building with a use (BD TOPO)
)
Index("parcel_building_commune_idx", parcel_building.c.commune_insee)

# One row per parcel held by a legal entity (DGFiP "parcelles des personnes morales").
parcel_owner = Table(
    "parcel_owner",
    metadata,
    Column("parcel_id", String(14), primary_key=True),
    Column("departement_code", String(3), primary_key=True),  # the shard key (docs/scale.md)
    Column("commune_insee", String(5), nullable=False),
    Column("owner_group", String(24), nullable=False),  # geo.land.owners.GROUPS
    Column("siren", String(9)),
    Column("name", Text),
    Column("legal_form", String(4)),
    Column("legal_form_short", String(8)),
    Column("right_code", String(1)),
    Column("owner_rows", Integer, nullable=False),
)
Index("parcel_owner_commune_idx", parcel_owner.c.commune_insee)

for _table in (friche, polluted_site):
    Index(f"{_table.name}_geom_point_idx", _table.c.geom_point, postgresql_using="gist")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic filter: compare only our tables (not PostGIS' spatial_ref_sys, topology…)."""
    from geoalchemy2 import alembic_helpers

    if type_ == "table" and name not in metadata.tables:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


# -- access control (geo.access, app.security.tokens, app.security.audit) ---------

api_token = Table(
    "api_token",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    # the secret itself is never stored (app.security.tokens)
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("territory_level", String(16)),
    Column("territory_code", String(9)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("created_by", Text, nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    CheckConstraint(
        "role IN ('epci_editor', 'prefecture', 'admin')"
        " AND (role = 'admin') = (territory_level IS NULL)",
        name="api_token_role_territory",
    ),
)

# Append-only, like the ledger (a trigger refuses updates and deletes), and a hash chain: an
# insert trigger gives each row its place ``seq``, the previous row's hash and its own
# (migration 0020; the canonical form in app.security.audit_chain).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("territory", Text),
    Column("token_id", Integer, ForeignKey("api_token.id")),
    Column("action", String(32), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", Text),
    Column("before", JSONB),
    Column("after", JSONB),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("audit_log_object_idx", audit_log.c.object_type, audit_log.c.object_id)


# -- ZAN rules as data (geo.zan_data) ------------------------------------------------

# Territorialised targets: SRADDET → SCoT → PLU(i)/EPCI → commune. ``reduction`` is a
# fraction of the 2011-2020 reference (0.5447 for −54.47 %).
zan_target = Table(
    "zan_target",
    metadata,
    Column("land_level", String(16), primary_key=True),
    Column("land_code", String(64), primary_key=True),
    Column("parent_level", String(16)),
    Column("parent_code", String(64)),
    Column("reduction", Float, nullable=False),
    Column("document", Text),
    # written in an adopted planning document (regulatory), or only proposed
    Column("regulatory", Boolean, nullable=False),
    Column("document_url", Text),
    Column("comment", Text),
    Column("source", Text, nullable=False),
    CheckConstraint("reduction >= 0 AND reduction <= 1", name="zan_target_reduction_range"),
)

# The communes of a target's territory when the territory is not an EPCI, a commune or a
# région (SCoT, custom perimeters).
zan_target_member = Table(
    "zan_target_member",
    metadata,
    Column("land_level", String(16), primary_key=True),
    Column("land_code", String(64), primary_key=True),
    Column("commune_insee", String(5), primary_key=True),
    # the perimeter's name as its file gives it (a SCoT's), on each of its rows
    Column("land_name", Text),
)

# The planning documents of a commune and their procedure's dates (garantie communale, loi
# 2023-630 art. 4: a PLU, document en tenant lieu or carte communale "prescrit, arrêté ou
# approuvé" before 22 August 2026). One row per commune and document: an RNU commune whose
# PLU is prescribed has two (RNU, and the PLU with its prescription date).
commune_planning_document = Table(
    "commune_planning_document",
    metadata,
    Column("commune_insee", String(5), primary_key=True),
    Column("document", String(8), primary_key=True),
    Column("prescribed_on", Date),
    Column("arrete_on", Date),
    Column("approved_on", Date),
    Column("source", Text, nullable=False),
    CheckConstraint(
        "document IN ('PLU', 'PLUi', 'CC', 'DTL', 'RNU')", name="planning_document_kind"
    ),
)

# Annex I of the arrêté of 31 May 2024: one row per project and commune it lies in.
pene_project = Table(
    "pene_project",
    metadata,
    Column("pene_id", String(32), primary_key=True),
    Column("commune_insee", String(5), primary_key=True),
    Column("name", Text, nullable=False),
    Column("hectares", Float, nullable=False),
    Column("source", Text, nullable=False),
    # the ledger project that declares it on the PENE envelope
    Column("project_id", Integer, ForeignKey("project.id")),
    CheckConstraint("hectares >= 0", name="pene_project_hectares"),
)

# What a PENE actually consumed, by commune and year (Cerema's PENE outlines crossed with
# the land-tax files): the consumption counted nationally and deducted where it happened
# (loi 2023-630 art. 3). The list's hectares (pene_project) are a forecast, not this.
pene_consumption = Table(
    "pene_consumption",
    metadata,
    Column("pene_id", String(32), primary_key=True),
    Column("commune_insee", String(5), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("hectares", Float, nullable=False),
    Column("source", Text, nullable=False),
    CheckConstraint("hectares >= 0", name="pene_consumption_hectares"),
)

# IGN OCS GE land cover, one delivery per département and millésime (the
# "artificialisation" product: each polygon's couverture and usage codes and its class under
# the décret n° 2023-1096 nomenclature). Net artificialisation between two millésimes is
# measured from these (geo.zan.artificialisation). ``classification`` says where the class
# comes from: the delivery's own ``artif`` field, or Foncier's couverture × usage matrix.
ocsge_delivery = Table(
    "ocsge_delivery",
    metadata,
    Column("departement_code", String(3), primary_key=True),
    Column("millesime", Integer, primary_key=True),
    Column("classification", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("polygons", Integer, nullable=False),
    CheckConstraint(
        "classification IN ('ign-artif', 'cs-us-matrix')", name="ocsge_delivery_classification"
    ),
)

ocsge_polygon = Table(
    "ocsge_polygon",
    metadata,
    Column("departement_code", String(3), primary_key=True),
    Column("millesime", Integer, primary_key=True),
    Column("id", String(64), primary_key=True),  # the delivery's ``id``
    Column("code_cs", String(16), nullable=False),
    Column("code_us", String(16), nullable=False),
    Column("artificial", Boolean, nullable=False),
    Column("crit_seuil", Boolean),  # the delivery's threshold flag, kept as delivered
    _multipolygon(nullable=False),
    ForeignKeyConstraint(
        ["departement_code", "millesime"],
        ["ocsge_delivery.departement_code", "ocsge_delivery.millesime"],
        name="ocsge_polygon_delivery_fkey",
        ondelete="CASCADE",
    ),
)
Index("ocsge_polygon_geom_idx", ocsge_polygon.c.geom, postgresql_using="gist")

# A commune split after the consumption data's geography: the source code's flows are
# shared between the resulting communes (by area unless a share is given).
commune_split = Table(
    "commune_split",
    metadata,
    Column("source_insee", String(5), primary_key=True),
    Column("commune_insee", String(5), primary_key=True),
    Column("share", Float, nullable=False),
    Column("effective_on", Date),
    Column("source", Text, nullable=False),
    CheckConstraint("share > 0 AND share <= 1", name="commune_split_share"),
)


# -- sources kept fresh, saved searches and their alerts (geo.ingest.sync, geo.scoring.watch) --

# One row per part of a catalogued source (geo/ingest/sources.toml) a sync has touched: a
# commune's file (part "commune:91216"), a département's, the national one ("national").
sources = Table(
    "sources",
    metadata,
    Column("source_id", String(64), primary_key=True),
    Column("part", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("sha256", String(64)),
    Column("bytes", BigInteger),
    # the publisher's date of the data in hand (Last-Modified), else when it was fetched
    Column("vintage", DateTime(timezone=True)),
    Column("last_checked_at", DateTime(timezone=True)),
    Column("last_success_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("last_error_at", DateTime(timezone=True)),
    # lineage: the import that put this part's data in the base
    Column("import_run_id", Integer, ForeignKey("import_run.id")),
)

saved_search = Table(
    "saved_search",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("query", JSONB, nullable=False),
    Column("owner", Text, nullable=False),
    Column("webhook_url", Text),
    Column("webhook_secret", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('parcels', 'sites')", name="saved_search_kind"),
)

# What each saved search matched when it last ran (the baseline alerts are computed from).
saved_search_match = Table(
    "saved_search_match",
    metadata,
    Column(
        "saved_search_id",
        Integer,
        ForeignKey("saved_search.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("item_id", Text, primary_key=True),
    Column("commune_insee", String(5), nullable=False),
    Column("detail", JSONB, nullable=False),
)

alert = Table(
    "alert",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "saved_search_id",
        Integer,
        ForeignKey("saved_search.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("change", String(12), nullable=False),
    Column("item_id", Text, nullable=False),
    Column("commune_insee", String(5), nullable=False),
    Column("detail", JSONB, nullable=False),
    Column("cause", Text, nullable=False),
    Column("webhook_state", String(16)),
    CheckConstraint("change IN ('appeared', 'disappeared')", name="alert_change"),
)
Index("alert_search_idx", alert.c.saved_search_id, alert.c.id)
