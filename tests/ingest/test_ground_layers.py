"""What stands on the land, in the publishers' own formats: the CNIG PLU delivery (zones,
prescriptions), CNIG PPR and PPRT servitudes, the ANCT Territoires d'industrie. Each
loader is proven on its real file in data/ and refuses a broken copy, writing nothing.
Files derived from the real ones (re-encoded, lower-cased, truncated) are marked so."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pyogrio
import pytest
from sqlalchemy import Engine, text

from geo.ingest.cadastre import load_cadastre
from geo.ingest.errors import LoaderError
from geo.ingest.plu import load_plu
from geo.ingest.risks import load_pm3, load_ppr
from geo.ingest.territoires import load_territoires_industrie
from geo.land.prescriptions import prescription_effect
from geo.land.risks import regulatory_class
from geo.land.zoning import standard_typezone
from geo.scoring.profiles import get_profile
from geo.scoring.refresh import refresh_scores
from geo.scoring.search import parcel_score
from tests.helpers import DATA, write

PLU_ZIP = DATA / "plu" / "30014_PLU_20171013.zip"
PLU_API_CARTO = DATA / "plu" / "zone_urba_DU_17345.geojson"
PPR_ZIP = DATA / "risques" / "pprn-38DDT20180003.zip"
PM3 = DATA / "risques" / "pprt-pm3-28-assiette.geojson"
TI = DATA / "territoires-industrie" / "territoires-industrie-anct.geojson.gz"


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


# -- rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("published", "standard"),
    [
        ("U", "U"), ("AUc", "AUc"), ("AUs", "AUs"), ("A", "A"), ("N", "N"),
        ("Nh", "N"), ("Ah", "A"), ("Ux", "U"), ("auc", "AUc"), ("AU", "AUc"),
        ("1AU", "AUc"), ("2AU", "AUs"), ("2AUx", "AUs"), ("ZC", None), ("", None),
    ],
)  # fmt: skip
def test_typezone_outside_the_standard(published: str, standard: str | None) -> None:
    assert standard_typezone(published) == standard


@pytest.mark.parametrize(
    ("typepsc", "stypepsc", "effect"),
    [
        ("01", "00", "exclude"), ("1", None, "exclude"), ("05", "04", "exclude"),
        ("08", "00", "exclude"), ("02", "01", "exclude"), ("02", "02", "penalise"),
        ("07", "05", "penalise"), ("07", "01", "penalise"), ("15", "01", "inform"),
        ("18", "00", "inform"), ("99", "00", "inform"), (None, None, "inform"),
    ],
)  # fmt: skip
def test_prescription_effects(typepsc, stypepsc, effect) -> None:
    assert prescription_effect(typepsc, stypepsc) == effect


@pytest.mark.parametrize(
    ("typereg", "codezone", "cls"),
    [
        ("01", "-", "none"), ("02", "Bg2", "prescription"), ("03", "RF", "interdiction"),
        ("04", None, "interdiction"), ("05", None, "interdiction"), ("06", None, "interdiction"),
        ("3", None, "interdiction"), (None, "R1", "interdiction"), (None, "Bleu", "prescription"),
        (None, "zone X", None),
    ],
)  # fmt: skip
def test_regulatory_classes(typereg, codezone, cls) -> None:
    assert regulatory_class(typereg, codezone) == cls


# -- PLU ------------------------------------------------------------------------------


def test_plu_cnig_delivery_as_published(fresh_engine: Engine) -> None:
    report = load_plu(fresh_engine, PLU_ZIP)
    assert (report.read, report.inserted, sum(report.rejected.values())) == (90, 90, 0)
    assert report.tables["prescriptions surf"] == 77
    assert report.tables["prescriptions lin"] == 15
    assert report.tables["prescriptions pct"] == 93
    with fresh_engine.connect() as conn:
        document = conn.execute(text("SELECT idurba, typedoc, datappro FROM plu_document")).one()
        ebc = conn.execute(
            text("SELECT count(*), min(libelle), min(effect) FROM plu_prescription "
                 "WHERE typepsc = '01'")
        ).one()  # fmt: skip
        zone = conn.execute(
            text("SELECT commune_insee, datvalid, libelong FROM plu_zone WHERE libelle = 'A' "
                 "LIMIT 1")
        ).one()  # fmt: skip
    assert (document.idurba, document.typedoc, str(document.datappro)) == (
        "30014_PLU_20171013", "PLU", "2017-10-13"
    )  # fmt: skip
    assert tuple(ebc) == (41, "Espace boisé classé", "exclude")  # accents from the CP1252 DBF
    assert zone.commune_insee == "30014" and str(zone.datvalid) == "2017-10-13"
    assert "économique" in zone.libelong
    # re-importing changes nothing
    again = load_plu(fresh_engine, PLU_ZIP)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 90)
    assert count(fresh_engine, "SELECT count(*) FROM plu_prescription") == 185


def test_plu_folder_of_lowercase_shapefiles_without_cpg(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    """Derived from the real delivery: the same layers re-written as a folder of
    shapefiles with lower-case field names, Windows-1252 text and no .cpg."""
    folder = tmp_path / "30014_PLU"
    folder.mkdir()
    with zipfile.ZipFile(PLU_ZIP) as archive:
        archive.extractall(tmp_path / "unzipped")
    for layer in ("ZONE_URBA", "PRESCRIPTION_SURF"):
        source = next((tmp_path / "unzipped").rglob(f"*{layer}*.shp"))
        frame = pyogrio.read_dataframe(source)
        frame.columns = [c.lower() if c != "geometry" else c for c in frame.columns]
        target = folder / f"30014_{layer.lower()}_20171013.shp"
        pyogrio.write_dataframe(frame, target, encoding="CP1252")
        target.with_suffix(".cpg").unlink(missing_ok=True)
    report = load_plu(fresh_engine, folder)
    assert report.read == 90 and report.tables["prescriptions surf"] == 77
    # the same document re-delivered without its last ten zones: they go
    zones = folder / "30014_zone_urba_20171013.shp"
    frame = pyogrio.read_dataframe(zones)
    pyogrio.write_dataframe(frame.iloc[:80], zones, encoding="CP1252")
    again = load_plu(fresh_engine, folder)
    assert again.tables["zones no longer in the document, removed"] == 10
    assert count(fresh_engine, "SELECT count(*) FROM plu_zone") == 80
    assert (
        count(
            fresh_engine,
            "SELECT count(*) FROM plu_prescription WHERE libelle = 'Espace boisé classé'",
        )
        == 41
    )


def test_plu_doc_urba_table_gives_the_document(fresh_engine: Engine, tmp_path: Path) -> None:
    """The real delivery plus a DOC_URBA table (synthetic: this delivery has none), as
    CNIG deliveries carry it: a DBF without geometry."""
    import pandas as pd

    folder = tmp_path / "30014_PLU"
    with zipfile.ZipFile(PLU_ZIP) as archive:
        archive.extractall(folder)
    table = pd.DataFrame(
        {"IDURBA": ["30014_PLU_20171013"], "TYPEDOC": ["PLU"], "ETAT": ["03"],
         "NOMPROC": ["Élaboration"], "DATAPPRO": ["20171013"], "DATEFIN": [None]}
    )  # fmt: skip
    pyogrio.write_dataframe(table, folder / "30014_DOC_URBA_20171013.dbf", driver="ESRI Shapefile")
    report = load_plu(fresh_engine, folder)
    assert report.tables["documents"] == 1
    with fresh_engine.connect() as conn:
        row = conn.execute(text("SELECT etat, nomproc, datappro FROM plu_document")).one()
    assert (row.etat, row.nomproc, str(row.datappro)) == ("03", "Élaboration", "2017-10-13")


def _older_cnig_zones(tmp_path: Path):
    """The real delivery's zones in the older CNIG form (synthetic: derived from the real
    file): only LIBELLE, TYPEZONE, INSEE, DATAPPRO, NOMFIC; no IDURBA, GID or LIB_IDZONE."""
    with zipfile.ZipFile(PLU_ZIP) as archive:
        archive.extractall(tmp_path / "unzipped")
    frame = pyogrio.read_dataframe(next((tmp_path / "unzipped").rglob("*ZONE_URBA*.shp")))
    frame["INSEE"], frame["DATAPPRO"] = "30014", "20171013"
    return frame[["LIBELLE", "TYPEZONE", "INSEE", "DATAPPRO", "NOMFIC", "geometry"]]


def test_plu_older_cnig_delivery_takes_its_document_from_its_name(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    """An older CNIG delivery (synthetic, derived from the real one) names no document in
    its fields: its file name does (<INSEE>_<TYPEDOC>_<DATAPPRO>), and the report says so."""
    folder = tmp_path / "30014_PLU_20171013" / "Donnees_geographiques"
    folder.mkdir(parents=True)
    pyogrio.write_dataframe(_older_cnig_zones(tmp_path), folder / "30014_ZONE_URBA_20171013.shp")
    delivery = tmp_path / "30014_PLU_20171013.zip"
    with zipfile.ZipFile(delivery, "w") as archive:
        for file in folder.iterdir():
            archive.write(file, f"30014_PLU_20171013/Donnees_geographiques/{file.name}")
    report = load_plu(fresh_engine, delivery)
    assert (report.read, report.inserted, sum(report.rejected.values())) == (90, 90, 0)
    assert any("30014_PLU_20171013" in w and "IDURBA" in w for w in report.warnings)
    with fresh_engine.connect() as conn:
        document = conn.execute(text("SELECT idurba, typedoc, datappro FROM plu_document")).one()
        zones = conn.execute(
            text("SELECT count(DISTINCT gpu_id), min(idurba), min(commune_insee) FROM plu_zone")
        ).one()
    assert (document.idurba, document.typedoc, str(document.datappro)) == (
        "30014_PLU_20171013", "PLU", "2017-10-13"
    )  # fmt: skip
    assert tuple(zones) == (90, "30014_PLU_20171013", "30014")
    # the folder form, re-delivered: the same zones, unchanged
    again = load_plu(fresh_engine, tmp_path / "30014_PLU_20171013")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 90)


def test_plu_refusal_counts_each_zone_once(fresh_engine: Engine, tmp_path: Path) -> None:
    """A delivery without any document id (the older form under a name outside the CNIG
    naming), one zone also without geometry: 90 of 90 zones rejected, not 91 of 90."""
    frame = _older_cnig_zones(tmp_path)
    frame.loc[0, "geometry"] = None
    folder = tmp_path / "zonage"
    folder.mkdir()
    pyogrio.write_dataframe(frame, folder / "zone_urba.shp", geometry_type="MultiPolygon")
    with pytest.raises(LoaderError) as error:
        load_plu(fresh_engine, folder / "zone_urba.shp")
    message = str(error.value)
    assert "90 of 90 zones rejected" in message, message
    assert "feature without geometry: 1" in message and "DATAPPRO>): 89" in message, message
    assert count(fresh_engine, "SELECT count(*) FROM plu_zone") == 0


def test_plu_api_carto_geojson_still_loads(fresh_engine: Engine) -> None:
    report = load_plu(fresh_engine, PLU_API_CARTO)
    assert (report.read, report.inserted) == (39, 39)
    # API Carto zones carry no prescriptions: no document, so prescriptions stay unknown
    assert count(fresh_engine, "SELECT count(*) FROM plu_document") == 0


def test_plu_broken_delivery_writes_nothing(fresh_engine: Engine, tmp_path: Path) -> None:
    broken = write(tmp_path / "30014_PLU_20171013.zip", PLU_ZIP.read_bytes()[:200_000])
    with pytest.raises(LoaderError, match="zip") as error:
        load_plu(fresh_engine, broken)
    assert "\n" not in str(error.value)
    # a delivery whose prescription lacks its code: refused as a whole
    folder = tmp_path / "no_code"
    with zipfile.ZipFile(PLU_ZIP) as archive:
        archive.extractall(folder)
    surf = next(folder.rglob("*PRESCRIPTION_SURF*.shp"))
    frame = pyogrio.read_dataframe(surf)
    frame.loc[3, "TYPEPSC"] = None
    pyogrio.write_dataframe(frame, surf)
    with pytest.raises(LoaderError, match="without TYPEPSC"):
        load_plu(fresh_engine, folder)
    assert count(fresh_engine, "SELECT count(*) FROM plu_zone") == 0
    assert count(fresh_engine, "SELECT count(*) FROM plu_prescription") == 0


def _zone_urba(without: str | None = None) -> dict[str, bytes]:
    """The real delivery's ZONE_URBA layer, its files by name (``without`` that suffix)."""
    with zipfile.ZipFile(PLU_ZIP) as archive:
        return {
            Path(n).name: archive.read(n)
            for n in archive.namelist()
            if "ZONE_URBA" in n and not (without and n.lower().endswith(without))
        }


def test_plu_zip_bomb_is_refused_before_it_is_read(fresh_engine: Engine, tmp_path: Path) -> None:
    """A small zip whose .dbf (no .cpg) expands to 64 MiB of blanks (synthetic): refused
    from the zip's directory, before any member is decompressed."""
    files = _zone_urba(".cpg")
    dbf = next(n for n in files if n.endswith(".dbf"))
    bomb = tmp_path / "30014_PLU_bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, body in files.items():
            if name != dbf:
                archive.writestr(name, body)
        with archive.open(dbf, "w", force_zip64=True) as out:
            out.write(files[dbf][:1000])
            for _ in range(64):
                out.write(b" " * (1 << 20))
    assert bomb.stat().st_size < 400_000
    with pytest.raises(LoaderError, match=r"member 30014_ZONE_URBA_20171013.dbf expands more"):
        load_plu(fresh_engine, bomb)
    assert count(fresh_engine, "SELECT count(*) FROM plu_zone") == 0


def test_dbf_encoding_is_sniffed_from_a_bounded_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without .cpg nor language id: the records are read a block at a time up to the first
    non-ASCII one, never the whole file at once."""
    from geo.ingest import deliveries

    folder = tmp_path / "plu"
    folder.mkdir()
    header = bytes(8) + (64).to_bytes(2, "little") + bytes(54)  # 64-byte header, no LDID
    records = b" " * 5000 + "é".encode("cp1252") + b" " * 100_000
    (folder / "zone_urba.dbf").write_bytes(header + records)
    reads: list[int] = []
    real_open = Path.open

    def counting_open(self: Path, *args, **kwargs):
        f = real_open(self, *args, **kwargs)
        if self.name == "zone_urba.dbf":
            read = f.read
            f.read = lambda n=-1: reads.append(n) or read(n)  # type: ignore[method-assign]
        return f

    monkeypatch.setattr(Path, "open", counting_open)
    monkeypatch.setattr(deliveries, "DBF_SAMPLE_BYTES", 1000)
    assert deliveries._encoding(folder, "zone_urba.dbf", ["zone_urba.dbf"], None) == "CP1252"
    assert reads and all(0 <= n <= 1000 for n in reads)  # bounded reads
    assert sum(reads) <= 7000  # stopped at the block that told
    (folder / "zone_urba.dbf").write_bytes(header + records.replace(b"\xe9", "é".encode()))
    assert deliveries._encoding(folder, "zone_urba.dbf", ["zone_urba.dbf"], None) == "UTF-8"


def test_cpg_values_as_gdal_reads_them() -> None:
    from geo.ingest.deliveries import cpg_codec

    assert cpg_codec("1252") == cpg_codec("ANSI 1252\n") == "cp1252"
    assert cpg_codec("88591") == cpg_codec("ISO-8859-1") == "iso8859-1"
    assert cpg_codec("UTF-8") == cpg_codec("utf8") == "utf-8"
    assert cpg_codec("BOGUS-ENC-42") is None and cpg_codec("") is None


def test_cpg_naming_no_text_encoding_is_unknown() -> None:
    """A .cpg with a NUL (codecs.lookup raises ValueError, not LookupError), or naming one
    of Python's codecs that are not text encodings (GDAL's iconv knows none of them)."""
    from geo.ingest.deliveries import cpg_codec

    for value in ("UTF-8\x00", "\x00", "zlib", "base64", "rot13", "hex", "uu", "bz2"):
        assert cpg_codec(value) is None, value


@pytest.mark.slow
def test_plu_garbage_prj_or_bogus_cpg_is_one_line(fresh_engine: Engine, tmp_path: Path) -> None:
    """Derived from the real delivery: a .prj that is not a CRS, a .cpg naming no known
    encoding; the command says so in one line and exits 1."""
    import os
    import subprocess
    import sys

    cases = {
        ".prj": (b'PROJCS["x"]', "its .prj is not a readable CRS"),
        ".cpg": (b"BOGUS-ENC-42", "names an unknown text encoding ('BOGUS-ENC-42')"),
    }
    env = {**os.environ, "FONCIER_DATABASE_URL": fresh_engine.url.render_as_string(False)}
    for suffix, (content, message) in cases.items():
        folder = tmp_path / suffix[1:]
        folder.mkdir()
        for name, body in _zone_urba().items():
            (folder / name).write_bytes(content if name.lower().endswith(suffix) else body)
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "import", "plu", str(folder)],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    # a .prj GDAL reads but that PROJ cannot project (a local CRS); a .cpg that lies
    folder = tmp_path / "local"
    folder.mkdir()
    for name, body in _zone_urba().items():
        if name.lower().endswith(".prj"):
            body = b'LOCAL_CS["arbitrary"]'
        (folder / name).write_bytes(body)
    with pytest.raises(LoaderError, match="cannot be projected to Lambert-93"):
        load_plu(fresh_engine, folder)
    for name in _zone_urba():
        if name.lower().endswith(".prj"):
            (folder / name).write_bytes(_zone_urba()[name])
        if name.lower().endswith(".cpg"):
            (folder / name).write_bytes(b"UTF-8")  # the DBF is Windows-1252
    with pytest.raises(LoaderError, match="text that is not in the encoding its .cpg declares"):
        load_plu(fresh_engine, folder)
    assert count(fresh_engine, "SELECT count(*) FROM plu_zone") == 0


# -- risks ----------------------------------------------------------------------------


def test_ppr_cnig_delivery_as_published(fresh_engine: Engine) -> None:
    report = load_ppr(fresh_engine, PPR_ZIP)
    assert (report.read, report.inserted, sum(report.rejected.values())) == (423, 423, 0)
    assert report.tables["zone_reg interdiction"] == 131
    assert report.tables["zone_reg prescription"] == 57
    assert report.tables["zone_reg none"] == 21
    with fresh_engine.connect() as conn:
        layers = dict(
            conn.execute(text("SELECT layer, count(*) FROM risk_zone GROUP BY layer")).all()
        )
        approved = conn.execute(text("SELECT DISTINCT approved_on FROM risk_zone")).scalars()
    assert layers == {"zone_reg": 209, "zone_alea": 213, "perimetre": 1}
    assert [str(d) for d in approved] == ["2019-07-16"]


def test_pprt_servitude_as_published(fresh_engine: Engine) -> None:
    report = load_pm3(fresh_engine, PM3)
    assert (report.read, report.inserted) == (6, 6)
    with fresh_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT document, layer, regulatory_class FROM risk_zone ORDER BY 1, 2")
        ).all()
    assert ("28DREAL20140001", "zone_reg", "prescription") in rows
    assert ("28DREAL20140001", "perimetre", None) in rows


def test_broken_risk_files_write_nothing(fresh_engine: Engine, tmp_path: Path) -> None:
    broken = write(tmp_path / "ppr.zip", PPR_ZIP.read_bytes()[:100_000])
    with pytest.raises(LoaderError) as error:
        load_ppr(fresh_engine, broken)
    assert "\n" not in str(error.value)
    folder = tmp_path / "assiette"
    folder.mkdir()
    truncated = write(folder / "pm3-assiette.geojson", PM3.read_bytes()[:5000])
    with pytest.raises(LoaderError, match="not readable"):
        load_pm3(fresh_engine, truncated)
    assert count(fresh_engine, "SELECT count(*) FROM risk_zone") == 0


def _synthetic_parcels(engine: Engine, path: Path, commune: str, shapes: dict[str, str]) -> Path:
    """A synthetic Etalab cadastre file whose parcels are the given PostGIS shapes
    (SQL over the loaded layers), for the per-parcel tests."""
    features = []
    with engine.connect() as conn:
        for i, (name, sql) in enumerate(shapes.items(), start=1):
            geometry = conn.execute(text(f"SELECT ST_AsGeoJSON(ST_Transform(({sql}), 4326), 9)"))
            numero = f"{i:04d}"
            features.append(
                {
                    "type": "Feature",
                    "properties": {"id": f"{commune}000ZZ{numero}", "commune": commune,
                                   "prefixe": "000", "section": "ZZ", "numero": numero,
                                   "synthetic": name},
                    "geometry": json.loads(geometry.scalar_one()),
                }
            )  # fmt: skip
    return write(path, json.dumps({"type": "FeatureCollection", "features": features}))


def test_prescriptions_and_risk_zones_per_parcel(fresh_engine: Engine, tmp_path: Path) -> None:
    load_plu(fresh_engine, PLU_ZIP)
    load_ppr(fresh_engine, PPR_ZIP)
    inside = "SELECT ST_Intersection(geom, ST_Buffer(ST_PointOnSurface(geom), 15)) FROM {}"
    plu = _synthetic_parcels(
        fresh_engine,
        tmp_path / "plu.json",
        "30014",
        {
            "ebc": inside.format("plu_prescription WHERE typepsc = '01' ORDER BY id LIMIT 1"),
            "free": inside.format(
                "plu_zone z WHERE typezone = 'U' AND NOT EXISTS (SELECT 1 FROM "
                "plu_prescription r WHERE r.geom && z.geom AND ST_Intersects(r.geom, z.geom)) "
                "ORDER BY area_m2 DESC LIMIT 1"
            ),
        },
    )
    ppr = _synthetic_parcels(
        fresh_engine,
        tmp_path / "ppr.json",
        "38153",
        {
            "red": inside.format(
                "risk_zone WHERE regulatory_class = 'interdiction' ORDER BY id LIMIT 1"
            ),
            "white": "SELECT ST_Difference(ST_Intersection(z.geom, ST_Buffer("
            "ST_PointOnSurface(z.geom), 15)), (SELECT ST_Union(geom) FROM risk_zone WHERE "
            "regulatory_class IN ('interdiction', 'prescription'))) FROM risk_zone z "
            "WHERE regulatory_class = 'none' ORDER BY ST_Area(geom) DESC LIMIT 1",
        },
    )
    load_cadastre(fresh_engine, plu)
    load_cadastre(fresh_engine, ppr)
    refresh_scores(fresh_engine)
    profile = get_profile("large-industrial-site")
    with fresh_engine.connect() as conn:
        ebc = parcel_score(conn, "30014000ZZ0001", profile)
        free = parcel_score(conn, "30014000ZZ0002", profile)
        red = parcel_score(conn, "38153000ZZ0001", profile)
        white = parcel_score(conn, "38153000ZZ0002", profile)

    def criterion(score: dict, name: str) -> dict:
        return next(c for c in score["criteria"] if c["criterion"] == name)

    # an EBC usually lies in a natural zone too: both exclusions are named
    assert "plu_prescription_interdiction" in [e["id"] for e in ebc["exclusions"]]
    assert criterion(ebc, "plu_prescriptions")["value"] == "exclude"
    assert ebc["prescriptions"][0]["label"] == "Espace boisé classé"
    assert ebc["prescriptions"][0]["document"] == "30014_PLU_20171013"
    assert criterion(free, "plu_prescriptions")["value"] == "none"
    assert free["exclusions"] == []
    assert "risk_plan_interdiction" in [e["id"] for e in red["exclusions"]]
    assert criterion(red, "risk_regulation")["value"] == "interdiction"
    assert criterion(white, "risk_regulation")["value"] == "none"
    assert {
        (z["document"], z["plan"], z["class"], z["approved_on"]) for z in red["risk_zones"]
    } >= {("38DDT20180003", "pprn", "interdiction", "2019-07-16")}
    # outside any loaded plan or CNIG PLU the criteria are unknown, never guessed
    assert criterion(red, "plu_prescriptions")["known"] is False
    assert criterion(ebc, "risk_regulation")["known"] is False


# -- Territoires d'industrie ----------------------------------------------------------


def test_territoires_industrie_anct_file(fresh_engine: Engine) -> None:
    report = load_territoires_industrie(fresh_engine, TI)
    assert (report.read, report.inserted) == (149, 149)
    assert report.tables["member EPCI"] == 547
    assert report.tables["member communes (listed as such)"] == 38
    warnings = " ".join(report.warnings)
    assert "200058014 (ti-1104)" in warnings  # EPT: reported, not dropped
    assert "ti-1104 overlaps ti-2701, ti-4405" in warnings  # the publisher's stray parts
    with fresh_engine.connect() as conn:
        member = conn.execute(
            text("SELECT resolved_as FROM territoire_industrie_member WHERE siren = '200058014'")
        ).scalar_one()
        communes = set(
            conn.execute(
                text("SELECT insee FROM territoire_industrie_commune "
                     "WHERE territoire_industrie_id = 'ti-1104'")
            ).scalars()
        )  # fmt: skip
        total = conn.execute(text("SELECT count(*) FROM territoire_industrie_member")).scalar()
    assert member == "unknown"
    assert {"91027", "91326", "91432", "91479"} <= communes
    assert total == 588  # every member SIREN of the file


def test_territoires_industrie_broken_copy(fresh_engine: Engine, tmp_path: Path) -> None:
    raw = gzip.decompress(TI.read_bytes())
    broken = write(tmp_path / "ti.geojson", raw[: len(raw) // 2])
    with pytest.raises(LoaderError) as error:
        load_territoires_industrie(fresh_engine, broken)
    assert "\n" not in str(error.value)
    data = json.loads(raw)
    data["features"][5]["properties"]["siren_groupement"] = "20005801"  # 8 digits
    with pytest.raises(LoaderError, match="not of 9 digits"):
        load_territoires_industrie(fresh_engine, write(tmp_path / "b.geojson", json.dumps(data)))
    assert count(fresh_engine, "SELECT count(*) FROM territoire_industrie") == 0


def test_copied_files_are_the_published_ones() -> None:
    """data/ holds the shared files byte for byte (gzip is lossless)."""
    shared = Path("/work/shared/data")
    if not shared.is_dir():
        pytest.skip("the shared data folder is not on this machine")
    assert (
        gzip.decompress(TI.read_bytes())
        == (shared / "territoires-industrie" / "territoires-industrie-anct.geojson").read_bytes()
    )
    assert PLU_ZIP.read_bytes() == (shared / "plu" / PLU_ZIP.name).read_bytes()


@pytest.mark.slow
def test_cli_imports_and_refuses_broken_copies(fresh_engine: Engine, tmp_path: Path) -> None:
    from tests.helpers.cli import foncier

    done = foncier(fresh_engine, "import", "pprt", str(PM3))
    assert done.returncode == 0, done.stderr
    assert "read 6, written 6" in done.stdout
    broken = write(tmp_path / "ppr.zip", PPR_ZIP.read_bytes()[:50_000])
    for kind in ("ppr", "plu"):
        result = foncier(fresh_engine, "import", kind, str(broken))
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: ")
    assert count(fresh_engine, "SELECT count(*) FROM risk_zone") == 6
