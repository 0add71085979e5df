from fastapi import APIRouter, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.api.errors import DatabaseUnavailable
from app.services.health import database_status

router = APIRouter(tags=["service"])


@router.get("/health", summary="Service and database health (503 when the database is down)")
def get_health(request: Request) -> dict[str, str]:
    # Its own small pool and short timeouts (app.db.health_engine): the answer comes
    # within seconds whether the database is down, stuck or the service's pool is busy.
    try:
        with request.app.state.health_engine.connect() as conn:
            postgis = database_status(conn)
    except (DBAPIError, PoolTimeout) as exc:
        raise DatabaseUnavailable("the database does not answer") from exc
    return {"status": "ok", "database": "ok", "postgis": postgis}
