from fastapi import APIRouter
from sqlalchemy.exc import DBAPIError

from app.api.dependencies import ConnectionDep
from app.api.errors import DatabaseUnavailable
from app.services.health import database_status

router = APIRouter(tags=["service"])


@router.get("/health", summary="Service and database health (503 when the database is down)")
def get_health(conn: ConnectionDep) -> dict[str, str]:
    try:
        postgis = database_status(conn)
    except DBAPIError as exc:
        raise DatabaseUnavailable("the database does not answer") from exc
    return {"status": "ok", "database": "ok", "postgis": postgis}
