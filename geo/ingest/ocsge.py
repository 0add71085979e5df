"""IGN OCS GE, one département and millésime per file: the land cover from which net
artificialisation is measured from 2031 (geo.zan.artificialisation).

The form read is IGN's "OCS GE artificialisation" product as Mon Diagnostic
Artificialisation ingests it (MTES-MCT/sparte, ``airflow/dags/ingest_ocsge_artif.py``):
a 7z archive per département and millésime
(``OCS-GE_2-0_ARTIFICIALISATION_GPKG_LAMB93_D091_2021-01-01.7z`` on data.geopf.fr) holding
a GeoPackage whose layer ``artif_{millésime}_{département}`` has ``id``, ``code_cs``,
``code_us``, ``millesime``, ``artif`` (``artif`` / ``non artif``), ``crit_seuil`` and the
geometry ``the_geom`` in Lambert-93 (EPSG:2154); the class comes from ``artif``. A layer
of IGN's plain OCS GE (``OCCUPATION_SOL``: ``ID``, ``CODE_CS``, ``CODE_US``; the
millésime in the file name) is read too, classified by the couverture × usage matrix of
``geo.zan.artificialisation.classify``; the delivery records which.

The 7z archive itself is not opened (no 7z reader here): extract the GeoPackage first
(``7z x``). This loader has been tested only on synthetic files built in that schema
(``data/ocsge/``), never on a real delivery.

A file replaces the stored delivery of its département and millésime, in one transaction.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely
from pyogrio.errors import DataSourceError
from pyproj import CRS
from sqlalchemy import Engine, text

from geo.db.schema import ocsge_polygon
from geo.ingest.common import record_run
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport
from geo.ingest.staging import copy_columns
from geo.ingest.vector import POLYGONAL, Stage, column, prepare_geometries, to_bool
from geo.zan.artificialisation import IGN_ARTIF, classify, code_of

COLUMNS = copy_columns(ocsge_polygon)
# layer artif_2021_91 (IGN artificialisation product); file names of IGN's deliveries
_ARTIF_LAYER = re.compile(r"^artif_([0-9]{4})_([0-9]{2,3}|2[AB])$", re.IGNORECASE)
_FILE_DEP = re.compile(r"_D(0[0-9]{2}|02[AB]|9[0-9]{2})_", re.IGNORECASE)
_FILE_YEAR = re.compile(r"_([0-9]{4})-01-01")
BATCH = 20_000


def _departement(code: str) -> str:
    """D091 -> 91, D02A -> 2A, D971 -> 971."""
    code = code.upper()
    return code[1:] if len(code) == 3 and code[0] == "0" else code


def _layer(path: Path) -> str:
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(str(path))]
    except (DataSourceError, OSError) as exc:
        raise LoaderError(f"{path}: not a readable vector file ({exc})") from exc
    for wanted in (_ARTIF_LAYER.match, lambda n: "occupation" in n.lower()):
        found = [n for n in layers if wanted(n)]
        if len(found) == 1:
            return found[0]
    if len(layers) == 1:
        return layers[0]
    raise LoaderError(
        f"{path}: which layer is the OCS GE? none named artif_<millésime>_<département> or "
        f"OCCUPATION_SOL among {', '.join(layers)}"
    )


def _origin(path: Path, layer: str) -> tuple[str | None, int | None]:
    """The département and millésime the layer's name, else the file's, says."""
    if match := _ARTIF_LAYER.match(layer):
        return match.group(2).upper(), int(match.group(1))
    dep = _FILE_DEP.search(path.name)
    year = _FILE_YEAR.search(path.name)
    return (
        _departement(dep.group(1)) if dep else None,
        int(year.group(1)) if year else None,
    )


def load_ocsge(engine: Engine, path: Path) -> ImportReport:
    """Import one OCS GE file (a département at one millésime), replacing that delivery."""
    path = Path(path)
    if path.suffix.lower() == ".7z":
        raise LoaderError(
            f"{path}: a 7z archive; extract its GeoPackage first (7z x) and import the .gpkg"
        )
    if not path.is_file():
        raise LoaderError(f"{path}: no such file")
    layer = _layer(path)
    departement, millesime = _origin(path, layer)
    report = ImportReport(kind="ocsge", source=str(path))
    classification = None
    with engine.begin() as conn:
        stage = Stage(conn, "ocsge_polygon", COLUMNS)
        try:
            with pyogrio.open_arrow(str(path), layer=layer, batch_size=BATCH, use_pyarrow=True) as (
                meta,
                reader,
            ):
                crs = CRS.from_user_input(meta["crs"]) if meta["crs"] else None
                if crs is None:
                    raise LoaderError(f"{path}: no CRS declared (IGN delivers Lambert-93)")
                for batch in reader:
                    batch = batch.rename_columns([n.lower() for n in batch.schema.names])
                    geometry = (meta.get("geometry_name") or "wkb_geometry").lower()
                    if geometry not in batch.schema.names:
                        geometry = "wkb_geometry"
                    if classification is None:
                        names = set(batch.schema.names)
                        if not {"id", "code_cs", "code_us"} <= names:
                            raise LoaderError(
                                f"{path}: layer {layer} lacks id, code_cs or code_us: not an "
                                "OCS GE layer"
                            )
                        classification = "ign-artif" if "artif" in names else "cs-us-matrix"
                    values, millesime = _values(path, batch, classification, millesime, report)
                    start = report.read
                    report.read += batch.num_rows
                    geoms = prepare_geometries(
                        path,
                        shapely.from_wkb(batch.column(geometry).to_numpy(zero_copy_only=False)),
                        list(range(start, report.read)),
                        crs,
                        report,
                        kinds=POLYGONAL,
                        required=True,
                    )
                    values["geom"] = geoms.ewkb
                    keep = pa.array(~geoms.rejected & ~_null_any(values))
                    stage.copy({k: pc.filter(v, keep) for k, v in values.items()})
        except (DataSourceError, OSError, pa.ArrowException) as exc:
            raise LoaderError(f"{path}: not a readable vector file ({exc})") from exc
        if report.read == 0 or classification is None:
            raise LoaderError(f"{path}: layer {layer} holds no polygon")
        if departement is None or millesime is None:
            raise LoaderError(
                f"{path}: département or millésime unknown: name the layer "
                "artif_<millésime>_<département> or keep IGN's file name (…_D091_2021-01-01…)"
            )
        if report.rejected:
            reasons = ", ".join(f"{r}: {n}" for r, n in report.rejected.items())
            raise LoaderError(
                f"{path}: {sum(report.rejected.values())} of {report.read} polygons rejected, "
                f"nothing written: {reasons}"
            )
        if duplicates := stage.duplicates(["id"]):
            raise LoaderError(f"{path}: id appears more than once: {', '.join(duplicates)}")
        conn.exec_driver_sql(
            f"UPDATE {stage.name} SET departement_code = %(dep)s, millesime = %(m)s",
            {"dep": departement, "m": millesime},
        )
        key = {"dep": departement, "m": millesime}
        conn.execute(
            text("DELETE FROM ocsge_delivery WHERE departement_code = :dep AND millesime = :m"),
            key,
        )
        conn.execute(
            text(
                "INSERT INTO ocsge_delivery (departement_code, millesime, classification, "
                "source, polygons) VALUES (:dep, :m, :classification, :source, :n)"
            ),
            {**key, "classification": classification, "source": path.name, "n": report.read},
        )
        cols = stage.cols
        report.inserted = conn.exec_driver_sql(
            f"INSERT INTO ocsge_polygon ({cols}) SELECT {cols} FROM {stage.name}"
        ).rowcount
        report.tables["artificialised polygons"] = conn.exec_driver_sql(
            f"SELECT count(*) FROM {stage.name} WHERE artificial"
        ).scalar_one()
        report.departements = {departement}
        report.vintage = f"OCS GE {millesime} ({classification})"
        if classification == "cs-us-matrix":
            report.warnings.append(
                "no artif field: classified by Foncier's couverture × usage matrix "
                "(approximate; docs/methode.md)"
            )
        record_run(conn, report, path)
    return report


def _null_any(values: dict[str, pa.Array]) -> np.ndarray:
    required = ("id", "code_cs", "code_us", "artificial")
    out = np.zeros(len(values["id"]), dtype=bool)
    for name in required:
        out |= np.asarray(pc.is_null(values[name]).to_numpy(zero_copy_only=False))
    return out


def _values(
    path: Path,
    batch: pa.RecordBatch,
    classification: str,
    millesime: int | None,
    report: ImportReport,
) -> tuple[dict[str, pa.Array], int | None]:
    """The staged columns of one batch; the millésime the file's column says, checked
    against the name's."""
    n = batch.num_rows
    ids, cs, us = column(batch, "id"), column(batch, "code_cs"), column(batch, "code_us")
    for name, values in (("id", ids), ("code_cs", cs), ("code_us", us)):
        if values.null_count:
            report.rejected[f"no {name}"] += values.null_count
    if "millesime" in batch.schema.names:
        seen = {int(str(v)[:4]) for v in column(batch, "millesime").to_pylist() if v}
        if len(seen) > 1 or (millesime is not None and seen and seen != {millesime}):
            raise LoaderError(
                f"{path}: millesime {sorted(seen)} differs from the layer's or file's "
                f"({millesime}): one millésime per file"
            )
        millesime = millesime or (seen.pop() if seen else None)
    if classification == "ign-artif":
        raw = pc.utf8_lower(column(batch, "artif")).to_pylist()
        flags = [IGN_ARTIF.get(v) if v else None for v in raw]
        if unknown := sum(f is None for f in flags):
            report.rejected["artif neither 'artif' nor 'non artif'"] += unknown
    else:
        flags = []
        for c, u in zip(cs.to_pylist(), us.to_pylist(), strict=True):
            ok = code_of(c) is not None and code_of(u) is not None
            flags.append(classify(c, u) if ok else None)
        if unknown := sum(
            f is None and c and u
            for f, c, u in zip(flags, cs.to_pylist(), us.to_pylist(), strict=True)
        ):
            report.rejected["code_cs or code_us not an OCS GE code"] += unknown
    crit = column(batch, "crit_seuil")
    return {
        "departement_code": pa.nulls(n, pa.string()),
        "millesime": pa.nulls(n, pa.int32()),
        "id": ids,
        "code_cs": cs,
        "code_us": us,
        "artificial": pa.array(flags, pa.bool_()),
        "crit_seuil": to_bool(crit),
    }, millesime
