"""Split a one-feature-per-line GeoJSON FeatureCollection into small valid GeoJSON files.

Etalab's cadastre files (and ogr2ogr's GeoJSON output) put the collection header on
the first line and each feature on its own line. Cut at line boundaries and given
the header and a closing bracket, each piece is a FeatureCollection that GDAL can
read on its own, so several GDAL readers can work in parallel threads (GDAL
releases the GIL). A file with any other layout raises :class:`NotLineDelimited`
and the caller falls back to a single reader.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

CHUNK_BYTES = 16 * 1024 * 1024
_FEATURE_START = (b'{"type":"Feature"', b'{"type": "Feature"')
_FOOTER = b"]}"


class NotLineDelimited(Exception):
    """The file does not have one feature per line."""


@dataclass(frozen=True)
class Chunk:
    path: Path
    first_feature: int  # index of the chunk's first feature in the whole file
    features: int


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def is_line_delimited(path: Path) -> bool:
    """Whether the file starts like a one-feature-per-line FeatureCollection."""
    try:
        with _open(path) as f:
            header = f.readline(1 << 16)
            first = f.readline(1 << 16)
    except (OSError, EOFError):
        return False
    return _is_header(header) and first.lstrip().startswith(_FEATURE_START)


def _is_header(line: bytes) -> bool:
    compact = line.strip().replace(b" ", b"")
    return compact.startswith(b'{"type":"FeatureCollection"') and compact.endswith(b'"features":[')


def split(path: Path, directory: Path, chunk_bytes: int | None = None) -> Iterator[Chunk]:
    """Yield chunk files written in ``directory``; the caller deletes them once read."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    with _open(path) as source:
        header = source.readline()
        if not _is_header(header):
            raise NotLineDelimited("first line is not a FeatureCollection header")
        lines: list[bytes] = []
        size = 0
        first = 0
        count = 0
        ended = False
        for number, raw in enumerate(source, start=2):
            line = raw.strip()
            if not line:
                continue
            if ended:
                raise NotLineDelimited(f"content after the end of the collection, line {number}")
            if line.startswith(_FEATURE_START):
                if line.endswith(b"}]}"):
                    # Etalab closes the collection on the last feature's line.
                    line, ended = line[: -len(_FOOTER)], True
                lines.append(line[:-1] if line.endswith(b",") else line)
                size += len(line)
                if size >= chunk_bytes:
                    yield _write(directory, header, lines, first, count)
                    first += len(lines)
                    count += 1
                    lines, size = [], 0
            elif line.replace(b" ", b"") == _FOOTER:
                ended = True
            else:
                raise NotLineDelimited(f"line {number} is not one whole feature")
        if not ended:
            raise NotLineDelimited("the collection is not closed")
        if lines:
            yield _write(directory, header, lines, first, count)


def _write(directory: Path, header: bytes, lines: list[bytes], first: int, count: int) -> Chunk:
    path = directory / f"chunk-{count:05d}.json"
    with path.open("wb") as out:
        out.write(header.rstrip() + b"\n")
        out.write(b",\n".join(lines))
        out.write(b"\n]}\n")
    return Chunk(path=path, first_feature=first, features=len(lines))
