"""Exports of any list of features as CSV, GeoJSON or GeoPackage, streamed.

One function for every endpoint that exports (``/parcels/search``, ``/sites/search``, the
OGC items): the caller gives the fields (name, type, description, how to read them from a
GeoJSON feature) and an iterator of pages of features; the answer is sent as the pages
come, so that memory holds one page, not the whole export. A GeoPackage is an SQLite file,
not a stream: its pages are appended to a temporary file by GDAL (pyogrio), which is then
sent in 1 MiB chunks and removed.

The column lists are documented by ``describe`` (the OpenAPI text of the ``format``
parameter) and in the README ("Using the web page").
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyogrio.raw
import shapely
from fastapi.responses import StreamingResponse

FORMATS = ("csv", "geojson", "gpkg")
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
    """``responses`` whose 200 also documents the export media types."""
    ok = responses.get(200, {"description": "Successful Response"})
    content = {json_type: {}, **ok.get("content", {}), **EXPORT_CONTENT}
    content.setdefault("application/geo+json", {"schema": {"type": "object"}})
    return {**responses, 200: {**ok, "content": content}}


# An export is one request: past this many features, narrow the search (or page the JSON).
MAX_EXPORT_FEATURES = 100_000
EXPORT_PAGE = 2_000
_CHUNK = 1 << 20


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


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v["id"] if isinstance(v, dict) and "id" in v else v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _csv(fields: list[Field], pages: Iterable[list[dict[str, Any]]]) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", *(f.name for f in fields)])
    yield ("\ufeff" + out.getvalue()).encode()  # the BOM: spreadsheets then read UTF-8
    for page in pages:
        out.seek(0)
        out.truncate()
        for feature in page:
            writer.writerow([feature.get("id"), *(_cell(f.get(feature)) for f in fields)])
        yield out.getvalue().encode()


def _geojson(pages: Iterable[list[dict[str, Any]]], members: dict[str, Any]) -> Iterator[bytes]:
    head = json.dumps({"type": "FeatureCollection", **members}, ensure_ascii=False)
    yield (head[:-1] + ', "features": [').encode()
    first = True
    for page in pages:
        if not page:
            continue
        body = ",".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in page)
        yield (body if first else "," + body).encode()
        first = False
    yield b"]}"


def _array(fields_values: list[Any], kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    mask = np.array([v is None for v in fields_values], dtype=bool)
    if kind == "float":
        data = np.array([np.nan if v is None else float(v) for v in fields_values], "float64")
        return data, None  # NaN is written as null
    if kind == "int":
        return np.array([0 if v is None else int(v) for v in fields_values], "int64"), mask
    if kind == "bool":
        return np.array([bool(v) for v in fields_values], "bool"), mask
    data = np.array([None if v is None else str(_cell(v)) for v in fields_values], dtype=object)
    return data, None


def _gpkg(
    fields: list[Field],
    pages: Iterable[list[dict[str, Any]]],
    layer: str,
    geometry_type: str,
) -> Iterator[bytes]:
    handle, path = tempfile.mkstemp(prefix="foncier-export-", suffix=".gpkg")
    os.close(handle)
    os.unlink(path)  # GDAL creates it
    try:
        written = False
        for page in pages:
            if not page:
                continue
            geometry = shapely.to_wkb(
                shapely.from_geojson([json.dumps(f["geometry"]) for f in page])
            )
            columns = [_array([f.get(feature) for feature in page], f.kind) for f in fields]
            masks = [mask for _, mask in columns]
            pyogrio.raw.write(
                path,
                geometry=np.asarray(geometry, dtype=object),
                field_data=[np.array([feature.get("id") for feature in page], dtype=object)]
                + [data for data, _ in columns],
                fields=["id", *(f.name for f in fields)],
                field_mask=[None, *masks] if any(m is not None for m in masks) else None,
                layer=layer,
                driver="GPKG",
                geometry_type=geometry_type,
                promote_to_multi=geometry_type.startswith("Multi"),
                crs="EPSG:4326",
                append=written,
                # 1.2: what the GDAL of Debian stable and QGIS LTR read without a warning
                dataset_options=None if written else {"VERSION": "1.2"},
            )
            written = True
        if not written:  # an empty layer still says its columns
            pyogrio.raw.write(
                path,
                geometry=np.array([], dtype=object),
                field_data=[np.array([], dtype=object)] + [_array([], f.kind)[0] for f in fields],
                fields=["id", *(f.name for f in fields)],
                layer=layer,
                driver="GPKG",
                geometry_type=geometry_type,
                crs="EPSG:4326",
                dataset_options={"VERSION": "1.2"},
            )
        with open(path, "rb") as file:
            while chunk := file.read(_CHUNK):
                yield chunk
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)


def export_response(
    fmt: str,
    name: str,
    fields: list[Field],
    pages: Iterable[list[dict[str, Any]]],
    *,
    members: dict[str, Any] | None = None,
    geometry_type: str = "Unknown",
) -> StreamingResponse:
    """The features of ``pages`` as an attachment ``name.<fmt>``: CSV (id then ``fields``,
    no geometry), GeoJSON (the features as the API gives them, with ``members`` such as
    numberMatched) or GeoPackage (layer ``name``, EPSG:4326, id then ``fields``)."""
    if fmt == "csv":
        body = _csv(fields, pages)
    elif fmt == "geojson":
        body = _geojson(pages, members or {})
    elif fmt == "gpkg":
        body = _gpkg(fields, pages, name, geometry_type)
    else:
        raise ValueError(fmt)
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def export_items(engine, conn, collection, query, fmt: str) -> StreamingResponse:
    """Every feature of an OGC collection matching ``query`` (bbox, properties), in id
    order, as ``fmt``: the items' pages followed by their key on a connection of its own."""
    from app.api.errors import InvalidParameter
    from app.services.features import count_items, items_page

    matched = count_items(conn, collection, query, MAX_EXPORT_FEATURES)
    if not matched.exact:
        raise InvalidParameter(
            f"{collection.id} has {matched} matching features: an export holds "
            f"at most {MAX_EXPORT_FEATURES}; filter it (bbox, queryables)"
        )
    first = items_page(conn, collection, query, 1)
    fields = fields_of(json.loads(first.features[0])) if first.features else []

    def pages() -> Iterator[list[dict[str, Any]]]:
        after = None
        with engine.connect() as own:
            while True:
                page = items_page(own, collection, replace(query, after=after), EXPORT_PAGE)
                yield [json.loads(f) for f in page.features]
                if not page.has_more:
                    return
                after = page.last_key

    return export_response(fmt, collection.id, fields, pages(), members=matched.members())
