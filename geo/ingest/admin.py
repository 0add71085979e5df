"""The administrative reference: régions, départements, EPCI, communes and their boundaries.

Sources (see data/admin/ATTRIBUTION.md): the Etalab ``decoupage-administratif``
JSON files (COG: communes.json, epci.json, departements.json) and the
``contours-*.geojson`` boundaries (WGS84). The two come from different vintages:
a boundary whose commune has merged since is attached to its successor (the
union of the old parts) and reported; a boundary of an unknown code is reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo.crs import LAMBERT93, WGS84
from geo.db.outlines import refresh_outlines
from geo.db.sql import compose, ident, trusted
from geo.ingest.common import record_run
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport

COMMUNE_KINDS = ("commune-actuelle", "arrondissement-municipal")


def load_admin(engine: Engine, directory: Path) -> ImportReport:
    """Load (or refresh) the administrative reference from ``directory``, in one transaction."""
    directory = Path(directory)
    departements = _read_json(directory / "departements.json", list)
    communes = _read_json(directory / "communes.json", list)
    epcis = _read_json(directory / "epci.json", list)
    region_names = {
        f["properties"]["code"]: f["properties"]["nom"]
        for f in _features(directory / "contours-regions.geojson", required=False)
    }
    report = ImportReport(kind="admin", source=str(directory))
    report.read = len(departements) + len(communes) + len(epcis)

    with engine.begin() as conn:
        _load_regions(conn, departements, region_names, report)
        _load_departements(conn, departements, report)
        _load_epci(conn, epcis, report)
        _load_communes(conn, communes, epcis, report)
        _load_boundaries(conn, directory, report)
        refresh_outlines(conn)
        record_run(conn, report, directory / "communes.json")
    return report


# -- reading ------------------------------------------------------------------


def _read_json(path: Path, expected: type) -> Any:
    if not path.is_file():
        raise LoaderError(f"{path}: no such file")
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LoaderError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, expected):
        raise LoaderError(f"{path}: expected a JSON {expected.__name__}")
    return data


def _features(path: Path, required: bool = True) -> list[dict[str, Any]]:
    if not path.is_file() and not required:
        return []
    data = _read_json(path, dict)
    if data.get("type") != "FeatureCollection":
        raise LoaderError(f"{path}: not a GeoJSON FeatureCollection")
    for i, feature in enumerate(data["features"]):
        if not feature.get("geometry") or "code" not in (feature.get("properties") or {}):
            raise LoaderError(f"{path}: feature #{i + 1} has no geometry or no 'code' property")
    return data["features"]


def _require(row: dict[str, Any], keys: tuple[str, ...], source: str) -> None:
    missing = [k for k in keys if not row.get(k)]
    if missing:
        raise LoaderError(f"{source}: entry {row.get('code', row)!r} lacks {', '.join(missing)}")


# -- writing ------------------------------------------------------------------


def _upsert(conn: Connection, sql: str, rows: list[dict[str, Any]]) -> int:
    if rows:
        conn.execute(text(sql), rows)
    return len(rows)


def _load_regions(conn, departements, region_names, report) -> None:
    rows: dict[str, str] = {}
    for dep in departements:
        _require(dep, ("code", "nom", "region"), "departements.json")
        # Overseas régions are single-département: they share its name.
        rows.setdefault(dep["region"], region_names.get(dep["region"], dep["nom"]))
    report.tables["region"] = _upsert(
        conn,
        """INSERT INTO region (code, name) VALUES (:code, :name)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name""",
        [{"code": c, "name": n} for c, n in sorted(rows.items())],
    )


def _load_departements(conn, departements, report) -> None:
    report.tables["departement"] = _upsert(
        conn,
        """INSERT INTO departement (code, name, region_code) VALUES (:code, :nom, :region)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,
                                            region_code = EXCLUDED.region_code""",
        [{k: d[k] for k in ("code", "nom", "region")} for d in departements],
    )


def _load_epci(conn, epcis, report) -> None:
    rows = []
    for e in epcis:
        _require(e, ("code", "nom", "type"), "epci.json")
        rows.append(
            {
                "siren": e["code"],
                "name": e["nom"],
                "type": e["type"],
                "population": e.get("populationTotale"),
            }
        )
    report.tables["epci"] = _upsert(
        conn,
        """INSERT INTO epci (siren, name, type, population)
           VALUES (:siren, :name, :type, :population)
           ON CONFLICT (siren) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type,
                                             population = EXCLUDED.population""",
        rows,
    )


def _load_communes(conn, communes, epcis, report) -> None:
    epci_of = {m["code"]: e["code"] for e in epcis for m in e.get("membres", [])}
    rows, former = [], []
    for c in communes:
        if c.get("type") not in COMMUNE_KINDS:
            # Communes déléguées and associées share their parent's code.
            continue
        _require(c, ("code", "nom", "departement", "region"), "communes.json")
        parent = c.get("commune")
        rows.append(
            {
                "insee": c["code"],
                "name": c["nom"],
                "kind": c["type"],
                "parent_insee": parent,
                "departement_code": c["departement"],
                "region_code": c["region"],
                "epci_siren": epci_of.get(c["code"]) or epci_of.get(parent or ""),
                "siren": c.get("siren"),
                "population": c.get("population"),
            }
        )
        former += [{"former": old, "insee": c["code"]} for old in c.get("anciensCodes", [])]
    unknown_members = sorted(set(epci_of) - {r["insee"] for r in rows})
    if unknown_members:
        report.warnings.append(
            f"{len(unknown_members)} EPCI member codes are not current communes: "
            + ", ".join(unknown_members[:10])
        )
    # Parents first: arrondissements municipaux reference their commune.
    rows.sort(key=lambda r: r["parent_insee"] is not None)
    report.tables["commune"] = _upsert(
        conn,
        """INSERT INTO commune (insee, name, kind, parent_insee, departement_code, region_code,
                                epci_siren, siren, population)
           VALUES (:insee, :name, :kind, :parent_insee, :departement_code, :region_code,
                   :epci_siren, :siren, :population)
           ON CONFLICT (insee) DO UPDATE SET
               name = EXCLUDED.name, kind = EXCLUDED.kind, parent_insee = EXCLUDED.parent_insee,
               departement_code = EXCLUDED.departement_code,
               region_code = EXCLUDED.region_code, epci_siren = EXCLUDED.epci_siren,
               siren = EXCLUDED.siren, population = EXCLUDED.population""",
        rows,
    )
    report.tables["commune_former_code"] = _upsert(
        conn,
        """INSERT INTO commune_former_code (former_insee, insee) VALUES (:former, :insee)
           ON CONFLICT DO NOTHING""",
        former,
    )


_BOUNDARY = trusted(f"""
    ST_Multi(ST_CollectionExtract(ST_MakeValid(
        ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:geometry), {WGS84}), {LAMBERT93})), 3))
""")


def _load_boundaries(conn: Connection, directory: Path, report: ImportReport) -> None:
    for level in ("region", "departement"):
        features = _features(directory / f"contours-{level}s.geojson", required=False)
        rows = [_boundary_row(f) for f in features]
        if not rows:
            continue
        conn.execute(
            text(
                compose(
                    "UPDATE {level} SET geom = {boundary} WHERE code = :code",
                    level=ident(level),
                    boundary=_BOUNDARY,
                )
            ),
            rows,
        )
        known = {
            code
            for (code,) in conn.execute(
                text(
                    compose("SELECT code FROM {level} WHERE code = ANY(:codes)", level=ident(level))
                ),
                {"codes": [r["code"] for r in rows]},
            )
        }
        unknown = sorted({r["code"] for r in rows} - known)
        if unknown:
            report.warnings.append(f"{level} boundaries with unknown codes: {', '.join(unknown)}")
        report.tables[f"{level} boundaries"] = len(rows) - len(unknown)

    rows = [
        _boundary_row(f)
        for path in sorted(directory.glob("contours-communes-*.geojson"))
        for f in _features(path)
    ]
    if rows:
        _load_commune_boundaries(conn, rows, report)


def _boundary_row(feature: dict[str, Any]) -> dict[str, str]:
    return {"code": feature["properties"]["code"], "geometry": json.dumps(feature["geometry"])}


def _load_commune_boundaries(conn: Connection, rows: list[dict[str, str]], report) -> None:
    """Attach boundaries to current communes, merging the parts of communes that have merged."""
    conn.exec_driver_sql(
        "CREATE TEMP TABLE commune_boundary_stage (code text, geom geometry) ON COMMIT DROP"
    )
    conn.execute(
        text(f"INSERT INTO commune_boundary_stage VALUES (:code, {_BOUNDARY})"),
        rows,
    )
    resolved = conn.exec_driver_sql(
        """
        WITH resolved AS (
            SELECT s.code AS source_code,
                   coalesce(c.insee, f.insee) AS insee,
                   s.geom
            FROM commune_boundary_stage s
            LEFT JOIN commune c ON c.insee = s.code
            LEFT JOIN commune_former_code f ON c.insee IS NULL AND f.former_insee = s.code
        ), attached AS (
            -- A data-modifying CTE always runs to completion, even when unreferenced.
            UPDATE commune SET geom = m.geom
            FROM (SELECT insee, ST_Multi(ST_Union(geom)) AS geom
                  FROM resolved WHERE insee IS NOT NULL GROUP BY insee) m
            WHERE commune.insee = m.insee
        )
        SELECT source_code, insee FROM resolved
        WHERE insee IS DISTINCT FROM source_code ORDER BY source_code
        """
    ).all()
    merged = [f"{src}→{dst}" for src, dst in resolved if dst]
    unknown = [src for src, dst in resolved if not dst]
    if merged:
        report.warnings.append(
            f"{len(merged)} commune boundaries of merged communes attached to their successor: "
            + ", ".join(merged)
        )
    if unknown:
        report.warnings.append(
            f"{len(unknown)} commune boundaries with unknown codes: {', '.join(unknown)}"
        )
    report.tables["commune boundaries"] = conn.exec_driver_sql(
        "SELECT count(DISTINCT coalesce(c.insee, f.insee)) FROM commune_boundary_stage s "
        "LEFT JOIN commune c ON c.insee = s.code "
        "LEFT JOIN commune_former_code f ON f.former_insee = s.code"
    ).scalar_one()
