"""Consumption of natural, agricultural and forest land (NAF) by commune and year, in the
format of Cerema's "consommation d'espaces NAF" files (``conso_com.csv``, data.gouv.fr).

One row per commune (``idcom``); for each year AA the flow from 1 January 20AA to
1 January 20AA+1 in m²: total ``nafAAartBB`` and by destination
``artAA{act|hab|mix|rou|fer|inc}BB`` (activity, housing, mixed, roads, rail, unknown);
multi-year totals such as ``naf11art21`` (the ZAN reference 2011-2020) are checked
against the annual flows but not stored.

The vintage is the first 1 January the file does not cover a flow into, i.e. the
last annual flow's end year (a file ending with ``naf23art24`` is vintage 2024), or
given. Its last year is flagged provisional. Vintages are kept side by side;
re-importing one replaces its rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, text

from geo.crs import departement_codes
from geo.db.schema import naf_consumption
from geo.ingest.common import cover, record_run
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport
from geo.ingest.staging import copy_columns
from geo.ingest.vector import (
    CommuneResolver,
    Stage,
    column,
    normalise_insee,
    read_csv,
    rejection_error,
)

DESTINATIONS = {
    "act": "activity_m2",
    "hab": "housing_m2",
    "mix": "mixed_m2",
    "rou": "road_m2",
    "fer": "rail_m2",
    "inc": "unknown_m2",
}
# Destinations may be rounded in the published files: a gap of up to 1 m² is not reported.
SUM_TOLERANCE_M2 = 1.0
COLUMNS = copy_columns(naf_consumption)
_FLOW = re.compile(r"^naf(\d{2})art(\d{2})$")


@dataclass(frozen=True)
class _Layout:
    """The file's annual flow years, its multi-year totals (first, end year), its vintage."""

    years: list[int]
    totals: dict[str, tuple[int, int]]
    vintage: int


@dataclass
class _Mismatches:
    """Commune-years whose destinations do not sum to their total: how many, a few."""

    count: int = 0
    examples: list[str] = field(default_factory=list)


def load_consumption(engine: Engine, path: Path, *, vintage: int | None = None) -> ImportReport:
    """Import one Cerema vintage: read and checked batch by batch into a staging table,
    then written over the vintage's rows, in one transaction."""
    path = Path(path)
    report = ImportReport(kind="naf-consumption", source=str(path))
    mismatches = _Mismatches()
    layout = None
    with engine.begin() as conn:
        stage = Stage(conn, "naf_consumption", COLUMNS)
        resolver = CommuneResolver(conn)
        for batch, layout in _read(path, vintage):
            report.read += batch.num_rows
            for rows in _checked(path, batch, layout, resolver, report, mismatches):
                stage.copy(rows)
        if layout is None:
            raise LoaderError(f"{path}: the file holds no row")
        _write(conn, stage, path, layout, report)
        if mismatches.count:
            report.warnings.append(
                f"{mismatches.count} commune-years whose destinations do not sum to the "
                "total: " + "; ".join(mismatches.examples)
            )
        years = layout.years
        report.warnings.append(
            f"vintage {layout.vintage}: flows {years[0]}-{years[-1]}, {years[-1]} provisional"
        )
        report.warnings += resolver.warnings()
        cover(conn, report, f"SELECT DISTINCT commune_insee FROM {stage.name}")
        record_run(conn, report, path)
    return report


def _read(path: Path, vintage: int | None) -> Iterator[tuple[pa.RecordBatch, _Layout]]:
    """The file's batches, each with the layout its header says (vintage: the one given,
    else the year after the last flow's)."""
    layout = None
    for batch in read_csv(path, required=("idcom",)):
        if layout is None:
            years, totals = _years(path, batch.schema.names)
            layout = _Layout(years, totals, vintage or years[-1] + 1)
            if layout.vintage <= years[-1]:
                raise LoaderError(
                    f"{path}: vintage {layout.vintage} cannot precede the file's last flow "
                    f"({years[-1]}→{years[-1] + 1})"
                )
        yield batch, layout


def _checked(
    path: Path,
    batch: pa.RecordBatch,
    layout: _Layout,
    resolver: CommuneResolver,
    report: ImportReport,
    mismatches: _Mismatches,
) -> Iterator[dict[str, pa.Array]]:
    """A batch's rows of ``naf_consumption``, one set per year: rows without a commune
    counted as rejected, destinations that do not sum to the total and multi-year totals
    that differ from the annual flows noted, communes resolved to their current code."""
    codes = normalise_insee(column(batch, "idcom"))
    missing = pc.is_null(codes).to_numpy(zero_copy_only=False)
    if missing.any():
        report.rejected["row without a commune code (idcom)"] += int(missing.sum())
    current = resolver.resolve(codes)
    dep = column(batch, "iddep")
    dep = pc.coalesce(
        pc.if_else(pc.is_null(dep), dep, pc.utf8_lpad(dep, 2, "0")),
        departement_codes(pc.coalesce(current, codes)),
    )
    keep = pa.array(~missing)
    for year in layout.years:
        flows = _flows(path, batch, year)
        bad = _sum_mismatch(flows)
        if bad.any():
            mismatches.count += int(bad.sum())
            for i in np.flatnonzero(bad)[: max(0, 10 - len(mismatches.examples))]:
                total = flows["total_m2"][i].as_py()
                parts = sum((flows[n][i].as_py() or 0) for n in DESTINATIONS.values())
                mismatches.examples.append(
                    f"{codes[i].as_py()} {year}: total {total:g} m², destinations {parts:g} m²"
                )
        values = {
            "vintage": pa.array(np.full(batch.num_rows, layout.vintage, dtype=np.int32)),
            "commune_insee_source": codes,
            "year": pa.array(np.full(batch.num_rows, year, dtype=np.int32)),
            "commune_insee": current,
            "departement_code": dep,
            **flows,
        }
        yield {k: pc.filter(v, keep) for k, v in values.items()}
    report.warnings += _check_totals(path, batch, layout.totals, codes)


def _write(
    conn: Connection, stage: Stage, path: Path, layout: _Layout, report: ImportReport
) -> None:
    """The staged rows replace the vintage's, unless a row was rejected or a commune-year
    appears twice (LoaderError: the caller's transaction then writes nothing)."""
    if report.rejected:
        raise rejection_error(path, report)
    if duplicates := stage.duplicates(["commune_insee_source", "year"]):
        raise LoaderError(f"{path}: commune/year appears more than once: {', '.join(duplicates)}")
    years = layout.years
    conn.execute(
        text(
            """INSERT INTO naf_consumption_vintage
                   (vintage, first_year, last_year, provisional_year, source)
               VALUES (:v, :first, :last, :last, :source)
               ON CONFLICT (vintage) DO UPDATE SET first_year = EXCLUDED.first_year,
                   last_year = EXCLUDED.last_year,
                   provisional_year = EXCLUDED.provisional_year,
                   source = EXCLUDED.source, loaded_at = now()"""
        ),
        {"v": layout.vintage, "first": years[0], "last": years[-1], "source": str(path)},
    )
    # A vintage is replaced whole: rows of communes absent from the new file go.
    conn.execute(
        text(
            "DELETE FROM naf_consumption c WHERE vintage = :v AND NOT EXISTS ("
            " SELECT 1 FROM naf_consumption_stage s WHERE s.commune_insee_source ="
            " c.commune_insee_source AND s.year = c.year)"
        ),
        {"v": layout.vintage},
    )
    report.inserted, report.updated = stage.merge(["vintage", "commune_insee_source", "year"])
    # Counted in commune-years, the rows of naf_consumption.
    report.tables["communes"] = report.read
    report.read *= len(years)
    report.unchanged = report.read - report.inserted - report.updated


def _years(path: Path, names: list[str]) -> tuple[list[int], dict[str, tuple[int, int]]]:
    """Annual flow years of the file, and its multi-year total columns (first, end year)."""
    annual, totals = [], {}
    for name in names:
        match = _FLOW.match(name)
        if not match:
            continue
        start, end = 2000 + int(match.group(1)), 2000 + int(match.group(2))
        if end == start + 1:
            annual.append(start)
        elif end > start + 1:
            totals[name] = (start, end)
    if not annual:
        raise LoaderError(
            f"{path}: no annual flow column (nafAAartBB): not a Cerema NAF consumption file"
        )
    annual.sort()
    gaps = sorted(set(range(annual[0], annual[-1] + 1)) - set(annual))
    if gaps:
        raise LoaderError(f"{path}: annual flows missing for {', '.join(map(str, gaps))}")
    return annual, totals


def _flows(path: Path, batch: pa.RecordBatch, year: int) -> dict[str, pa.Array]:
    a, b = f"{year % 100:02d}", f"{(year + 1) % 100:02d}"
    total = _number(path, batch, f"naf{a}art{b}")
    flows = {"total_m2": total}
    for code, name in DESTINATIONS.items():
        flows[name] = _number(path, batch, f"art{a}{code}{b}")
    return flows


def _number(path: Path, batch: pa.RecordBatch, name: str) -> pa.Array:
    values = column(batch, name)
    try:
        return pc.cast(pc.replace_substring(values, ",", "."), pa.float64())
    except pa.ArrowInvalid as exc:
        raise LoaderError(f"{path}: column {name} holds a value that is not a number") from exc


def _sum_mismatch(flows: dict[str, pa.Array]) -> np.ndarray:
    total = pc.fill_null(flows["total_m2"], 0).to_numpy(zero_copy_only=False)
    parts = sum(
        pc.fill_null(flows[name], 0).to_numpy(zero_copy_only=False)
        for name in DESTINATIONS.values()
    )
    return np.abs(total - parts) > SUM_TOLERANCE_M2


def _check_totals(
    path: Path, batch: pa.RecordBatch, totals: dict[str, tuple[int, int]], codes: pa.Array
) -> list[str]:
    """Multi-year totals (naf11art21…) against the sum of their annual flows."""
    out = []
    for name, (start, end) in totals.items():
        declared = pc.fill_null(_number(path, batch, name), 0).to_numpy(zero_copy_only=False)
        summed = sum(
            pc.fill_null(_flows(path, batch, y)["total_m2"], 0).to_numpy(zero_copy_only=False)
            for y in range(start, end)
        )
        off = np.abs(declared - summed) > SUM_TOLERANCE_M2
        if off.any():
            first = codes[int(np.flatnonzero(off)[0])].as_py()
            out.append(
                f"{name}: {int(off.sum())} communes where it differs from the annual flows "
                f"(e.g. {first})"
            )
    return out
