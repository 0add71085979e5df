"""Response classes for bodies already serialised by PostGIS."""

from fastapi.responses import Response


class GeoJSONResponse(Response):
    media_type = "application/geo+json"
