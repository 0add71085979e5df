"""PLU zoning and prescriptions, as the Géoportail de l'Urbanisme distributes them.

Accepted, detected by what the path holds:

- the CNIG PLU standard delivery: a zip of shapefiles or a folder of them
  (``<IDURBA>_ZONE_URBA…``, ``PRESCRIPTION_SURF/LIN/PCT``, ``INFO_SURF/PCT``,
  ``DOC_URBA``), field names upper- or lower-case, any CNIG version (2013 to 2022: the
  fields read here — LIBELLE, LIBELONG, TYPEZONE, DESTDOMI, IDURBA, DATVALID, TYPEPSC,
  STYPEPSC, TXT, INSEE, DATAPPRO — are common to all; those a version lacks are null);
- a single ``zone_urba`` file: API Carto GPU ``zone-urba`` GeoJSON, a WFS export, one
  shapefile.

Zones are classified by :func:`geo.land.zoning.zoning_class` (``TYPEZONE`` values
outside the standard are reported with the value they were read as), prescriptions by
:func:`geo.land.prescriptions.prescription_effect`. The planning document (``IDURBA``:
``<INSEE or SIREN>_<TYPEDOC>_<DATAPPRO>``) is kept in ``plu_document`` with its
approval date, from ``DOC_URBA`` when the delivery has it, else from ``IDURBA`` itself.
Older deliveries carry no IDURBA (nor GID, LIB_IDZONE): the document is then the one the
delivery's name gives (CNIG file naming, ``30014_PLU_20171013.zip``), and the report says so.
A zone without the GPU's ``gid`` is identified by its document and its rank in the file.
One transaction: a file with a rejected feature writes nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import CRS
from sqlalchemy import Connection, Engine, text

from geo.crs import departement_codes
from geo.db.schema import plu_prescription, plu_zone
from geo.ingest import vector
from geo.ingest.common import record_run
from geo.ingest.deliveries import Layer, find_layer, list_layers, read_layer
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport
from geo.ingest.staging import copy_columns
from geo.ingest.vector import Stage, column, to_date
from geo.land.prescriptions import normalise_code, prescription_effect
from geo.land.zoning import STANDARD_TYPEZONES, standard_typezone, zoning_class
from geo.territories import LEVELS, unanchored

COLUMNS = copy_columns(plu_zone)
PRESCRIPTION_COLUMNS = copy_columns(plu_prescription)
# shapely type ids per prescription layer
_KINDS = {"surf": vector.POLYGONAL, "lin": (1, 5), "pct": (0, 4)}
# the document's territory (a commune's INSEE code, an EPCI's SIREN), its kind, its date
_IDURBA = re.compile(
    f"^(?P<code>{unanchored(LEVELS['commune'].pattern)}|{unanchored(LEVELS['epci'].pattern)})"
    r"_(?P<doc>[A-Za-z]+)_(?P<date>[0-9]{8})"
)
# The CNIG file naming of a delivery (its zip or folder): <INSEE|SIREN>_<TYPEDOC>_<DATAPPRO>,
# the document's IDURBA. Older deliveries carry no IDURBA field: the name is the document's id.
_DELIVERY_NAME = re.compile(
    r"^(?:[0-9][0-9AB][0-9]{3}|[0-9]{9})_(?:PLUi?|POS|CC|PSMV)_[0-9]{8}$", re.IGNORECASE
)


def load_plu(engine: Engine, path: Path, *, source_crs: CRS | None = None) -> ImportReport:
    """Import a PLU (zones, and prescriptions when the delivery has them) in one
    transaction; re-importing updates."""
    path = Path(path)
    report = ImportReport(kind="plu", source=str(path))
    layers = list_layers(path)
    zones = find_layer(layers, "ZONE_URBA") or (layers[0] if len(layers) == 1 else None)
    if zones is None:
        raise LoaderError(
            f"{path}: no ZONE_URBA layer (a CNIG PLU delivery or a zone_urba file is expected)"
        )
    with engine.begin() as conn:
        idurbas = _load_zones(conn, path, zones, report, source_crs)
        prescriptions = [
            (kind, layer)
            for kind in ("surf", "lin", "pct")
            if (layer := find_layer(layers, f"PRESCRIPTION_{kind}")) is not None
        ]
        if prescriptions:
            stage = Stage(conn, "plu_prescription", PRESCRIPTION_COLUMNS)
            for kind, layer in prescriptions:
                _load_prescriptions(stage, path, layer, kind, report, source_crs)
            stage.merge(["id"])
            # the document's prescriptions are those of this delivery
            conn.execute(
                text(
                    f"DELETE FROM plu_prescription p WHERE p.idurba = ANY(:d) AND NOT EXISTS "
                    f"(SELECT 1 FROM {stage.name} s WHERE s.id = p.id)"
                ),
                {"d": sorted(idurbas)},
            )
        cnig = (
            len(layers) > 1
            or path.suffix.lower() == ".shp"
            or document_from_name(path, zones) is not None
        )
        if cnig:
            _documents(conn, path, find_layer(layers, "DOC_URBA"), idurbas, report)
        record_run(conn, report, path)
    return report


def _load_zones(
    conn: Connection, path: Path, layer: Layer, report: ImportReport, source_crs: CRS | None
) -> set[str]:
    classes: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    idurbas: set[str] = set()
    stage = Stage(conn, "plu_zone", COLUMNS)
    resolver = vector.CommuneResolver(conn)
    rank = 0
    named, from_name = document_from_name(path, layer), 0
    for batch, crs in read_layer(path, layer, required=("libelle", "typezone")):
        report.read += batch.num_rows
        idurba = column(batch, "idurba")
        if "idurba" not in batch.schema.names and named is not None:
            idurba = pa.array([named] * batch.num_rows, pa.string())
            from_name += batch.num_rows
        ranks = pa.array(
            [f"{d or 'zone'}:{rank + i + 1}" for i, d in enumerate(idurba.to_pylist())]
        )
        rank += batch.num_rows
        ids = pc.coalesce(column(batch, "gid"), column(batch, "lib_idzone"))
        if "gid" not in batch.schema.names and "lib_idzone" not in batch.schema.names:
            ids = pc.if_else(pc.is_null(idurba), ids, ranks)
        geoms = vector.prepare_geometries(
            path,
            vector.geometries_from_wkb(batch),
            ids.to_pylist(),
            source_crs or crs,
            report,
            kinds=vector.POLYGONAL,
            required=True,
        )
        libelle, typezone = column(batch, "libelle"), column(batch, "typezone")
        destdomi, libelong = column(batch, "destdomi"), column(batch, "libelong")
        zoning = []
        for t, lib, d, long in zip(
            typezone.to_pylist(),
            libelle.to_pylist(),
            destdomi.to_pylist(),
            libelong.to_pylist(),
            strict=True,
        ):
            zoning.append(zoning_class(t, lib, d, long))
            if t not in STANDARD_TYPEZONES:
                outside[f"{t}→{standard_typezone(t) or 'unknown'}"] += 1
        classes.update(zoning)
        idurbas |= {d for d in idurba.to_pylist() if d}
        # A commune's PLU is partition DU_<INSEE>; a PLUi (DU_<SIREN>) spans several.
        partition = column(batch, "partition")
        from_partition = pc.extract_regex(partition, r"^DU_(?P<code>[0-9AB]{5})$")
        from_idurba = pc.extract_regex(idurba, r"^(?P<code>[0-9][0-9AB][0-9]{3})_")
        source_codes = vector.normalise_insee(
            pc.coalesce(
                column(batch, "insee"),
                pc.struct_field(from_partition, "code"),
                pc.struct_field(from_idurba, "code"),
            )
        )
        current = resolver.resolve(source_codes)
        # a zone is counted once, under the first reason it is rejected for
        missing_id = pc.is_null(ids).to_numpy(zero_copy_only=False) & ~geoms.rejected
        if missing_id.any():
            report.rejected[
                "zone without gid, lib_idzone or idurba (nor a delivery named "
                "<INSEE|SIREN>_<TYPEDOC>_<DATAPPRO>)"
            ] += int(missing_id.sum())
        values = {
            "gpu_id": ids,
            "idurba": idurba,
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
    if from_name:
        report.warnings.append(
            f"no IDURBA in {layer.name} (an older CNIG delivery): the document is "
            f"{named}, read from the delivery's name (CNIG naming "
            "<INSEE|SIREN>_<TYPEDOC>_<DATAPPRO>); zones are identified by their rank in it"
        )
    vector.finish(path, stage, ["gpu_id"], report, resolver, noun="zones")
    # a document re-delivered is replaced: its zones missing from this delivery go
    if removed := stage.remove_absent("gpu_id", "idurba", idurbas):
        report.tables["zones no longer in the document, removed"] = removed
    report.tables.update({f"zoning {c}": n for c, n in sorted(classes.items())})
    if outside:
        report.warnings.append(
            "typezone outside the CNIG standard, read as: "
            + ", ".join(f"{k} ({n})" for k, n in sorted(outside.items()))
        )
    return idurbas


def document_from_name(path: Path, layer: Layer) -> str | None:
    """The document id a delivery's name gives (CNIG naming, ``30014_PLU_20171013``): the
    zip's or folder's name, or a folder of the layer's path inside it; None without one."""
    names = [*reversed(Path(layer.name).parts[:-1]), path.stem, path.name]
    names += [parent.name for parent in path.parents][:2]  # a file inside the delivery
    for name in names:
        if _DELIVERY_NAME.match(name):
            code, doc, date = name.split("_")
            return f"{code.upper()}_{'PLUi' if doc.upper() == 'PLUI' else doc.upper()}_{date}"
    return None


def _load_prescriptions(
    stage: Stage,
    path: Path,
    layer: Layer,
    kind: str,
    report: ImportReport,
    source_crs: CRS | None,
) -> None:
    local = ImportReport(kind="plu", source=str(path))
    effects: Counter[str] = Counter()
    rank = 0
    named = document_from_name(path, layer)
    for batch, crs in read_layer(path, layer, required=("typepsc",)):
        local.read += batch.num_rows
        idurba = column(batch, "idurba")
        if "idurba" not in batch.schema.names and named is not None:
            idurba = pa.array([named] * batch.num_rows, pa.string())
        ids = [f"{d or path.stem}/{kind}/{rank + i + 1}" for i, d in enumerate(idurba.to_pylist())]
        rank += batch.num_rows
        geoms = vector.prepare_geometries(
            path,
            vector.geometries_from_wkb(batch),
            ids,
            source_crs or crs,
            local,
            kinds=_KINDS[kind],
            required=True,
        )
        typepsc = [normalise_code(v) for v in column(batch, "typepsc").to_pylist()]
        stypepsc = [normalise_code(v) for v in column(batch, "stypepsc").to_pylist()]
        # a prescription is counted once, under the first reason it is rejected for
        missing_code = np.array([t is None for t in typepsc], dtype=bool) & ~geoms.rejected
        if missing_code.any():
            local.rejected[f"PRESCRIPTION_{kind.upper()} without TYPEPSC"] += int(
                missing_code.sum()
            )
        effect = [prescription_effect(t, s) for t, s in zip(typepsc, stypepsc, strict=True)]
        effects.update(e for e, bad in zip(effect, missing_code, strict=True) if not bad)
        codes = vector.normalise_insee(
            pc.coalesce(
                column(batch, "insee"),
                pc.struct_field(
                    pc.extract_regex(idurba, r"^(?P<code>[0-9][0-9AB][0-9]{3})_"), "code"
                ),
            )
        )
        values = {
            "id": pa.array(ids, pa.string()),
            "idurba": idurba,
            "kind": pa.array([kind] * batch.num_rows, pa.string()),
            "typepsc": pa.array(typepsc, pa.string()),
            "stypepsc": pa.array(stypepsc, pa.string()),
            "libelle": column(batch, "libelle"),
            "txt": column(batch, "txt"),
            "effect": pa.array(effect, pa.string()),
            "commune_insee": codes,
            "departement_code": departement_codes(codes),
            "geom": geoms.ewkb,
        }
        keep = pa.array(~(geoms.rejected | missing_code))
        stage.copy({k: pc.filter(v, keep) for k, v in values.items()})
    if local.rejected:
        raise vector.rejection_error(path, local, f"prescriptions ({layer.name})")
    report.repaired += local.repaired
    report.tables[f"prescriptions {kind}"] = local.read
    for name, n in sorted(effects.items()):
        key = f"prescriptions {name}"
        report.tables[key] = report.tables.get(key, 0) + n


def _documents(
    conn: Connection, path: Path, layer: Layer | None, idurbas: set[str], report: ImportReport
) -> None:
    """One plu_document row per IDURBA: DOC_URBA's attributes when present, else what the
    IDURBA says (type of document, approval date)."""
    rows: dict[str, dict] = {}
    if layer is not None:
        # an older DOC_URBA without IDURBA gives nothing: the documents are then the zones'
        for batch, _ in read_layer(path, layer):
            for i, idurba in enumerate(column(batch, "idurba").to_pylist()):
                if not idurba:
                    continue
                rows[idurba] = {
                    "idurba": idurba,
                    "typedoc": column(batch, "typedoc")[i].as_py(),
                    "etat": column(batch, "etat")[i].as_py(),
                    "nomproc": column(batch, "nomproc")[i].as_py(),
                    "datappro": to_date(path, column(batch, "datappro"), "datappro")[i].as_py(),
                    "datefin": to_date(path, column(batch, "datefin"), "datefin")[i].as_py(),
                }
    for idurba in sorted(idurbas - set(rows)):
        match = _IDURBA.match(idurba)
        datappro = None
        if match:
            date = match["date"]
            try:
                import datetime

                datappro = datetime.date(int(date[:4]), int(date[4:6]), int(date[6:]))
            except ValueError:
                datappro = None
        rows[idurba] = {
            "idurba": idurba,
            "typedoc": match["doc"].upper() if match else None,
            "etat": None,
            "nomproc": None,
            "datappro": datappro,
            "datefin": None,
        }
    for row in rows.values():
        conn.execute(
            text(
                """INSERT INTO plu_document (idurba, typedoc, etat, nomproc, datappro, datefin,
                                            source)
                   VALUES (:idurba, :typedoc, :etat, :nomproc, :datappro, :datefin, :source)
                   ON CONFLICT (idurba) DO UPDATE SET typedoc = EXCLUDED.typedoc,
                       etat = EXCLUDED.etat, nomproc = EXCLUDED.nomproc,
                       datappro = EXCLUDED.datappro, datefin = EXCLUDED.datefin,
                       source = EXCLUDED.source"""
            ),
            {**row, "source": str(path)},
        )
    report.tables["documents"] = len(rows)
