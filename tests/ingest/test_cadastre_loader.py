"""The Etalab cadastre loader on the real 91216 file, and on broken copies of it."""

from __future__ import annotations

import copy
import gzip
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo.ingest.cadastre import load_cadastre
from geo.ingest.errors import LoaderError
from tests.helpers import CADASTRE_91216, DATA, write

REAL = json.loads(CADASTRE_91216.read_bytes())


def count(engine: Engine, table: str) -> int:
    # import_run of the template holds the admin import: count the cadastre ones.
    where = " WHERE kind = 'cadastre'" if table == "import_run" else ""
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}{where}")).scalar_one()


def broken_copy(tmp_path: Path, mutate, n: int = 50) -> Path:
    """The first n real parcels with one feature altered by mutate(feature)."""
    data = {"type": "FeatureCollection", "features": copy.deepcopy(REAL["features"][:n])}
    mutate(data["features"][10])
    return write(tmp_path / "broken.json", json.dumps(data))


def test_loads_every_parcel_with_area_close_to_contenance(fresh_engine: Engine) -> None:
    report = load_cadastre(fresh_engine, CADASTRE_91216)
    assert (report.read, report.inserted, report.updated, report.rejected) == (4241, 4241, 0, {})
    assert report.warnings == []  # 91216 is a current commune of the reference
    with fresh_engine.connect() as conn:
        stats = conn.execute(
            text(
                """SELECT count(*), count(*) FILTER (WHERE ST_SRID(geom) = 2154),
                          percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(area_m2 - contenance)
                                                             / contenance),
                          avg((abs(area_m2 - contenance) / contenance <= 0.10)::int),
                          sum(area_m2) / sum(contenance)
                   FROM parcel WHERE commune_insee = '91216'"""
            )
        ).one()
    total, in_l93, median_gap, share_within_10pct, total_ratio = stats
    assert total == in_l93 == 4241
    # Measured on this file: median relative gap 1.2 %, 95.7 % of parcels within 10 %,
    # total computed area 0.14 % above the total contenance.
    assert median_gap < 0.02
    assert share_within_10pct > 0.95
    assert total_ratio == pytest.approx(1.0, abs=0.005)


def test_area_is_computed_in_lambert93_not_degrees(fresh_engine: Engine) -> None:
    load_cadastre(fresh_engine, CADASTRE_91216)
    with fresh_engine.connect() as conn:
        stored, geodesic = conn.execute(
            text(
                "SELECT area_m2, ST_Area(ST_Transform(geom, 4326)::geography) "
                "FROM parcel WHERE id = '91216000AB0037'"
            )
        ).one()
    # Lambert-93 areas differ from the ellipsoidal area by its scale error only.
    assert stored == pytest.approx(geodesic, rel=0.002)
    assert stored > 1000  # a degree-based area would be ~1e-5


def test_reloading_the_same_file_does_not_duplicate(fresh_engine: Engine) -> None:
    load_cadastre(fresh_engine, CADASTRE_91216)
    again = load_cadastre(fresh_engine, CADASTRE_91216)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4241)
    assert count(fresh_engine, "parcel") == 4241
    assert count(fresh_engine, "import_run") == 2


def test_reloading_a_changed_file_updates_in_place(fresh_engine: Engine, tmp_path: Path) -> None:
    load_cadastre(fresh_engine, CADASTRE_91216)
    data = copy.deepcopy(REAL)
    data["features"][0]["properties"]["contenance"] += 1
    report = load_cadastre(fresh_engine, write(tmp_path / "changed.json", json.dumps(data)))
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 4240)
    assert count(fresh_engine, "parcel") == 4241


def test_gzipped_file(fresh_engine: Engine, tmp_path: Path) -> None:
    gz = write(
        tmp_path / "cadastre-91216-parcelles.json.gz", gzip.compress(CADASTRE_91216.read_bytes())
    )
    assert load_cadastre(fresh_engine, gz, batch_size=1000).inserted == 4241


def _drop_geometry(f):
    f["geometry"] = None


def _bow_tie(f):
    # A self-intersecting ring: the two diagonals of a square cross.
    x, y = f["geometry"]["coordinates"][0][0]
    d = 0.0005
    f["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + d, y + d], [x + d, y], [x, y + d], [x, y]]],
    }


def _wrong_id(f):
    f["id"] = f["properties"]["id"] = "91216000ZZ9999"


def _short_id(f):
    f["id"] = f["properties"]["id"] = "9121600"


def _swap_lon_lat(f):
    f["geometry"]["coordinates"] = [
        [[y, x] for x, y in ring] for ring in f["geometry"]["coordinates"]
    ]


def _point(f):
    f["geometry"] = {"type": "Point", "coordinates": f["geometry"]["coordinates"][0][0]}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_drop_geometry, "feature without geometry: 1 (e.g. feature #11 (91216000AB"),
        (_bow_tie, "invalid geometry: 1 (e.g. feature #11 (91216000AB"),
        (_wrong_id, "id does not match commune+prefixe+section+numero: 1"),
        (_short_id, "malformed id: 1"),
        (_point, "geometry is not a polygon: 1"),
        (_swap_lon_lat, "outside metropolitan France"),
    ],
    ids=["no-geometry", "self-intersection", "wrong-id", "short-id", "point", "swapped-lon-lat"],
)
def test_a_bad_feature_rejects_the_whole_file(
    fresh_engine: Engine, tmp_path: Path, mutate, message: str
) -> None:
    path = broken_copy(tmp_path, mutate)
    with pytest.raises(LoaderError) as error:
        load_cadastre(fresh_engine, path)
    assert message in str(error.value)
    assert str(path) in str(error.value)
    assert count(fresh_engine, "parcel") == 0
    assert count(fresh_engine, "import_run") == 0


def test_a_bad_file_leaves_earlier_data_untouched(fresh_engine: Engine, tmp_path: Path) -> None:
    load_cadastre(fresh_engine, CADASTRE_91216)
    with pytest.raises(LoaderError):
        load_cadastre(fresh_engine, broken_copy(tmp_path, _bow_tie, n=4241))
    assert count(fresh_engine, "parcel") == 4241
    assert count(fresh_engine, "import_run") == 1


def test_repair_option_fixes_and_counts_invalid_geometries(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    report = load_cadastre(fresh_engine, broken_copy(tmp_path, _bow_tie), repair=True)
    assert (report.inserted, report.repaired) == (50, 1)
    with fresh_engine.connect() as conn:
        valid, kind = conn.execute(
            text("SELECT bool_and(ST_IsValid(geom)), min(GeometryType(geom)) FROM parcel")
        ).one()
    assert valid and kind == "MULTIPOLYGON"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"type": "FeatureCollection", "features": [{"type": "Feat',
            "not a readable GeoJSON file",
        ),
        ("not json at all", "not a readable GeoJSON file"),
        ('{"type": "FeatureCollection", "features": []}', "holds no feature"),
    ],
    ids=["truncated-json", "not-json", "empty"],
)
def test_unreadable_files(fresh_engine: Engine, tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(LoaderError, match=message):
        load_cadastre(fresh_engine, write(tmp_path / "bad.json", content))
    assert count(fresh_engine, "parcel") == 0


def test_not_a_cadastre_file(fresh_engine: Engine) -> None:
    friches = DATA / "friches" / "ardennes-friches.geojson"
    with pytest.raises(LoaderError, match="missing properties id, section, numero"):
        load_cadastre(fresh_engine, friches)


def test_duplicate_ids(fresh_engine: Engine, tmp_path: Path) -> None:
    features = REAL["features"][:5] + REAL["features"][:1]
    path = write(
        tmp_path / "dup.json", json.dumps({"type": "FeatureCollection", "features": features})
    )
    with pytest.raises(LoaderError, match="appear more than once: 91216000AB0037"):
        load_cadastre(fresh_engine, path)
    assert count(fresh_engine, "parcel") == 0


def test_duplicate_ids_when_reimporting(fresh_engine: Engine, tmp_path: Path) -> None:
    # The commune already has parcels: rows go through the staging table and the upsert.
    load_cadastre(fresh_engine, CADASTRE_91216)
    features = REAL["features"][:5] + REAL["features"][:1]
    path = write(
        tmp_path / "dup.json", json.dumps({"type": "FeatureCollection", "features": features})
    )
    with pytest.raises(LoaderError, match="appear more than once: 91216000AB0037"):
        load_cadastre(fresh_engine, path)
    assert count(fresh_engine, "parcel") == 4241


def test_missing_file(fresh_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="no such file"):
        load_cadastre(fresh_engine, tmp_path / "nope.json")


def test_merged_commune_codes_are_reported(fresh_engine: Engine, tmp_path: Path) -> None:
    # 91182 merged into 91228 (COG): a parcel still filed under the old code is kept and reported.
    feature = copy.deepcopy(REAL["features"][0])
    old_id = "91182" + feature["id"][5:]
    feature["id"] = feature["properties"]["id"] = old_id
    feature["properties"]["commune"] = "91182"
    path = write(
        tmp_path / "old.json", json.dumps({"type": "FeatureCollection", "features": [feature]})
    )
    report = load_cadastre(fresh_engine, path)
    assert report.inserted == 1
    assert report.warnings == ["commune 91182 has merged into 91228 (1 parcels)"]


def _one_feature_per_line(path: Path, features: list[dict]) -> Path:
    lines = [json.dumps(f, separators=(",", ":")) for f in features]
    body = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(body.encode()))
    else:
        path.write_text(body)
    return path


@pytest.mark.parametrize("layout", ["whole", "gzip", "parallel"])
def test_a_line_too_long_is_refused_unread(
    fresh_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    """Etalab's layout, one feature per line, with one feature of 3 MB (a synthetic property
    string): refused once past the line limit (1 MiB here), by either reader, nothing
    written; the same file without it loads."""
    from geo.ingest import cadastre, chunks

    monkeypatch.setattr(chunks, "MAX_LINE_BYTES", 1 << 20)
    if layout == "parallel":
        monkeypatch.setattr(cadastre, "PARALLEL_MIN_BYTES", 0)
    features = json.loads(CADASTRE_91216.read_bytes())["features"][:300]
    huge = copy.deepcopy(features[150])
    huge["properties"]["note"] = "x" * (3 << 20)
    name = "c.json.gz" if layout == "gzip" else "c.json"
    path = _one_feature_per_line(tmp_path / name, features[:150] + [huge] + features[151:])
    with pytest.raises(LoaderError, match="a line longer than 1048576 bytes") as refused:
        load_cadastre(fresh_engine, path, readers=2)
    assert "\n" not in str(refused.value)
    assert count(fresh_engine, "parcel") == 0
    fine = _one_feature_per_line(tmp_path / ("ok-" + name), features)
    assert load_cadastre(fresh_engine, fine, readers=2).inserted == 300


def test_chunks_a_killed_run_left_are_removed_by_a_later_run(
    fresh_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed with SIGKILL leaves its chunk directory; the next parallel import
    removes it once untouched long enough (0 s here), and never a live run's directory nor
    a recent one."""
    import os
    import subprocess
    import sys
    import tempfile

    from geo.ingest import cadastre, chunks

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    killed = subprocess.run(
        [sys.executable, "-c",
         "import os, signal, tempfile\n"
         f"tempfile.tempdir = {str(tmp_path)!r}\n"
         "from geo.ingest.chunks import chunk_directory\n"
         "run = chunk_directory()\n"
         "d = run.__enter__()\n"
         "(d / 'chunk-00000.json').write_bytes(b'x' * 1000)\n"
         "os.kill(os.getpid(), signal.SIGKILL)\n"],
        capture_output=True,
    )  # fmt: skip
    assert killed.returncode == -9
    (left,) = tmp_path.glob("foncier-chunks-*")
    assert re.fullmatch(r"foncier-chunks-[0-9]+-\w+", left.name)  # named after its process
    live = tmp_path / f"foncier-chunks-{os.getpid()}-live"  # a concurrent import (this one)
    live.mkdir()
    unnamed_old = tmp_path / "foncier-chunks-abc123"  # an earlier version's, a day old
    unnamed_old.mkdir()
    os.utime(unnamed_old, (0, 0))
    unnamed_recent = tmp_path / "foncier-chunks-def456"
    unnamed_recent.mkdir()
    os.utime(live, (0, 0))  # old, but its process lives

    # the killed run's directory is too recent for the default (10 minutes): kept
    assert chunks.remove_dead_runs() == [unnamed_old]
    assert left.exists()
    monkeypatch.setattr(chunks, "STALE_AFTER_S", 0)
    monkeypatch.setattr(cadastre, "PARALLEL_MIN_BYTES", 0)
    features = json.loads(CADASTRE_91216.read_bytes())["features"][:50]
    path = _one_feature_per_line(tmp_path / "c.json", features)
    assert load_cadastre(fresh_engine, path, readers=2).inserted == 50
    assert not left.exists()
    assert live.exists() and unnamed_recent.exists()
    assert sorted(p.name for p in tmp_path.glob("foncier-chunks-*")) == sorted(
        [live.name, unnamed_recent.name]
    )  # the import's own directory is gone too
