"""The project ledger's test helpers: drawn project outlines, an API client with an
administrator token, and what a refused write must leave unchanged."""

from __future__ import annotations

import datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.api.main import create_app

ADMIN_TOKEN = "hardening-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def square(lon: float, lat: float, side_m: float) -> dict:
    """A WGS84 square of about side_m metres near Épinay-sur-Orge (synthetic project)."""
    dlat = side_m / 111_200
    dlon = side_m / (111_320 * 0.6606)  # cos(48.68°)
    ring = [[lon, lat], [lon + dlon, lat], [lon + dlon, lat + dlat], [lon, lat + dlat], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def make_client(engine: Engine, base_settings) -> TestClient:
    settings = base_settings.model_copy(
        update={
            "database_url": engine.url.render_as_string(hide_password=False),
            "admin_token": ADMIN_TOKEN,
            "admin_name": "admin-test",
        }
    )
    return TestClient(create_app(settings))


def written(engine: Engine) -> tuple[int, int, int]:
    """Projects, ledger entries and audit rows (tokens aside)."""
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(text(f"SELECT count(*) FROM {table}{where}")).scalar_one()
            for table, where in (
                ("project", ""),
                ("envelope_entry", ""),
                ("audit_log", " WHERE object_type = 'project'"),
            )
        )


def authorisation(on: datetime.date | None = None) -> dict[str, str]:
    """What authorising a project says beside its status and reason: its date and its act."""
    day = on or datetime.date.today()
    return {"act": "arrêté préfectoral n° test", "occurred_on": day.isoformat()}
