"""Territoires d'industrie (ANCT, 183 territories for 2023-2027): a documented CSV.

Format (``;`` or ``,`` separated, UTF-8), one row per territory with its member EPCI
``|``-separated, or one row per (territory, EPCI) pair; both can be mixed:

    ti_id;ti_nom;region;epci_siren
    TI-11-001;Territoire d'industrie Exemple;11;200056232|200058519

A territory is a set of EPCI and an EPCI belongs to at most one territory (checked).
Re-importing a territory replaces its membership. Unknown SIRENs (EPCI that merged
since the list was made) are reported, not linked.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow.compute as pc
from sqlalchemy import Engine, text

from geo.db.outlines import refresh_outlines
from geo.ingest.common import record_run
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport
from geo.ingest.vector import column, read_csv


def load_territoires_industrie(engine: Engine, path: Path) -> ImportReport:
    path = Path(path)
    report = ImportReport(kind="territoires-industrie", source=str(path))
    names: dict[str, str] = {}
    regions: dict[str, str] = {}
    members: dict[str, set[str]] = defaultdict(set)
    for batch in read_csv(path, required=("ti_id", "ti_nom", "region", "epci_siren")):
        report.read += batch.num_rows
        rows = zip(
            column(batch, "ti_id").to_pylist(),
            column(batch, "ti_nom").to_pylist(),
            pc.utf8_lpad(column(batch, "region"), 2, "0").to_pylist(),
            column(batch, "epci_siren").to_pylist(),
            strict=True,
        )
        for line, (ti, name, region, sirens) in enumerate(
            rows, start=report.read - batch.num_rows + 2
        ):
            if not ti or not name or not region:
                raise LoaderError(f"{path}, line {line}: ti_id, ti_nom and region are required")
            if names.setdefault(ti, name) != name or regions.setdefault(ti, region) != region:
                raise LoaderError(f"{path}, line {line}: {ti} has two names or régions")
            members[ti] |= {s.strip() for s in (sirens or "").split("|") if s.strip()}
    owner: dict[str, str] = {}
    for ti, sirens in members.items():
        for siren in sirens:
            if owner.setdefault(siren, ti) != ti:
                raise LoaderError(
                    f"{path}: EPCI {siren} is in two territoires d'industrie "
                    f"({owner[siren]} and {ti}); an EPCI belongs to at most one"
                )
    with engine.begin() as conn:
        known_regions = set(conn.execute(text("SELECT code FROM region")).scalars())
        unknown_regions = sorted(set(regions.values()) - known_regions)
        if unknown_regions:
            raise LoaderError(f"{path}: unknown région code(s) {', '.join(unknown_regions)}")
        known = set(
            conn.execute(
                text("SELECT siren FROM epci WHERE siren = ANY(:s)"), {"s": sorted(owner)}
            ).scalars()
        )
        for ti in sorted(names):
            result = conn.execute(
                text(
                    """INSERT INTO territoire_industrie AS t (id, name, region_code)
                       VALUES (:id, :name, :region)
                       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
                                                      region_code = EXCLUDED.region_code
                       WHERE (t.name, t.region_code) IS DISTINCT FROM
                             (EXCLUDED.name, EXCLUDED.region_code)
                       RETURNING (xmax = 0)"""
                ),
                {"id": ti, "name": names[ti], "region": regions[ti]},
            ).scalar_one_or_none()
            if result is True:
                report.inserted += 1
            elif result is False:
                report.updated += 1
        report.unchanged = len(names) - report.inserted - report.updated
        report.read = len(names)
        conn.execute(
            text(
                "UPDATE epci SET territoire_industrie_id = NULL "
                "WHERE territoire_industrie_id = ANY(:tis) AND NOT (siren = ANY(:sirens))"
            ),
            {"tis": sorted(names), "sirens": sorted(known)},
        )
        members_known = sorted(known)
        report.tables["member EPCI"] = conn.execute(
            text(
                "UPDATE epci SET territoire_industrie_id = m.ti "
                "FROM unnest(CAST(:sirens AS text[]), CAST(:tis AS text[])) AS m(siren, ti) "
                "WHERE epci.siren = m.siren"
            ),
            {"sirens": members_known, "tis": [owner[s] for s in members_known]},
        ).rowcount
        unknown = sorted(set(owner) - known)
        if unknown:
            report.warnings.append(
                f"{len(unknown)} EPCI SIREN unknown to the reference, not linked: "
                + ", ".join(unknown[:20])
            )
        refresh_outlines(conn)
        record_run(conn, report, path)
    return report
