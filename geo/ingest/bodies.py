"""What a download must be, checked before anyone imports it, in bounded memory: not
empty, not an HTML page, and parsing as expected (JSON as a stream, one element at a
time; a CSV header; a zip's directory and CRCs), a gzip or zip body expanding within
limits (geo.ingest.archives). The fetcher (geo.ingest.fetch) checks each body with it."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.errors import Invalid
from geo.ingest.archives import Limits, blocks, check_zip, open_expanded, verify_members
from geo.ingest.errors import LoaderError


@dataclass(frozen=True)
class Expect:
    """What a body must be: one of ``content_types`` (empty: any), parse as ``check``; and
    where it may come from: the address asked, or a redirect to the same host or to one of
    ``redirect_hosts`` (the source's declared download hosts)."""

    check: str
    content_types: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    redirect_hosts: tuple[str, ...] = ()


class FetchError(Invalid):
    """A download that must not be retried (wrong content, 4xx, too large): the part is
    reported with this reason (the fetcher catches it; it never reaches a caller)."""


class Empty(FetchError):
    """The body parses but holds nothing: the part is missing, not failed."""


MAX_VALUE_BYTES = 32 * 1024 * 1024
_READ = 1 << 20
_NEAR_END = 8  # an error this close to the end of what was read may be a value cut short


class _JsonStream:
    """A JSON document checked from a byte stream in bounded memory: the elements of its
    top-level object or array, and those of the arrays right under it (a FeatureCollection's
    features, an API's list of results), are parsed one at a time by the json module."""

    def __init__(self, stream: io.BufferedIOBase) -> None:
        self.stream = stream
        self.decode = codecs.getincrementaldecoder("utf-8-sig")().decode
        self.parse = json.JSONDecoder().raw_decode
        self.max_value_bytes = MAX_VALUE_BYTES
        self.buf, self.pos, self.eof = "", 0, False

    def _fill(self, wanted: int | None = None) -> bool:
        if self.eof:
            return False
        if self.pos > len(self.buf) // 2:
            self.buf, self.pos = self.buf[self.pos :], 0
        block = self.stream.read(max(wanted or _READ, _READ))
        self.buf += self.decode(block, final=not block)
        self.eof = not block
        return True

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf) or not self._fill():
                return self.buf[self.pos : self.pos + 1]

    def expect(self, chars: str) -> str:
        found = self.peek()
        if not found or found not in chars:
            raise ValueError(f"expected {' or '.join(chars)}, found {found or 'the end'}")
        self.pos += 1
        return found

    def value(self) -> Any:
        """The next whole JSON value, read in as many blocks as it needs."""
        self.peek()
        while True:
            try:
                found, end = self.parse(self.buf, self.pos)
                if end < len(self.buf) or self.eof:  # a number needs what follows it
                    self.pos = end
                    return found
            except json.JSONDecodeError as exc:
                cut = exc.msg.startswith("Unterminated") or exc.pos >= len(self.buf) - _NEAR_END
                if self.eof or not cut:
                    raise
            pending = len(self.buf) - self.pos
            if pending > self.max_value_bytes:
                raise ValueError(f"a value longer than {self.max_value_bytes} bytes")
            # doubling, so that a long value is parsed O(1) times; never past the bound
            self._fill(min(pending, self.max_value_bytes + 1 - pending))

    def elements(self) -> Iterator[Any]:
        """The values of the array that starts here, one at a time (nested ones whole)."""
        self.expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            if self.expect(",]") == "]":
                return

    def members(self, streamed: Callable[[str], bool]) -> Iterator[tuple[str, Any]]:
        """The (key, value) pairs of the object that starts here; the arrays under the keys
        ``streamed`` accepts come as iterators of their elements, to be consumed at once."""
        self.expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise ValueError("an object key that is not a string")
            self.expect(":")
            yield key, (self.elements() if self.peek() == "[" and streamed(key) else self.value())
            if self.expect(",}") == "}":
                return

    def end(self) -> None:
        if self.peek():
            raise ValueError("extra data after the JSON document")


def _check_json(stream: io.BufferedIOBase, geojson: bool) -> None:
    doc = _JsonStream(stream)
    first = doc.peek()
    kind, features = None, 0
    if first == "{":
        for key, value in doc.members(lambda _key: True):
            if isinstance(value, Iterator):
                n = sum(1 for _ in value)
                if key == "features":
                    features = n
            elif key == "type":
                kind = value
    elif first == "[":
        for _ in doc.elements():
            pass
    else:
        doc.value()
    doc.end()
    if geojson and (first != "{" or kind != "FeatureCollection"):
        raise FetchError("not a GeoJSON FeatureCollection")
    if geojson and not features:
        # an API's answer for a place it has nothing on (a commune under the RNU, or whose
        # plan is intercommunal, on the GPU)
        raise Empty("an empty FeatureCollection: the publisher has nothing here")


def check_body(path: Path, expect: Expect, limits: Limits | None = None) -> None:
    """FetchError unless ``path`` is what ``expect`` says: parsed whole, as a stream (a
    gzip body expanded within ``limits``), in bounded memory."""
    limits = limits or Limits()
    label = path.name.removesuffix(".part")  # the file as the publisher names it
    size = path.stat().st_size
    if size == 0:
        raise FetchError("empty body")
    try:
        with open_expanded(path, limits, label) as f:
            head = f.peek(512)[:512].lstrip().lower()
            if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
                raise FetchError("an HTML or XML page instead of the data (an error page?)")
            if expect.check in ("geojson", "json"):
                _check_json(f, geojson=expect.check == "geojson")
            elif expect.check == "csv":
                first = f.readline(1 << 16).decode("utf-8-sig", errors="replace").strip()
                dialect = ";" if first.count(";") >= first.count(",") else ","
                header = next(csv.reader([first], delimiter=dialect))
                missing = [c for c in expect.columns if c not in header]
                if missing:
                    raise FetchError(f"CSV header lacks {', '.join(missing)}")
                for _block in blocks(f):  # the whole body expands within the limits
                    pass
            elif expect.check == "zip":
                if not zipfile.is_zipfile(path):
                    raise FetchError("not a zip archive")
                with zipfile.ZipFile(path) as archive:
                    check_zip(archive, label, limits)
                    verify_members(archive, label)
    except FetchError:
        raise
    except LoaderError as exc:
        raise FetchError(str(exc)) from exc
    except (ValueError, EOFError, OSError, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise FetchError(f"does not parse as {expect.check} ({exc})") from exc
