"""Exports of any list of features as CSV, GeoJSON or GeoPackage.

One module for every endpoint that exports (``/parcels/search``, ``/sites/search``, the
OGC items). The caller describes an ``Export``: its name, the fields (name, type,
description, how to read them from a GeoJSON feature) and an iterator of pages of
features; or a ``TableExport`` whose every column PostgreSQL computes (a parcel CSV is
then written by COPY, a GeoPackage from WKB through Arrow, no Python object per cell).
``write_export`` writes it whole into a temporary file, at database speed, with one
writer per format (``WRITERS``); ``ExportFile`` then sends that file at the client's pace.
So the database connection is held while the file is written, never while a client
reads, and a failure is still a problem document: nothing has been sent.

Temporary files live in ``export_dir()``. CSV and GeoJSON files have no name at all
(``O_TMPFILE``); a GeoPackage, which GDAL writes by name, is named
``foncier-export-<pid>-…`` until it is built and opened, then unlinked: the disk is freed
when the file is closed (sent, or the client gone), and whatever a killed process left
is removed at start-up (``remove_stale``).

The column lists are documented by ``describe`` (the OpenAPI text of the ``format``
parameter) and in docs/maps-ogc.md ("Exports").
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import anyio
import numpy as np
import pyarrow as pa
import pyogrio.raw
import shapely
from fastapi.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from app.presentation.geojson import feature_collection_pieces
from app.services.crs import DEFAULT, Crs

# The export formats and their media types.
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "csv-fr": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}
# The formats whose features are read with their geometry (a CSV's x and y come from it):
# all of them.
GEOMETRY_FORMATS = tuple(MEDIA_TYPES)
# The file name's extension of each format.
EXTENSIONS = {"csv": "csv", "csv-fr": "csv", "geojson": "geojson", "gpkg": "gpkg"}


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV separates its cells and writes its decimals."""

    delimiter: str
    decimal: str


# csv: RFC 4180 (`,`, decimal point); csv-fr: what a spreadsheet set to French opens as
# columns of numbers (`;` between cells, decimal comma). Both UTF-8 with a BOM, CRLF.
CSV_DIALECTS = {"csv": CsvDialect(",", "."), "csv-fr": CsvDialect(";", ",")}
# The OpenAPI "content" of an answer that may be an export (besides its JSON).
EXPORT_CONTENT: dict[str, Any] = {
    MEDIA_TYPES["csv"].split(";")[0]: {"schema": {"type": "string"}},
    MEDIA_TYPES["gpkg"]: {"schema": {"type": "string", "format": "binary"}},
}


def with_exports(responses: dict[Any, Any], json_type: str = "application/json") -> dict:
    """``responses`` whose 200 also documents the export media types, with the 429 of an
    export over its limits (app.api.exports)."""
    ok = responses.get(200, {"description": "Successful Response"})
    content = {json_type: {}, **ok.get("content", {}), **EXPORT_CONTENT}
    content.setdefault("application/geo+json", {"schema": {"type": "object"}})
    too_many = {
        "description": "Too many exports at once, in total or from this client (Retry-After)",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    return {**responses, 200: {**ok, "content": content}, 429: too_many}


# An export is one request: past this many features, narrow the search (or page the JSON).
MAX_EXPORT_FEATURES = 100_000
# Features read from the database (and appended to a GeoPackage) at a time: what an export
# holds in memory as Python objects (a 97,543-parcel GeoJSON export: +41 MB at 500, +142 MB
# at 2,000, for the same CPU time; bench/README.md).
EXPORT_PAGE = 500
_CHUNK = 256 * 1024
TEMP_PREFIX = "foncier-export-"


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "str", "float", "int" or "bool"
    description: str
    get: Callable[[dict[str, Any]], Any]


def prop(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda feature: feature["properties"].get(name)


def describe(fields: list[Field]) -> str:
    """The column list, for the OpenAPI description of ``format``."""
    return "; ".join(f"`{f.name}` ({f.kind}): {f.description}" for f in fields)


def fields_of(feature: dict[str, Any]) -> list[Field]:
    """Fields read from a feature's properties, typed by their values (the OGC items)."""
    fields = []
    for name, value in feature["properties"].items():
        if isinstance(value, bool):
            kind = "bool"
        elif isinstance(value, int | float):
            # a number, stored as a real: an integral first value (1234 m²) says nothing
            # of the next rows (1234.5 m²), which an integer column would truncate
            kind = "float"
        else:
            kind = "str"
        fields.append(Field(name, kind, name, prop(name)))
    return fields


@dataclass
class Export:
    """What to export: ``pages`` of GeoJSON features (dicts), written with ``fields``
    (None: typed from the first feature's properties, as the OGC items are), under
    ``name`` (file and GeoPackage layer). ``members`` are the GeoJSON collection's own
    (numberMatched, profile); ``geometry_type`` the GeoPackage layer's; ``crs`` the CRS
    the geometries are in (declared in a GeoPackage, the unit of a CSV's x and y)."""

    name: str
    pages: Iterable[list[dict[str, Any]]]
    fields: list[Field] | None = None
    members: dict[str, Any] = field(default_factory=dict)
    geometry_type: str = "Unknown"
    crs: Crs = DEFAULT


class Rows(Protocol):
    """A table PostgreSQL computes (geo.scoring.export.ParcelTable): its CSV as COPY
    writes it, its rows (id, the fields…, WKB geometry) in batches, or its GeoJSON
    features (UTF-8 bytes each) in batches."""

    def csv(self, delimiter: str = ",", decimal: str = ".") -> Generator[bytes, None, None]: ...

    def batches(self, size: int) -> Generator[list[tuple[Any, ...]], None, None]: ...

    def features(self, size: int) -> Generator[list[bytes], None, None]: ...


@dataclass
class TableExport:
    """What to export when PostgreSQL computes every column: ``rows`` with ``fields``
    (after the id; the CSV adds x and y), under ``name``, geometries in ``crs``; a GeoJSON
    collection's own ``members``. Written at database speed: COPY for a CSV, each feature
    as PostgreSQL writes it for GeoJSON, WKB and typed columns through Arrow for a
    GeoPackage, no Python object per cell."""

    name: str
    rows: Rows
    fields: list[Field]
    geometry_type: str = "Unknown"
    crs: Crs = DEFAULT
    members: dict[str, Any] = field(default_factory=dict)


class ClientGone(Exception):
    """The client closed its connection while its export was being written."""


def _text(value: Any) -> Any:
    """A property as one cell: lists joined by ';' (ids), objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v["id"] if isinstance(v, dict) and "id" in v else v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


# A text cell starting so is a formula to Excel and LibreOffice (OWASP, "CSV Injection"):
# a leading quote makes it text. Numbers are written as numbers, a negative one included.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any, decimal: str = ".") -> Any:
    """A value as a CSV cell no spreadsheet runs (every CSV the service writes), numbers
    with ``decimal`` as their decimal mark."""
    if not isinstance(value, str):
        if value is None or type(value) is int:
            return value
        if type(value) is float:
            # positional digits (no exponent, which a French spreadsheet reads as text)
            return value if decimal == "." else _decimal(value, decimal)
        value = _text(value)
        if not isinstance(value, str):
            return value
    return "'" + value if value.startswith(_FORMULA_START) else value


def _decimal(value: float, decimal: str) -> str:
    if not np.isfinite(value):
        return ""
    return np.format_float_positional(value, trim="-").replace(".", decimal)


def _points(page: list[dict[str, Any]], decimals: int) -> list[tuple[Any, Any]]:
    """A point on each feature's surface as (x, y), in its geometry's CRS (None, None for a
    feature without geometry): where a CSV row can be put on a map."""
    points = shapely.point_on_surface(_geometries(page))
    xs = np.round(shapely.get_x(points), decimals)
    ys = np.round(shapely.get_y(points), decimals)
    return [
        (None, None) if np.isnan(x) else (float(x), float(y)) for x, y in zip(xs, ys, strict=True)
    ]


# The writers: each writes the export's pages to a file, in its format.


def _write_csv(export: Export, fields: list[Field], file: IO[bytes], fmt: str = "csv") -> None:
    dialect = CSV_DIALECTS[fmt]
    out = io.TextIOWrapper(file, encoding="utf-8-sig", newline="", write_through=False)
    # utf-8-sig: a BOM, spreadsheets read UTF-8
    writer = csv.writer(out, delimiter=dialect.delimiter, lineterminator="\r\n")
    writer.writerow(["id", *(f.name for f in fields), "x", "y"])
    cell = functools.partial(csv_cell, decimal=dialect.decimal)
    for page in export.pages:
        points = _points(page, export.crs.decimals)
        writer.writerows(
            [cell(feature.get("id")), *(cell(f.get(feature)) for f in fields), cell(x), cell(y)]
            for feature, (x, y) in zip(page, points, strict=True)
        )
    out.flush()
    out.detach()


def _write_geojson(
    export: Export, fields: list[Field], file: IO[bytes], fmt: str = "geojson"
) -> None:
    pages = (
        [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in page]
        for page in export.pages
    )
    for piece in feature_collection_pieces(export.members, pages):
        file.write(piece.encode())


def _array(values: list[Any], kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    mask = np.array([v is None for v in values], dtype=bool)
    if kind == "float":
        data = np.array([np.nan if v is None else float(v) for v in values], "float64")
        return data, None  # NaN is written as null
    if kind == "int":
        return np.array([0 if v is None else int(v) for v in values], "int64"), mask
    if kind == "bool":
        return np.array([bool(v) for v in values], "bool"), mask
    return np.array([None if v is None else str(_text(v)) for v in values], dtype=object), None


def _geometries(page: list[dict[str, Any]]) -> np.ndarray:
    """The page's geometries (shapely); None for a feature without geometry."""
    texts = [None if f.get("geometry") is None else json.dumps(f["geometry"]) for f in page]
    return shapely.from_geojson(texts)


def _wkb(page: list[dict[str, Any]]) -> np.ndarray:
    """The page's geometries as WKB; a feature without geometry gets a null one."""
    return np.asarray(shapely.to_wkb(_geometries(page)), dtype=object)


def _write_gpkg(export: Export, fields: list[Field], path: str, fmt: str = "gpkg") -> None:
    common = {
        "fields": ["id", *(f.name for f in fields)],
        "layer": export.name,
        "driver": "GPKG",
        "geometry_type": export.geometry_type,
        # x then y whatever the CRS's axis order (GeoPackage's rule), the CRS declared
        "crs": f"EPSG:{export.crs.srid}",
    }
    written = False
    for page in export.pages:
        if not page:
            continue
        columns = [_array([f.get(feature) for feature in page], f.kind) for f in fields]
        masks = [mask for _, mask in columns]
        pyogrio.raw.write(
            path,
            geometry=_wkb(page),
            field_data=[np.array([feature.get("id") for feature in page], dtype=object)]
            + [data for data, _ in columns],
            field_mask=[None, *masks] if any(m is not None for m in masks) else None,
            promote_to_multi=export.geometry_type.startswith("Multi"),
            append=written,
            # 1.2: what the GDAL of Debian stable and QGIS LTR read without a warning
            dataset_options=None if written else {"VERSION": "1.2"},
            **common,
        )
        written = True
    if not written:  # an empty layer still says its columns
        pyogrio.raw.write(
            path,
            geometry=np.array([], dtype=object),
            field_data=[np.array([], dtype=object)] + [_array([], f.kind)[0] for f in fields],
            dataset_options={"VERSION": "1.2"},
            **common,
        )


# The writers of a stream (a nameless file) and of a named file (GDAL's).
WRITERS: dict[str, Callable[[Export, list[Field], IO[bytes], str], None]] = {
    "csv": _write_csv,
    "csv-fr": _write_csv,
    "geojson": _write_geojson,
}
NAMED_WRITERS: dict[str, Callable[[Export, list[Field], str, str], None]] = {"gpkg": _write_gpkg}


# Rows of a table read (and appended to a GeoPackage) at a time: a few MB of WKB.
TABLE_BATCH = 5_000
# COPY hands a CSV over a line at a time: whether the client is still there is asked
# every so many lines.
_LINES_BETWEEN_CHECKS = 5_000
_ARROW_TYPES = {"str": pa.string(), "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}


def _write_table_csv(
    export: TableExport, file: IO[bytes], fmt: str, gone: Callable[[], bool] | None
) -> None:
    dialect = CSV_DIALECTS[fmt]
    file.write("\ufeff".encode())  # a BOM: spreadsheets read UTF-8
    with contextlib.closing(export.rows.csv(dialect.delimiter, dialect.decimal)) as lines:
        for n, line in enumerate(lines):
            if gone is not None and n % _LINES_BETWEEN_CHECKS == 0 and gone():
                raise ClientGone()
            # COPY ends its lines with LF; RFC 4180 with CRLF (no cell of a parcel table
            # holds a line break)
            file.write(bytes(line).replace(b"\n", b"\r\n"))


def _write_table_geojson(
    export: TableExport, file: IO[bytes], gone: Callable[[], bool] | None
) -> None:
    head = json.dumps({"type": "FeatureCollection", **export.members}, ensure_ascii=False)
    file.write((head[:-1] + ', "features": [').encode())
    separator = b""
    with contextlib.closing(export.rows.features(TABLE_BATCH)) as pages:
        for features in pages:
            if gone is not None and gone():
                raise ClientGone()
            file.write(separator + b",".join(features))
            separator = b","
    file.write(b"]}")


def _write_table_gpkg(export: TableExport, path: str, gone: Callable[[], bool] | None) -> None:
    schema = pa.schema(
        [
            pa.field("id", pa.string()),
            *(pa.field(f.name, _ARROW_TYPES[f.kind]) for f in export.fields),
            pa.field("geom", pa.binary()),
        ]
    )
    failed: list[BaseException] = []

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            with contextlib.closing(export.rows.batches(TABLE_BATCH)) as pages:
                for rows in pages:
                    if gone is not None and gone():
                        raise ClientGone()
                    columns = zip(*rows, strict=True)
                    arrays = [
                        pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)
                    ]
                    yield pa.record_batch(arrays, schema=schema)
        except BaseException as exc:  # GDAL would only say that the stream failed
            failed.append(exc)
            raise

    try:
        pyogrio.raw.write_arrow(
            pa.RecordBatchReader.from_batches(schema, batches()),
            path,
            layer=export.name,
            driver="GPKG",
            geometry_name="geom",
            geometry_type=export.geometry_type,
            # x then y whatever the CRS's axis order (GeoPackage's rule), the CRS declared
            crs=f"EPSG:{export.crs.srid}",
            # 1.2: what the GDAL of Debian stable and QGIS LTR read without a warning
            dataset_options={"VERSION": "1.2"},
        )
    except Exception:
        if failed:
            raise failed[0] from None
        raise


def export_dir() -> Path:
    """Where exports are written: a directory of their own in the system's temporary one
    (TMPDIR), readable by this user only."""
    path = Path(tempfile.gettempdir()) / "foncier-exports"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def remove_stale(directory: Path | None = None) -> list[Path]:
    """Remove the files of exports whose process is gone (killed while writing one); the
    files of live processes (other workers) are theirs. Returns what was removed."""
    removed = []
    for path in (directory or export_dir()).glob(TEMP_PREFIX + "*"):
        pid = path.name.removeprefix(TEMP_PREFIX).split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    return True


def _until_gone(
    pages: Iterable[list[dict[str, Any]]], gone: Callable[[], bool] | None
) -> Iterator[list[dict[str, Any]]]:
    for page in pages:
        if gone is not None and gone():
            raise ClientGone()
        yield page


def write_export(
    fmt: str, export: Export | TableExport, gone: Callable[[], bool] | None = None
) -> IO[bytes]:
    """``export`` written whole as ``fmt`` into a temporary file, returned open at its
    start and already unlinked (closing it frees the disk). ``gone`` is asked before each
    page: once it says the client has left, ClientGone, and nothing is kept."""
    if isinstance(export, TableExport):
        table = export  # (named again: the lambdas below see its narrowed type)
        if fmt == "geojson":
            return _unnamed(lambda file: _write_table_geojson(table, file, gone))
        if fmt in WRITERS:
            return _unnamed(lambda file: _write_table_csv(table, file, fmt, gone))
        return _named(fmt, lambda path: _write_table_gpkg(table, path, gone))
    pages = _until_gone(export.pages, gone)
    fields = export.fields
    if fields is None:
        first = next(pages, [])
        fields = fields_of(first[0]) if first else []
        pages = itertools.chain([first], pages)
    export = Export(export.name, pages, fields, export.members, export.geometry_type, export.crs)
    if fmt in WRITERS:
        return _unnamed(lambda file: WRITERS[fmt](export, fields, file, fmt))
    if fmt not in NAMED_WRITERS:
        raise ValueError(fmt)
    return _named(fmt, lambda path: NAMED_WRITERS[fmt](export, fields, path, fmt))


def _unnamed(write: Callable[[IO[bytes]], None]) -> IO[bytes]:
    """A nameless temporary file that ``write`` fills, open at its start."""
    file = tempfile.TemporaryFile(dir=export_dir())  # noqa: SIM115 (returned open)
    try:
        write(file)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file


def _named(fmt: str, write: Callable[[str], None]) -> IO[bytes]:
    """A file GDAL writes by name (``write``), open and already unlinked."""
    handle, path = tempfile.mkstemp(
        prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=f".{EXTENSIONS[fmt]}", dir=export_dir()
    )
    os.close(handle)
    os.unlink(path)  # GDAL creates it
    try:
        write(path)
        return open(path, "rb")  # noqa: SIM115 (ExportFile closes it)
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)


class ExportFile(StreamingResponse):
    """A written export sent as the attachment ``name.<extension>``, at the client's pace;
    the file is closed (its disk freed) and ``on_close`` called once it is sent, the client
    has gone, or the client has taken no part of it for ``stall_s`` seconds. ``crs``: its
    geometries' (the Content-Crs header, OGC API - Features Part 2)."""

    def __init__(
        self,
        file: IO[bytes],
        fmt: str,
        name: str,
        on_close: Callable[[], None] | None = None,
        stall_s: float | None = None,
        crs: Crs | None = None,
    ) -> None:
        self.file = file
        self.on_close = on_close
        self.stall_s = stall_s
        super().__init__(
            self._chunks(),
            media_type=MEDIA_TYPES[fmt],
            headers={
                "Content-Disposition": f'attachment; filename="{name}.{EXTENSIONS[fmt]}"',
                "Content-Length": str(os.fstat(file.fileno()).st_size),
                **({"Content-Crs": f"<{crs.uri}>"} if crs is not None else {}),
            },
        )

    async def _chunks(self) -> Any:
        while chunk := await anyio.to_thread.run_sync(self.file.read, _CHUNK):
            yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stall_s = self.stall_s

        async def send_or_give_up(message: Message) -> None:
            # the server waits here while the client's socket is full (flow control)
            with anyio.fail_after(stall_s):
                await send(message)

        try:
            await super().__call__(scope, receive, send if stall_s is None else send_or_give_up)
        except TimeoutError:
            pass  # the client stopped reading: the server closes the unfinished answer
        finally:
            self.close()

    def close(self) -> None:
        self.file.close()
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close()
