"""Engine and connections. The engine is created once per process from the settings."""

from __future__ import annotations

from functools import lru_cache

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine

from app.settings import PROJECT_DIR, Settings, get_settings


def make_engine(
    url: str,
    statement_timeout_ms: int | None = None,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
) -> Engine:
    # pre_ping: after a database restart, stale pooled connections are replaced
    # instead of failing the first request that draws them.
    connect_args: dict[str, object] = {"connect_timeout": 5}
    if statement_timeout_ms is not None:
        # The web service's queries; imports and refreshes (CLI) run without a limit.
        # No JIT for them: they are short, and over many partitions the planner's cost
        # passes jit_above_cost and each query compiled for longer than it ran (a sites
        # search over 20 départements ran out of its 3 s budget, bench/README.md).
        connect_args["options"] = f"-c statement_timeout={statement_timeout_ms} -c jit=off"
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        connect_args=connect_args,
    )


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().url_for())


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.attributes["url"] = url
    return config


def migrate(settings: Settings | None = None, url: str | None = None) -> None:
    """Bring the database schema to the latest migration."""
    settings = settings or get_settings()
    command.upgrade(alembic_config(url or settings.url_for()), "head")
