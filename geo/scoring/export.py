"""Ranked parcels as the table an export writes, every column computed by PostgreSQL.

A parcel search exported as CSV, GeoJSON or GeoPackage keeps a dozen figures of each parcel's
explained score: these are computed in the export's query from the same definitions
that score every parcel (``Criterion.sql``, ``score_sql``, ``EXCLUSIONS_SQL``), rounded to
the decimals ``explain`` rounds them to (PostgreSQL's numeric rounding: on an exact decimal
tie its last digit may differ from Python's round()), instead of each parcel being
explained in Python (most of an export's time at 100,000 parcels). PostgreSQL then writes
the CSV itself (COPY), each GeoJSON feature as text (``json_build_object`` and
``ST_AsGeoJSON``), and the GeoPackage's geometries come as WKB, straight from PostGIS
(bench/README.md, "Exports").
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from geo.crs import LAMBERT93
from geo.db.geojson import OutputCrs, output_geojson_sql
from geo.db.stream import copy_out, row_batches
from geo.land.buildings import land_use_sql
from geo.scoring.model import (
    CRITERIA,
    EXCLUDED_SQL,
    EXCLUSIONS_SQL,
    MODEL_VERSION,
    Profile,
    column_of,
    score_sql,
)
from geo.scoring.search import Filters, search_rows_sql

# The columns of a parcel export after its id: (name, kind, description). Their meaning is
# the JSON search's (geo.scoring.model.explain), whose pages carry the whole explanation
# (each criterion's value, label and source).
PARCEL_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("commune", "str", "INSEE code of the commune"),
    ("commune_name", "str", "name of the commune"),
    ("area_ha", "float", "area in hectares (Lambert-93)"),
    ("zoning", "str", "PLU zoning class (activity, urban, to_urbanise…)"),
    ("on_friche", "bool", "on a friche (Cartofriches)"),
    (
        "land_use",
        "str",
        "vacant, underused or built, under the profile's threshold (empty where no building "
        "layer covers the commune)",
    ),
    (
        "owner_group",
        "str",
        "owner group (DGFiP file of legal entities' parcels; private_or_unknown when not in "
        "it, empty where no owner file covers the commune)",
    ),
    ("owner_name", "str", "owner's name (legal entities only)"),
    ("score", "float", "score 0-100 under the profile"),
    ("reliability", "float", "share of the weights whose criterion is known"),
    ("excluded", "bool", "excluded by a hard rule"),
    ("exclusions", "str", "ids of the exclusions, ';'-separated"),
    ("envelope_impact_ha", "float", "NAF hectares consumed if built"),
    ("remediation_cost_eur", "float", "remediation estimate, euros"),
    ("profile", "str", "scoring profile"),
    ("model_version", "str", "model version"),
    *((f"points_{c.name}", "float", f"points of {c.name} (-1 to 1)") for c in CRITERIA),
)
# A CSV's last two columns: where its row can be put on a map.
XY_COLUMNS = (
    ("x", "float", "x (easting or longitude) of a point on the parcel's surface, in `crs`"),
    ("y", "float", "y (northing or latitude) of that point"),
)


def _round(sql: str, decimals: int) -> str:
    # explain() rounds with Python's round(); NaN (a figure not computed) is no value
    return f"round(nullif({sql}, 'NaN')::numeric, {decimals})::float8"


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _columns(profile: Profile) -> dict[str, str]:
    """Each column's SQL, over the search's row ``s``, its features ``f`` and the
    profile's points ``pts`` and score (score_sql)."""
    _, score, reliability = score_sql(profile)
    weighted = {c.name: c for c, _ in profile.criteria()}
    exclusions = ", ".join(
        f"CASE WHEN {rule} THEN {_text(name)} END" for name, rule in EXCLUSIONS_SQL.items()
    )
    total = sum(w for _, w in profile.criteria())
    columns = {
        "commune": "s.commune_insee",
        "commune_name": "(SELECT c.name FROM commune c WHERE c.insee = s.commune_insee)",
        "area_ha": _round("f.area_ha", 4),
        "zoning": "f.zoning_class",
        "on_friche": "f.on_friche",
        "land_use": land_use_sql("f", profile.underused_built_share),
        "owner_group": "f.owner_group",
        "owner_name": "f.owner_name",
        "score": _round(score, 2),
        "reliability": _round(reliability, 4) if total else "0::float8",
        "excluded": EXCLUDED_SQL,
        "exclusions": f"concat_ws(';', {exclusions})",
        "envelope_impact_ha": _round("f.envelope_impact_ha", 4),
        "remediation_cost_eur": _round("f.remediation_cost_eur", 4),
        "profile": _text(profile.id),
        "model_version": _text(MODEL_VERSION),
    }
    for criterion in CRITERIA:
        chosen = weighted.get(criterion.name)
        columns[f"points_{criterion.name}"] = (
            f"pts.{column_of(chosen, profile)}" if chosen is not None else "NULL::float8"
        )
    assert list(columns) == [name for name, _, _ in PARCEL_COLUMNS]
    return columns


def _point(axis: str, crs: OutputCrs) -> str:
    point = "ST_PointOnSurface(p.geom)"
    if crs.srid != LAMBERT93:
        point = f"ST_Transform({point}, {int(crs.srid)})"
    return f"round(ST_{axis}({point})::numeric, {int(crs.decimals)})::float8"


def _geometry(crs: OutputCrs) -> str:
    """x then y, multipolygons with the rings of RFC 7946 (outer counter-clockwise)."""
    geom = "p.geom" if crs.srid == LAMBERT93 else f"ST_Transform(p.geom, {int(crs.srid)})"
    return f"ST_Multi(ST_ForcePolygonCCW({geom}))"


# A CSV cell: a text starting so is a formula to Excel and LibreOffice (OWASP, "CSV
# Injection"): a leading quote makes it text; numbers stay numbers (the rule the Python
# writer of the other exports applies, app/presentation/export.py).
_FORMULA_START = "('=', '+', '-', '@', chr(9), chr(13))"


def _csv_cell(sql: str, kind: str, decimal: str) -> str:
    if kind == "str":
        return f"CASE WHEN left({sql}, 1) IN {_FORMULA_START} THEN '''' || {sql} ELSE {sql} END"
    if kind == "bool":
        return f"CASE WHEN {sql} THEN 'true' WHEN NOT {sql} THEN 'false' END"
    if decimal != ".":
        return f"replace(({sql})::text, '.', {_text(decimal)})"
    return sql


@dataclass(frozen=True)
class ParcelTable:
    """Every parcel of a search, ranked, as an export's table (PARCEL_COLUMNS)."""

    conn: Connection
    profile: Profile
    search_sql: str
    order: str
    params: dict[str, Any]
    crs: OutputCrs

    def _sql(self, select: list[str], geometry: bool) -> str:
        lateral, _, _ = score_sql(self.profile)
        parcel = (
            " JOIN parcel p ON p.departement_code = s.departement_code AND p.id = s.parcel_id"
            if geometry
            else ""
        )
        return f"""WITH page AS ({self.search_sql})
            SELECT {", ".join(select)}
            FROM page s JOIN parcel_features f ON f.parcel_id = s.parcel_id{parcel}
            {lateral}
            ORDER BY {self.order}"""

    def csv_sql(self, delimiter: str = ",", decimal: str = ".") -> str:
        """The query of the CSV's cells, as text: id, PARCEL_COLUMNS, x, y."""
        columns = {"id": ("s.parcel_id", "str"), **self._typed(), **self._xy()}
        select = [
            f'{_csv_cell(sql, kind, decimal)} AS "{name}"' for name, (sql, kind) in columns.items()
        ]
        return self._sql(select, True)

    def rows_sql(self, wkb: bool = True) -> str:
        """The query of the rows: id, PARCEL_COLUMNS, geometry (WKB, or a geometry)."""
        geometry = _geometry(self.crs)
        select = [
            's.parcel_id AS "id"',
            *(f'{sql} AS "{name}"' for name, (sql, _) in self._typed().items()),
            f"ST_AsBinary({geometry}) AS geom" if wkb else f"{geometry} AS geom",
        ]
        return self._sql(select, True)

    def csv(self, delimiter: str = ",", decimal: str = ".") -> Generator[bytes, None, None]:
        """The CSV (header, then a line a parcel, x and y last) as PostgreSQL writes it."""
        options = f"FORMAT csv, HEADER true, DELIMITER {_text(delimiter)}"
        return copy_out(self.conn, self.csv_sql(delimiter, decimal), self.params, options)

    def batches(self, size: int) -> Generator[list[tuple[Any, ...]], None, None]:
        """Rows of (id, PARCEL_COLUMNS…, WKB geometry), ``size`` at a time."""
        return row_batches(self.conn, self.rows_sql(), self.params, size)

    def geojson_sql(self) -> str:
        """The query of the GeoJSON features, one a row, each the UTF-8 bytes of a
        Feature: id, PARCEL_COLUMNS as properties, the geometry as PostGIS writes it (in
        the export's CRS, rings by the right-hand rule), pasted as text rather than parsed
        again as json."""
        properties = ", ".join(
            f"{_text(name)}, {sql}"
            for name, (sql, _) in {"id": ("s.parcel_id", "str"), **self._typed()}.items()
        )
        geometry = output_geojson_sql("p.geom", self.crs)
        feature = (
            """'{"type":"Feature","id":' || to_json(s.parcel_id)::text"""
            f""" || ',"geometry":' || coalesce({geometry}, 'null')"""
            f""" || ',"properties":' || json_build_object({properties})::text || '}}'"""
        )
        return self._sql([f"convert_to({feature}, 'UTF8') AS feature"], True)

    def features(self, size: int) -> Generator[list[bytes], None, None]:
        """The GeoJSON features (UTF-8 bytes, geojson_sql), ``size`` at a time."""
        for rows in row_batches(self.conn, self.geojson_sql(), self.params, size):
            yield [row[0] for row in rows]

    def _typed(self) -> dict[str, tuple[str, str]]:
        kinds = {name: kind for name, kind, _ in PARCEL_COLUMNS}
        return {name: (sql, kinds[name]) for name, sql in _columns(self.profile).items()}

    def _xy(self) -> dict[str, tuple[str, str]]:
        return {"x": (_point("X", self.crs), "float"), "y": (_point("Y", self.crs), "float")}


def parcel_table(
    conn: Connection,
    profile: Profile,
    filters: Filters,
    *,
    sort: str = "-score",
    crs: OutputCrs,
) -> ParcelTable:
    """The export's table of a parcel search (geo.scoring.search), in its ranking."""
    search_sql, order, params = search_rows_sql(profile, filters, sort)
    return ParcelTable(conn, profile, search_sql, order, params, crs)
