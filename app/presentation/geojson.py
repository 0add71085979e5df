"""GeoJSON answers assembled as data: the features PostgreSQL wrote, each a complete JSON
text, are placed as values beside the members Python adds (links, counts); no JSON text is
cut open or patched."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from geo.db.count import Matched


class RawJSON:
    """A complete JSON text written by PostgreSQL (json_build_object, json_agg), placed in
    an answer as it is: parsing a page of features only to write them again would cost
    more than the query that built them. Not a str, so that json.dumps refuses it rather
    than quote it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def json_array(texts: Iterable[str]) -> RawJSON:
    """One JSON array of complete JSON texts (features PostgreSQL wrote)."""
    return RawJSON("[" + ",".join(texts) + "]")


def dumps(value: Any) -> str:
    """The JSON text of ``value``: a RawJSON as it is, a dict member by member, anything
    else as json.dumps writes it."""
    if isinstance(value, RawJSON):
        return value.text
    if isinstance(value, dict):
        members = (f"{json.dumps(str(k))}: {dumps(v)}" for k, v in value.items())
        return "{" + ", ".join(members) + "}"
    return json.dumps(value)


def feature_collection(
    features: Iterable[str] | RawJSON,
    number_matched: Matched,
    number_returned: int,
    links: list[dict[str, Any]],
    **members: Any,
) -> str:
    """A FeatureCollection of features written by PostgreSQL (each a complete JSON text, or
    one JSON array of them); ``members`` (e.g. timeStamp) come after "type"."""
    return dumps(
        {
            "type": "FeatureCollection",
            **members,
            **number_matched.members(),
            "numberReturned": number_returned,
            "links": links,
            "features": features if isinstance(features, RawJSON) else json_array(features),
        }
    )


def feature_collection_pieces(
    members: dict[str, Any], pages: Iterable[Iterable[str]]
) -> Iterator[str]:
    """A FeatureCollection written as its pages come (a streamed export): its ``members``
    (after "type"), then the features of each page, complete JSON texts, in one array."""
    head = {"type": "FeatureCollection", **members}
    written = (f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}, " for k, v in head.items())
    yield "{" + "".join(written) + '"features": ['
    first = True
    for page in pages:
        body = ",".join(page)
        if body:
            yield body if first else "," + body
            first = False
    yield "]}"


def feature_with_links(feature: str, links: list[dict[str, Any]]) -> str:
    """One feature written by PostgreSQL, with the links of its answer as a member: the
    feature is parsed (one, so cheaply) and written again with them, compactly as
    ST_AsGeoJSON writes coordinates."""
    feature_links = {**json.loads(feature), "links": links}
    return json.dumps(feature_links, ensure_ascii=False, separators=(",", ":"))
