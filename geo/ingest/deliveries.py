"""Reading the layers of a standard delivery as published: a zip of shapefiles, a folder
of shapefiles, or a single vector file (GeoJSON, GeoPackage, shapefile).

Layers are found by the name their standard gives them, whatever the case and the
prefix or suffix the producer added (``30014_ZONE_URBA_20171013.shp``,
``N_ZONE_REG_PPRN_20180003_S_038.shp``). Field names come out lower-case, whichever
case the CNIG version used.

Shapefile text encoding: the ``.cpg`` file when there is one (GDAL reads it; ``1252``,
``UTF-8``, ``ISO-8859-1``…; one naming an encoding nobody knows is refused), else the
DBF's language driver id, else UTF-8 if its records, read a MiB at a time up to the first
non-ASCII byte, decode as UTF-8, else Windows-1252 (what French desktop GIS write). Text
that is not valid in the encoding chosen refuses the layer.

A zip is checked before anything is read from it: each member's declared size and
compression ratio, and their total (geo.ingest.archives), then every member's CRC.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError, FieldError
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo.crs import WGS84
from geo.ingest.archives import check_zip, verify_members
from geo.ingest.errors import LoaderError

VECTOR_SUFFIXES = (".shp", ".geojson", ".json", ".gpkg", ".dbf")


@dataclass(frozen=True)
class Layer:
    name: str  # the file's name inside the delivery
    gdal_path: str
    encoding: str | None  # forced encoding (no .cpg, no LDID), else None: GDAL decides
    members: tuple[str, ...]  # every file of the delivery (to find the .cpg, .dbf…)


def list_layers(path: Path) -> list[Layer]:
    """Every vector layer of a delivery (zip, folder or single file)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
        return [
            Layer(f, str(path / f), _encoding(path, f, files, None), tuple(files))
            for f in files
            if f.lower().endswith(VECTOR_SUFFIXES) and not _is_shapefile_dbf(f, files)
        ]
    if not path.is_file():
        raise LoaderError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                files = sorted(n for n in archive.namelist() if not n.endswith("/"))
                check_zip(archive, str(path))
                verify_members(archive, str(path))
                return [
                    Layer(
                        f, f"/vsizip/{path}/{f}", _encoding(path, f, files, archive), tuple(files)
                    )
                    for f in files
                    if f.lower().endswith(VECTOR_SUFFIXES) and not _is_shapefile_dbf(f, files)
                ]
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise LoaderError(f"{path}: not a readable zip archive ({exc})") from exc
    return [Layer(path.name, str(path), None, (path.name,))]


def find_layer(layers: list[Layer], pattern: str) -> Layer | None:
    """The layer whose file name contains ``pattern`` as a word (case-insensitive)."""
    regex = re.compile(rf"(?:^|[^A-Z]){pattern}(?:[^A-Z]|$)", re.IGNORECASE)
    found = [layer for layer in layers if regex.search(Path(layer.name).stem)]
    shp = [layer for layer in found if layer.name.lower().endswith(".shp")]
    chosen = shp or found
    return chosen[0] if chosen else None


def _is_shapefile_dbf(name: str, files: list[str]) -> bool:
    """A .dbf beside a .shp is read through the .shp."""
    if not name.lower().endswith(".dbf"):
        return False
    stem = name[:-4].lower()
    return any(f.lower() == stem + ".shp" for f in files)


# The block of records read at a time to tell UTF-8 from Windows-1252 in a DBF without .cpg
# nor language id.
DBF_SAMPLE_BYTES = 1024 * 1024


def _head(path: Path, member: str, archive: zipfile.ZipFile | None, size: int) -> bytes:
    """The first ``size`` bytes of a delivery's file, read as a stream."""
    with archive.open(member) if archive else (path / member).open("rb") as f:
        return f.read(size)


def cpg_codec(value: str) -> str | None:
    """The Python codec of a .cpg's content, as GDAL reads it (``1252``, ``ANSI 1252``,
    ``88591``, ``UTF-8``…), or None when it names no known encoding."""
    value = value.strip().upper()
    if value.startswith("ANSI "):
        value = value[5:].strip()
    if value.isdigit() and value.startswith("8859") and len(value) > 4:
        value = "ISO-8859-" + value[4:]
    elif value.isdigit():
        value = "CP" + value
    try:
        codec = codecs.lookup(value) if value else None
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return None
    # Python's bytes-to-bytes and str-to-str codecs (zlib, base64, rot13…) are no encoding
    # of text: GDAL would not know them either
    return codec.name if codec is not None and codec._is_text_encoding else None


def _encoding(
    path: Path, name: str, files: list[str], archive: zipfile.ZipFile | None
) -> str | None:
    if not name.lower().endswith((".shp", ".dbf")):
        return None
    stem = name[:-4].lower()
    lookup = {f.lower(): f for f in files}
    if stem + ".cpg" in lookup:
        declared = _head(path, lookup[stem + ".cpg"], archive, 64).decode("ascii", "replace")
        if cpg_codec(declared) is None:
            raise LoaderError(
                f"{path}: {lookup[stem + '.cpg']} names an unknown text encoding "
                f"({declared.strip()[:30]!r}); correct it (e.g. UTF-8 or 1252) or remove it"
            )
        return None  # GDAL reads the .cpg
    dbf = lookup.get(stem + ".dbf")
    if dbf is None:
        return None
    return _sniff_dbf(path, dbf, archive)


def _sniff_dbf(path: Path, dbf: str, archive: zipfile.ZipFile | None) -> str | None:
    """The DBF's encoding from its records, read in blocks of DBF_SAMPLE_BYTES up to the
    first block with a byte outside ASCII (which tells UTF-8 from Windows-1252): bounded
    memory, and most files decided by their first block."""
    decode = codecs.getincrementaldecoder("utf-8")().decode  # a character may span blocks
    with archive.open(dbf) if archive else (path / dbf).open("rb") as f:
        # Header: its length at bytes 8-9, the language driver id at byte 29.
        head = f.read(32)
        if len(head) > 29 and head[29] != 0:
            return None  # the DBF's language driver id says it
        header_length = int.from_bytes(head[8:10], "little") if len(head) >= 10 else 0
        f.read(max(header_length - len(head), 0))
        while block := f.read(DBF_SAMPLE_BYTES):
            try:
                decode(block)
            except UnicodeDecodeError:
                return "CP1252"
            if not block.isascii():
                return "UTF-8"
    return "UTF-8"


def read_layer(
    source: Path, layer: Layer, *, required: tuple[str, ...] = (), batch_size: int = 10_000
) -> Iterator[tuple[pa.RecordBatch, CRS]]:
    """Stream a layer: batches with lower-case field names and ``wkb_geometry`` (absent for
    a plain table), and the layer's CRS (WGS84 when it declares none)."""
    options = {"encoding": layer.encoding} if layer.encoding else {}
    try:
        with pyogrio.open_arrow(
            layer.gdal_path, batch_size=batch_size, use_pyarrow=True, **options
        ) as (meta, reader):
            fields = [f.lower() for f in meta["fields"]]
            missing = [f for f in required if f not in fields]
            if missing:
                raise LoaderError(
                    f"{source}: layer {layer.name}: missing propert(ies) {', '.join(missing)}"
                )
            crs = CRS.from_user_input(meta["crs"]) if meta["crs"] else CRS.from_epsg(WGS84)
            geometry = meta.get("geometry_name") or "wkb_geometry"
            for batch in reader:
                names = [
                    "wkb_geometry" if n in (geometry, "wkb_geometry") else n.lower()
                    for n in batch.schema.names
                ]
                try:
                    batch.validate(full=True)  # text GDAL could not recode is not UTF-8
                except pa.ArrowInvalid as exc:
                    raise LoaderError(
                        f"{source}: layer {layer.name}: text that is not in the encoding its "
                        ".cpg declares (or, without one, UTF-8 or Windows-1252)"
                    ) from exc
                yield batch.rename_columns(names), crs
    except (CRSError, pyogrio.errors.CRSError) as exc:
        raise LoaderError(
            f"{source}: layer {layer.name}: its .prj is not a readable CRS ({_first(exc)})"
        ) from exc
    except (
        DataSourceError,
        DataLayerError,
        FieldError,
        OSError,
        pa.ArrowException,
        UnicodeDecodeError,
    ) as exc:
        raise LoaderError(f"{source}: layer {layer.name} is not readable ({_first(exc)})") from exc


def _first(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
