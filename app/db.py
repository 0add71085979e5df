"""Engine and connections. The engine is created once per process from the settings."""

from __future__ import annotations

import select
import time
from functools import lru_cache
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import pq
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import InvalidatePoolError

from app.settings import PROJECT_DIR, Settings, get_settings

# TCP keepalives: a server whose host stopped answering (a frozen VM, a cut link) is found
# out in about 10 + 3 x 5 s on an idle connection, and data it leaves unacknowledged for
# 15 s breaks the connection, instead of the kernel's two hours and more.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
}


def make_engine(
    url: str,
    statement_timeout_ms: int | None = None,
    *,
    connect_timeout_s: int = 5,
    ping_timeout_s: float = 2.0,
    pool_timeout_s: float = 30.0,
    pool_size: int = 10,
    max_overflow: int = 10,
    audited_commit: str | None = None,
    pooler: bool = False,
) -> Engine:
    """An engine whose every wait is bounded: connecting (``connect_timeout_s``, libpq's
    minimum is 2), a pooled connection's ping at checkout (``ping_timeout_s``), a free
    connection of the pool (``pool_timeout_s``, SQLAlchemy's TimeoutError past it) and,
    for the web service, each statement (``statement_timeout_ms``). ``audited_commit``:
    the ``synchronous_commit`` of its audited writes (``wait_for_standby``). ``pooler``: the
    server is behind a transaction pooler (FONCIER_TRANSACTION_POOLER)."""
    connect_args: dict[str, object] = {"connect_timeout": connect_timeout_s, **KEEPALIVES}
    if pooler:
        connect_args["prepare_threshold"] = None
    elif statement_timeout_ms is not None:
        # The web service's queries; imports and refreshes (CLI) run without a limit.
        # No JIT for them: they are short, and over many partitions the planner's cost
        # passes jit_above_cost and each query compiled for longer than it ran (a sites
        # search over 20 départements ran out of its 3 s budget, bench/README.md).
        connect_args["options"] = f"-c statement_timeout={statement_timeout_ms} -c jit=off"
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        connect_args=connect_args,
        execution_options={AUDITED_COMMIT: audited_commit},
    )
    if engine.dialect.driver == "psycopg":
        _ping_on_checkout(engine, ping_timeout_s)
    if pooler and statement_timeout_ms is not None:
        _limit_each_transaction(engine, statement_timeout_ms)
    return engine


def _limit_each_transaction(engine: Engine, statement_timeout_ms: int) -> None:
    """The statement timeout and jit = off set in each transaction (one statement more
    each), where a pooler that runs each transaction on any server connection keeps them;
    the ``SET LOCAL`` of the code that lowers the timeout within it still wins."""

    @event.listens_for(engine, "begin")
    def _limit(conn: Connection) -> None:
        # on the driver's connection: the transaction SQLAlchemy begins is not open yet
        cursor = conn.connection.cursor()
        try:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true), set_config('jit', 'off', true)",
                (str(statement_timeout_ms),),
            )
        finally:
            cursor.close()


AUDITED_COMMIT = "foncier_audited_commit"


def wait_for_standby(conn: Connection) -> None:
    """Make the commit of this transaction wait for the synchronous standby at the
    engine's level (FONCIER_SYNC_LEDGER_COMMIT), when it has one: PostgreSQL reads
    ``synchronous_commit`` when the transaction commits, so any statement before the
    commit may set it, and ``SET LOCAL`` leaves the connection's other transactions alone.
    The commit waits for as long as no standby confirms it: ``statement_timeout`` does not
    end that wait (docs/operations.md, "Failover")."""
    level = conn.get_execution_options().get(AUDITED_COMMIT)
    if level is not None:
        conn.execute(
            text("SELECT set_config('synchronous_commit', :level, true)"), {"level": level}
        )


def _ping_on_checkout(engine: Engine, timeout_s: float) -> None:
    """A pooled connection is pinged before it is handed out (SQLAlchemy's pool_pre_ping
    does it too, but waits for the answer for ever: a stopped server whose kernel still
    acknowledges held every request until it resumed). One that does not answer within
    ``timeout_s``, or is broken (a restarted server), makes the pool drop every connection
    it holds and connect anew, within the connect timeout."""

    @event.listens_for(engine, "connect")
    def _fresh(dbapi_connection: Any, record: Any) -> None:
        record.info["fresh"] = True

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if record.info.pop("fresh", False):
            return  # just connected: nothing to check
        if not answers_within(dbapi_connection, timeout_s):
            raise InvalidatePoolError("the database did not answer a ping in time")


def answers_within(connection: psycopg.Connection, timeout_s: float) -> bool:
    """Whether an idle connection answers ``SELECT 1`` within ``timeout_s``, waiting on
    its socket (psycopg's connections are non-blocking) rather than in a blocking call."""
    pgconn = connection.pgconn
    deadline = time.monotonic() + timeout_s
    try:
        if pgconn.status != pq.ConnStatus.OK:
            return False
        if pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        pgconn.send_query(b"SELECT 1")
        while pgconn.flush():
            if not _ready(pgconn.socket, deadline, write=True):
                return False
        pgconn.consume_input()
        while pgconn.is_busy():
            if not _ready(pgconn.socket, deadline, write=False):
                return False
            pgconn.consume_input()
        ok = True
        while (result := pgconn.get_result()) is not None:
            ok = ok and result.status == pq.ExecStatus.TUPLES_OK
        return ok
    except psycopg.Error:
        return False


def _ready(sock: int, deadline: float, *, write: bool) -> bool:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    poller = select.poll()  # not select.select: a busy process has descriptors past 1024
    poller.register(sock, select.POLLOUT if write else select.POLLIN)
    return bool(poller.poll(remaining * 1000))


def health_engine(settings: Settings) -> Engine:
    """/health's own two connections, apart from the service's pool (busy exports do not
    delay it), every wait bounded by ``health_timeout_s``: a stuck database is a 503 within
    seconds."""
    budget = settings.health_timeout_s
    return make_engine(
        settings.url_for(),
        max(1, round(budget * 1000)),
        connect_timeout_s=max(2, round(budget)),
        ping_timeout_s=budget,
        pool_timeout_s=budget,
        pool_size=1,
        max_overflow=1,
        pooler=settings.transaction_pooler,
    )


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return make_engine(
        settings.url_for(),
        audited_commit=settings.sync_ledger_commit,
        pooler=settings.transaction_pooler,
    )


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.attributes["url"] = url
    return config


def migrate(settings: Settings | None = None, url: str | None = None) -> None:
    """Bring the database schema to the latest migration."""
    settings = settings or get_settings()
    command.upgrade(alembic_config(url or settings.url_for()), "head")
