"""What Foncier's data comes from: the catalogued sources and their synced parts
(geo.ingest.sync), and the last import of each kind (import_run), whatever brought it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from geo.ingest.sync import sources_state


def sources_answer(conn: Connection) -> dict[str, Any]:
    """GET /sources: ``sources`` (the catalogue with each synced part's vintage, last
    success and last error) and ``imports`` (the last import of each kind)."""
    return {"sources": sources_state(conn), "imports": latest_imports(conn)}


def latest_imports(conn: Connection) -> list[dict]:
    """The last import of each kind: what the data shown comes from, and when it was loaded
    (the file's name only: the server's paths are not the reader's business)."""
    rows = conn.execute(
        text(
            """SELECT DISTINCT ON (kind) kind, source, sha256, finished_at, synthetic
               FROM import_run ORDER BY kind, finished_at DESC"""
        )
    ).mappings()
    return [
        {
            "kind": row["kind"],
            "file": row["source"].replace("\\", "/").rsplit("/", 1)[-1],
            "sha256": row["sha256"],
            "loaded_at": row["finished_at"].isoformat(timespec="seconds"),
            # made-up demonstration data: every figure computed from it is fictitious
            "synthetic": row["synthetic"],
        }
        for row in rows
    ]
