"""The GeoJSON writer (app.presentation.geojson): features PostgreSQL wrote are placed as
complete JSON values, whatever their text holds, and the result is one JSON document."""

from __future__ import annotations

import json

import pytest

from app.presentation.geojson import (
    RawJSON,
    dumps,
    feature_collection,
    feature_collection_pieces,
    feature_with_links,
)
from geo.db.count import Matched

# what PostgreSQL's json_build_object writes: spaces around colons, a brace inside a string
FEATURE = '{"type" : "Feature", "id" : "a}b", "geometry" : null, "properties" : {"nom" : "Évry"}}'
LINKS = [{"href": "http://x/items?f=json", "rel": "self", "type": "application/geo+json"}]


def test_a_page_is_one_document_with_the_features_as_written() -> None:
    text = feature_collection([FEATURE, FEATURE], Matched(7), 2, LINKS, timeStamp="2026-01-01")
    document = json.loads(text)
    assert list(document) == [
        "type",
        "timeStamp",
        "numberMatched",
        "numberReturned",
        "links",
        "features",
    ]
    assert document["features"] == [json.loads(FEATURE)] * 2
    assert document["numberMatched"] == 7 and document["links"] == LINKS
    assert FEATURE in text  # placed as it is, not parsed and written again


def test_an_array_written_by_postgresql_and_an_empty_page() -> None:
    array = RawJSON(f"[{FEATURE}]")
    assert json.loads(feature_collection(array, Matched(1), 1, []))["features"][0]["id"] == "a}b"
    assert json.loads(feature_collection([], Matched(0), 0, []))["features"] == []


def test_python_values_are_written_as_json_writes_them() -> None:
    value = {"a": [1, 2.5, None, True, "é"], "b": {"c": RawJSON("[]")}}
    assert json.loads(dumps(value)) == {"a": [1, 2.5, None, True, "é"], "b": {"c": []}}


def test_a_raw_text_is_never_quoted_as_a_string() -> None:
    with pytest.raises(TypeError):
        dumps({"a": [RawJSON("{}")]})  # only a member's value: refused, not written "{}"


def test_a_streamed_collection_skips_empty_pages() -> None:
    pages = [[], [FEATURE], [], [FEATURE, FEATURE]]
    text = "".join(feature_collection_pieces({"name": "Évry"}, pages))
    document = json.loads(text)
    assert document["type"] == "FeatureCollection" and document["name"] == "Évry"
    assert len(document["features"]) == 3
    assert json.loads("".join(feature_collection_pieces({}, [])))["features"] == []


def test_a_feature_gets_its_links_as_a_member() -> None:
    feature = json.loads(feature_with_links(FEATURE, LINKS))
    assert feature == {**json.loads(FEATURE), "links": LINKS}
    assert list(feature)[-1] == "links"
