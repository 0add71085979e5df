"""Exports of any list of features as CSV, GeoJSON or GeoPackage.

One module for every endpoint that exports (``/parcels/search``, ``/sites/search``, the
OGC items). The caller describes an ``Export``: its name, the fields (name, type,
description, how to read them from a GeoJSON feature) and an iterator of pages of
features. ``write_export`` writes it whole into a temporary file, at database speed,
with one writer per format (``WRITERS``); ``ExportFile`` then sends that file at the
client's pace. So the database connection is held while the file is written, never
while a client reads, and a failure is still a problem document: nothing has been sent.

Temporary files live in ``export_dir()``. CSV and GeoJSON files have no name at all
(``O_TMPFILE``); a GeoPackage, which GDAL writes by name, is named
``foncier-export-<pid>-…`` until it is built and opened, then unlinked: the disk is freed
when the file is closed (sent, or the client gone), and whatever a killed process left
is removed at start-up (``remove_stale``).

The column lists are documented by ``describe`` (the OpenAPI text of the ``format``
parameter) and in the README ("Using the web page").
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
import numpy as np
import pyogrio.raw
import shapely
from fastapi.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

FORMATS = ("csv", "geojson", "gpkg")
# The formats that carry geometries (a CSV is a table: its rows are read without them).
GEOMETRY_FORMATS = ("geojson", "gpkg")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}
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
    (numberMatched, profile); ``geometry_type`` the GeoPackage layer's."""

    name: str
    pages: Iterable[list[dict[str, Any]]]
    fields: list[Field] | None = None
    members: dict[str, Any] = field(default_factory=dict)
    geometry_type: str = "Unknown"


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


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell no spreadsheet runs (every CSV the service writes)."""
    if not isinstance(value, str):
        if value is None or type(value) in (int, float):
            return value
        value = _text(value)
        if not isinstance(value, str):
            return value
    return "'" + value if value.startswith(_FORMULA_START) else value


# The writers: each writes the export's pages to a file, in its format.


def _write_csv(export: Export, fields: list[Field], file: IO[bytes]) -> None:
    out = io.TextIOWrapper(file, encoding="utf-8-sig", newline="", write_through=False)
    writer = csv.writer(out, lineterminator="\r\n")  # utf-8-sig: a BOM, spreadsheets read UTF-8
    writer.writerow(["id", *(f.name for f in fields)])
    for page in export.pages:
        writer.writerows(
            [csv_cell(feature.get("id")), *(csv_cell(f.get(feature)) for f in fields)]
            for feature in page
        )
    out.flush()
    out.detach()


def _write_geojson(export: Export, fields: list[Field], file: IO[bytes]) -> None:
    head = json.dumps({"type": "FeatureCollection", **export.members}, ensure_ascii=False)
    file.write((head[:-1] + ', "features": [').encode())
    first = True
    for page in export.pages:
        if not page:
            continue
        body = ",".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in page)
        file.write((body if first else "," + body).encode())
        first = False
    file.write(b"]}")


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


def _wkb(page: list[dict[str, Any]]) -> np.ndarray:
    """The page's geometries as WKB; a feature without geometry gets a null one."""
    texts = [None if f["geometry"] is None else json.dumps(f["geometry"]) for f in page]
    return np.asarray(shapely.to_wkb(shapely.from_geojson(texts)), dtype=object)


def _write_gpkg(export: Export, fields: list[Field], path: str) -> None:
    common = {
        "fields": ["id", *(f.name for f in fields)],
        "layer": export.name,
        "driver": "GPKG",
        "geometry_type": export.geometry_type,
        "crs": "EPSG:4326",
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
WRITERS: dict[str, Callable[[Export, list[Field], IO[bytes]], None]] = {
    "csv": _write_csv,
    "geojson": _write_geojson,
}
NAMED_WRITERS: dict[str, Callable[[Export, list[Field], str], None]] = {"gpkg": _write_gpkg}


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


def write_export(fmt: str, export: Export, gone: Callable[[], bool] | None = None) -> IO[bytes]:
    """``export`` written whole as ``fmt`` into a temporary file, returned open at its
    start and already unlinked (closing it frees the disk). ``gone`` is asked before each
    page: once it says the client has left, ClientGone, and nothing is kept."""
    pages = _until_gone(export.pages, gone)
    fields = export.fields
    if fields is None:
        first = next(pages, [])
        fields = fields_of(first[0]) if first else []
        pages = itertools.chain([first], pages)
    export = Export(export.name, pages, fields, export.members, export.geometry_type)
    if fmt in WRITERS:
        file = tempfile.TemporaryFile(dir=export_dir())  # noqa: SIM115 (returned open)
        try:
            WRITERS[fmt](export, fields, file)
            file.seek(0)
        except BaseException:
            file.close()
            raise
        return file
    if fmt not in NAMED_WRITERS:
        raise ValueError(fmt)
    handle, path = tempfile.mkstemp(
        prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=f".{fmt}", dir=export_dir()
    )
    os.close(handle)
    os.unlink(path)  # GDAL creates it
    try:
        NAMED_WRITERS[fmt](export, fields, path)
        return open(path, "rb")  # noqa: SIM115 (ExportFile closes it)
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)


class ExportFile(StreamingResponse):
    """A written export sent as the attachment ``name.<fmt>``, at the client's pace; the
    file is closed (its disk freed) and ``on_close`` called once it is sent, the client
    has gone, or the client has taken no part of it for ``stall_s`` seconds."""

    def __init__(
        self,
        file: IO[bytes],
        fmt: str,
        name: str,
        on_close: Callable[[], None] | None = None,
        stall_s: float | None = None,
    ) -> None:
        self.file = file
        self.on_close = on_close
        self.stall_s = stall_s
        super().__init__(
            self._chunks(),
            media_type=MEDIA_TYPES[fmt],
            headers={
                "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
                "Content-Length": str(os.fstat(file.fileno()).st_size),
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
