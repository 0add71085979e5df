"""Regulatory risk plans in vector form.

- CNIG PPR standard (PPRN, PPRM, PPRT deliveries): a zip or folder of shapefiles named
  ``N_ZONE_REG_<PLAN>_<n>_S_<dep>``, ``N_ZONE_ALEA_…``, ``N_PERIMETRE_…`` (the
  multi-hazard table ``N_MULTIALEA_…`` is not read). ``ZONE_REG`` gives the regulatory
  zoning (``codezone``, ``typereg``), ``ZONE_ALEA`` the hazard zones (``coderisque``,
  ``nomrisque``, ``nivalea``), ``PERIMETRE`` the plan's perimeter (``id_gaspar``,
  ``datevalid``), which tells where the plan's absence of zone means "no regulation".
- SUP PM3 (PPRT servitude, CNIG SUP standard): the ``assiette`` layer (``IdAss``,
  ``IdGen``, ``nomAss``, ``typeAss``) and its ``generateur`` (``IdGen``, ``ID_GASPAR``);
  give either file, the other is read when it lies beside it (…-assiette / …-generateur).

Regulatory classes: :func:`geo.land.risks.regulatory_class`. One transaction; a
delivery with a rejected zone writes nothing; re-importing a plan replaces its zones.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, text

from geo.crs import departement_codes
from geo.db.schema import risk_zone
from geo.ingest.common import record_run
from geo.ingest.deliveries import find_layer, list_layers, read_layer
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport
from geo.ingest.staging import copy_columns
from geo.ingest.vector import (
    POLYGONAL,
    Stage,
    column,
    finish,
    geometries_from_wkb,
    prepare_geometries,
    to_date,
)
from geo.land.risks import hazard_family, regulatory_class

COLUMNS = copy_columns(risk_zone)
_PLAN = re.compile(r"_(PPRN|PPRM|PPRT|PPRI|PPRL|PPRMT|PPRIF)_", re.I)


def load_ppr(engine: Engine, path: Path) -> ImportReport:
    """A CNIG PPR standard delivery (zip or folder of shapefiles)."""
    path = Path(path)
    report = ImportReport(kind="ppr", source=str(path))
    layers = list_layers(path)
    zone_reg = find_layer(layers, "ZONE_REG")
    if zone_reg is None:
        raise LoaderError(f"{path}: no ZONE_REG layer (a CNIG PPR delivery is expected)")
    plan_match = _PLAN.search(Path(zone_reg.name).stem.upper() + "_")
    plan = plan_match.group(1).lower() if plan_match else "pprn"
    plan = "pprn" if plan not in ("pprn", "pprm", "pprt") else plan
    stage_rows: list[dict[str, pa.Array]] = []
    documents: set[str] = set()
    approved: dict[str, object] = {}
    family_default = "technological" if plan == "pprt" else None
    perimetre = find_layer(layers, "PERIMETRE")
    spec = [("zone_reg", zone_reg), ("zone_alea", find_layer(layers, "ZONE_ALEA"))]
    spec.append(("perimetre", perimetre))
    classes: Counter[str] = Counter()
    for layer_name, layer in spec:
        if layer is None:
            continue
        rank = 0
        for batch, crs in read_layer(path, layer, required=("id_gaspar",)):
            n = batch.num_rows
            report.read += n
            gaspar = column(batch, "id_gaspar")
            documents |= {g for g in gaspar.to_pylist() if g}
            ids = [f"{g}/{layer_name}/{rank + i + 1}" for i, g in enumerate(gaspar.to_pylist())]
            rank += n
            geoms = prepare_geometries(
                path,
                geometries_from_wkb(batch),
                ids,
                crs,
                report,
                kinds=POLYGONAL,
                required=True,
            )
            if layer_name == "zone_reg":
                code, label = column(batch, "codezone"), column(batch, "nom")
                reg = [
                    regulatory_class(t, c)
                    for t, c in zip(
                        column(batch, "typereg").to_pylist(), code.to_pylist(), strict=True
                    )
                ]
                family = [family_default or hazard_family(v) for v in label.to_pylist()]
                level = pa.nulls(n, pa.string())
                classes.update(str(r) for r in reg)
            elif layer_name == "zone_alea":
                code, label = column(batch, "coderisque"), column(batch, "nomrisque")
                reg = [None] * n
                family = [family_default or hazard_family(v) for v in label.to_pylist()]
                level = pc.coalesce(column(batch, "nivalea"), column(batch, "descript"))
            else:
                code, label = column(batch, "type"), column(batch, "libelle")
                reg = [None] * n
                family = [family_default or "other"] * n
                level = pa.nulls(n, pa.string())
                dates = to_date(path, column(batch, "datevalid"), "datevalid").to_pylist()
                for g, d in zip(gaspar.to_pylist(), dates, strict=True):
                    if g and d:
                        approved[g] = d
            missing = pc.is_null(gaspar).to_numpy(zero_copy_only=False)
            if missing.any():
                report.rejected[f"{layer_name} zone without id_gaspar"] += int(missing.sum())
            stage_rows.append(
                {
                    "id": pa.array(ids, pa.string()),
                    "document": gaspar,
                    "plan": pa.array([plan] * n, pa.string()),
                    "layer": pa.array([layer_name] * n, pa.string()),
                    "code": code,
                    "label": label,
                    "hazard_family": pa.array(family, pa.string()),
                    "hazard_level": level,
                    "regulatory_class": pa.array(reg, pa.string()),
                    "departement_code": _departements(gaspar),
                    "approved_on": pa.nulls(n, pa.date32()),
                    "geom": geoms.ewkb,
                    "_keep": pa.array(~(geoms.rejected | missing)),
                }
            )
    if perimetre is None:
        report.warnings.append("no PERIMETRE layer: the plan's coverage is that of its zones only")
    unclassified = classes.pop("None", 0)
    if unclassified:
        report.rejected["zone_reg zone without a regulatory class (typereg, codezone)"] += (
            unclassified
        )
    report.tables.update({f"zone_reg {c}": n for c, n in sorted(classes.items())})
    return _write(engine, path, report, stage_rows, documents, approved)


def load_pm3(engine: Engine, path: Path) -> ImportReport:
    """A SUP PM3 (PPRT servitude): its assiette, with the GASPAR id of its generator."""
    path = Path(path)
    report = ImportReport(kind="pprt", source=str(path))
    name = path.name
    assiette = path
    if "generateur" in name.lower():
        assiette = path.with_name(re.sub("generateur", "assiette", name, flags=re.I))
    generateur = assiette.with_name(re.sub("assiette", "generateur", assiette.name, flags=re.I))
    if not assiette.is_file():
        raise LoaderError(f"{path}: no PM3 assiette file ({assiette.name}) beside it")
    gaspar_of: dict[str, str] = {}
    stage_rows: list[dict[str, pa.Array]] = []
    documents: set[str] = set()
    if generateur.is_file() and generateur != assiette:
        for batch, crs in read_layer(
            generateur, list_layers(generateur)[0], required=("idgen", "id_gaspar")
        ):
            n = batch.num_rows
            report.read += n
            gaspar = column(batch, "id_gaspar")
            idgen = column(batch, "idgen")
            gaspar_of.update(
                {i: g for i, g in zip(idgen.to_pylist(), gaspar.to_pylist(), strict=True) if i}
            )
            documents |= {g for g in gaspar.to_pylist() if g}
            ids = [
                f"{g}/perimetre/{i}"
                for g, i in zip(gaspar.to_pylist(), idgen.to_pylist(), strict=True)
            ]
            geoms = prepare_geometries(
                generateur, geometries_from_wkb(batch), ids, crs, report,
                kinds=POLYGONAL, required=True,
            )  # fmt: skip
            missing = pc.is_null(gaspar).to_numpy(zero_copy_only=False)
            if missing.any():
                report.rejected["generator without ID_GASPAR"] += int(missing.sum())
            stage_rows.append(
                _pm3_row(ids, gaspar, "perimetre", column(batch, "nomgen"),
                         column(batch, "typegen"), None, geoms, missing)
            )  # fmt: skip
    else:
        report.warnings.append(
            f"no generator file beside {assiette.name}: GASPAR ids unknown, the "
            "assiette's IdGen names the plan"
        )
    for batch, crs in read_layer(
        assiette, list_layers(assiette)[0], required=("idass", "idgen", "typeass")
    ):
        n = batch.num_rows
        report.read += n
        idgen = column(batch, "idgen").to_pylist()
        gaspar = pa.array([gaspar_of.get(i or "") or (f"PM3-{i}" if i else None) for i in idgen])
        documents |= {g for g in gaspar.to_pylist() if g}
        ids = [
            f"{g}/assiette/{a}"
            for g, a in zip(gaspar.to_pylist(), column(batch, "idass").to_pylist(), strict=True)
        ]
        geoms = prepare_geometries(
            assiette, geometries_from_wkb(batch), ids, crs, report, kinds=POLYGONAL, required=True
        )
        missing = pc.is_null(gaspar).to_numpy(zero_copy_only=False)
        if missing.any():
            report.rejected["assiette without IdGen"] += int(missing.sum())
        stage_rows.append(
            _pm3_row(ids, gaspar, "zone_reg", column(batch, "nomass"), column(batch, "typeass"),
                     "prescription", geoms, missing)
        )  # fmt: skip
    report.tables["assiettes (prescription)"] = sum(
        1 for r in stage_rows if r["layer"][0].as_py() == "zone_reg" for _ in range(len(r["id"]))
    )
    return _write(engine, path, report, stage_rows, documents, {})


def _pm3_row(ids, gaspar, layer, label, code, reg, geoms, missing) -> dict[str, pa.Array]:
    n = len(ids)
    return {
        "id": pa.array(ids, pa.string()),
        "document": gaspar,
        "plan": pa.array(["pprt"] * n, pa.string()),
        "layer": pa.array([layer] * n, pa.string()),
        "code": code,
        "label": label,
        "hazard_family": pa.array(["technological"] * n, pa.string()),
        "hazard_level": pa.nulls(n, pa.string()),
        "regulatory_class": pa.array([reg] * n, pa.string()),
        "departement_code": _departements(gaspar),
        "approved_on": pa.nulls(n, pa.date32()),
        "geom": geoms.ewkb,
        "_keep": pa.array(~(geoms.rejected | missing)),
    }


def _departements(gaspar: pa.Array) -> pa.Array:
    """The département of a GASPAR id: 38DDT20180003 -> 38."""
    found = pc.extract_regex(pc.utf8_upper(gaspar), r"^(?P<dep>[0-9]{2}|2[AB])[A-Z]")
    dep = pc.struct_field(found, "dep")
    return departement_codes(dep) if len(dep) else dep


def _write(
    engine: Engine,
    path: Path,
    report: ImportReport,
    rows: list[dict[str, pa.Array]],
    documents: set[str],
    approved: dict[str, object],
) -> ImportReport:
    with engine.begin() as conn:
        stage = Stage(conn, "risk_zone", COLUMNS)
        for values in rows:
            keep = values.pop("_keep")
            stage.copy({k: pc.filter(v, keep) for k, v in values.items()})
        finish(path, stage, ["id"], report, noun="zones")
        # a plan re-imported is replaced: zones it no longer has go
        if removed := stage.remove_absent("id", "document", set(documents)):
            report.tables["zones no longer in the plan, removed"] = removed
        for document, date in approved.items():
            conn.execute(
                text("UPDATE risk_zone SET approved_on = :d WHERE document = :doc"),
                {"d": date, "doc": document},
            )
        report.tables["plans"] = len(documents)
        record_run(conn, report, path)
    return report
