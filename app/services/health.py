from sqlalchemy import Connection, text


def database_status(conn: Connection) -> str:
    """PostGIS library version; raises when the database does not answer."""
    return conn.execute(text("SELECT postgis_lib_version()")).scalar_one()


def latest_imports(conn: Connection) -> list[dict]:
    """The last import of each kind: what the data shown comes from, and when it was loaded
    (the file's name only: the server's paths are not the reader's business)."""
    rows = conn.execute(
        text(
            """SELECT DISTINCT ON (kind) kind, source, sha256, finished_at
               FROM import_run ORDER BY kind, finished_at DESC"""
        )
    ).mappings()
    return [
        {
            "kind": row["kind"],
            "file": row["source"].replace("\\", "/").rsplit("/", 1)[-1],
            "sha256": row["sha256"],
            "loaded_at": row["finished_at"].isoformat(timespec="seconds"),
        }
        for row in rows
    ]
