from sqlalchemy import Connection, text


def database_status(conn: Connection) -> str:
    """PostGIS library version; raises when the database does not answer."""
    return conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
