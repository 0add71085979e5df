"""The FastAPI application: routers assembled, errors mapped, engine bound to the settings."""

from __future__ import annotations

from fastapi import FastAPI

from app.db import make_engine
from app.errors import install_error_handlers
from app.routers import health, ledger, parcels, scoring, territories, trajectories
from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Foncier",
        version="0.1.0",
        description=(
            "Land availability for French reindustrialisation: cadastre parcels, territories, "
            "friches and industrial zones on PostGIS. GeoJSON is RFC 7946 (WGS84); areas are "
            "computed in Lambert-93. Errors are RFC 9457 problem documents."
        ),
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.url_for())
    install_error_handlers(app)
    # scoring before parcels: /parcels/search must not be taken for a parcel id
    for module in (health, territories, scoring, parcels, ledger, trajectories):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def landing() -> dict[str, object]:
        return {
            "title": "Foncier",
            "links": [
                {"rel": "service-doc", "href": "/docs"},
                {"rel": "service-desc", "href": "/openapi.json"},
                {"rel": "health", "href": "/health"},
            ],
        }

    return app


app = create_app()
