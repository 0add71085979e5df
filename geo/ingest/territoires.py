"""Territoires d'industrie: the ANCT GeoJSON as published, or a documented CSV.

ANCT GeoJSON (data.gouv.fr "programme Territoires d'industrie", ``polygone-4326_ti``):
one feature per territory, ``id_ti``, ``lib_ti``, ``lib_groupement`` and
``siren_groupement`` (the member groupings, comma-separated), its dissolved outline in
WGS84. The région is not in the file: it is the région of most of the territory's
communes, else the one under its outline.

CSV (``;`` or ``,`` separated, UTF-8), one row per territory with its member EPCI
``|``-separated, or one row per (territory, EPCI) pair; both can be mixed:

    ti_id;ti_nom;region;epci_siren
    TI-11-001;Territoire d'industrie Exemple;11;200056232|200058519

Every member SIREN is kept in ``territoire_industrie_member`` as published, resolved as
an EPCI of the reference, a commune (some territories list communes), or ``unknown``
(an EPCI merged since, or an EPT of the Métropole du Grand Paris, which the EPCI
reference does not hold): unknown SIRENs are reported, never dropped. The territory's
communes (``territoire_industrie_commune``) are those of its EPCI and communes, and, for
a territory with an unknown member, the communes whose boundary lies inside the published
outline (point on surface). An EPCI belongs to at most one territory (checked).
Re-importing a territory replaces its membership.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import shapely
from sqlalchemy import Connection, Engine, text

from geo.crs import LAMBERT93, METRO_WGS84_BOUNDS
from geo.db.outlines import refresh_outlines
from geo.ingest.common import make_valid_polygonal, record_run, to_lambert93
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport
from geo.ingest.vector import column, geometries_from_wkb, read_csv, read_geojson


@dataclass
class _Territories:
    names: dict[str, str] = field(default_factory=dict)
    regions: dict[str, str | None] = field(default_factory=dict)
    members: dict[str, dict[str, str | None]] = field(default_factory=lambda: defaultdict(dict))
    outlines: dict[str, Any] = field(default_factory=dict)  # EWKB or None


def load_territoires_industrie(engine: Engine, path: Path) -> ImportReport:
    path = Path(path)
    report = ImportReport(kind="territoires-industrie", source=str(path))
    if path.suffix.lower() in (".geojson", ".json", ".gz"):
        territories = _read_anct(path, report)
    else:
        territories = _read_csv(path, report)
    owner: dict[str, str] = {}
    for ti, sirens in territories.members.items():
        for siren in sirens:
            if owner.setdefault(siren, ti) != ti:
                raise LoaderError(
                    f"{path}: EPCI {siren} is in two territoires d'industrie "
                    f"({owner[siren]} and {ti}); an EPCI belongs to at most one"
                )
    with engine.begin() as conn:
        _write(conn, path, territories, owner, report)
        refresh_outlines(conn)
        record_run(conn, report, path)
    return report


def _read_csv(path: Path, report: ImportReport) -> _Territories:
    out = _Territories()
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
            if (
                out.names.setdefault(ti, name) != name
                or out.regions.setdefault(ti, region) != region
            ):
                raise LoaderError(f"{path}, line {line}: {ti} has two names or régions")
            out.outlines[ti] = None
            for s in (sirens or "").split("|"):
                if s.strip():
                    out.members[ti][s.strip()] = None
    return out


def _read_anct(path: Path, report: ImportReport) -> _Territories:
    out = _Territories()
    required = ("id_ti", "lib_ti", "siren_groupement")
    for batch, crs in read_geojson(path, required=required):
        report.read += batch.num_rows
        ids = column(batch, "id_ti").to_pylist()
        names = column(batch, "lib_ti").to_pylist()
        sirens = column(batch, "siren_groupement").to_pylist()
        labels = column(batch, "lib_groupement").to_pylist()
        geoms = geometries_from_wkb(batch)
        for i, ti in enumerate(ids):
            if not ti or not names[i]:
                raise LoaderError(f"{path}, feature {i + 1}: id_ti and lib_ti are required")
            if ti in out.names:
                raise LoaderError(f"{path}: territory {ti} appears more than once")
            codes = [s.strip() for s in (sirens[i] or "").split(",") if s.strip()]
            bad = [s for s in codes if not (len(s) == 9 and s.isdigit())]
            if bad:
                raise LoaderError(f"{path}, {ti}: member SIREN(s) not of 9 digits: {bad[0]}")
            if not codes:
                raise LoaderError(f"{path}, {ti}: no member SIREN")
            # lib_groupement lists the names in the same order, comma-separated; names
            # themselves may hold commas, so keep them only when the counts agree
            parts = [n.strip() for n in (labels[i] or "").split(",")]
            named = parts if len(parts) == len(codes) else [None] * len(codes)
            out.names[ti] = names[i]
            out.regions[ti] = None
            out.members[ti] = dict(zip(codes, named, strict=True))
            out.outlines[ti] = _outline(path, ti, geoms[i], crs, report)
        # one projection for the whole batch (a transformer per outline costs seconds)
        kept = [ti for ti in ids if isinstance(out.outlines.get(ti), _Pending)]
        if kept:
            projected = to_lambert93(
                np.array([out.outlines[ti].geom for ti in kept], dtype=object), crs
            )
            for ti, geom in zip(kept, projected, strict=True):
                if shapely.get_type_id(geom) == 3:
                    geom = shapely.multipolygons([geom])
                if shapely.get_type_id(geom) != 6:
                    raise LoaderError(f"{path}, {ti}: the outline is not a polygon")
                out.outlines[ti] = shapely.to_wkb(
                    shapely.set_srid(geom, LAMBERT93), include_srid=True
                )
    return out


@dataclass
class _Pending:
    """An outline read, still to project."""

    geom: object


def _outline(path: Path, ti: str, geom, crs, report: ImportReport) -> _Pending | None:
    """The outline as Lambert-93 EWKB; None (reported) overseas, where Lambert-93 does not
    apply."""
    if geom is None or shapely.is_empty(geom):
        report.warnings.append(f"{ti}: no outline")
        return None
    lon_min, lat_min, lon_max, lat_max = shapely.bounds(geom)
    x0, y0, x1, y1 = METRO_WGS84_BOUNDS
    geographic = crs.to_epsg() == 4326 or crs.name.endswith("CRS84") or "WGS 84" in crs.name
    if geographic and not (x0 <= lon_min and lon_max <= x1 and y0 <= lat_min and lat_max <= y1):
        report.tables["overseas outlines not stored"] = (
            report.tables.get("overseas outlines not stored", 0) + 1
        )
        return None
    # territories listing communes are drawn with a point per commune: keep the polygons
    polygons = [g for g in shapely.get_parts(geom) if shapely.get_type_id(g) in (3, 6)]
    if not polygons:
        report.tables["outlines without polygon (points only), not stored"] = (
            report.tables.get("outlines without polygon (points only), not stored", 0) + 1
        )
        return None
    if len(polygons) != len(shapely.get_parts(geom)):
        report.tables["outlines with points dropped"] = (
            report.tables.get("outlines with points dropped", 0) + 1
        )
    geom = shapely.multipolygons(shapely.get_parts(polygons))
    if not shapely.is_valid(geom):
        geom = make_valid_polygonal(np.array([geom], dtype=object))[0]
        report.repaired += 1
    return _Pending(geom)


def _write(
    conn: Connection,
    path: Path,
    territories: _Territories,
    owner: dict[str, str],
    report: ImportReport,
) -> None:
    """The file's territories written in the caller's transaction: members resolved,
    régions assigned, territories upserted, memberships replaced, EPCI linked, communes
    located, and what the publisher got wrong reported."""
    sirens = sorted(owner)
    resolved, epcis = _resolve_members(conn, sirens)
    _assign_regions(conn, path, territories, owner, sirens)
    tis = sorted(territories.names)
    _upsert_territories(conn, territories, tis, report)
    _replace_members(conn, territories, tis, resolved)
    _link_epcis(conn, tis, sorted(epcis), owner, report)
    report.tables["member communes (listed as such)"] = sum(
        1 for s in sirens if resolved[s] == "commune"
    )
    located = _locate_communes(conn, tis, report)
    _warn(conn, territories, tis, sirens, resolved, owner, located, report)


def _resolve_members(conn: Connection, sirens: list[str]) -> tuple[dict[str, str], set[str]]:
    """Each member SIREN as an EPCI, a commune or unknown to the reference; the EPCI."""
    epcis = set(
        conn.execute(text("SELECT siren FROM epci WHERE siren = ANY(:s)"), {"s": sirens}).scalars()
    )
    communes: dict[str, str] = dict(
        conn.execute(
            text(
                "SELECT siren, insee FROM commune WHERE siren = ANY(:s) "
                "AND kind = 'commune-actuelle'"
            ),
            {"s": sirens},
        ).all()
    )
    resolved = {
        s: "epci" if s in epcis else "commune" if s in communes else "unknown" for s in sirens
    }
    return resolved, epcis


def _assign_regions(
    conn: Connection,
    path: Path,
    territories: _Territories,
    owner: dict[str, str],
    sirens: list[str],
) -> None:
    """Each territory's région: given (CSV), else most of the communes of the members, else
    under the outline; a territory without one, or with an unknown one, is refused."""
    majority: dict[str, str] = dict(
        conn.execute(
            text(
                """SELECT ti, mode() WITHIN GROUP (ORDER BY c.region_code)
                   FROM unnest(CAST(:tis AS text[]), CAST(:sirens AS text[])) AS m(ti, siren)
                   JOIN (SELECT epci_siren AS siren, region_code FROM commune
                         UNION ALL
                         SELECT siren, region_code FROM commune
                         WHERE kind = 'commune-actuelle') c ON c.siren = m.siren
                   GROUP BY ti"""
            ),
            {"tis": [owner[s] for s in sirens], "sirens": sirens},
        ).all()
    )
    known_regions = set(conn.execute(text("SELECT code FROM region")).scalars())
    for ti in sorted(territories.names):
        region = territories.regions[ti] or majority.get(ti)
        if region is None and territories.outlines[ti] is not None:
            region = conn.execute(
                text(
                    # under the outline's largest part (some published outlines carry
                    # stray parts far from the territory)
                    "SELECT code FROM region WHERE ST_Intersects(geom, ST_PointOnSurface("
                    "(SELECT d.geom FROM ST_Dump(ST_GeomFromEWKB(:g)) d "
                    "ORDER BY ST_Area(d.geom) DESC LIMIT 1))) LIMIT 1"
                ),
                {"g": territories.outlines[ti]},
            ).scalar()
        if region is None:
            raise LoaderError(f"{path}: no région found for {ti} (no known member, no outline)")
        if region not in known_regions:
            raise LoaderError(f"{path}: unknown région code(s) {region}")
        territories.regions[ti] = region


def _upsert_territories(
    conn: Connection, territories: _Territories, tis: list[str], report: ImportReport
) -> None:
    """Each territory inserted, or updated where it differs; counted in the report."""
    for ti in tis:
        result = conn.execute(
            text(
                """INSERT INTO territoire_industrie AS t (id, name, region_code, geom)
                   VALUES (:id, :name, :region, ST_GeomFromEWKB(:geom))
                   ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
                       region_code = EXCLUDED.region_code, geom = EXCLUDED.geom
                   WHERE (t.name, t.region_code, ST_AsEWKB(t.geom)) IS DISTINCT FROM
                         (EXCLUDED.name, EXCLUDED.region_code, ST_AsEWKB(EXCLUDED.geom))
                   RETURNING (xmax = 0)"""
            ),
            {
                "id": ti,
                "name": territories.names[ti],
                "region": territories.regions[ti],
                "geom": territories.outlines[ti],
            },
        ).scalar_one_or_none()
        if result is True:
            report.inserted += 1
        elif result is False:
            report.updated += 1
    report.unchanged = len(tis) - report.inserted - report.updated
    report.read = len(tis)


def _replace_members(
    conn: Connection, territories: _Territories, tis: list[str], resolved: dict[str, str]
) -> None:
    """The members (and located communes) of the file's territories replaced by the file's."""
    # membership, replaced for the territories of the file
    conn.execute(
        text("DELETE FROM territoire_industrie_member WHERE territoire_industrie_id = ANY(:t)"),
        {"t": tis},
    )
    conn.execute(
        text("DELETE FROM territoire_industrie_commune WHERE territoire_industrie_id = ANY(:t)"),
        {"t": tis},
    )
    rows = [
        {"ti": ti, "siren": s, "name": name, "as": resolved[s]}
        for ti in tis
        for s, name in territories.members[ti].items()
    ]
    if rows:
        conn.execute(
            text(
                "INSERT INTO territoire_industrie_member "
                "(territoire_industrie_id, siren, name, resolved_as) "
                "VALUES (:ti, :siren, :name, :as)"
            ),
            rows,
        )


def _link_epcis(
    conn: Connection,
    tis: list[str],
    members_known: list[str],
    owner: dict[str, str],
    report: ImportReport,
) -> None:
    """Each member EPCI points at its territory; former members of these territories at none."""
    conn.execute(
        text(
            "UPDATE epci SET territoire_industrie_id = NULL "
            "WHERE territoire_industrie_id = ANY(:tis) AND NOT (siren = ANY(:sirens))"
        ),
        {"tis": tis, "sirens": members_known},
    )
    report.tables["member EPCI"] = conn.execute(
        text(
            "UPDATE epci SET territoire_industrie_id = m.ti "
            "FROM unnest(CAST(:sirens AS text[]), CAST(:tis AS text[])) AS m(siren, ti) "
            "WHERE epci.siren = m.siren"
        ),
        {"sirens": members_known, "tis": [owner[s] for s in members_known]},
    ).rowcount


def _locate_communes(conn: Connection, tis: list[str], report: ImportReport) -> int:
    """The communes of each territory: its member EPCI's and member communes, then, where a
    member is unknown, those inside the published outline (within its région); how many
    were located by outline."""
    conn.execute(
        text(
            """INSERT INTO territoire_industrie_commune (territoire_industrie_id, insee, via)
               SELECT m.territoire_industrie_id, c.insee, m.resolved_as
               FROM territoire_industrie_member m
               JOIN commune c ON c.epci_siren = m.siren
               WHERE m.resolved_as = 'epci' AND m.territoire_industrie_id = ANY(:t)
                 AND c.kind = 'commune-actuelle'
               UNION ALL
               SELECT m.territoire_industrie_id, c.insee, m.resolved_as
               FROM territoire_industrie_member m
               JOIN commune c ON c.siren = m.siren
               WHERE m.resolved_as = 'commune' AND m.territoire_industrie_id = ANY(:t)
                 AND c.kind = 'commune-actuelle'
               ON CONFLICT DO NOTHING"""
        ),
        {"t": tis},
    )
    located = conn.execute(
        text(
            """INSERT INTO territoire_industrie_commune (territoire_industrie_id, insee, via)
               SELECT t.id, c.insee, 'outline' FROM territoire_industrie t
               JOIN commune c ON c.geom && t.geom
                             AND ST_Contains(t.geom, ST_PointOnSurface(c.geom))
               WHERE t.id = ANY(:t) AND c.kind = 'commune-actuelle'
                 AND c.region_code = t.region_code
                 AND EXISTS (SELECT 1 FROM territoire_industrie_member m
                             WHERE m.territoire_industrie_id = t.id
                               AND m.resolved_as = 'unknown')
               ON CONFLICT DO NOTHING"""
        ),
        {"t": tis},
    ).rowcount
    report.tables["communes"] = conn.execute(
        text(
            "SELECT count(*) FROM territoire_industrie_commune "
            "WHERE territoire_industrie_id = ANY(:t)"
        ),
        {"t": tis},
    ).scalar_one()
    return int(located)


def _warn(
    conn: Connection,
    territories: _Territories,
    tis: list[str],
    sirens: list[str],
    resolved: dict[str, str],
    owner: dict[str, str],
    located: int,
    report: ImportReport,
) -> None:
    """What the publisher's file gets wrong, said in the report: outlines overlapping
    another territory's, members unknown to the reference."""
    # An EPCI belongs to one territory: outlines that overlap are a publisher's error
    # (ti-1104's outline carries parts of ti-2701 and ti-4405 in the ANCT file). Kept as
    # published, reported; communes are located inside an outline within its région only.
    overlaps = (
        conn.execute(
            text(
                """SELECT a.id || ' overlaps ' || string_agg(b.id, ', ' ORDER BY b.id)
               FROM territoire_industrie a JOIN territoire_industrie b
                 ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
               WHERE a.id = ANY(:t)
                 AND ST_Area(ST_Intersection(a.geom, b.geom)) > 10000 * 10
               GROUP BY a.id ORDER BY a.id"""
            ),
            {"t": tis},
        )
        .scalars()
        .all()
    )
    if overlaps:
        report.warnings.append(
            f"{len(overlaps)} published outlines overlap another territory's by more than "
            "10 ha (kept as published): " + "; ".join(overlaps)
        )
    unknown = [s for s in sirens if resolved[s] == "unknown"]
    if unknown:
        report.warnings.append(
            f"{len(unknown)} member SIREN unknown to the EPCI and commune reference, kept "
            f"as members, not linked to an EPCI: "
            + ", ".join(f"{s} ({owner[s]})" for s in unknown[:20])
            + (" …" if len(unknown) > 20 else "")
        )
        if any(territories.outlines.values()):
            report.warnings.append(
                f"{located} communes of territories with unknown members located inside the "
                "published outline (only communes whose boundary is loaded can be)"
            )
