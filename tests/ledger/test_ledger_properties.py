"""Property-based tests of the project ledger (issue 11, "make the fuzzing find these").

- Geometry validation: whatever JSON arrives, ``parse_geometry`` returns a checked model or
  refuses with a GeometryError, never anything else; valid rectangles in the metropole go
  through unchanged; any single corruption of a valid polygon is refused. Through HTTP, a
  generated geometry is a 201 or a 4xx problem, never a 5xx, and leaves exactly one
  project, one entry and one audit row, or nothing.
- Ledger invariants, by a state machine that creates projects, moves them along and
  corrects them through HTTP: reserved + consumed + remaining = total exactly, nothing
  negative, each project's holdings add up to the national ones, every acknowledged write is
  exactly one entry and one audit row and every refused write is none.

Example counts are kept small so that the whole file runs in well under a minute.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, text

from geo.crs import METRO_WGS84_BOUNDS
from geo.ledger.geometry import GeometryError, check_extent, parse_geometry
from tests.helpers import PARIS_SACLAY, PROBLEM, engine_for
from tests.helpers.ledger import ADMIN, authorisation, make_client, square, written

pytestmark = pytest.mark.slow

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- geometry validation, in Python ---------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(["type", "coordinates", "crs", "bbox", "x"]), children)
    ),
    max_leaves=30,
)
geometry_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "polygon"])},
    optional={"coordinates": json_values, "bbox": json_values, "crs": json_values},
)


@FAST
@given(st.one_of(json_values, geometry_like))
def test_any_json_is_a_geometry_or_a_reason(value: Any) -> None:
    try:
        geometry = parse_geometry(value)
    except GeometryError as exc:
        assert str(exc).startswith("invalid project geometry: ")
        return
    # what passes has the shape PostGIS will be given: closed rings of finite positions
    for ring in geometry.rings():
        assert len(ring) >= 4 and ring[0] == ring[-1]
        for lon, lat in ring:
            assert math.isfinite(lon) and -180 <= lon <= 180 and -90 <= lat <= 90


x0, y0, x1, y1 = METRO_WGS84_BOUNDS
lons = st.floats(x0, x1, allow_nan=False)
lats = st.floats(y0, y1, allow_nan=False)


@st.composite
def metro_rectangles(draw) -> dict:
    a, b = sorted((draw(lons), draw(lons)))
    c, d = sorted((draw(lats), draw(lats)))
    assume(a < b and c < d)
    ring = [[a, c], [b, c], [b, d], [a, d], [a, c]]
    return {"type": "Polygon", "coordinates": [ring]}


@FAST
@given(metro_rectangles())
def test_rectangles_in_the_metropole_pass_unchanged(geometry: dict) -> None:
    parsed = parse_geometry(geometry)
    check_extent(parsed)
    assert parsed.vertex_count() == 5
    assert json.loads(parsed.geojson()) == geometry


CORRUPTIONS = {
    "third number": lambda p: [*p, 12.0],
    "one number": lambda p: p[:1],
    "string": lambda p: [str(p[0]), p[1]],
    "boolean": lambda p: [True, p[1]],
    "null": lambda p: [None, p[1]],
    "NaN": lambda p: [math.nan, p[1]],
    "infinite": lambda p: [p[0], -math.inf],
    "beyond 180": lambda p: [p[0] + 360, p[1]],
    "beyond 90": lambda p: [p[0], p[1] + 90],
    "projected": lambda p: [p[0] * 1e5, p[1] * 1e5],
}


@FAST
@given(metro_rectangles(), st.integers(0, 4), st.sampled_from(sorted(CORRUPTIONS)))
def test_one_corrupt_position_is_refused(geometry: dict, index: int, corruption: str) -> None:
    ring = geometry["coordinates"][0]
    ring[index] = CORRUPTIONS[corruption](ring[index])
    with pytest.raises(GeometryError):
        parse_geometry(geometry)


@FAST
@given(metro_rectangles(), st.booleans())
def test_outside_the_metropole_is_refused(geometry: dict, swap: bool) -> None:
    """Moved overseas (or swapped), a rectangle is refused with the reason, not measured in
    Lambert-93."""
    ring = geometry["coordinates"][0]
    moved = [[y, x] if swap else [x + 50.0, y - 65.0] for x, y in ring]
    with pytest.raises(GeometryError, match="metropolitan France|official projection"):
        check_extent(parse_geometry({"type": "Polygon", "coordinates": [moved]}))


# -- through HTTP, on one database -----------------------------------------------------------


@pytest.fixture(scope="module")
def ledger_engine(databases, template_db):
    name = f"{template_db}_properties"
    engine = engine_for(databases.create(name, template=template_db))
    yield engine
    engine.dispose()
    databases.drop(name)


@pytest.fixture(scope="module")
def http(ledger_engine: Engine, base_settings):
    with make_client(ledger_engine, base_settings) as client:
        yield client
    client.app.state.engine.dispose()


# Corners of squares known to lie in Paris-Saclay (Longjumeau, Champlan, Chilly-Mazarin) for
# sides up to 170 m.
CORNERS = [(2.290 + 0.004 * (i % 4), 48.700 - 0.004 * (i // 4)) for i in range(8)]
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6),
    st.sampled_from([-0.0, 1e-320, 5e-5, 0.00015, 1e300]),
)


@st.composite
def posted_geometries(draw) -> Any:
    lon, lat = draw(st.sampled_from(CORNERS))
    geometry = square(lon, lat, draw(st.floats(0.5, 400)))
    ring = geometry["coordinates"][0]
    how = draw(st.sampled_from(["as is", "position", "number", "shape", "multi"]))
    if how == "position":
        ring[draw(st.integers(0, 4))] = draw(
            st.lists(numbers | st.none() | st.text(max_size=3), max_size=4)
        )
    elif how == "number":
        i, j = draw(st.integers(0, 4)), draw(st.integers(0, 1))
        ring[i][j] = draw(numbers)
    elif how == "shape":
        return draw(geometry_like)
    elif how == "multi":
        geometry = {"type": "MultiPolygon", "coordinates": [geometry["coordinates"]]}
    return geometry


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(posted_geometries())
# found by a CI run: a NUL in the body is a 400 problem, and nothing is written
@example({"type": "Polygon", "coordinates": "\x00"})
def test_posted_geometries_are_201_or_a_problem(http, ledger_engine: Engine, geometry) -> None:
    before = written(ledger_engine)
    # allow_nan: the JSON literals NaN and Infinity are what a hostile client sends
    body = json.dumps(
        {"name": "Usine (generated)", "epci_siren": PARIS_SACLAY, "geometry": geometry},
        allow_nan=True,
    )
    response = http.post(
        "/projects", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    after = written(ledger_engine)
    if response.status_code == 201:
        assert after == tuple(n + 1 for n in before)
    else:
        # 400: a NUL anywhere in the body (refused before parsing); 403, 422: the ledger's rules
        assert response.status_code in (400, 403, 422), response.text
        assert response.headers["content-type"] == PROBLEM
        assert after == before


# -- ledger invariants: a state machine through HTTP -----------------------------------------


class Ledger(RuleBasedStateMachine):
    """Writes of every kind, each checked to be one entry and one audit row or nothing."""

    http: Any = None
    engine: Engine | None = None
    projects = Bundle("projects")

    def __init__(self) -> None:
        super().__init__()
        self.counts = written(self.engine)

    def _write(self, method_url: str, body: dict[str, Any], created: bool = False):
        response = self.http.post(method_url, json=body, headers=ADMIN)
        after = written(self.engine)
        if response.status_code < 300:
            projects, entries, audit = self.counts
            assert after == (projects + int(created), entries + 1, audit + 1), response.text
        else:
            # 400: a NUL anywhere in the body; 409, 422: the ledger's rules
            assert response.status_code in (400, 409, 422), response.text
            assert response.headers["content-type"] == PROBLEM
            assert after == self.counts
        self.counts = after
        return response

    @rule(target=projects, corner=st.sampled_from(CORNERS), side=st.floats(20, 170))
    def create(self, corner, side: float) -> int:
        body = {"name": "Usine (generated)", "epci_siren": PARIS_SACLAY,
                "geometry": square(*corner, side)}  # fmt: skip
        response = self._write("/projects", body, created=True)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    @rule(
        pid=projects,
        status=st.sampled_from(["authorised", "under_construction", "completed", "abandoned"]),
    )
    def move(self, pid: int, status: str) -> None:
        body = {"status": status, "reason": "generated"}
        if status == "authorised":
            body |= authorisation()
        self._write(f"/projects/{pid}/status", body)

    @rule(
        pid=projects,
        delta=st.one_of(
            st.floats(-30, 30, allow_nan=False),
            st.decimals(-5, 5, places=6).map(float),
            st.sampled_from([-0.0, 1e-320, 0.00005, 0.00015, 9_999.0, 100_000.0]),
        ),
    )
    def correct(self, pid: int, delta: float) -> None:
        self._write(f"/projects/{pid}/corrections", {"delta_ha": delta, "reason": "generated"})

    @invariant()
    def balances(self) -> None:
        report = self.http.get("/envelope").json()["national"]
        total, reserved, consumed, remaining = (
            Decimal(str(report[k]))
            for k in ("total_ha", "reserved_ha", "consumed_ha", "remaining_ha")
        )
        assert reserved + consumed + remaining == total
        assert min(reserved, consumed, remaining) >= 0
        for value in (reserved, consumed, remaining):
            assert value == value.quantize(Decimal("0.0001"))
        projects = self.http.get("/projects", headers=ADMIN).json()
        assert sum(Decimal(str(p["reserved_ha"])) for p in projects) == reserved
        assert sum(Decimal(str(p["consumed_ha"])) for p in projects) == consumed
        for p in projects:
            assert p["reserved_ha"] >= 0 and p["consumed_ha"] >= 0
            assert math.copysign(1, p["reserved_ha"]) == 1
            if p["status"] in ("planned", "abandoned", "completed"):
                assert p["reserved_ha"] == 0


def test_ledger_invariants(http, ledger_engine: Engine) -> None:
    Ledger.http, Ledger.engine = http, ledger_engine
    with ledger_engine.connect() as conn:
        # every entry ever written, including by the other tests of this module, is audited
        entries = conn.execute(text("SELECT count(*) FROM envelope_entry")).scalar_one()
        audited = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE object_type = 'project'")
        ).scalar_one()
    assert entries == audited
    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=8,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
