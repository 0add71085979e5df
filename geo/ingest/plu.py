"""PLU zoning: Géoportail de l'Urbanisme ``zone_urba`` features (API Carto GPU, WFS or
the GPU's downloads), each classified by :func:`geo.land.zoning.zoning_class`."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyproj import CRS
from sqlalchemy import Engine

from geo.crs import departement_codes
from geo.ingest.common import record_run
from geo.ingest.report import ImportReport
from geo.ingest.vector import (
    POLYGONAL,
    CommuneResolver,
    Stage,
    column,
    finish,
    geometries_from_wkb,
    normalise_insee,
    prepare_geometries,
    read_geojson,
    to_date,
)
from geo.land.zoning import zoning_class

COLUMNS = {
    "gpu_id": "text",
    "idurba": "text",
    "partition": "text",
    "libelle": "text",
    "libelong": "text",
    "typezone": "text",
    "destdomi": "text",
    "datvalid": "date",
    "zoning_class": "text",
    "commune_insee": "text",
    "departement_code": "text",
    "area_m2": "float8",
    "geom": "geometry",
}


def load_plu(engine: Engine, path: Path, *, source_crs: CRS | None = None) -> ImportReport:
    """Import PLU zones in one transaction; re-importing updates."""
    path = Path(path)
    report = ImportReport(kind="plu", source=str(path))
    classes: dict[str, int] = {}
    with engine.begin() as conn:
        stage = Stage(conn, "plu_zone", COLUMNS)
        resolver = CommuneResolver(conn)
        for batch, crs in read_geojson(
            path, required=("libelle", "typezone"), source_crs=source_crs
        ):
            report.read += batch.num_rows
            ids = pc.coalesce(column(batch, "gid"), column(batch, "lib_idzone"))
            geoms = prepare_geometries(
                path,
                geometries_from_wkb(batch),
                ids.to_pylist(),
                crs,
                report,
                kinds=POLYGONAL,
                required=True,
            )
            libelle, typezone = column(batch, "libelle"), column(batch, "typezone")
            destdomi, libelong = column(batch, "destdomi"), column(batch, "libelong")
            zoning = [
                zoning_class(t, lib, d, long)
                for t, lib, d, long in zip(
                    typezone.to_pylist(),
                    libelle.to_pylist(),
                    destdomi.to_pylist(),
                    libelong.to_pylist(),
                    strict=True,
                )
            ]
            for c in zoning:
                classes[c] = classes.get(c, 0) + 1
            # A commune's PLU is partition DU_<INSEE>; a PLUi (DU_<SIREN>) spans several.
            partition = column(batch, "partition")
            from_partition = pc.extract_regex(partition, r"^DU_(?P<code>[0-9AB]{5})$")
            source_codes = normalise_insee(
                pc.coalesce(column(batch, "insee"), pc.struct_field(from_partition, "code"))
            )
            current = resolver.resolve(source_codes)
            missing_id = pc.is_null(ids).to_numpy(zero_copy_only=False)
            if missing_id.any():
                report.rejected["zone without gid or lib_idzone"] += int(missing_id.sum())
            values = {
                "gpu_id": ids,
                "idurba": column(batch, "idurba"),
                "partition": partition,
                "libelle": libelle,
                "libelong": libelong,
                "typezone": typezone,
                "destdomi": destdomi,
                "datvalid": to_date(path, column(batch, "datvalid"), "datvalid"),
                "zoning_class": pa.array(zoning, pa.string()),
                "commune_insee": pc.coalesce(current, source_codes),
                "departement_code": departement_codes(pc.coalesce(current, source_codes)),
                "area_m2": geoms.area_m2,
                "geom": geoms.ewkb,
            }
            keep = pa.array(~(geoms.rejected | missing_id))
            stage.copy({k: pc.filter(v, keep) for k, v in values.items()})
        finish(path, stage, ["gpu_id"], report, resolver, noun="zones")
        report.tables.update({f"zoning {c}": n for c, n in sorted(classes.items())})
        record_run(conn, report, path)
    return report
