"""Economic zones: the ZAE inventories of art. L318-8-2 code de l'urbanisme.

- SITE-ECO and TERRAIN-ECO CSV files of the CNIG Sites économiques standard
  (``;``-separated, geometries as GeoJSON text in cells);
- a simple path for commercial zones and labelled "sites clés en main": GeoJSON
  features, or CSV with a WKT or GeoJSON geometry column, with an ``id``, a ``nom``
  and a commune code.

Every TERRAIN-ECO import also records each unit's occupation state at its update
date, the history from which :mod:`geo.land.zae` computes the legal vacancy rate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import CRS
from sqlalchemy import Connection, Engine

from geo.crs import departement_codes
from geo.db.schema import economic_land_unit, economic_land_unit_state, economic_site
from geo.ingest import vector
from geo.ingest.common import record_run, warn_count
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport
from geo.ingest.staging import copy_columns
from geo.ingest.vector import Stage, column, to_bool, to_date, to_number

SITE_COLUMNS = copy_columns(economic_site)
UNIT_COLUMNS = copy_columns(economic_land_unit)
KINDS = ("zae", "commercial_zone", "site_cle_en_main")


def _outlines(
    path: Path,
    batch: pa.RecordBatch,
    name: str,
    ids: pa.Array,
    source_crs: CRS | None,
    report: ImportReport,
    required: bool,
) -> vector.Geometries:
    """The polygons of the GeoJSON cells of column ``name`` (the CNIG Sites économiques
    standard writes geometries so), in Lambert-93; their CRS guessed when not given."""
    geoms = vector.geometries_from_geojson(path, column(batch, name), name, report)
    crs = source_crs or vector.guess_crs(geoms)
    return vector.prepare_geometries(
        path, geoms, ids.to_pylist(), crs, report, kinds=vector.POLYGONAL, required=required
    )


def load_site_eco(engine: Engine, path: Path, *, source_crs: CRS | None = None) -> ImportReport:
    """SITE-ECO CSV: economic sites (ZAE…) with their outline."""
    path = Path(path)
    report = ImportReport(kind="site-eco", source=str(path))
    mismatches = 0
    with engine.begin() as conn:
        stage = Stage(conn, "economic_site", SITE_COLUMNS)
        resolver = vector.CommuneResolver(conn)
        for batch in vector.read_csv(
            path, required=("site_id", "site_comm_insee", "site_geomsurf")
        ):
            report.read += batch.num_rows
            n = batch.num_rows
            ids = column(batch, "site_id")
            outlines = _outlines(path, batch, "site_geomsurf", ids, source_crs, report, True)
            codes = vector.normalise_insee(column(batch, "site_comm_insee"))
            current = resolver.resolve(codes)
            rate = to_number(path, column(batch, "site_taux_vacance"), "site_taux_vacance")
            values = {
                "site_id": ids,
                "kind": pa.array(["zae"] * n, pa.string()),
                "pole_id": column(batch, "pole_id"),
                "name": column(batch, "site_nom"),
                "site_type": column(batch, "site_type"),
                "vocadomi": column(batch, "site_vocadomi"),
                "etat": column(batch, "site_etat"),
                "surf_brute_ha": to_number(
                    path, column(batch, "site_surf_brute"), "site_surf_brute"
                ),
                "surf_utile_ha": to_number(
                    path, column(batch, "site_surf_utile"), "site_surf_utile"
                ),
                "epci_siren": column(batch, "site_epci_siren"),
                "commune_insee_source": codes,
                "commune_insee": current,
                "departement_code": departement_codes(pc.coalesce(current, codes)),
                # The standard gives the rate in percent.
                "declared_vacancy_rate": pc.divide(rate, 100.0),
                "label_cle_en_main": pc.equal(
                    pc.utf8_lower(pc.fill_null(column(batch, "site_quali_territoire"), "")),
                    "site clé en main",
                ),
                "voca_industrielle": to_bool(column(batch, "site_voca_industrielle")),
                "voca_commerciale": to_bool(column(batch, "site_voca_commerciale")),
                "reseau_fret_ferroviaire": to_bool(column(batch, "reseau_fret_ferroviaire")),
                "autoroute_echang_dist_km": to_number(
                    path, column(batch, "autoroute_echang_dist"), "autoroute_echang_dist"
                ),
                "gare_fret_dist_km": to_number(
                    path, column(batch, "gare_fret_dist"), "gare_fret_dist"
                ),
                "identified_on": to_date(
                    path, column(batch, "site_identif_date"), "site_identif_date"
                ),
                "updated_on": to_date(path, column(batch, "site_actu_date"), "site_actu_date"),
                "area_m2": outlines.area_m2,
                "geom": outlines.ewkb,
            }
            mismatches += _surface_mismatches(values["surf_brute_ha"], outlines.area_m2)
            _copy_kept(stage, values, outlines.rejected | _missing(ids, report, "site_id"))
        vector.finish(path, stage, ["site_id"], report, resolver)
        report.warnings += _surface_warning(mismatches)
        record_run(conn, report, path)
    return report


@dataclass
class _Units:
    """A TERRAIN-ECO batch checked: its units' rows, the rows rejected, and what the units
    say besides (their state, their parcel references)."""

    values: dict[str, pa.Array]  # the unit's columns, and its parcel references (refs)
    rejected: np.ndarray
    mismatches: int

    def kept(self, name: str) -> pa.Array:
        return pc.filter(self.values[name], pa.array(~self.rejected))


@dataclass
class _Links:
    """Each kept unit's parcels (unit id, parcel id), and the malformed references."""

    units: list[pa.Array] = field(default_factory=list)
    parcels: list[pa.Array] = field(default_factory=list)
    malformed: int = 0

    def add(self, units: _Units) -> None:
        unit, parcel, bad = vector.parcel_links(units.kept("refs"), units.kept("terr_id"))
        self.units.append(unit)
        self.parcels.append(parcel)
        self.malformed += bad

    def arrays(self) -> tuple[pa.Array, pa.Array]:
        if not self.units:
            return pa.array([], pa.string()), pa.array([], pa.string())
        return pa.concat_arrays(self.units), pa.concat_arrays(self.parcels)


TERRAIN_REQUIRED = ("terr_id", "site_id", "terr_etat_occup", "terr_actu_date")
STATE_COLUMNS = copy_columns(economic_land_unit_state)


def load_terrain_eco(engine: Engine, path: Path, *, source_crs: CRS | None = None) -> ImportReport:
    """TERRAIN-ECO CSV: land units, their state (recorded as an observation) and parcels.

    Each batch read and checked into staging tables, then written, in one transaction."""
    path = Path(path)
    report = ImportReport(kind="terrain-eco", source=str(path))
    links, mismatches = _Links(), 0
    with engine.begin() as conn:
        stage = Stage(conn, "economic_land_unit", UNIT_COLUMNS)
        states = Stage(conn, "economic_land_unit_state", STATE_COLUMNS)
        for batch in vector.read_csv(path, required=TERRAIN_REQUIRED):
            report.read += batch.num_rows
            units = _checked_units(path, batch, source_crs, report)
            mismatches += units.mismatches
            stage.copy({k: units.kept(k) for k in UNIT_COLUMNS})
            states.copy(
                {
                    "terr_id": units.kept("terr_id"),
                    "observed_on": units.kept("updated_on"),
                    "etat_occup": units.kept("etat_occup"),
                }
            )
            links.add(units)
        _write_units(conn, path, stage, states, links, report)
        report.warnings += _surface_warning(mismatches)
        warn_count(
            conn,
            report,
            "SELECT count(DISTINCT u.site_id) FROM economic_land_unit u "
            "LEFT JOIN economic_site s USING (site_id) WHERE s.site_id IS NULL",
            "site_id(s) not loaded yet (import their SITE-ECO)",
        )
        record_run(conn, report, path)
    return report


def _checked_units(
    path: Path, batch: pa.RecordBatch, source_crs: CRS | None, report: ImportReport
) -> _Units:
    """A batch's land units as rows of ``economic_land_unit``: outlines projected, values
    parsed; a unit without id, update date or state, or without a usable outline, is
    rejected (counted in the report by reason)."""
    ids = column(batch, "terr_id")
    outlines = _outlines(path, batch, "terr_geomsurf", ids, source_crs, report, False)
    refs = column(batch, "terr_refcad")
    first_ref = pc.utf8_slice_codeunits(refs, 0, 5)
    updated_on = to_date(path, column(batch, "terr_actu_date"), "terr_actu_date")
    etat = column(batch, "terr_etat_occup")
    values = {
        "terr_id": ids,
        "site_id": column(batch, "site_id"),
        "surf_brute_ha": to_number(path, column(batch, "terr_surf_brute"), "terr_surf_brute"),
        "utile": to_bool(column(batch, "terr_utile")),
        "maitrise_fonc": column(batch, "terr_maitrise_fonc"),
        "stade_amngt": column(batch, "terr_stade_amngt"),
        "stade_comm": column(batch, "terr_stade_comm"),
        "etat_occup": etat,
        "usage": column(batch, "terr_usage"),
        "cle_en_main": to_bool(column(batch, "terr_cle_en_main")),
        "identified_on": to_date(path, column(batch, "terr_identif_date"), "terr_identif_date"),
        "updated_on": updated_on,
        # A unit's département, from its first parcel when it has one.
        "departement_code": departement_codes(vector.normalise_insee(first_ref)),
        "area_m2": outlines.area_m2,
        "geom": outlines.ewkb,
        "refs": refs,
    }
    rejected = outlines.rejected | _missing(ids, report, "terr_id")
    rejected |= _missing(updated_on, report, "terr_actu_date")
    rejected |= _missing(etat, report, "terr_etat_occup")
    mismatches = _surface_mismatches(values["surf_brute_ha"], outlines.area_m2)
    return _Units(values, rejected, mismatches)


def _write_units(
    conn: Connection,
    path: Path,
    stage: Stage,
    states: Stage,
    links: _Links,
    report: ImportReport,
) -> None:
    """The staged units merged (refused whole when one was rejected or an id appears
    twice), their states recorded as observations, their parcel links replaced."""
    vector.finish(path, stage, ["terr_id"], report)
    observed, _ = states.merge(["terr_id", "observed_on"])
    report.tables["new occupation observations"] = observed
    report.tables["economic_land_unit_parcel links"] = vector.replace_links(
        conn, "economic_land_unit_parcel", "terr_id", *links.arrays()
    )
    if links.malformed:
        report.warnings.append(f"{links.malformed} malformed parcel references ignored")


def load_economic_sites(
    engine: Engine, path: Path, *, kind: str, source_crs: CRS | None = None
) -> ImportReport:
    """Commercial zones or labelled sites clés en main from a simple GeoJSON or CSV.

    Columns (properties): ``id``, ``nom``, ``insee`` (commune), optional
    ``taux_vacance`` (percent) and ``surface_ha``; CSV geometry in ``geom`` (WKT) or
    ``geojson`` columns, WGS84 unless ``--crs`` says otherwise.
    """
    if kind not in KINDS:
        raise LoaderError(f"unknown kind of economic site {kind!r} (one of {', '.join(KINDS)})")
    path = Path(path)
    report = ImportReport(kind=kind, source=str(path))
    with engine.begin() as conn:
        stage = Stage(conn, "economic_site", SITE_COLUMNS)
        resolver = vector.CommuneResolver(conn)
        for batch, geoms, crs in _simple_batches(path, source_crs, report):
            report.read += batch.num_rows
            n = batch.num_rows
            ids = column(batch, "id")
            outlines = vector.prepare_geometries(
                path, geoms, ids.to_pylist(), crs, report, kinds=vector.POLYGONAL, required=True
            )
            codes = vector.normalise_insee(column(batch, "insee"))
            current = resolver.resolve(codes)
            rate = to_number(path, column(batch, "taux_vacance"), "taux_vacance")
            empty_text = pa.nulls(n, pa.string())
            empty_number = pa.nulls(n, pa.float64())
            values = {
                "site_id": ids,
                "kind": pa.array([kind] * n, pa.string()),
                "pole_id": empty_text,
                "name": column(batch, "nom"),
                "site_type": empty_text,
                "vocadomi": column(batch, "vocation"),
                "etat": empty_text,
                "surf_brute_ha": to_number(path, column(batch, "surface_ha"), "surface_ha"),
                "surf_utile_ha": empty_number,
                "epci_siren": column(batch, "epci_siren"),
                "commune_insee_source": codes,
                "commune_insee": current,
                "departement_code": departement_codes(pc.coalesce(current, codes)),
                "declared_vacancy_rate": pc.divide(rate, 100.0),
                "label_cle_en_main": pa.array([kind == "site_cle_en_main"] * n, pa.bool_()),
                "voca_industrielle": pa.nulls(n, pa.bool_()),
                "voca_commerciale": pa.array(
                    [True if kind == "commercial_zone" else None] * n, pa.bool_()
                ),
                "reseau_fret_ferroviaire": pa.nulls(n, pa.bool_()),
                "autoroute_echang_dist_km": empty_number,
                "gare_fret_dist_km": empty_number,
                "identified_on": pa.nulls(n, pa.date32()),
                "updated_on": to_date(path, column(batch, "date_maj"), "date_maj"),
                "area_m2": outlines.area_m2,
                "geom": outlines.ewkb,
            }
            _copy_kept(stage, values, outlines.rejected | _missing(ids, report, "id"))
        vector.finish(path, stage, ["site_id"], report, resolver)
        record_run(conn, report, path)
    return report


def _simple_batches(
    path: Path, source_crs: CRS | None, report: ImportReport
) -> Iterator[tuple[pa.RecordBatch, np.ndarray, CRS]]:
    if path.suffix.lower() == ".csv":
        for batch in vector.read_csv(path, required=("id",)):
            if "geom" in batch.schema.names:
                geoms = vector.geometries_from_wkt(path, column(batch, "geom"), "geom")
            elif "geojson" in batch.schema.names:
                geoms = vector.geometries_from_geojson(
                    path, column(batch, "geojson"), "geojson", report
                )
            else:
                raise LoaderError(f"{path}: no geometry column (geom as WKT, or geojson)")
            yield batch, geoms, source_crs or CRS.from_epsg(4326)
        return
    for batch, crs in vector.read_geojson(path, required=("id",), source_crs=source_crs):
        yield batch, vector.geometries_from_wkb(batch), crs


def _surface_mismatches(declared_ha: pa.Array, area_m2: pa.Array) -> int:
    """How many outlines have an area off the declared surface by more than half of it."""
    declared = pc.fill_null(declared_ha, 0).to_numpy(zero_copy_only=False) * 10_000
    area = pc.fill_null(area_m2, np.nan).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        off = (declared > 0) & (np.abs(area - declared) / declared > 0.5)
    return int(off.sum())


def _surface_warning(mismatches: int) -> list[str]:
    if not mismatches:
        return []
    return [
        f"{mismatches} outline(s) whose area differs from the declared surface by more than "
        "half (a data-quality flag)"
    ]


def _missing(values: pa.Array, report: ImportReport, name: str) -> np.ndarray:
    missing = pc.is_null(values).to_numpy(zero_copy_only=False)
    if missing.any():
        report.rejected[f"missing {name}"] += int(missing.sum())
    return missing


def _copy_kept(stage: Stage, values: dict[str, pa.Array], rejected: np.ndarray) -> None:
    keep = pa.array(~rejected)
    stage.copy({k: pc.filter(v, keep) for k, v in values.items()})
