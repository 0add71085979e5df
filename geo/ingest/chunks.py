"""Split a one-feature-per-line GeoJSON FeatureCollection into small valid GeoJSON files.

Etalab's cadastre files (and ogr2ogr's GeoJSON output) put the collection header on
the first line and each feature on its own line. Cut at line boundaries and given
the header and a closing bracket, each piece is a FeatureCollection that GDAL can
read on its own, so several GDAL readers can work in parallel threads (GDAL
releases the GIL). A file with any other layout raises :class:`NotLineDelimited`,
or makes chunks GDAL cannot read, and the caller falls back to a single reader.

The chunks live in a temporary directory named after the run's process
(``foncier-chunks-<pid>-…``), removed at the end; one a killed run left is removed by a
later run (:func:`chunk_directory`) once its process is gone and it has been untouched for
``STALE_AFTER_S``; a live run's directory is never touched.

No line longer than ``MAX_LINE_BYTES`` is held: a file with one is refused
(:class:`LineTooLong`) as soon as the reading gets past that many bytes without an end of
line, in bounded memory, whichever reader was to read it (:func:`check_lines` before GDAL
reads a file whole).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from geo.ingest.errors import LoaderError

CHUNK_BYTES = 8 * 1024 * 1024
# The longest line read. Etalab's layout puts one feature per line: a parcel is a few kB,
# a commune's outline a few MB. A file written on one line (json.dumps) is read up to this.
MAX_LINE_BYTES = 64 * 1024 * 1024
_FEATURE_START = (b'{"type":"Feature"', b'{"type": "Feature"')
_FOOTER = b"]}"


PREFIX = "foncier-chunks-"
# A dead run's directory is removed once untouched this long: a live run writes or deletes
# a chunk every few seconds, and its process is alive anyway.
STALE_AFTER_S = 10 * 60
# Directories of versions that did not name the process: judged by their age alone, so
# with a margin for a run's last phase (the merge) that touches no chunk.
UNNAMED_STALE_AFTER_S = 24 * 3600
_NAMED = re.compile(re.escape(PREFIX) + r"(\d+)-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_dead_runs(directory: Path | None = None) -> list[Path]:
    """Remove the chunk directories that killed runs left in ``directory`` (the temporary
    directory): a process that no longer exists, untouched for STALE_AFTER_S. Never
    raises (another run may be removing the same one)."""
    removed = []
    now = time.time()
    root = Path(directory or tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            if not entry.name.startswith(PREFIX) or not entry.is_dir() or entry.is_symlink():
                continue
            named = _NAMED.match(entry.name)
            try:
                idle = now - entry.stat().st_mtime
            except OSError:
                continue
            if named:
                dead = not _alive(int(named.group(1))) and idle > STALE_AFTER_S
            else:
                dead = idle > UNNAMED_STALE_AFTER_S
            if dead:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed


@contextlib.contextmanager
def chunk_directory() -> Iterator[Path]:
    """A new directory for this run's chunks, removed at the end; dead runs' removed first."""
    remove_dead_runs()
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-") as tmp:
        yield Path(tmp)


class NotLineDelimited(Exception):
    """The file does not have one feature per line."""


class LineTooLong(LoaderError):
    """A line longer than MAX_LINE_BYTES: refused, not read another way."""

    def __init__(self, path: Path, at: int) -> None:
        super().__init__(
            f"{path}: a line longer than {MAX_LINE_BYTES} bytes (from byte {at} of its "
            "content): refused unread (Etalab's cadastre has one feature per line)"
        )


def check_lines(path: Path) -> None:
    """LineTooLong when a line of the file (gunzipped) is longer than MAX_LINE_BYTES, read
    in blocks no longer than that: a line within a block is shorter, so only the bytes
    since the last end of line need counting."""
    limit = MAX_LINE_BYTES
    since = offset = 0  # bytes since the last end of line; bytes read
    with _open(path) as f:
        while block := f.read(min(CHUNK_BYTES, limit)):
            first = block.find(b"\n")
            if first < 0:
                since += len(block)
            else:
                if since + first > limit:
                    raise LineTooLong(path, offset - since)
                since = len(block) - 1 - block.rfind(b"\n")
            if since > limit:
                raise LineTooLong(path, offset + len(block) - since)
            offset += len(block)


@dataclass(frozen=True)
class Chunk:
    path: Path
    first_feature: int  # index of the chunk's first feature in the whole file
    features: int


def _open(path: Path) -> io.BufferedIOBase:
    if path.suffix == ".gz":
        return gzip.GzipFile(path, "rb")
    return path.open("rb")


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
    """Yield chunk files written in ``directory``; the caller deletes them once read.

    The file is cut in blocks at line ends, without a Python loop over lines.
    """
    chunk_bytes = min(chunk_bytes or CHUNK_BYTES, MAX_LINE_BYTES)
    with _open(path) as source:
        header = source.readline(1 << 16)
        if not _is_header(header):
            raise NotLineDelimited("first line is not a FeatureCollection header")
        header = header.rstrip() + b"\n"
        carry = b""
        first = count = 0
        ended = False
        offset = len(header)
        while block := source.read(chunk_bytes):
            end = block.find(b"\n")
            if len(carry) + (end if end >= 0 else len(block)) > MAX_LINE_BYTES:
                raise LineTooLong(path, offset - len(carry))
            offset += len(block)
            data = carry + block
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            body, carry = data[:cut], data[cut + 1 :]
            if ended and body.strip():
                raise NotLineDelimited("content after the end of the collection")
            body, ended = _features(body)
            if body:
                chunk = _write(directory, header, body, first, count)
                first += chunk.features
                count += 1
                yield chunk
        if carry.strip():
            if ended:
                raise NotLineDelimited("content after the end of the collection")
            body, ended = _features(carry)
            if body:
                yield _write(directory, header, body, first, count)
        if not ended:
            raise NotLineDelimited("the collection is not closed")


def _features(block: bytes) -> tuple[bytes, bool]:
    """The block's feature lines (footer and last comma removed), and whether it ended."""
    body = block.strip()
    ended = False
    if body.endswith(_FOOTER):
        before = body[: -len(_FOOTER)].rstrip()
        # "]}" alone on its line, or glued to the last feature as Etalab writes it
        if (
            not before
            or before.endswith(b"\n")
            or body.endswith(b"}" + _FOOTER)
            or (before.endswith(b"}") or before.endswith(b","))
        ):
            body, ended = before, True
    body = body.rstrip().rstrip(b",").rstrip()
    if not body:
        return b"", ended
    # A cheap check only: a block that is not whole features makes an invalid chunk,
    # which GDAL refuses, and the caller then reads the file whole (see cadastre).
    if not body.startswith(b"{"):
        raise NotLineDelimited("a line is not one whole feature")
    return body, ended


def _write(directory: Path, header: bytes, body: bytes, first: int, count: int) -> Chunk:
    path = directory / f"chunk-{count:05d}.json"
    with path.open("wb") as out:
        out.write(header)
        out.write(body)
        out.write(b"\n]}\n")
    features = body.count(b"\n") + 1
    return Chunk(path=path, first_feature=first, features=features)
