"""Compressed inputs read with bounds: what a small file may expand to is checked before
(zip: the members' declared sizes) or while (gzip: counted as it streams) it is read, so
that a decompression bomb is refused in bounded memory and time.

The limits are constants here (the CLI's imports) and settings for `foncier sync`
(``FONCIER_SYNC_MAX_EXPANDED_BYTES``, ``FONCIER_SYNC_MAX_RATIO``), passed in.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from geo.ingest.errors import LoaderError

GIB = 1024**3
MIB = 1024**2
# One member: the shapefile format's own ceiling for a .shp or a .dbf (offsets are signed
# 32-bit); a département's DGFiP owner file is a few hundred MB.
MAX_MEMBER_BYTES = 2 * GIB
# Everything an archive expands to: the largest delivery read here (a PLUi, a département's
# owner parts) is well under a tenth of it.
MAX_EXPANDED_BYTES = 4 * GIB
# Expanded / compressed. Real DBFs of blank-padded text reach ~160:1 (the CNIG PLU delivery
# in data/plu); deflate tops out near 1032:1, where a file of zeros sits.
MAX_RATIO = 500
# Below this expanded size any ratio is accepted: small files compress oddly, and cost
# nothing to read.
RATIO_FLOOR = 16 * MIB


@dataclass(frozen=True)
class Limits:
    max_member_bytes: int = MAX_MEMBER_BYTES
    max_expanded_bytes: int = MAX_EXPANDED_BYTES
    max_ratio: float = MAX_RATIO
    ratio_floor: int = RATIO_FLOOR

    def check(self, name: str, expanded: int, compressed: int) -> None:
        """LoaderError when ``expanded`` bytes out of ``compressed`` exceed a limit."""
        if expanded > self.max_expanded_bytes:
            raise LoaderError(
                f"{name} expands to more than {self.max_expanded_bytes} bytes "
                "(a decompression bomb, or a file larger than this service accepts)"
            )
        if expanded > self.ratio_floor and expanded > self.max_ratio * max(compressed, 1):
            raise LoaderError(
                f"{name} expands more than {self.max_ratio:g} times ({compressed} bytes "
                f"compressed, more than {expanded} expanded): a decompression bomb?"
            )


def check_zip(archive: zipfile.ZipFile, label: str, limits: Limits = Limits()) -> None:
    """LoaderError unless every member's declared size and ratio, and their total, are
    within ``limits``: read from the central directory, nothing is decompressed. (Python's
    zipfile stops reading a member at its declared size, and GDAL takes a member's size
    from the same directory.)"""
    total = compressed = 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        if info.file_size > limits.max_member_bytes:
            raise LoaderError(
                f"{label}: member {info.filename} declares {info.file_size} bytes, above the "
                f"{limits.max_member_bytes} limit"
            )
        limits.check(f"{label}: member {info.filename}", info.file_size, info.compress_size)
        total += info.file_size
        compressed += info.compress_size
    limits.check(label, total, compressed)


def verify_members(archive: zipfile.ZipFile, label: str) -> None:
    """Every member decompressed in a stream and its CRC checked (zipfile.testzip, once the
    sizes are known to be bounded)."""
    try:
        bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise LoaderError(f"{label}: damaged zip archive ({exc})") from exc
    if bad is not None:
        raise LoaderError(f"{label}: damaged zip archive (member {bad})")


class BoundedReader(io.RawIOBase):
    """A decompressing stream that raises LoaderError once it has given more than the
    limits allow for its compressed size."""

    def __init__(self, raw: io.BufferedIOBase, label: str, compressed: int, limits: Limits):
        self.raw, self.label, self.compressed, self.limits = raw, label, compressed, limits
        self.given = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.given += n
        self.limits.check(self.label, self.given, self.compressed)
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


def open_expanded(
    path: Path, limits: Limits = Limits(), label: str | None = None
) -> io.BufferedReader:
    """``path``'s bytes, gunzipped in a stream when it is gzip, bounded by ``limits``
    (``label`` names the file in errors, its name by default)."""
    if not is_gzip(path):
        return path.open("rb")
    gunzip = gzip.open(path, "rb")  # noqa: SIM115 (closed with the reader returned)
    raw = BoundedReader(gunzip, label or path.name, path.stat().st_size, limits)
    return io.BufferedReader(raw, buffer_size=1 << 16)


def blocks(stream: io.BufferedIOBase, size: int = 1 << 20) -> Iterator[bytes]:
    while block := stream.read(size):
        yield block
