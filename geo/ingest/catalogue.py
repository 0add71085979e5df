"""The catalogue of sources (geo/ingest/sources.toml): who publishes what, where, how often,
and which loader it feeds; and how a territory's part of each source is addressed."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from geo.errors import Invalid
from geo.registry import read_catalogue

CATALOGUE = Path(__file__).with_name("sources.toml")
SCOPES = ("commune", "epci", "departement", "national")
CHECKS = ("geojson", "json", "csv", "zip")


@dataclass(frozen=True)
class Source:
    id: str
    name: str
    producer: str
    licence: str
    formats: tuple[str, ...]
    rhythm: str
    loader: str
    scope: str
    check: str
    content_types: tuple[str, ...]
    docs: tuple[str, ...]
    verified: bool
    url: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    redirect_hosts: tuple[str, ...] = ()  # where its addresses may redirect, beyond their host

    def describe(self) -> dict[str, Any]:
        plain = ("id", "name", "producer", "licence", "rhythm", "loader", "scope", "url")
        return {name: getattr(self, name) for name in plain} | {
            "formats": list(self.formats),
            "files": self.files or None,
            "docs": list(self.docs),
            "address_verified": self.verified,
        }


@dataclass(frozen=True)
class Part:
    """One addressable piece of a source: a commune's file, a département's, the national
    one. ``key`` names it in the ``sources`` table (``commune:91216``, ``national``)."""

    source: Source
    key: str
    urls: dict[str, str]  # file name in the cache -> address
    communes: tuple[str, ...]  # the communes whose data it may change


def _source(entry: dict[str, Any]) -> Source:
    sid = entry["id"]
    for key in ("name", "producer", "licence", "rhythm", "loader", "scope", "check", "docs"):
        if not entry.get(key):
            raise Invalid(f"sources.toml: {sid} has no {key}")
    if entry["scope"] not in SCOPES:
        raise Invalid(f"sources.toml: {sid}: scope must be one of {', '.join(SCOPES)}")
    if entry["check"] not in CHECKS:
        raise Invalid(f"sources.toml: {sid}: check must be one of {', '.join(CHECKS)}")
    if bool(entry.get("url")) == bool(entry.get("files")):
        raise Invalid(f"sources.toml: {sid}: give either url or files")
    for url in [entry.get("url"), *(entry.get("files") or {}).values()]:
        if url and urlsplit(url).scheme != "https":
            raise Invalid(f"sources.toml: {sid}: {url} is not an https address")
    return Source(
        id=sid,
        name=entry["name"],
        producer=entry["producer"],
        licence=entry["licence"],
        formats=tuple(entry.get("formats", ())),
        rhythm=entry["rhythm"],
        loader=entry["loader"],
        scope=entry["scope"],
        check=entry["check"],
        content_types=tuple(entry.get("content_types", ())),
        docs=tuple(entry["docs"]),
        verified=bool(entry.get("verified", False)),
        url=entry.get("url"),
        files=dict(entry.get("files") or {}),
        columns=tuple(entry.get("columns", ())),
        redirect_hosts=tuple(h.lower() for h in entry.get("redirect_hosts", ())),
    )


@lru_cache
def load_catalogue(path: Path = CATALOGUE) -> dict[str, Source]:
    return {sid: _source(entry) for sid, entry in read_catalogue(path, "source").items()}


def mirrored(url: str, mirror: str | None) -> str:
    """``url`` with its scheme and host replaced by ``mirror``'s (path and query kept)."""
    if not mirror:
        return url
    target, original = urlsplit(mirror), urlsplit(url)
    path = target.path.rstrip("/") + original.path
    return urlunsplit((target.scheme, target.netloc, path, original.query, ""))


_SUFFIX = {"geojson": ".json", "json": ".json", "csv": ".csv", "zip": ".zip"}


def _file_name(url: str, check: str) -> str:
    name = urlsplit(url).path.rsplit("/", 1)[-1] or "index"
    return name if "." in name else name + _SUFFIX[check]


def parts(
    source: Source,
    communes: list[tuple[str, str]],
    departements: list[str],
    mirror: str | None = None,
    epcis: dict[str, list[str]] | None = None,
) -> list[Part]:
    """The parts of ``source`` covering a territory of ``communes`` ((insee, département)
    pairs) in ``departements``, whose EPCI are ``epcis`` (SIREN -> member communes)."""
    every = tuple(insee for insee, _ in communes)
    if source.files:
        urls = {name: mirrored(url, mirror) for name, url in source.files.items()}
        return [Part(source, "national", urls, every)]
    assert source.url is not None
    if source.scope == "national":
        return [
            Part(
                source,
                "national",
                {_file_name(source.url, source.check): mirrored(source.url, mirror)},
                every,
            )
        ]
    if source.scope == "epci":
        out = []
        for siren, insees in sorted((epcis or {}).items()):
            url = mirrored(source.url.format(epci=siren), mirror)
            name = _file_name(url, source.check)
            out.append(Part(source, f"epci:{siren}", {name: url}, tuple(insees)))
        return out
    if source.scope == "departement":
        out = []
        for dep in departements:
            url = mirrored(source.url.format(departement=dep), mirror)
            members = tuple(insee for insee, d in communes if d == dep)
            out.append(
                Part(source, f"departement:{dep}", {_file_name(url, source.check): url}, members)
            )
        return out
    out = []
    for insee, dep in communes:
        url = mirrored(source.url.format(commune=insee, departement=dep), mirror)
        out.append(Part(source, f"commune:{insee}", {_file_name(url, source.check): url}, (insee,)))
    return out
