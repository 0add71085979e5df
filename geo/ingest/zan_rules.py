"""The data the ZAN rules need besides the rule sets: territorialised targets, planning
documents of communes, the PENE list and commune splits. Each loader replaces the table
it owns (a new import is a new state of the rule, not a patch), in one transaction, and
refuses a malformed file whole.

Formats (documented in docs/methode.md, section "Formats d'import"):

- **Targets** (``load_targets``): Mon Diagnostic Artificialisation's fixture
  (``territorialisation_objectif.json``: ``land``, ``parent``, ``objectif_de_reduction``
  in %, ``nom_document``, ``is_in_document``, ``document_url``, ``document_comment``), or a
  ``;``-separated CSV with the header ``land;parent;reduction_pct;document;regulatory;
  document_url;comment``. ``land``/``parent`` are ``LEVEL_CODE``: ``REGION_32``,
  ``EPCI_200066975``, ``COMMUNE_60054``, ``SCOT_10394``, ``CUSTOM_<name>``. SCoT and custom
  perimeters need their communes: a CSV ``land;commune_insee`` (``load_target_members``).
- **Planning documents** (``load_planning_documents``): CSV
  ``commune_insee;document;prescribed_on;arrete_on;approved_on``, one row per commune and
  document, document one of PLU, PLUi, CC (carte communale), DTL (document en tenant lieu),
  RNU; the procedure's dates ISO (YYYY-MM-DD), empty when not reached (an RNU row has none:
  a procedure under way is a row of its own document). The earlier one-date format
  ``commune_insee;document;procedure_state;state_date`` is still read.
- **PENE list** (``load_pene``): CSV ``pene_id;name;commune_insee;hectares``, one row per
  project and commune it lies in (annex I of the arrêté of 31 May 2024): a forecast.
- **PENE consumption** (``load_pene_consumption``): CSV ``pene_id;commune_insee;year;
  hectares``, what a PENE actually consumed in a commune during a year.
- **Commune splits** (``load_commune_splits``): CSV
  ``source_insee;commune_insee;share;effective_on``: the communes a source code of the
  consumption data was split into; ``share`` (0-1) may be empty, then it is the commune's
  share of the summed areas of the resulting communes (their boundaries must be loaded).
"""

from __future__ import annotations

import csv
import datetime
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo.db.sql import compose, ident
from geo.ingest.common import record_run, warn_count
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport
from geo.territories import LEVELS

TARGET_LEVELS = ("REGION", "SCOT", "EPCI", "COMMUNE", "CUSTOM")
_LAND = re.compile(r"^(REGION|SCOT|EPCI|COMMUNE|CUSTOM)_([A-Za-z0-9_-]{1,56})$")
_INSEE = re.compile(LEVELS["commune"].pattern)
PLANNING_DOCUMENTS = ("PLU", "PLUi", "CC", "DTL", "RNU")
PROCEDURE_STATES = ("prescrit", "arrêté", "approuvé")
# The procedure's dates, in the order of PROCEDURE_STATES (loi 2023-630 art. 4).
PROCEDURE_DATES = ("prescribed_on", "arrete_on", "approved_on")
_TARGET_HEADER = [
    "land",
    "parent",
    "reduction_pct",
    "document",
    "regulatory",
    "document_url",
    "comment",
]


def _rows(path: Path, header: list[str]) -> list[dict[str, Any]]:
    """A ``;``-separated UTF-8 CSV whose header starts with ``header``."""
    if not path.is_file():
        raise LoaderError(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f, delimiter=";")
            names = [n.strip() for n in reader.fieldnames or []]
            if names[: len(header)] != header:
                raise LoaderError(
                    f"{path}: header must start with {';'.join(header)} (found {';'.join(names)})"
                )
            return [
                {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
                for row in reader
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:  # csv: a field over 128 KiB…
        raise LoaderError(f"{path}: cannot read ({exc})") from exc


def _land(path: Path, value: str | None, line: int) -> tuple[str, str] | None:
    if value in (None, ""):
        return None
    match = _LAND.match(value)
    if not match:
        raise LoaderError(
            f"{path}: row {line}: territory {value!r} is not LEVEL_CODE with LEVEL one of "
            + ", ".join(TARGET_LEVELS)
        )
    level, code = match.group(1).lower(), match.group(2)
    if level == "commune" and not _INSEE.match(code):
        raise LoaderError(f"{path}: row {line}: {code!r} is not an INSEE commune code")
    return level, code


def _pene_row(
    path: Path, line: int, row: dict[str, Any], seen: set[tuple[Any, ...]], **fields: Any
) -> dict[str, Any]:
    """A PENE row (of the list, or of their consumption by ``year``) as stored: it names
    its PENE (1 to 32 characters), a commune by its INSEE code, hectares; a PENE does not
    list a commune (in a year) twice (``seen``)."""
    if not row["pene_id"] or len(row["pene_id"]) > 32:
        raise LoaderError(f"{path}: row {line}: pene_id must be 1 to 32 characters")
    if not _INSEE.match(row["commune_insee"]):
        raise LoaderError(f"{path}: row {line}: {row['commune_insee']!r} is not an INSEE code")
    key = (row["pene_id"], row["commune_insee"], fields.get("year"))
    if key in seen:
        when = "" if key[2] is None else f" in {key[2]}"
        raise LoaderError(f"{path}: PENE {key[0]} lists commune {key[1]}{when} twice")
    seen.add(key)
    return {
        "id": row["pene_id"],
        "insee": row["commune_insee"],
        **fields,
        "ha": _number(path, row["hectares"], line, "hectares", 0, 100_000),
        "source": path.name,
    }


def _number(path: Path, value: str, line: int, what: str, low: float, high: float) -> float:
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        raise LoaderError(f"{path}: row {line}: {what} {value!r} is not a number") from None
    if not low <= number <= high:  # also refuses NaN
        raise LoaderError(f"{path}: row {line}: {what} {value} is outside {low:g}..{high:g}")
    return number


def _target_records(path: Path) -> list[dict[str, Any]]:
    """Targets as (land, parent, reduction %, document, regulatory, url, comment) dicts."""
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise LoaderError(f"{path}: no such file")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LoaderError(f"{path}: not a readable JSON file ({exc})") from exc
        if not isinstance(raw, list):
            raise LoaderError(f"{path}: expected a list of territorialisation objects")
        out = []
        for i, item in enumerate(raw, start=1):
            fields = item.get("fields") if isinstance(item, dict) else None
            if not isinstance(fields, dict) or "land" not in fields:
                raise LoaderError(f"{path}: item {i} has no fields.land")
            out.append(
                {
                    "land": fields.get("land"),
                    "parent": fields.get("parent"),
                    "reduction_pct": str(fields.get("objectif_de_reduction", "")),
                    "document": fields.get("nom_document"),
                    "regulatory": bool(fields.get("is_in_document")),
                    "document_url": fields.get("document_url"),
                    "comment": fields.get("document_comment") or None,
                }
            )
        return out
    rows = _rows(path, _TARGET_HEADER)
    for row in rows:
        flag = row["regulatory"].lower()
        if flag not in ("true", "false", "1", "0", "oui", "non"):
            raise LoaderError(f"{path}: regulatory must be true or false, not {flag!r}")
        row["regulatory"] = flag in ("true", "1", "oui")
        row["document_url"] = row["document_url"] or None
        row["comment"] = row["comment"] or None
    return rows


def load_targets(engine: Engine, path: Path) -> ImportReport:
    """Territorialised ZAN targets (replaces those from the same source file name)."""
    path = Path(path)
    report = ImportReport(kind="zan-targets", source=str(path))
    records = _target_records(path)
    rows, seen = [], set()
    for line, record in enumerate(records, start=2):
        land = _land(path, record["land"], line)
        assert land is not None
        if land in seen:
            raise LoaderError(f"{path}: {record['land']} appears twice")
        seen.add(land)
        parent = _land(path, record["parent"], line)
        reduction = _number(path, record["reduction_pct"], line, "reduction", 0, 100) / 100
        rows.append(
            {
                "level": land[0],
                "code": land[1],
                "parent_level": parent[0] if parent else None,
                "parent_code": parent[1] if parent else None,
                "reduction": round(reduction, 6),
                "document": record["document"] or None,
                "regulatory": record["regulatory"],
                "url": record["document_url"],
                "comment": record["comment"],
                "source": path.name,
            }
        )
    report.read = len(rows)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM zan_target WHERE source = :s"), {"s": path.name})
        if rows:
            conn.execute(
                text(
                    """INSERT INTO zan_target (land_level, land_code, parent_level, parent_code,
                           reduction, document, regulatory, document_url, comment, source)
                       VALUES (:level, :code, :parent_level, :parent_code, :reduction,
                               :document, :regulatory, :url, :comment, :source)
                       ON CONFLICT (land_level, land_code) DO UPDATE SET
                           parent_level = EXCLUDED.parent_level,
                           parent_code = EXCLUDED.parent_code, reduction = EXCLUDED.reduction,
                           document = EXCLUDED.document, regulatory = EXCLUDED.regulatory,
                           document_url = EXCLUDED.document_url, comment = EXCLUDED.comment,
                           source = EXCLUDED.source"""
                ),
                rows,
            )
        report.inserted = len(rows)
        report.warnings += _unknown_territories(conn, rows)
        record_run(conn, report, path)
    return report


def _unknown_territories(conn: Connection, rows: list[dict[str, Any]]) -> list[str]:
    """Targets on territories the database does not know apply to no commune: say so."""
    known = {
        "region": "SELECT code FROM region WHERE code = ANY(:c)",
        "epci": "SELECT siren FROM epci WHERE siren = ANY(:c)",
        "commune": "SELECT insee FROM commune WHERE insee = ANY(:c)",
    }
    out = []
    for level, sql in known.items():
        codes = [r["code"] for r in rows if r["level"] == level]
        found = set(conn.execute(text(sql), {"c": codes}).scalars()) if codes else set()
        if missing := sorted(set(codes) - found):
            out.append(f"{len(missing)} {level} targets on unknown territories: {missing[:10]}")
    perimeters = [r for r in rows if r["level"] in ("scot", "custom")]
    if perimeters:
        members = set(
            conn.execute(
                text("SELECT DISTINCT land_level || '_' || land_code FROM zan_target_member")
            ).scalars()
        )
        without = [f"{r['level']}_{r['code']}" for r in perimeters]
        without = [w for w in without if w not in members]
        if without:
            out.append(
                f"{len(without)} SCoT/custom targets have no member communes loaded and apply "
                f"to no commune until a perimeter file is imported (e.g. {without[0].upper()})"
            )
    return out


def load_target_members(engine: Engine, path: Path) -> ImportReport:
    """The communes of SCoT and custom perimeters (replaces the perimeters it names).

    CSV ``land;commune_insee`` and, optionally, ``land_name`` (the SCoT's name), one row per
    commune: e.g. a SCoT's member list as the DGALN's SUDOCUH survey publishes it (its list
    of SCoT communes, which Mon Diagnostic Artificialisation ingests)."""
    path = Path(path)
    report = ImportReport(kind="zan-target-members", source=str(path))
    rows = []
    for line, row in enumerate(_rows(path, ["land", "commune_insee"]), start=2):
        land = _land(path, row["land"], line)
        assert land is not None
        if land[0] not in ("scot", "custom"):
            raise LoaderError(
                f"{path}: row {line}: only SCOT_ and CUSTOM_ perimeters are listed here "
                "(régions, EPCI and communes are known from the reference data)"
            )
        if not _INSEE.match(row["commune_insee"]):
            raise LoaderError(f"{path}: row {line}: {row['commune_insee']!r} is not an INSEE code")
        rows.append(
            {
                "level": land[0],
                "code": land[1],
                "insee": row["commune_insee"],
                "name": row.get("land_name") or None,
            }
        )
    report.read = len(rows)
    with engine.begin() as conn:
        for level, code in {(r["level"], r["code"]) for r in rows}:
            conn.execute(
                text("DELETE FROM zan_target_member WHERE land_level = :l AND land_code = :c"),
                {"l": level, "c": code},
            )
        if rows:
            conn.execute(
                text(
                    "INSERT INTO zan_target_member (land_level, land_code, commune_insee, "
                    "land_name) VALUES (:level, :code, :insee, :name) ON CONFLICT DO NOTHING"
                ),
                rows,
            )
        report.inserted = len(rows)
        record_run(conn, report, path)
    return report


def _date(path: Path, value: str, line: int) -> datetime.date | None:
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise LoaderError(f"{path}: row {line}: {value!r} is not a date (YYYY-MM-DD)") from None


def _header(path: Path) -> list[str]:
    """The names of a ``;``-separated CSV's header (empty if the file cannot be read: then
    ``_rows`` says why)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return [n.strip() for n in (f.readline().rstrip("\r\n").split(";"))]
    except (OSError, UnicodeDecodeError):
        return []


def load_planning_documents(engine: Engine, path: Path) -> ImportReport:
    """The planning documents of each commune and their procedure's dates (replaces the
    whole table). One row per commune and document; the earlier format with a single
    state and date (``procedure_state;state_date``) is read into the matching column."""
    path = Path(path)
    report = ImportReport(kind="planning-documents", source=str(path))
    rows, seen = [], set()
    legacy = _header(path)[2:3] == ["procedure_state"]
    header = ["commune_insee", "document"] + (
        ["procedure_state", "state_date"] if legacy else list(PROCEDURE_DATES)
    )
    for line, row in enumerate(_rows(path, header), start=2):
        insee = row["commune_insee"]
        if not _INSEE.match(insee):
            raise LoaderError(f"{path}: row {line}: {insee!r} is not an INSEE code")
        if row["document"] not in PLANNING_DOCUMENTS:
            raise LoaderError(
                f"{path}: row {line}: document must be one of {', '.join(PLANNING_DOCUMENTS)}"
            )
        if (insee, row["document"]) in seen:
            raise LoaderError(f"{path}: commune {insee} lists its {row['document']} twice")
        seen.add((insee, row["document"]))
        if legacy:
            state = row["procedure_state"] or None
            if row["document"] != "RNU" and state not in PROCEDURE_STATES:
                raise LoaderError(
                    f"{path}: row {line}: procedure_state must be one of "
                    f"{', '.join(PROCEDURE_STATES)} for a {row['document']}"
                )
            dates = dict.fromkeys(PROCEDURE_DATES)
            if state is not None:
                column = PROCEDURE_DATES[PROCEDURE_STATES.index(state)]
                dates[column] = _date(path, row["state_date"], line)
        else:
            dates = {name: _date(path, row[name], line) for name in PROCEDURE_DATES}
        if row["document"] == "RNU" and any(dates.values()):
            raise LoaderError(
                f"{path}: row {line}: the RNU has no procedure; a procedure under way is a "
                "row of its own document (PLU, PLUi, CC, DTL)"
            )
        rows.append({"insee": insee, "document": row["document"], **dates, "source": path.name})
    return _replace_table(
        engine, path, report, rows,
        "commune_planning_document",
        """INSERT INTO commune_planning_document
               (commune_insee, document, prescribed_on, arrete_on, approved_on, source)
           VALUES (:insee, :document, :prescribed_on, :arrete_on, :approved_on, :source)""",
        check=lambda conn: warn_count(
            conn, report,
            "SELECT count(DISTINCT commune_insee) FROM commune_planning_document d "
            "WHERE NOT EXISTS (SELECT 1 FROM commune c WHERE c.insee = d.commune_insee)",
            "communes unknown to the reference data",
        ),
    )  # fmt: skip


def _replace_table(
    engine: Engine,
    path: Path,
    report: ImportReport,
    rows: list[dict[str, Any]],
    table: str,
    insert: str,
    *,
    prepare: Callable[[Connection], None] | None = None,
    check: Callable[[Connection], None] | None = None,
) -> ImportReport:
    """A file that replaces a whole table, in one transaction: ``prepare`` (which may
    complete the rows or refuse them by raising), the table emptied, the rows inserted,
    ``check`` (warnings on what they reference), the run recorded."""
    report.read = len(rows)
    with engine.begin() as conn:
        if prepare is not None:
            prepare(conn)
        conn.execute(text(compose("DELETE FROM {table}", table=ident(table))))
        if rows:
            conn.execute(text(insert), rows)
        report.inserted = len(rows)
        if check is not None:
            check(conn)
        record_run(conn, report, path)
    return report


def load_pene(engine: Engine, path: Path) -> ImportReport:
    """The PENE list (replaces it), declared on the PENE envelope's ledger: see geo.ledger.pene."""
    from geo.ledger.pene import declare_pene_projects

    path = Path(path)
    report = ImportReport(kind="pene", source=str(path))
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for line, row in enumerate(_rows(path, ["pene_id", "name", "commune_insee", "hectares"]), 2):
        if not row["name"]:
            raise LoaderError(f"{path}: row {line}: a PENE needs its name")
        rows.append(_pene_row(path, line, row, seen, name=row["name"]))
    report.read = len(rows)
    with engine.begin() as conn:
        unknown: list[str] = sorted(
            set(
                conn.execute(
                    text(
                        "SELECT code FROM unnest(CAST(:c AS text[])) code WHERE NOT EXISTS "
                        "(SELECT 1 FROM commune WHERE insee = code)"
                    ),
                    {"c": sorted({r["insee"] for r in rows})},
                ).scalars()
            )
        )
        if unknown:
            raise LoaderError(f"{path}: unknown commune codes: {', '.join(unknown[:10])}")
        report.tables = declare_pene_projects(conn, rows, path.name)
        report.inserted = len(rows)
        record_run(conn, report, path)
    return report


def load_pene_consumption(engine: Engine, path: Path) -> ImportReport:
    """What PENE projects actually consumed, by commune and year (replaces the table).

    CSV ``pene_id;commune_insee;year;hectares``: the NAF hectares a PENE consumed in the
    commune during the year (1 January to 1 January, as Cerema's flows), e.g. from Cerema's
    PENE outlines (``PENE_contour``) and the communes they cover crossed with the land-tax
    files. A PENE absent from the list (annex I) is reported, not refused."""
    path = Path(path)
    report = ImportReport(kind="pene-consumption", source=str(path))
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for line, row in enumerate(_rows(path, ["pene_id", "commune_insee", "year", "hectares"]), 2):
        year = int(_number(path, row["year"], line, "year", 2009, 2100))
        if str(year) != row["year"]:
            raise LoaderError(f"{path}: row {line}: year must be a whole year (YYYY)")
        rows.append(_pene_row(path, line, row, seen, year=year))
    return _replace_table(
        engine, path, report, rows,
        "pene_consumption",
        """INSERT INTO pene_consumption (pene_id, commune_insee, year, hectares, source)
           VALUES (:id, :insee, :year, :ha, :source)""",
        check=lambda conn: _check_pene_consumption(conn, report),
    )  # fmt: skip


def _check_pene_consumption(conn: Connection, report: ImportReport) -> None:
    warn_count(
        conn, report,
        "SELECT count(*) FROM pene_consumption c WHERE NOT EXISTS "
        "(SELECT 1 FROM commune m WHERE m.insee = c.commune_insee)",
        "communes unknown to the reference data",
    )  # fmt: skip
    warn_count(
        conn, report,
        "SELECT count(DISTINCT pene_id) FROM pene_consumption c WHERE NOT EXISTS "
        "(SELECT 1 FROM pene_project p WHERE p.pene_id = c.pene_id)",
        "PENE not in the imported list (annex I)",
    )  # fmt: skip


def load_commune_splits(engine: Engine, path: Path) -> ImportReport:
    """Communes split after the consumption data's geography (replaces the table)."""
    path = Path(path)
    report = ImportReport(kind="commune-splits", source=str(path))
    header = ["source_insee", "commune_insee", "share", "effective_on"]
    rows: list[dict[str, Any]] = []
    for line, row in enumerate(_rows(path, header), start=2):
        for name in ("source_insee", "commune_insee"):
            if not _INSEE.match(row[name]):
                raise LoaderError(f"{path}: row {line}: {row[name]!r} is not an INSEE code")
        share = _number(path, row["share"], line, "share", 0, 1) if row["share"] else None
        rows.append(
            {
                "source": row["source_insee"],
                "insee": row["commune_insee"],
                "share": share,
                "on": _date(path, row["effective_on"], line),
                "file": path.name,
            }
        )

    def shares(conn: Connection) -> None:
        _fill_shares_by_area(conn, path, rows)
        totals: dict[str, float] = {}
        for r in rows:
            totals[r["source"]] = totals.get(r["source"], 0.0) + r["share"]
        off = {s: t for s, t in totals.items() if abs(t - 1) > 1e-4}
        if off:
            raise LoaderError(f"{path}: shares of a split must add up to 1: {off}")

    return _replace_table(
        engine, path, report, rows,
        "commune_split",
        """INSERT INTO commune_split (source_insee, commune_insee, share, effective_on, source)
           VALUES (:source, :insee, :share, :on, :file)""",
        prepare=shares,
    )  # fmt: skip


def _fill_shares_by_area(conn: Connection, path: Path, rows: list[dict[str, Any]]) -> None:
    """A split without shares shares by area (as Mon Diagnostic Artificialisation does)."""
    sources = sorted({r["source"] for r in rows if r["share"] is None})
    for source in sources:
        group = [r for r in rows if r["source"] == source]
        if any(r["share"] is not None for r in group):
            raise LoaderError(f"{path}: split of {source}: give every share or none")
        areas: dict[str, float] = dict(
            conn.execute(
                text(
                    "SELECT insee, ST_Area(geom) FROM commune "
                    "WHERE insee = ANY(:c) AND geom IS NOT NULL"
                ),
                {"c": [r["insee"] for r in group]},
            ).all()
        )
        if len(areas) != len(group) or not sum(areas.values()):
            raise LoaderError(
                f"{path}: split of {source}: no share given and the boundaries of "
                f"{', '.join(r['insee'] for r in group)} are not all loaded"
            )
        total = sum(areas.values())
        for r in group:
            r["share"] = areas[r["insee"]] / total
