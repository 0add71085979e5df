"""The ``foncier`` command line, one module per command group: the database (db), imports
(imports), sync and its sources (sync), scores and reports (scores), tokens and the audit
chain (security), the web server (serve), a running server's tile cache (tiles).
``main`` is the entry point."""

from app.cli import db, imports, scores, security, serve, sync, tiles
from app.cli.base import main

__all__ = ["db", "imports", "main", "scores", "security", "serve", "sync", "tiles"]
