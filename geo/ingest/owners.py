"""The DGFiP "fichier des parcelles des personnes morales" (data.gouv.fr, yearly, one file
per département split into parts): every parcel right held by a legal entity.

Format (situation 2025): ``;``-separated text with the official header
(``Département;Code Direction;Code Commune;Nom de la commune;Préfixe;Section;N° plan;…;
Code droit - par;N° Majic - par;N° SIREN - par;Groupe personne - par;Forme juridique - par;
Forme juridique abrégée - par;Dénomination - par``), one row per right; UTF-8 (earlier
vintages were Windows-1252, also read). The parcel id is rebuilt as the cadastre writes it:
département (2) + commune (3) + préfixe (3, ``000`` when empty) + section (2, left-padded
with ``0``: " C" becomes ``0C``) + plan (4).

The publisher's zip (one per département, holding its parts) is read as published: each
``.csv`` or ``.txt`` member in turn, after the members' sizes are checked
(geo.ingest.archives).

A file replaces the owners of the communes it holds, in one transaction; rows whose parcel
reference cannot be rebuilt are counted by reason and skipped; a truncated file, another
header or an HTML page is refused whole. The owner group of each parcel follows
geo.land.owners.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

import pyarrow as pa
from sqlalchemy import Connection, Engine

from geo.db.schema import parcel_owner
from geo.ingest.archives import check_zip
from geo.ingest.common import record_run
from geo.ingest.errors import LoaderError
from geo.ingest.report import ImportReport
from geo.ingest.staging import copy_columns
from geo.ingest.vector import PARCEL_REF, Stage
from geo.land.owners import GROUPS, is_owner_right, owner_group
from geo.territories import SIREN_PATTERN

HEADER = (
    "Département",
    "Code Direction",
    "Code Commune",
    "Préfixe",
    "Section",
    "N° plan",
    "Code droit - par",
    "N° SIREN - par",
    "Groupe personne - par",
    "Forme juridique - par",
    "Forme juridique abrégée - par",
    "Dénomination - par",
)
COLUMNS = copy_columns(parcel_owner)
_RANK = {g: i for i, g in enumerate(GROUPS)}


def _is_utf8(open_bytes: Callable[[], IO[bytes]]) -> bool:
    """Whether the whole file decodes as UTF-8, read a MiB at a time."""
    decode = codecs.getincrementaldecoder("utf-8-sig")().decode
    with open_bytes() as f:
        try:
            while block := f.read(1 << 20):
                decode(block)
            decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


@contextlib.contextmanager
def _text(open_bytes: Callable[[], IO[bytes]]) -> Iterator[TextIO]:
    """The file as text, streamed: UTF-8, else Windows-1252 (the vintages before 2024)."""
    encoding = "utf-8-sig" if _is_utf8(open_bytes) else "cp1252"
    with open_bytes() as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
        yield text


def _texts(path: Path) -> Iterator[tuple[str, Callable[[], IO[bytes]]]]:
    """(name, opener) of each file to read: ``path``, or each CSV of the publisher's zip
    (opened one after the other, while the zip is open)."""
    if not path.is_file():
        raise LoaderError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        yield str(path), lambda: path.open("rb")
        return
    try:
        with zipfile.ZipFile(path) as archive:
            check_zip(archive, str(path))
            names = sorted(n for n in archive.namelist() if n.lower().endswith((".csv", ".txt")))
            if not names:
                raise LoaderError(f"{path}: a zip without a .csv or .txt file")
            for name in names:
                yield f"{path}:{name}", functools.partial(archive.open, name)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise LoaderError(f"{path}: not a readable zip archive ({exc})") from exc


def parcel_id(dep: str, direction: str, commune: str, prefixe: str, section: str, plan: str) -> str:
    """The cadastre id of one row (overseas: département 97 + direction digit)."""
    dep = dep.strip().upper()
    commune = commune.strip().zfill(3)
    insee = f"97{direction.strip()}{commune[-2:]}" if dep == "97" else f"{dep.zfill(2)}{commune}"
    return (
        insee
        + (prefixe.strip() or "0").zfill(3)
        + section.strip().upper().rjust(2, "0")
        + plan.strip().zfill(4)
    )


def load_owners(engine: Engine, path: Path) -> ImportReport:
    """Import a part of the legal-entity parcel file, or the publisher's zip of a
    département's parts: read, each parcel's owner chosen, written in one transaction."""
    path = Path(path)
    report = ImportReport(kind="proprietaires", source=str(path))
    parcels, names = _read(path, report)
    owners = _choose_owners(parcels, report)
    vintage = re.search(r"PM_(\d{2})_", " ".join(Path(n).name for n in names), re.I)
    report.vintage = f"situation 20{vintage.group(1)}" if vintage else None
    with engine.begin() as conn:
        _write(conn, owners, report)
        record_run(conn, report, path)
    return report


def _read(path: Path, report: ImportReport) -> tuple[dict[str, list[tuple[str, ...]]], list[str]]:
    """Each parcel's rights, from the file or each file of the zip; and the files' names."""
    parcels: dict[str, list[tuple[str, ...]]] = {}
    names = [path.name]
    for label, opener in _texts(path):
        names.append(label)
        try:
            with _text(opener) as text:
                _read_rows(label, text, parcels, report)
        except UnicodeDecodeError:
            raise LoaderError(
                f"{label}: neither UTF-8 nor Windows-1252 text: not the DGFiP file"
            ) from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise LoaderError(f"{label}: not readable ({exc})") from exc
    if report.read == 0:
        raise LoaderError(f"{path}: the file holds no row")
    return parcels, names


@dataclass
class _Owners:
    """What a file says: the rows of ``parcel_owner`` (by column), the communes it covers,
    how many parcels it names, how many owners of each group."""

    rows: dict[str, list[Any]]
    communes: list[str]
    parcels: int
    groups: Counter[str]


def _choose_owners(parcels: dict[str, list[tuple[str, ...]]], report: ImportReport) -> _Owners:
    """The rows of ``parcel_owner``: each parcel's owner, the highest-ranked
    group among its owner rights. Parcels with management rights only are left out (said
    in the report), the groups counted."""
    out: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    groups: Counter[str] = Counter()
    management_only: Counter[str] = Counter()
    for pid, rights in parcels.items():
        owners = [r for r in rights if is_owner_right(r[0])]
        if not owners:
            management_only[pid[:5]] += 1
            continue
        ranked = sorted(owners, key=lambda r: _RANK[owner_group(r[3], r[4], r[5])])
        right, siren, name, group, form, short = ranked[0]
        chosen = owner_group(group, form, short)
        groups[chosen] += 1
        insee = pid[:5]
        dep = insee[:3] if insee.startswith("97") else insee[:2]
        for key, value in (
            ("parcel_id", pid),
            ("departement_code", dep),
            ("commune_insee", insee),
            ("owner_group", chosen),
            ("siren", siren if re.fullmatch(SIREN_PATTERN, siren) else None),
            ("name", name or None),
            ("legal_form", form[:4] or None),
            ("legal_form_short", short[:8] or None),
            ("right_code", right.strip()[:1] or None),
            ("owner_rows", len(owners)),
        ):
            out[key].append(value)
    if management_only:
        report.warnings.append(
            f"{sum(management_only.values())} parcels with management rights only "
            "(syndic, gérant…): their owner is not in the file, left unknown"
        )
    report.departements = set(out["departement_code"])
    # every commune of the file is replaced, even one whose parcels all lack an owner
    return _Owners(out, sorted({pid[:5] for pid in parcels}), len(parcels), groups)


def _write(conn: Connection, owners: _Owners, report: ImportReport) -> None:
    """The owners of the file's communes replaced by the file's, in the caller's
    transaction."""
    stage = Stage(conn, "parcel_owner", COLUMNS)
    stage.copy(
        {
            k: pa.array(v, pa.int32() if COLUMNS[k] == "int4" else pa.string())
            for k, v in owners.rows.items()
        }
    )
    report.tables["replaced (same communes)"] = conn.exec_driver_sql(
        "DELETE FROM parcel_owner WHERE commune_insee = ANY(%(c)s)", {"c": owners.communes}
    ).rowcount
    cols = stage.cols
    report.inserted = conn.exec_driver_sql(
        f"INSERT INTO parcel_owner ({cols}) SELECT {cols} FROM {stage.name}"
    ).rowcount
    report.tables["parcels"] = owners.parcels
    report.tables["parcels matched in the loaded cadastre"] = conn.exec_driver_sql(
        f"SELECT count(*) FROM {stage.name} s WHERE EXISTS (SELECT 1 FROM parcel p "
        "WHERE p.departement_code = s.departement_code AND p.id = s.parcel_id)"
    ).scalar_one()
    report.tables.update({f"group {g}": n for g, n in sorted(owners.groups.items())})
    report.communes = set(owners.communes)


# The longest line read: a DGFiP row is a few hundred characters.
MAX_LINE_CHARS = 1 << 16


def _lines(label: str, text: TextIO) -> Iterator[str]:
    """The lines of ``text``, each read with a bound: LoaderError past it."""
    while line := text.readline(MAX_LINE_CHARS + 1):
        if len(line) > MAX_LINE_CHARS:
            raise LoaderError(f"{label}: a line longer than {MAX_LINE_CHARS} characters")
        yield line


def _records(label: str, reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """The reader's records; a quoted field past the csv module's limit (or a stray NUL)
    is a LoaderError, not a traceback."""
    try:
        yield from reader
    except csv.Error as exc:
        raise LoaderError(f"{label}: not a DGFiP file ({exc})") from None


def _read_rows(
    label: str, text: TextIO, parcels: dict[str, list[tuple[str, ...]]], report: ImportReport
) -> None:
    """The rights of one ``;``-separated file, by parcel, into ``parcels``."""
    first = text.readline(1 << 16)
    if "<html" in first[:1000].lower() or "<!doctype" in first[:1000].lower() or ";" not in first:
        raise LoaderError(f"{label}: not a ';'-separated DGFiP file (first line: {first[:60]!r})")
    header = [h.strip() for h in next(csv.reader([first], delimiter=";"))]
    reader = _records(label, csv.reader(_lines(label, text), delimiter=";"))
    missing = [h for h in HEADER if h not in header]
    if missing:
        raise LoaderError(
            f"{label}: not the DGFiP legal-entity parcel file (2025 header): missing column(s) "
            + ", ".join(missing)
        )
    at = {h: header.index(h) for h in HEADER}
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise LoaderError(
                f"{label}: line {line} has {len(row)} fields, the header {len(header)}: "
                "truncated or damaged file, nothing written"
            )
        report.read += 1
        v = {h: row[i] for h, i in at.items()}
        pid = parcel_id(
            v["Département"],
            v["Code Direction"],
            v["Code Commune"],
            v["Préfixe"],
            v["Section"],
            v["N° plan"],
        )
        if not v["Section"].strip() or not v["N° plan"].strip().isdigit():
            report.rejected["no section or plan number"] += 1
            continue
        if not PARCEL_REF.match(pid):
            report.rejected["parcel reference that is not a cadastre id"] += 1
            continue
        parcels.setdefault(pid, []).append(
            (
                v["Code droit - par"],
                v["N° SIREN - par"].strip(),
                v["Dénomination - par"].strip(),
                v["Groupe personne - par"],
                v["Forme juridique - par"].strip(),
                v["Forme juridique abrégée - par"].strip(),
            )
        )
