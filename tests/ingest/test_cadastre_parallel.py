"""The parallel read of large one-feature-per-line files, forced on the small real file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo.ingest import cadastre, cadastre_read, chunks
from geo.ingest.cadastre import load_cadastre
from geo.ingest.errors import LoaderError
from tests.helpers import CADASTRE_91216, write


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every file counts as large, and is cut into ~200 KB chunks (about 11 of them).
    monkeypatch.setattr(cadastre, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 200_000)


def parcels(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id, contenance, area_m2, ST_AsEWKB(geom) FROM parcel ORDER BY id")
        ).all()


def test_split_makes_valid_collections_holding_every_feature(tmp_path: Path) -> None:
    assert chunks.is_line_delimited(CADASTRE_91216)
    pieces = list(chunks.split(CADASTRE_91216, tmp_path, chunk_bytes=200_000))
    assert len(pieces) > 5
    ids = []
    for piece in pieces:
        data = json.loads(piece.path.read_bytes())
        assert data["type"] == "FeatureCollection"
        assert len(data["features"]) == piece.features
        ids += [f["id"] for f in data["features"]]
    expected = [f["id"] for f in json.loads(CADASTRE_91216.read_bytes())["features"]]
    assert ids == expected
    assert [p.first_feature for p in pieces] == [
        sum(q.features for q in pieces[:i]) for i in range(len(pieces))
    ]


def test_parallel_read_loads_the_same_rows(
    fresh_engine: Engine, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = load_cadastre(fresh_engine, CADASTRE_91216, readers=2, batch_size=500)
    assert (report.read, report.inserted) == (4241, 4241)
    parallel = parcels(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.execute(text("TRUNCATE parcel"))
    load_cadastre(fresh_engine, CADASTRE_91216, readers=1)
    assert parcels(fresh_engine) == parallel


def test_parallel_read_reports_features_by_their_place_in_the_file(
    fresh_engine: Engine, small_chunks: None, tmp_path: Path
) -> None:
    data = json.loads(CADASTRE_91216.read_bytes())
    data["features"][3000]["geometry"] = None
    lines = ",\n".join(json.dumps(f, separators=(",", ":")) for f in data["features"])
    path = write(
        tmp_path / "bad.json", '{"type":"FeatureCollection","features":[\n' + lines + "\n]}\n"
    )
    with pytest.raises(LoaderError, match=r"feature without geometry: 1 \(e.g. feature #3001 "):
        load_cadastre(fresh_engine, path, readers=2)
    assert parcels(fresh_engine) == []


def test_other_layouts_fall_back_to_one_reader(
    fresh_engine: Engine, small_chunks: None, tmp_path: Path
) -> None:
    # One feature per line at first, then a feature spread over several lines.
    features = json.loads(CADASTRE_91216.read_bytes())["features"]
    head = ",\n".join(json.dumps(f, separators=(",", ":")) for f in features[:3000])
    tail = ",\n".join(json.dumps(f, indent=1) for f in features[3000:])
    path = write(
        tmp_path / "mixed.json",
        '{"type":"FeatureCollection","features":[\n' + head + ",\n" + tail + "\n]}\n",
    )
    assert chunks.is_line_delimited(path)
    report = load_cadastre(fresh_engine, path, readers=2)
    assert (report.read, report.inserted) == (4241, 4241)
    assert len(parcels(fresh_engine)) == 4241


def test_the_real_file_is_read_in_chunks(
    fresh_engine: Engine, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every GDAL read is of a chunk, never of the whole file (no fallback).
    original = cadastre_read.read_file
    calls: list[Path] = []

    def spy(gdal_file, *args, **kwargs):
        calls.append(gdal_file)
        return original(gdal_file, *args, **kwargs)

    monkeypatch.setattr(cadastre_read, "read_file", spy)
    assert load_cadastre(fresh_engine, CADASTRE_91216, readers=2).inserted == 4241
    assert len(calls) > 5 and CADASTRE_91216 not in calls


def test_lines_that_are_not_whole_features_fall_back_too(
    fresh_engine: Engine, small_chunks: None, tmp_path: Path
) -> None:
    # Every line starts with "{", but each feature spans two lines: the chunks are not
    # valid GeoJSON, GDAL refuses them, and the file is read whole.
    features = json.loads(CADASTRE_91216.read_bytes())["features"]
    body = ",\n".join(
        json.dumps(f, separators=(",", ":")).replace('"properties":{', '"properties":\n{')
        for f in features
    )
    path = write(
        tmp_path / "split.json", '{"type":"FeatureCollection","features":[\n' + body + "\n]}\n"
    )
    report = load_cadastre(fresh_engine, path, readers=2)
    assert (report.read, report.inserted) == (4241, 4241)
