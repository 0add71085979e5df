"""The France-shaped benchmark input (bench/france.py, issue 17), at a tiny size."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pytest
import shapely
import shapely.geometry

from app.settings import PROJECT_DIR
from bench import france
from geo.ingest import chunks
from geo.territories import PARCEL_ID_PATTERN

pytestmark = pytest.mark.bench
ADMIN = PROJECT_DIR / "data" / "admin"


@pytest.mark.slow
def test_parcels_are_well_formed_real_and_inside_their_departement(tmp_path):
    directory = france.generate(20_000, tmp_path / "france")
    files = france.files(directory)
    # current communes and arrondissements (a commune déléguée may share its code)
    reference = {
        c["code"]: c
        for c in json.loads((ADMIN / "communes.json").read_bytes())
        if c["type"] in ("commune-actuelle", "arrondissement-municipal")
    }
    contours = {
        f["properties"]["code"]: shapely.geometry.shape(f["geometry"])
        for f in json.loads((ADMIN / "contours-departements.geojson").read_bytes())["features"]
    }
    assert len(files) >= 10
    ids: list[str] = []
    for path in files:
        dep = re.fullmatch(r"cadastre-(\w+)-parcelles\.json", path.name).group(1)
        # Etalab's layout, which the loader reads in parallel chunks
        assert chunks.is_line_delimited(path)
        features = json.loads(path.read_bytes())["features"]
        for f in features:
            p = f["properties"]
            assert f["id"] == p["id"]
            assert re.fullmatch(PARCEL_ID_PATTERN, p["id"])
            assert p["id"] == p["commune"] + p["prefixe"] + p["section"].rjust(2, "0") + p[
                "numero"
            ].rjust(4, "0")
            assert reference[p["commune"]]["departement"] == dep
        shapes = np.array([shapely.geometry.shape(f["geometry"]) for f in features])
        assert shapely.is_valid(shapes).all()
        assert shapely.contains(contours[dep], shapes).all(), dep
        ids += [f["id"] for f in features]
    assert len(ids) == 20_000
    assert len(set(ids)) == len(ids)
    layout = json.loads((directory / "layout.json").read_bytes())
    assert sum(c["parcels"] for c in layout["copies"]) == 20_000


def test_copies_under_one_commune_get_distinct_prefixes():
    # Only two départements, so that communes receive several copies (no file written).
    copies = france.plan(400_000, ("91", "08"))
    per_commune = Counter(c.commune for c in copies)
    assert max(per_commune.values()) > 1
    assert len({(c.commune, c.prefixe) for c in copies}) == len(copies)
    assert all(c.commune[:2] == c.departement for c in copies)
